import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runRow, taskRow } from "../../test/store/conformance.js";
import { SqliteStore } from "./sqlite-store.js";
import type { NewTask } from "./store.js";

const opened: SqliteStore[] = [];

function openStore(): SqliteStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-store-"));
  const store = SqliteStore.open(path.join(dir, ".baton", "baton.db"));
  opened.push(store);
  return store;
}

function task(id: string): NewTask {
  return taskRow(id, "run1");
}

/** A run row to record: `run1` of pipeline `p`, created at 1, unless `extra` says otherwise. */
const newRun = runRow;

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

describe("SqliteStore writes", () => {
  it("writes issued in one turn of the event loop are committed in one transaction", async () => {
    const store = openStore();
    const db = (store as unknown as { db: { transaction: (fn: () => void) => unknown } }).db;
    const transaction = vi.spyOn(db, "transaction");
    await Promise.all([
      store.createRun(newRun("run1", { enginePid: process.pid })),
      store.addTasks([task("a")]),
      store.addTasks([task("b")]),
    ]);
    expect(transaction).toHaveBeenCalledTimes(1);
    expect((await store.listTasks({ run: "run1" })).map((t) => t.id).sort()).toEqual(["a", "b"]);
  });

  it("writes issued together share a transaction, yet one failing write does not undo the others", async () => {
    const store = openStore();
    await store.createRun(newRun("run1", { enginePid: process.pid }));
    await store.addTasks([task("a")]);
    // Same turn of the event loop: one batch. The middle write repeats task a's id.
    const results = await Promise.allSettled([
      store.addTasks([task("b"), task("c")]),
      store.addTasks([task("d"), task("a")]),
      store.addTasks([task("e")]),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    const ids = (await store.listTasks({ run: "run1" })).map((t) => t.id).sort();
    // d was part of the failed write: it is not half-recorded.
    expect(ids).toEqual(["a", "b", "c", "e"]);
  });
});

describe("SqliteStore.listRuns", () => {
  it("pages newest first by creation time then creation order, filtered in SQL, with ties never split or repeated", async () => {
    const store = openStore();
    // Five runs created in the same millisecond, whose ids do not sort like their insertion:
    // within the millisecond, the one created last comes first.
    const runs = [
      { id: "R05", pipeline: "a", createdAt: 100 },
      { id: "R03", pipeline: "b", createdAt: 200 },
      { id: "R09", pipeline: "a", createdAt: 200 },
      { id: "R01", pipeline: "a", createdAt: 200 },
      { id: "R07", pipeline: "b", createdAt: 200 },
      { id: "R02", pipeline: "a", createdAt: 200 },
      { id: "R04", pipeline: "a", createdAt: 300 },
    ];
    for (const r of runs) {
      await store.createRun(newRun(r.id, { ...r, enginePid: null }));
    }
    await store.finishRun("R09", "failed", 400);
    await store.finishRun("R04", "failed", 400);
    const walk = async (filter: { pipeline?: string; status?: ("running" | "failed")[] }, limit: number) => {
      const ids: string[] = [];
      let before: { id: string; createdAt: number } | undefined;
      for (;;) {
        const page = await store.listRuns({ ...filter, limit, before });
        ids.push(...page.map((r) => r.id));
        if (page.length < limit) return ids;
        before = page.at(-1)!;
      }
    };
    const all = ["R04", "R02", "R07", "R01", "R09", "R03", "R05"];
    expect((await store.listRuns()).map((r) => r.id)).toEqual(all);
    for (const limit of [1, 2, 3, 7]) expect(await walk({}, limit)).toEqual(all);
    expect(await walk({ pipeline: "a" }, 2)).toEqual(["R04", "R02", "R01", "R09", "R05"]);
    expect(await walk({ status: ["failed"] }, 1)).toEqual(["R04", "R09"]);
    expect(await walk({ pipeline: "a", status: ["running"] }, 2)).toEqual(["R02", "R01", "R05"]);
    expect(await walk({ pipeline: "c" }, 2)).toEqual([]);
  });
});

describe("SqliteStore.claimRun", () => {
  it("with the engine it expects, lets exactly one of two engines picking up an orphaned run have it", async () => {
    const store = openStore();
    const engine = (id: string, pid: number) => ({
      id,
      host: "h",
      bootId: "",
      pid,
      startedAt: 1,
      leaseExpiresAt: Date.now() + 60_000,
    });
    await store.registerEngine(engine("eng_a", 1001));
    await store.registerEngine(engine("eng_b", 1002));
    await store.registerEngine(engine("eng_c", 1003));
    const deadEngine = "eng_dead";
    await store.createRun(newRun("run1", { enginePid: 999_999_999, engineId: deadEngine }));
    // Both saw the run driven by the dead engine; their claims land in the same transaction.
    const claims = await Promise.all([
      store.claimRun("run1", "eng_a", deadEngine),
      store.claimRun("run1", "eng_b", deadEngine),
    ]);
    expect(claims).toEqual([true, false]);
    expect(await store.getRun("run1")).toMatchObject({ engineId: "eng_a", enginePid: 1001 });
    // Without an expected engine, the claim is unconditional (a retry of a finished run).
    expect(await store.claimRun("run1", "eng_c")).toBe(true);
    expect(await store.getRun("run1")).toMatchObject({ engineId: "eng_c", enginePid: 1003 });
  });
});

describe("SqliteStore.resolveId", () => {
  const T = "01J9ZK3F9Q"; // one millisecond's time prefix
  async function seed(store: SqliteStore, runId: string, taskIds: string[]) {
    await store.createRun(newRun(runId, { pipeline: "train", enginePid: null }));
    await store.addTasks(taskIds.map((id, i) => ({ ...task(id), runId, name: `fit[${i}]` })));
  }
  const fail = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error("resolved");
      },
      (err: { code: string; message: string }) => err,
    );

  it("resolves full ids, bare ULIDs and unique prefixes of either; run_ only runs, task_ only tasks", async () => {
    const store = openStore();
    await seed(store, `run_${T}AAAAAAAAAAAAAAAA`, [`task_${T}BBBBBBBBBBBBBBBB`, `task_${T}BCCCCCCCCCCCCCCC`]);
    const run = { kind: "run", id: `run_${T}AAAAAAAAAAAAAAAA` };
    const b = { kind: "task", id: `task_${T}BBBBBBBBBBBBBBBB` };
    expect(await store.resolveId(run.id)).toEqual(run);
    expect(await store.resolveId(`${T}AAAAAAAAAAAAAAAA`)).toEqual(run);
    expect(await store.resolveId(`run_${T.toLowerCase()}`)).toEqual(run);
    expect(await store.resolveId(`${T}A`)).toEqual(run);
    expect(await store.resolveId(`task_${T}BB`)).toEqual(b);
    expect(await store.resolveId(`${T}BB`)).toEqual(b);
    expect(await store.resolveId(T, "run")).toEqual(run);
    expect(await fail(store.resolveId(`run_${T}B`))).toMatchObject({ code: "STORE_NOT_FOUND" });
    expect(await fail(store.resolveId(`task_${T}A`))).toMatchObject({ code: "STORE_NOT_FOUND" });
  });

  it("lists the candidates of an ambiguous prefix with their kind and name", async () => {
    const store = openStore();
    await seed(store, `run_${T}AAAAAAAAAAAAAAAA`, [`task_${T}BBBBBBBBBBBBBBBB`, `task_${T}BCCCCCCCCCCCCCCC`]);
    const err = await fail(store.resolveId(`task_${T}B`));
    expect(err.code).toBe("STORE_AMBIGUOUS");
    expect(err.message).toBe(
      `"task_${T}B" matches 2 tasks: task_${T}BBBBBBBBBBBBBBBB (fit[0]), task_${T}BCCCCCCCCCCCCCCC (fit[1]); give more characters`,
    );
    expect((await fail(store.resolveId(T.slice(0, 6)))).message).toMatch(
      new RegExp(`^"${T.slice(0, 6)}" matches 1 run and 2 tasks: run_${T}A+ \\(pipeline train\\), task_`),
    );
  });

  it("refuses a prefix of fewer than 4 characters after the kind", async () => {
    const store = openStore();
    await seed(store, `run_${T}AAAAAAAAAAAAAAAA`, []);
    const err = await fail(store.resolveId("run_01J"));
    expect(err).toMatchObject({ code: "STORE_NOT_FOUND" });
    expect(err.message).toContain("at least 4 characters");
  });

  it("keeps the bare ULIDs of an older database usable, and run_/task_ tell its run from its root task", async () => {
    const store = openStore();
    // Old monotonic ids: a run and its tasks share 25 of 26 characters.
    await seed(store, `${T}0000000000000000`, [`${T}0000000000000001`, `${T}0000000000000002`]);
    expect(await store.resolveId(`${T}0000000000000000`)).toEqual({
      kind: "run",
      id: `${T}0000000000000000`,
    });
    expect(await store.resolveId(`${T}0000000000000002`.toLowerCase())).toEqual({
      kind: "task",
      id: `${T}0000000000000002`,
    });
    expect(await store.resolveId(`run_${T}000`)).toEqual({ kind: "run", id: `${T}0000000000000000` });
    expect(await store.resolveId(`task_${T}0000000000000002`)).toEqual({
      kind: "task",
      id: `${T}0000000000000002`,
    });
    expect((await fail(store.resolveId(`task_${T}000`))).message).toContain("matches 2 tasks");
    expect((await fail(store.resolveId(`${T}000`))).message).toContain("matches 1 run and 2 tasks");
  });
});
