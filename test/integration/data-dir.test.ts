/**
 * `--data DIR` (Baton's state folder moved out of `.baton/`) and two servers in one project
 * folder, with real `baton` processes, real SQLite and a real PostgreSQL (test/helpers/postgres.ts).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton, runJson } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import { type Server, killStarted, startServer, waitFor, waitForRun } from "../helpers/server.js";

const PROJECT = `version: 1
pipelines:
  hello:
    nodes:
      greet:
        run: echo "hello from $PWD"; echo out > "$BATON_OUTPUT_DIR/out.txt"
        outputs: [out.txt]
`;

afterEach(killStarted);

/** Every file and folder under `dir`, relative to it. */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe("--data DIR: Baton's own files in another folder", () => {
  it("run writes the database, logs and outputs under DIR; show and logs read them there", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "baton-data-"));
    // Relative to the current directory; the folder is made.
    const rel = path.relative(dir, path.join(data, "state"));
    const { json, ...result } = await runJson(["--data", rel], dir);
    expect(result.code, result.stderr).toBe(0);
    const state = path.join(data, "state");
    expect(fs.existsSync(path.join(state, "baton.db"))).toBe(true);
    expect(fs.existsSync(path.join(state, "token"))).toBe(true);
    expect(tree(path.join(state, "cas")).length).toBeGreaterThan(0);
    const task = json.tasks[0]!;
    expect(task.outputs[0]).toBe(path.join(state, "runs", json.run.id, task.id, "output", "out.txt"));
    // The task ran in the project folder.
    expect(fs.readFileSync(path.join(state, "runs", json.run.id, task.id, "attempt-1.log"), "utf8")).toBe(
      `hello from ${dir}\n`,
    );
    // Only the per-host part stays beside the project: engines/ (embedded engines' APIs).
    for (const f of tree(path.join(dir, ".baton"))) expect(f).toMatch(/^engines(\/|$)/);

    const logs = await runBaton(["logs", task.id, "--data", rel], dir);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toBe(`hello from ${dir}\n`);
    const show = await runBaton(["show", json.run.id, "--json", "--data", rel], dir);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).run.status).toBe("succeeded");
    // BATON_DATA does the same; the flag wins over it.
    const ls = await runBaton(["ls"], dir, { BATON_DATA: state });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(json.run.id);
    const flagWins = await runBaton(["ls", "--data", rel], dir, { BATON_DATA: path.join(data, "nothing") });
    expect(flagWins.stdout).toContain(json.run.id);
    // Without it, the project's .baton/ has no runs.
    const none = await runBaton(["ls"], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("no runs yet");
  }, 60_000);

  it("a --data that cannot be created or written is refused (exit 2), naming it", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT, "afile.txt": "x\n" });
    for (const args of [
      ["run", "--data", "afile.txt/state"],
      ["server", "--port", "0", "--data", "afile.txt"],
    ]) {
      const r = await runBaton(args, dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`--data ${args.at(-1)}: cannot create or write the state folder`);
      expect(r.stderr).toContain("a file is in the way");
    }
    const env = await runBaton(["run"], dir, { BATON_DATA: "afile.txt" });
    expect(env.code, env.stderr).toBe(2);
    expect(env.stderr).toContain("afile.txt");
    expect(fs.existsSync(path.join(dir, ".baton", "baton.db"))).toBe(false);
  }, 60_000);
});

const missing = missingPostgres();
if (missing) console.warn(`data-dir: PostgreSQL tests skipped: ${missing}`);

