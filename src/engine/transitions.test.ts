import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runRow, taskRow } from "../../test/store/conformance.js";
import { SqliteStore } from "../store/sqlite-store.js";
import type { TaskStatus } from "../store/store.js";
import { applyTransition } from "./transitions.js";

const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function storeWithTask(): Promise<SqliteStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-transitions-"));
  const store = SqliteStore.open(path.join(dir, "baton.db"));
  stores.push(store);
  await store.createRun(runRow("run1", { workdir: dir }));
  await store.addTasks([taskRow("t1", "run1", { outputDir: dir })]);
  return store;
}

const cacheHit = {
  status: "cached" as const,
  exitCode: 0,
  endedAt: 2,
  metrics: {},
  outputs: [],
  error: null,
};

describe("applyTransition: the engine's side of a race it may lose", () => {
  it("a cache hit found after a cancel ended the task: not applied, the task is taken as cancelled", async () => {
    const store = await storeWithTask();
    await store.endTaskWithoutRunning("t1", "cancelled", "cancelled", 1);
    const ended: TaskStatus[] = [];
    const applied = await applyTransition(
      store.completeTask("t1", null, cacheHit),
      { status: "pending" },
      async (s) => {
        ended.push(s);
      },
    );
    expect(applied).toBe(false);
    expect(ended).toEqual(["cancelled"]);
    expect((await store.getTask("t1"))?.status).toBe("cancelled");
  });

  it("does not report the end twice when this side already saw it", async () => {
    const store = await storeWithTask();
    await store.endTaskWithoutRunning("t1", "cancelled", "cancelled", 1);
    let calls = 0;
    const write = store.endTaskWithoutRunning("t1", "skipped", "x", 2);
    expect(await applyTransition(write, { status: "cancelled" }, async () => void calls++)).toBe(false);
    expect(calls).toBe(0);
  });

  it("a conflict with a task that has not ended is not a race to swallow: it is thrown", async () => {
    const store = await storeWithTask();
    const write = store.startAttempt({
      taskId: "t1",
      number: 1,
      status: "running",
      pid: null,
      pidStart: null,
      startedAt: 1,
      logPath: "/l",
    });
    await expect(applyTransition(write, { status: "queued" }, async () => undefined)).rejects.toMatchObject({
      code: "STATE_CONFLICT",
      context: { taskId: "t1", actual: "pending", to: "running" },
    });
  });
});
