import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";

const pipeline = `version: 1
pipelines:
  p:
    params: { tag: { type: string, default: a } }
    nodes:
      make:
        foreach: [1, 2, 3]
        run: echo "\${{ params.tag }}\${{ item }}" > "$BATON_OUTPUT_DIR/out.txt"; sleep 0.2
      join:
        needs: [make]
        run: cat \${{ needs.make.outputs['out.txt'] }} > "$BATON_OUTPUT_DIR/all.txt"
`;

describe("faults and concurrency: clear errors, consistent store", () => {
  it("two runs at once in the same folder both finish correctly, without cross-talk", async () => {
    const dir = makeProject({ "baton.yaml": pipeline });
    const [a, b] = await Promise.all([
      runJson(["-p", "tag=x", "--no-cache"], dir),
      runJson(["-p", "tag=y", "--no-cache"], dir),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.json.run.id).not.toBe(b.json.run.id);
    expect(fs.readFileSync(a.byName("join").outputs[0]!, "utf8")).toBe("x1\nx2\nx3\n");
    expect(fs.readFileSync(b.byName("join").outputs[0]!, "utf8")).toBe("y1\ny2\ny3\n");
    const runs = (await runBaton(["ls"], dir)).stdout.trim().split("\n").slice(1);
    expect(runs).toHaveLength(2);
    for (const line of runs) expect(line).toMatch(/ p +succeeded /);
  });

  it("eight processes creating the state database at the same instant all open it", async () => {
    // Switching a new database to WAL and creating its schema take locks SQLite may refuse
    // at once rather than wait for; the store must retry, never fail with "database is locked".
    const store = new URL("../../dist/store/sqlite-store.js", import.meta.url).href;
    for (let round = 0; round < 8; round++) {
      const db = path.join(makeProject({}), ".baton", "baton.db");
      const at = Date.now() + 600;
      const opens = Array.from({ length: 8 }, () =>
        collect(
          spawn(
            process.execPath,
            [
              "--input-type=module",
              "-e",
              `const { SqliteStore } = await import(${JSON.stringify(store)});
               while (Date.now() < ${at}) {}
               SqliteStore.open(${JSON.stringify(db)}); console.log("opened");`,
            ],
            { stdio: ["ignore", "pipe", "pipe"] },
          ),
        ),
      );
      for (const r of await Promise.all(opens)) expect(r.stdout + r.stderr).toBe("opened\n");
    }
  });

  it("a database locked by another process gives a clear error, and nothing half-recorded", async () => {
    const dir = makeProject({ "baton.yaml": pipeline });
    expect((await runBaton(["run"], dir)).code).toBe(0);
    const db = path.join(dir, ".baton", "baton.db");
    const holder = spawn(
      process.execPath,
      [
        "-e",
        `const D = require(${JSON.stringify(require.resolve("better-sqlite3"))});
         const db = new D(${JSON.stringify(db)}); db.exec("BEGIN EXCLUSIVE"); console.log("locked");
         setTimeout(() => { db.exec("COMMIT"); process.exit(0); }, 4000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => holder.stdout!.once("data", () => resolve()));
    const r = await runBaton(["run", "-p", "tag=z"], dir, { BATON_DB_BUSY_TIMEOUT_MS: "300" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /state database.*another process holds a lock on it for too long \(SQLITE_BUSY\)|database is locked/,
    );
    await collect(holder);
    const ls = await runBaton(["ls"], dir);
    expect(ls.code).toBe(0);
    // Only the first run is recorded; nothing of the refused one.
    expect(ls.stdout.trim().split("\n")).toHaveLength(2);
  });

  it("a task that exceeds a file size limit fails with the signal named; the run reports it", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      big:
        run: ulimit -f 4; head -c 100000 /dev/zero > "$BATON_OUTPUT_DIR/big.bin"
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    const show = await runBaton(["show", r.byName("big").id], dir);
    expect(show.stdout).toMatch(/failed.*(153|SIGXFSZ|File size limit)/s);
  });

  it("baton cache ls / gc / clear: sizes, pruning old results, then nothing reused", async () => {
    const dir = makeProject({ "baton.yaml": pipeline });
    await runBaton(["run", "-p", "tag=a"], dir);
    await runBaton(["run", "-p", "tag=b"], dir);
    const ls = await runBaton(["cache", "ls"], dir);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/8 reusable result\(s\); content store: \d+ blob\(s\)/);
    const gc = await runBaton(["cache", "gc", "--keep", "1"], dir);
    expect(gc.stdout).toMatch(/forgot 4 older result\(s\); removed \d+ blob\(s\)/);
    // tag=b is the newest run: still reused; tag=a was pruned: runs again.
    expect((await runJson(["-p", "tag=b"], dir)).json.tasks.every((t) => t.status === "cached")).toBe(true);
    expect((await runJson(["-p", "tag=a"], dir)).json.tasks.every((t) => t.status === "succeeded")).toBe(
      true,
    );
    const clear = await runBaton(["cache", "clear"], dir);
    expect(clear.stdout).toMatch(/forgot \d+ cached result\(s\); removed \d+ blob\(s\)/);
    expect((await runJson(["-p", "tag=b"], dir)).json.tasks.every((t) => t.status === "succeeded")).toBe(
      true,
    );
  });

  it("SIGTERM to the engine cancels cleanly: exit 130, tasks cancelled, run recorded as cancelled", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      wait: { run: touch started; sleep 30 }
`,
    });
    const child = startBaton(["run", "--json"], dir);
    const done = collect(child);
    for (let i = 0; i < 200 && !fs.existsSync(path.join(dir, "started")); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(path.join(dir, "started"))).toBe(true);
    child.kill("SIGTERM");
    const r = await done;
    expect(r.code).toBe(130);
    const json = JSON.parse(r.stdout);
    expect(json.run.status).toBe("cancelled");
    expect(json.tasks[0].status).toBe("cancelled");
  });
});