describe.skipIf(missing)("--data DIR shared by two servers on one PostgreSQL (two hosts, one mount)", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  }, 60_000);

  it("a run started on one server: its logs and outputs are read through the other's API", async () => {
    const db = await pg.createDatabase("datadir");
    const data = fs.mkdtempSync(path.join(os.tmpdir(), "baton-shared-"));
    // Two project folders with the same pipeline file: one per "host".
    const hostA = makeProject({ "baton.yaml": PROJECT });
    const hostB = makeProject({ "baton.yaml": PROJECT });
    const a = await startServer(hostA, { args: ["--db", db, "--data", data] });
    const b = await startServer(hostB, { args: ["--db", db, "--data", data] });
    // One token, in the shared folder.
    expect(a.token).toBe(b.token);
    expect(fs.readFileSync(path.join(data, "token"), "utf8").trim()).toBe(a.token);

    const { run } = (await a.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "hello" })).body;
    const done = await waitForRun(a, run.id);
    expect(done.run.status).toBe("succeeded");
    const task = done.tasks[0]!;
    // Through B: the run, its task's log and its output's bytes.
    const seen = await waitForRun(b, run.id);
    expect(seen.run.status).toBe("succeeded");
    const log = await fetch(`${b.url}/api/v1/tasks/${task.id}/log`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(log.status).toBe(200);
    expect(await log.text()).toBe(`hello from ${hostA}\n`);
    // Nothing of Baton's state in either project folder but the per-host server record.
    for (const host of [hostA, hostB]) {
      for (const f of tree(path.join(host, ".baton"))) expect(f).toMatch(/^(server\.json|engines(\/|$))/);
    }
    expect(fs.existsSync(path.join(data, "runs", run.id, task.id, "attempt-1.log"))).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
  }, 120_000);
});

describe("two servers in one project folder (SQLite)", () => {
  async function submitTo(server: Server, dir: string, cmd: string): Promise<string> {
    const r = await runBaton(["submit", "-n", "job", "--", cmd], dir, {
      BATON_URL: server.url,
      BATON_TOKEN: server.token,
    });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  it("both start and serve; a task submitted to each runs there, nested submits reach their own server; ls lists all", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const first = await startServer(dir);
    const second = await startServer(dir);
    expect(second.url).not.toBe(first.url);
    // Same folder, same token; server.json still names the first.
    expect(second.token).toBe(first.token);
    expect(second.stderr()).toContain(`another server of ${dir} is running (${first.url}`);
    const record = JSON.parse(fs.readFileSync(path.join(dir, ".baton", "server.json"), "utf8"));
    expect(record.url).toBe(first.url);
    expect((await first.api("/healthz")).status).toBe(200);
    expect((await second.api("/api/v1/runs")).status).toBe(200);

    const nested = `echo "$BATON_URL" > "$BATON_OUTPUT_DIR/url.txt"; node ${JSON.stringify(BATON_BIN)} submit -n child -- 'echo child'`;
    const ids = [await submitTo(first, dir, nested), await submitTo(second, dir, nested)];
    for (const [i, server] of [first, second].entries()) {
      const task = await waitFor(
        `task ${ids[i]} on ${server.url}`,
        async () => (await server.api(`/api/v1/tasks/${ids[i]}`)).body,
        { until: (t) => t?.status === "succeeded" || t?.status === "failed", timeoutMs: 60_000 },
      );
      expect(task.status).toBe("succeeded");
      expect(fs.readFileSync(path.join(task.outputDir, "url.txt"), "utf8")).toBe(`${server.url}\n`);
      const tree = await waitForRun(server, task.run);
      expect(tree.run.status).toBe("succeeded");
      expect(tree.tasks.map((t: { name: string }) => t.name).sort()).toEqual(["child", "job"]);
    }
    // A pipeline run on the second, beside them.
    const { run } = (await second.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "hello" })).body;
    expect((await waitForRun(second, run.id)).run.status).toBe("succeeded");

    const ls = await runBaton(["ls"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    const tasks = await Promise.all(ids.map(async (id) => (await first.api(`/api/v1/tasks/${id}`)).body));
    for (const t of tasks) expect(ls.stdout).toContain(t.run);
    expect(ls.stdout).toContain(run.id);

    // The first stops: the record goes with it; the second keeps serving.
    expect((await first.stop()).code).toBe(0);
    expect(fs.existsSync(path.join(dir, ".baton", "server.json"))).toBe(false);
    expect((await second.api("/api/v1/runs")).status).toBe(200);
    expect((await second.stop()).code).toBe(0);
  }, 180_000);
});
