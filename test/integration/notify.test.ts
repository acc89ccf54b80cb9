/**
 * Notifications with real processes: the built CLI, real SQLite, a real server, a webhook
 * receiver (node:http) and an SMTP server (smtp-server) on 127.0.0.1.
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";
import { type Server, killStarted, startServer, waitFor, waitForRun } from "../helpers/server.js";

afterEach(() => killStarted());

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback answering each request with the next of `statuses` (then the last). */
async function receiver(statuses: number[]) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)]!;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const sign = (secret: string, body: string) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

const closers: Array<() => Promise<void>> = [];
let server: Server | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  for (const c of closers.splice(0)) await c();
});

describe("notify: webhooks", () => {
  it("a failed CLI run posts a signed JSON body, retried after a 500; the Slack entry gets {text, blocks}", async () => {
    const hook = await receiver([500, 200]);
    closers.push(hook.close);
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      prep: { run: echo prepared }
      train:
        needs: prep
        run: echo "epoch 1"; echo "loss exploded"; exit 3
    notify:
      - on: [failure]
        webhook: ${hook.url}/hook
        secret: \${{ env.HOOK_SECRET }}
      - on: failure
        webhook: ${hook.url}/slack
        format: slack
      - on: [success]
        webhook: ${hook.url}/never
`,
    });
    const r = await runJson([], dir, { HOOK_SECRET: "s3cret" });
    expect(r.code).toBe(1);
    expect(r.json.run.status).toBe("failed");
    const runId = r.json.run.id;

    // The CLI waited for the deliveries before exiting: both are in.
    const hooks = hook.received.filter((x) => x.path === "/hook");
    expect(hooks).toHaveLength(2);
    for (const h of hooks) {
      expect(h.headers["x-baton-signature"]).toBe(sign("s3cret", h.body));
      expect(h.headers["x-baton-event"]).toBe("failure");
      expect(h.headers["content-type"]).toBe("application/json");
    }
    expect(hooks[0]!.headers["x-baton-delivery"]).toBe(hooks[1]!.headers["x-baton-delivery"]);
    const body = JSON.parse(hooks[1]!.body);
    expect(body).toMatchObject({
      event: "failure",
      run: { id: runId, pipeline: "p", status: "failed", url: null },
      failedTasks: [{ name: "train", exitCode: 3 }],
    });
    expect(body.run.durationMs).toBeGreaterThanOrEqual(0);
    expect(body.failedTasks[0].error).toContain("3");
    expect(body.failedTasks[0].logTail).toBe("epoch 1\nloss exploded");
    expect(hook.received.some((x) => x.path === "/never")).toBe(false);

    const slack = hook.received.filter((x) => x.path === "/slack");
    expect(slack).toHaveLength(1);
    expect(slack[0]!.headers["x-baton-signature"]).toBeUndefined();
    const payload = JSON.parse(slack[0]!.body);
    expect(payload.text).toContain("Pipeline p failed");
    expect(payload.text).toContain(runId);
    expect(JSON.stringify(payload.blocks)).toContain("loss exploded");

    const shown = await runBaton(["show", runId, "--json"], dir);
    expect(JSON.parse(shown.stdout).notifications).toMatchObject([
      {
        event: "failure",
        kind: "webhook",
        target: `${hook.url}/hook`,
        status: "delivered",
        attempts: 2,
        lastStatusCode: 200,
      },
      { event: "failure", kind: "webhook", target: `${hook.url}/slack`, status: "delivered", attempts: 1 },
    ]);
    const text = await runBaton(["show", runId], dir);
    expect(text.stdout).toMatch(new RegExp(`failure +${hook.url}/hook +delivered +2 +200`));
  }, 60_000);

  it("a 4xx is not retried, and a failed delivery or a missing SMTP server does not fail the run", async () => {
    const hook = await receiver([404]);
    closers.push(hook.close);
    const dir = makeProject({
      "baton.yaml": `version: 1
defaults:
  notify:
    - webhook: ${hook.url}/gone
    - email: [ops@example.com]
pipelines:
  p:
    nodes:
      a: { run: echo hi }
`,
    });
    const r = await runJson([], dir, { BATON_SMTP_URL: "" });
    expect(r.code).toBe(0);
    expect(r.json.run.status).toBe("succeeded");
    expect(hook.received).toHaveLength(1);
    expect(r.stderr.match(/no SMTP server configured/g)).toHaveLength(1);
    const shown = JSON.parse((await runBaton(["show", r.json.run.id, "--json"], dir)).stdout);
    expect(shown.notifications).toMatchObject([
      { event: "success", status: "failed", attempts: 1, lastStatusCode: 404, lastError: "HTTP 404: ok" },
      {
        event: "success",
        kind: "email",
        target: "ops@example.com",
        status: "failed",
        attempts: 0,
        lastError: "no SMTP server configured (set BATON_SMTP_URL or baton server --smtp)",
      },
    ]);
  }, 60_000);
});

describe("notify: server runs", () => {
  it("a delivery the CLI could not finish stays pending, and a server started later sends it", async () => {
    // A port with nobody listening (yet).
    const probe = await receiver([200]);
    const url = probe.url;
    await probe.close();
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      a: { run: exit 1 }
    notify:
      - { on: [failure], webhook: "${url}/late", secret: abc }
`,
    });
    const r = await runJson([], dir, { BATON_NOTIFY_WAIT_MS: "300" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("1 notification not delivered yet: left pending");
    const before = JSON.parse((await runBaton(["show", r.json.run.id, "--json"], dir)).stdout).notifications;
    expect(before).toMatchObject([{ status: "pending", attempts: 1, lastStatusCode: null }]);
    expect(before[0].lastError).toMatch(/ECONNREFUSED/);

    const port = Number(new URL(url).port);
    const received: Received[] = [];
    const late = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        received.push({ path: req.url ?? "", headers: req.headers, body });
        res.end();
      });
    });
    await new Promise<void>((resolve) => late.listen(port, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((res) => late.close(() => res())));
    server = await startServer(dir);
    await waitFor("the pending delivery", () => received[0]);
    expect(server.stderr()).toContain("resuming 1 pending notification");
    expect(received[0]!.headers["x-baton-signature"]).toBe(sign("abc", received[0]!.body));
    expect(JSON.parse(received[0]!.body).run.id).toBe(r.json.run.id);
    const list = await waitFor("the delivery to be recorded", async () => {
      const res = await server!.api(`/api/v1/runs/${r.json.run.id}/notifications`);
      return res.body.notifications[0]?.status === "delivered" ? res.body.notifications : undefined;
    });
    expect(list).toMatchObject([{ status: "delivered", attempts: 2, lastStatusCode: 200 }]);
  }, 60_000);

  it("e-mails through the server's --smtp (a real SMTP server), with the run's link; the password is never printed", async () => {
    const mails: Array<{ from: string; to: string[]; data: string; user?: string }> = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      onAuth(auth, _session, cb) {
        if (auth.username === "mailer" && auth.password === "pw-XYZZY") cb(null, { user: "mailer" });
        else cb(new Error("bad credentials"));
      },
      onData(stream, session, cb) {
        let data = "";
        stream.on("data", (d: Buffer) => {
          data += d.toString("utf8");
        });
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
            user: session.user as string | undefined,
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    closers.push(() => new Promise<void>((r) => smtp.close(() => r())));
    const port = (smtp.server.address() as AddressInfo).port;
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      a: { run: echo hi }
    notify:
      - { on: [success, failure], email: [a@example.com, b@example.com] }
`,
    });
    server = await startServer(dir, {
      args: ["--smtp", `smtp://mailer:pw-XYZZY@127.0.0.1:${port}`],
      env: { BATON_SMTP_FROM: "ci@example.com" },
    });
    const started = await server.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "p" });
    expect(started.status).toBe(201);
    const runId = started.body.run.id;
    await waitForRun(server, runId);
    await waitFor("the mail", () => mails[0]);
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({
      from: "ci@example.com",
      to: ["a@example.com", "b@example.com"],
      user: "mailer",
    });
    expect(mails[0]!.data).toContain(`Subject: [baton] p succeeded (${runId})`);
    expect(mails[0]!.data).toContain(`${server.url}/runs/${runId}`);
    const list = await waitFor("the delivery to be recorded", async () => {
      const res = await server!.api(`/api/v1/runs/${runId}/notifications`);
      expect(res.status).toBe(200);
      return res.body.notifications[0]?.status === "delivered" ? res.body.notifications : undefined;
    });
    expect(list).toMatchObject([
      {
        event: "success",
        kind: "email",
        target: "a@example.com, b@example.com",
        attempts: 1,
        lastStatusCode: 250,
      },
    ]);
    expect((await server.api("/api/v1/runs/run_nope/notifications")).status).toBe(404);
    expect(server.stderr()).toContain(`e-mail notifications through smtp://mailer:***@127.0.0.1:${port}`);
    await server.stop();
    expect(server.stderr()).not.toContain("pw-XYZZY");
  }, 60_000);

  it("a task waiting for approval notifies (on: approval), with the task and its message", async () => {
    const hook = await receiver([200]);
    closers.push(hook.close);
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      build: { run: echo built }
      deploy: { needs: build, approval: "deploy to prod?", run: echo deployed }
    notify:
      - { on: [approval], webhook: "${hook.url}/approve" }
`,
    });
    server = await startServer(dir);
    const started = await server.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "p" });
    const runId = started.body.run.id;
    const got = await waitFor("the approval notification", () => hook.received[0]);
    expect(got.headers["x-baton-event"]).toBe("approval");
    const body = JSON.parse(got.body);
    expect(body).toMatchObject({
      event: "approval",
      run: { id: runId, pipeline: "p", status: "running", url: `${server.url}/runs/${runId}` },
      task: { name: "deploy", message: "deploy to prod?" },
      failedTasks: [],
    });
    const detail = await waitForRun(server, runId, (d) => d.tasks.some((t) => t.status === "waiting"));
    expect(body.task.id).toBe(detail.tasks.find((t) => t.name === "deploy").id);
    const approved = await runBaton(["approve", body.task.id], dir);
    expect(approved.code).toBe(0);
    expect((await waitForRun(server, runId)).run.status).toBe("succeeded");
    // The run's end matches no entry: only the approval was sent.
    expect(hook.received).toHaveLength(1);
  }, 60_000);
});
