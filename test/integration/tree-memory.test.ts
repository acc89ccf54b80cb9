import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Engine, EngineEvent } from "../../dist/engine/engine.js";
// The build, as `baton server` runs it (its launcher processes are built files).
import { openLocalEngine } from "../../dist/engine/local.js";

const N = 2000;
const TERMINAL = new Set(["succeeded", "failed", "cancelled", "skipped", "cached"]);

/** Resolves once every id in `ids` has ended (by the engine's events). */
function allEnded(engine: Engine, ids: Set<string>): Promise<void> {
  return new Promise((resolve) => {
    const off = engine.on((e: EngineEvent) => {
      if (e.type === "task" && TERMINAL.has(e.status) && ids.delete(e.taskId) && ids.size === 0) {
        off();
        resolve();
      }
    });
  });
}

describe("a long-lived engine forgets settled tasks", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-memory-"));
  const opened = openLocalEngine(dir, { pools: { local: { name: "local", slots: 4, resources: {} } } });
  afterAll(async () => {
    await opened.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`holds no per-task state once ${N} submitted tasks (with dependencies and children) have settled`, async () => {
    const { engine, store } = opened;
    const ids = new Set<string>();
    const expected = new Set<string>();
    const track = (list: string[]) => {
      for (const id of list) {
        ids.add(id);
        expected.add(id);
      }
    };
    const done = allEnded(engine, ids);
    // A parent with children, a sibling waiting on it, one waiting on a failure that never comes.
    const [parent] = await engine.submit({ name: "parent", command: "sleep 0.3" });
    track([parent!]);
    for (let i = 0; i < 5; i++) track(await engine.submit({ command: "true", parentTaskId: parent! }));
    track(await engine.submit({ name: "after-parent", command: "true", afterSuccess: ["parent"] }));
    track(await engine.submit({ name: "on-failure", command: "true", afterFail: ["parent"] }));
    track(await engine.submit({ name: "fails", command: "exit 3" }));
    track(await engine.submit({ name: "shards", command: "true", shards: 3, afterFail: ["fails"] }));
    const left = N - expected.size;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < left; i += 8) track(await engine.submit({ command: "true" }));
      }),
    );
    expect(expected.size).toBe(N);
    await done;
    // Every task ended as a user expects: the tree did not lose track of any.
    const rows = await store.listTasks({});
    const byStatus: Record<string, number> = {};
    for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    expect(byStatus).toEqual({ succeeded: N - 2, failed: 1, skipped: 1 });
    // A lone tree's run ends after its task: give the last ones a moment.
    for (let i = 0; i < 100 && engine.stats().tree.loneRuns > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(engine.stats()).toEqual({
      runs: 0,
      tree: { tasks: 0, families: 0, dependencies: 0, loneRuns: 0, foreign: 0 },
      pools: 1,
      queued: 0,
      running: 0,
      listeners: 0,
    });
  }, 600_000);
});
