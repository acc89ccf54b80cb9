/**
 * `baton server` as users start it: a real process (the built CLI), a real port, signals.
 * The API itself is covered in depth by `api.test.ts`.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, startBaton } from "../helpers/cli.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const PROJECT = `version: 1
pipelines:
  env:
    nodes:
      show:
        run: echo "$BATON_URL" > "$BATON_OUTPUT_DIR/url.txt"; test -n "$BATON_TOKEN"
  nap:
    nodes:
      long:
        run: sleep 30
`;

interface Started {
  child: ChildProcess;
  url: string;
  token: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Starts `baton server ARGS` and waits for its sign-in line. */
async function startServer(
  dir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Started> {
  const child = startBaton(["server", "--port", "0", ...args], dir, env);
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => child.on("close", (code, signal) => resolve({ code, signal, stderr })),
  );
  const deadline = Date.now() + 20_000;
  for (;;) {
    const signIn = /Sign in: (http:\/\/[^/\s]+)\/\?token=([0-9a-f]+)/.exec(stderr);
    if (signIn) return { child, url: signIn[1]!, token: signIn[2]!, stderr: () => stderr, exited };
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`baton server did not start (exit ${child.exitCode}):\n${stderr}`);
    }
    await sleep(25);
  }
}

function api(s: Started, p: string, body?: unknown): Promise<Response> {
  return fetch(s.url + p, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${s.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function waitForRun(s: Started, id: string, until: (status: string) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(s, `/api/v1/runs/${id}`);
    const body = (await res.json()) as {
      run: { status: string };
      tasks: Array<{ name: string; status: string; outputs: string[] }>;
    };
    if (until(body.run.status)) return body;
    if (Date.now() > deadline) throw new Error(`run ${id} still ${body.run.status}`);
    await sleep(100);
  }
}

describe("baton server", () => {
  it("serves the API on the port it prints, records itself for clients, and exits 0 on SIGTERM", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir);
    expect(s.stderr()).toContain(`Baton server on ${s.url}\n`);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s.url).not.toMatch(/:0$/);

    const tokenFile = path.join(dir, ".baton", "token");
    expect(fs.readFileSync(tokenFile, "utf8").trim()).toBe(s.token);
    expect(fs.statSync(tokenFile).mode & 0o777).toBe(0o600);
    const record = JSON.parse(fs.readFileSync(path.join(dir, ".baton", "server.json"), "utf8"));
    expect(record).toMatchObject({ url: s.url, pid: s.child.pid, tokenFile });

    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/api/v1/runs`)).status).toBe(401);

    const started = await api(s, "/api/v1/runs", { pipeline: "env" });
    expect(started.status).toBe(201);
    const { run } = (await started.json()) as { run: { id: string } };
    const done = await waitForRun(s, run.id, (st) => st !== "running");
    expect(done.run.status).toBe("succeeded");
    // Tasks are told where the server is, so that nested `baton submit` can reach it.
    expect(fs.readFileSync(done.tasks[0]!.outputs[0]!, "utf8").trim()).toBe(s.url);

    // An open event stream does not hold the server up.
    const events = await fetch(`${s.url}/api/v1/events?token=${s.token}`);
    expect(events.status).toBe(200);
    const reading = events.text().catch((err: Error) => `stream broken: ${err.message}`);
    s.child.kill("SIGTERM");
    const end = await s.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(await reading).toContain(": baton events");
    expect(fs.existsSync(path.join(dir, ".baton", "server.json"))).toBe(false);
  });

  it("cancels running work on SIGINT, then exits 0", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir);
    const { run } = (await (await api(s, "/api/v1/runs", { pipeline: "nap" })).json()) as {
      run: { id: string };
    };
    // The task runs before the signal comes: the cancel must stop a real process.
    for (let i = 0; i < 200; i++) {
      const detail = (await (await api(s, `/api/v1/runs/${run.id}`)).json()) as {
        tasks: Array<{ status: string }>;
      };
      if (detail.tasks[0]?.status === "running") break;
      await sleep(50);
    }
    const t0 = Date.now();
    s.child.kill("SIGINT");
    const end = await s.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const show = JSON.parse((await runBaton(["show", run.id, "--json"], dir)).stdout);
    expect(show.run.status).toBe("cancelled");
    expect(show.tasks[0].attempts).toBe(1); // it had started
    expect(show.tasks[0].status).toBe("cancelled");
  });

  it("resumes a run whose engine was killed, and finishes it", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      first:
        run: sleep 1; echo first > "$BATON_OUTPUT_DIR/first.txt"
      second:
        needs: [first]
        run: cat \${{ needs.first.outputs['first.txt'] }} > "$BATON_OUTPUT_DIR/second.txt"
`,
    });
    const cli = startBaton(["run"], dir);
    children.push(cli);
    const cliDone = collect(cli);
    // Kill the engine once the first task's process runs.
    const deadline = Date.now() + 15_000;
    while (
      !fs.existsSync(path.join(dir, ".baton", "runs")) ||
      !hasAttemptLog(path.join(dir, ".baton", "runs"))
    ) {
      if (Date.now() > deadline) throw new Error("the run did not start");
      await sleep(25);
    }
    cli.kill("SIGKILL");
    await cliDone;

    const s = await startServer(dir);
    const runId = fs.readdirSync(path.join(dir, ".baton", "runs"))[0]!;
    const done = await waitForRun(s, runId, (st) => st !== "running");
    expect(done.run.status).toBe("succeeded");
    expect(s.stderr()).toContain(`resumed run ${runId}`);
    const second = done.tasks.find((t) => t.name === "second")!;
    expect(fs.readFileSync(second.outputs[0]!, "utf8")).toBe("first\n");
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it("runs with no pipeline file, in the current folder", async () => {
    const dir = makeProject({});
    const s = await startServer(dir);
    const res = await api(s, "/api/v1/pipelines");
    expect(await res.json()).toEqual({ pipelines: [] });
    expect(fs.existsSync(path.join(dir, ".baton", "token"))).toBe(true);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it("refuses a second server for the same folder", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir);
    const second = await runBaton(["server", "--port", "0"], dir);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`a Baton server already runs for ${dir}: ${s.url}`);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it("refuses databases other than SQLite, bad ports and missing files (exit 2)", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const pg = await runBaton(["server", "--db", "postgres://localhost/baton"], dir);
    expect(pg.code, pg.stderr).toBe(2);
    expect(pg.stderr).toContain("only SQLite is supported for now");
    const port = await runBaton(["server", "--port", "http"], dir);
    expect(port.code, port.stderr).toBe(2);
    expect(port.stderr).toContain("--port http: expected a port number");
    const missing = await runBaton(["server", "-f", "nope.yaml"], dir);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain("nope.yaml");
  });

  it("takes a SQLite file with --db", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir, ["--db", "sqlite:state/other.db"]);
    const { run } = (await (await api(s, "/api/v1/runs", { pipeline: "env" })).json()) as {
      run: { id: string };
    };
    expect((await waitForRun(s, run.id, (st) => st !== "running")).run.status).toBe("succeeded");
    expect(fs.existsSync(path.join(dir, "state", "other.db"))).toBe(true);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it("listens beyond loopback only with an explicit --host and BATON_ALLOW_REMOTE=1", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const refused = await runBaton(["server", "--host", "0.0.0.0", "--port", "0"], dir);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain("refusing to listen on 0.0.0.0");
    expect(refused.stderr).toContain("BATON_ALLOW_REMOTE=1");

    const s = await startServer(dir, ["--host", "0.0.0.0"], { BATON_ALLOW_REMOTE: "1" });
    expect(s.stderr()).toContain("listening on 0.0.0.0");
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });
});

function hasAttemptLog(runsDir: string): boolean {
  for (const run of fs.readdirSync(runsDir)) {
    const runDir = path.join(runsDir, run);
    for (const task of fs.readdirSync(runDir)) {
      const taskDir = path.join(runDir, task);
      if (fs.statSync(taskDir).isDirectory() && fs.readdirSync(taskDir).some((f) => f.endsWith(".log")))
        return true;
    }
  }
  return false;
}
