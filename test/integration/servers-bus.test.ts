/**
 * Several `baton server` processes on one database talk to each other: each one's `/events`
 * shows what the others' engines do, and cancel / approve reach the engine driving the run
 * from any of them. Real servers, real PostgreSQL (test/helpers/postgres.ts), a real SQLite file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isAlive, makeProject } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import {
  type Endpoint,
  type Json,
  killStarted,
  startServer,
  waitFor,
  waitForRun,
} from "../helpers/server.js";

const missing = missingPostgres();
if (missing) console.warn(`servers-bus: PostgreSQL cases skipped: ${missing}`);

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  if (!missing) pgServer = await startPostgres();
}, 120_000);
afterAll(async () => {
  killStarted();
  await pgServer?.stop();
}, 60_000);
afterEach(() => killStarted());

const PROJECT = `version: 1
pipelines:
  gated:
    nodes:
      build: { run: echo built }
      deploy:
        needs: build
        approval: "deploy?"
        run: touch deployed
`;

interface SseEvent {
  type: string;
  data: Json;
}

/** Reads `GET /api/v1/events` of `server` into a list, until `close()`. */
async function watchEvents(server: Endpoint): Promise<{ events: SseEvent[]; close(): void }> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/api/v1/events`, {
    headers: { authorization: `Bearer ${server.token}` },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const events: SseEvent[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) });
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // Aborted.
    }
  })();
  return { events, close: () => controller.abort() };
}

function taskStatuses(events: SseEvent[], taskId: string): string[] {
  return events.filter((e) => e.type === "task" && e.data.taskId === taskId).map((e) => e.data.status);
}

/** Two servers, each in its own folder, on database `db`. */
async function twoServers(db: string) {
  const a = await startServer(makeProject({ "baton.yaml": PROJECT }), { args: ["--db", db] });
  const b = await startServer(makeProject({ "baton.yaml": PROJECT }), { args: ["--db", db] });
  return { a, b };
}

/** Submits to `server` a task that writes its shell's pid to a file, then sleeps. */
async function submitSleeper(server: Endpoint, dir: string): Promise<{ id: string; pidFile: string }> {
  const pidFile = path.join(dir, "sleeper.pid");
  const res = await fetch(`${server.url}/api/v1/tasks`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "sleeper", command: `echo $$ > ${pidFile}; exec sleep 120` }),
  });
  const body = (await res.json()) as Json;
  expect(res.status, JSON.stringify(body)).toBe(201);
  return { id: body.ids[0], pidFile };
}

describe.skipIf(missing)("servers sharing a PostgreSQL database", () => {
  it("a task submitted to A shows in B's event stream; cancelled through B, it ends and its process is gone", async () => {
    const { a, b } = await twoServers(await pgServer!.createDatabase("bus"));
    const stream = await watchEvents(b);
    const { id, pidFile } = await submitSleeper(a, a.dir);
    await waitFor("B's stream to show the task running", () =>
      taskStatuses(stream.events, id).includes("running"),
    );
    const pid = Number(
      await waitFor(
        "the task's pid",
        () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim(),
      ),
    );
    expect(isAlive(pid)).toBe(true);

    const cancel = await b.api(`/api/v1/tasks/${id}/cancel`, {});
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(cancel.body.status).toBe("cancelled");
    expect((await a.api(`/api/v1/tasks/${id}`)).body.status).toBe("cancelled");
    await waitFor("the task's process to be gone", () => !isAlive(pid), { timeoutMs: 10_000 });
    await waitFor("B's stream to show the task cancelled", () =>
      taskStatuses(stream.events, id).includes("cancelled"),
    );
    expect(taskStatuses(stream.events, id).indexOf("running")).toBeLessThan(
      taskStatuses(stream.events, id).indexOf("cancelled"),
    );
    stream.close();
  }, 120_000);

  it("a run started on A waits for approval; approved through B, A runs the rest", async () => {
    const { a, b } = await twoServers(await pgServer!.createDatabase("gate"));
    const { run } = (await a.api("/api/v1/runs", { pipeline: "gated" })).body;
    const waiting = await waitForRun(b, run.id, (d) =>
      d.tasks.some((t: Json) => t.name === "deploy" && t.status === "waiting"),
    );
    const deploy = waiting.tasks.find((t: Json) => t.name === "deploy");

    const approved = await b.api(`/api/v1/tasks/${deploy.id}/approve`, { by: "bob", comment: "ok" });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.approval).toMatchObject({ state: "approved", by: "bob", comment: "ok" });
    expect((await waitForRun(a, run.id)).run.status).toBe("succeeded");
    expect(fs.existsSync(path.join(a.dir, "deployed"))).toBe(true);
    expect(fs.existsSync(path.join(b.dir, "deployed"))).toBe(false);
  }, 120_000);

  it("a run started on A is cancelled through B", async () => {
    const { a, b } = await twoServers(await pgServer!.createDatabase("runcancel"));
    const { run } = (await a.api("/api/v1/runs", { pipeline: "gated" })).body;
    await waitForRun(b, run.id, (d) => d.tasks.some((t: Json) => t.status === "waiting"));
    const cancel = await b.api(`/api/v1/runs/${run.id}/cancel`, {});
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(cancel.body.run.status).toBe("cancelled");
    expect((await a.api(`/api/v1/runs/${run.id}`)).body.run.status).toBe("cancelled");
  }, 120_000);

  it("when the server driving the task does not answer, cancel through another one answers 503 instead of hanging", async () => {
    const { a, b } = await twoServers(await pgServer!.createDatabase("stopped"));
    const { id, pidFile } = await submitSleeper(a, a.dir);
    await waitFor("the task's pid", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim());
    a.child.kill("SIGSTOP"); // alive (its lease holds) but answering nothing
    try {
      const cancel = await b.api(`/api/v1/tasks/${id}/cancel`, {});
      expect(cancel.status, JSON.stringify(cancel.body)).toBe(503);
      expect(cancel.body.error.code).toBe("ENGINE_UNRESPONSIVE");
      expect(cancel.body.error.message).toMatch(
        /^engine eng_\w+ \(pid \d+ on host .*\) did not answer; its runs are taken over within the lease \(BATON_ENGINE_LEASE_MS\), try again$/,
      );
    } finally {
      a.child.kill("SIGCONT");
    }
  }, 120_000);
});

describe("servers sharing a SQLite file", () => {
  it("a task submitted to A shows in B's event stream", async () => {
    const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "baton-bus-")), "shared.db");
    const { a, b } = await twoServers(db);
    const stream = await watchEvents(b);
    const { id } = await submitSleeper(a, a.dir);
    await waitFor("B's stream to show the task running", () =>
      taskStatuses(stream.events, id).includes("running"),
    );
    const cancel = await b.api(`/api/v1/tasks/${id}/cancel`, {});
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    await waitFor("B's stream to show the task cancelled", () =>
      taskStatuses(stream.events, id).includes("cancelled"),
    );
    stream.close();
  }, 120_000);
});
