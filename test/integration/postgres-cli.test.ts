/**
 * `--db postgres://…` on the command line, with real `baton` processes and a real PostgreSQL
 * (a throwaway cluster, see test/helpers/postgres.ts).
 */
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import { killStarted, startServer, waitForRun } from "../helpers/server.js";

const missing = missingPostgres();
if (missing) console.warn(`postgres-cli: PostgreSQL tests skipped: ${missing}`);

let server: TestPostgres;
beforeAll(async () => {
  if (!missing) server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);
afterEach(killStarted);

const PROJECT = `version: 1
pipelines:
  fan:
    nodes:
      shard:
        foreach: [a, b, c]
        run: echo "\${{ item }}" > "$BATON_OUTPUT_DIR/part.txt"
      merge:
        needs: [shard]
        run: echo merged > "$BATON_OUTPUT_DIR/all.txt"
`;

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe("--db postgres://: connection problems are clear errors (exit 2) that never show the password", () => {
  it("a URL it cannot use", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const bad = await runBaton(["ls", "--db", "postgres://alice:s3cret@127.0.0.1:notaport/baton"], dir);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("not a valid URL");
    expect(bad.stderr).toContain("postgres://alice:***@127.0.0.1:notaport/baton");
    const noDb = await runBaton(["ls", "--db", "postgres://alice:s3cret@127.0.0.1:5432"], dir);
    expect(noDb.code, noDb.stderr).toBe(2);
    expect(noDb.stderr).toContain("no database named");
    const other = await runBaton(["ls", "--db", "mysql://alice:s3cret@127.0.0.1/baton"], dir);
    expect(other.code, other.stderr).toBe(2);
    expect(other.stderr).toContain("expected a SQLite file or a postgres://USER@HOST:PORT/DB URL");
    for (const r of [bad, noDb, other]) expect(r.stderr).not.toContain("s3cret");
  });

  it("a refused connection names the host and port", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const port = await closedPort();
    const r = await runBaton(["ls", "--db", `postgres://alice:s3cret@127.0.0.1:${port}/baton`], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`PostgreSQL at 127.0.0.1:${port}`);
    expect(r.stderr).toContain("connection refused");
    expect(r.stderr).not.toContain("s3cret");
    // BATON_DB is read the same way.
    const env = await runBaton(["ls"], dir, { BATON_DB: `postgres://alice:s3cret@127.0.0.1:${port}/baton` });
    expect(env.code, env.stderr).toBe(2);
    expect(env.stderr).toContain(`PostgreSQL at 127.0.0.1:${port}`);
  });

  it.skipIf(missing)(
    "a wrong password names the host, port and user",
    async () => {
      const dir = makeProject({ "baton.yaml": PROJECT });
      await server.addPasswordUser("alice", "right-one");
      const db = (await server.createDatabase("pw")).replace(
        "postgres://postgres@",
        "postgres://alice:wr0ng@",
      );
      const r = await runBaton(["ls", "--db", db], dir);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`PostgreSQL at 127.0.0.1:${server.port}`);
      expect(r.stderr).toContain('authentication failed for user "alice"');
      expect(r.stderr).not.toContain("wr0ng");
      const none = await runBaton(["ls", "--db", db.replace("alice:wr0ng@", "alice@")], dir);
      expect(none.code, none.stderr).toBe(2);
      expect(none.stderr).toContain(`PostgreSQL at 127.0.0.1:${server.port}`);
      expect(none.stderr).toContain('asks user "alice" for a password and the URL gives none');
    },
    60_000,
  );
});

describe.skipIf(missing)("baton run / ls / show --db postgres://", () => {
  it("runs a fan-out pipeline into PostgreSQL, lists and shows it, and a second run is cached", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const db = await server.createDatabase("e2e");
    const first = await runJson(["--db", db], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.run.status).toBe("succeeded");
    expect(first.json.tasks.map((t) => [t.name, t.status]).sort()).toEqual([
      ["merge", "succeeded"],
      ["shard[0]", "succeeded"],
      ["shard[1]", "succeeded"],
      ["shard[2]", "succeeded"],
    ]);
    // The run is in PostgreSQL, not in a SQLite file beside the pipeline.
    const ls = await runBaton(["ls", "--db", db], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(first.json.run.id);
    expect(ls.stdout).toContain("succeeded");
    const local = await runBaton(["ls"], dir);
    expect(local.code).toBe(2);
    expect(local.stderr).toContain("no runs yet");
    const show = await runBaton(["show", "--db", db, first.json.run.id], dir);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("merge");
    const tasks = await runBaton(["ls", "--db", db, first.json.run.id], dir);
    expect(tasks.stdout).toContain("shard[2]");

    const second = await runJson(["--db", db], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json.run.id).not.toBe(first.json.run.id);
    expect(second.json.tasks.map((t) => [t.name, t.status, t.cached]).sort()).toEqual([
      ["merge", "cached", true],
      ["shard[0]", "cached", true],
      ["shard[1]", "cached", true],
      ["shard[2]", "cached", true],
    ]);
    const both = await runBaton(["ls"], dir, { BATON_DB: db });
    expect(both.stdout).toContain(first.json.run.id);
    expect(both.stdout).toContain(second.json.run.id);
  }, 120_000);
});

describe.skipIf(missing)("baton server and submit on PostgreSQL", () => {
  it("a server on --db postgres:// runs what the API starts; the CLI sees it there", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const db = await server.createDatabase("srv");
    const s = await startServer(dir, { args: ["--db", db] });
    const { run } = (await s.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "fan" })).body;
    expect((await waitForRun(s, run.id)).run.status).toBe("succeeded");
    expect((await s.stop()).code).toBe(0);
    const ls = await runBaton(["ls", "--db", db, run.id], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain("merge");
  }, 120_000);

  it("baton submit without a server records the task in the database BATON_DB names", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const db = await server.createDatabase("sub");
    const r = await runBaton(["submit", "--wait", "-n", "hello", "echo", "hi"], dir, { BATON_DB: db });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("hi");
    const ls = await runBaton(["ls", "--db", db], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain("hello");
  }, 120_000);
});
