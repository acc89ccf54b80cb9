/**
 * `baton server` as users start it: a real process (the built CLI), a real port, signals.
 * The API itself is covered in depth by `api.test.ts`.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, startBaton } from "../helpers/cli.js";
import { killStarted, startServer, track, waitFor, waitForRun } from "../helpers/server.js";

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

afterEach(killStarted);

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

    const started = await s.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "env" });
    expect(started.status).toBe(201);
    const { run } = started.body;
    const done = await waitForRun(s, run.id);
    expect(done.run.status).toBe("succeeded");
    // Tasks are told where the server is, so that nested `baton submit` can reach it.
    expect(fs.readFileSync(done.tasks[0]!.outputs[0]!, "utf8").trim()).toBe(s.url);

    // An open event stream does not hold the server up.
    const events = await fetch(`${s.url}/api/v1/events?token=${s.token}`);
    expect(events.status).toBe(200);
    const reading = events.text().catch((err: Error) => `stream broken: ${err.message}`);
    s.child.kill("SIGTERM");
    const end = await s.exited;
    expect(end.code, s.stderr()).toBe(0);
    expect(await reading).toContain(": baton events");
    expect(fs.existsSync(path.join(dir, ".baton", "server.json"))).toBe(false);
  });

  it("cancels running work on SIGINT, then exits 0", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir);
    const { run } = (await s.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "nap" })).body;
    // The task runs before the signal comes: the cancel must stop a real process.
    await waitForRun(s, run.id, (d) => d.tasks[0]?.status === "running", { what: "the task to run" });
    const t0 = Date.now();
    s.child.kill("SIGINT");
    const end = await s.exited;
    expect(end.code, s.stderr()).toBe(0);
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
    track(cli);
    const cliDone = collect(cli);
    // Kill the engine once the first task's process runs.
    const runsDir = path.join(dir, ".baton", "runs");
    await waitFor(
      "the run to start (an attempt log under .baton/runs)",
      () => fs.existsSync(runsDir) && hasAttemptLog(runsDir),
      {
        timeoutMs: 15_000,
        intervalMs: 25,
      },
    );
    cli.kill("SIGKILL");
    await cliDone;

    const s = await startServer(dir);
    const runId = fs.readdirSync(path.join(dir, ".baton", "runs"))[0]!;
    const done = await waitForRun(s, runId);
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
    const res = await s.api("/api/v1/pipelines");
    expect(res.body).toEqual({ pipelines: [] });
    expect(fs.existsSync(path.join(dir, ".baton", "token"))).toBe(true);
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  });

  it("refuses databases other than SQLite and PostgreSQL, bad ports and missing files (exit 2)", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const other = await runBaton(["server", "--db", "mysql://localhost/baton"], dir);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toContain("expected a SQLite file or a postgres://USER@HOST:PORT/DB URL");
    const port = await runBaton(["server", "--port", "http"], dir);
    expect(port.code, port.stderr).toBe(2);
    expect(port.stderr).toContain("--port http: expected a port number");
    const missing = await runBaton(["server", "-f", "nope.yaml"], dir);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain("nope.yaml");
  });

  it("takes a SQLite file with --db", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const s = await startServer(dir, { args: ["--db", "sqlite:state/other.db"] });
    const { run } = (await s.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "env" })).body;
    expect((await waitForRun(s, run.id)).run.status).toBe("succeeded");
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

    const s = await startServer(dir, { args: ["--host", "0.0.0.0"], env: { BATON_ALLOW_REMOTE: "1" } });
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
