/**
 * Planning a run records its tasks in a few transactions, not one per node: a pipeline of
 * thousands of one-task nodes is recorded 1,000 rows at a time (the built engine, real SQLite,
 * real task processes: run `npx tsc -p tsconfig.build.json` first).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { openLocalEngine } from "../../dist/engine/local.js";
import { parseProjectText } from "../../src/spec/parse.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it("records the tasks of 2,500 one-task nodes in 3 writes, every one of them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-plan-"));
  dirs.push(dir);
  const lines = ["version: 1", "pools:", "  local: { slots: 1 }", "pipelines:", "  flat:", "    nodes:"];
  // Each node needs the one before: only n0 can start while the run is planned.
  for (let i = 0; i < 2_500; i++)
    lines.push(i ? `      n${i}: { needs: [n${i - 1}], run: "true" }` : `      n${i}: { run: "sleep 30" }`);
  const project = parseProjectText(`${lines.join("\n")}\n`, "baton.yaml");
  const { engine, store, close } = openLocalEngine(dir);
  const writes: number[] = [];
  const addTasks = store.addTasks.bind(store);
  store.addTasks = async (tasks) => {
    writes.push(tasks.length);
    await addTasks(tasks);
  };
  try {
    const run = await engine.startRun(project, { pipeline: "flat", params: {}, workdir: dir });
    expect(writes).toEqual([1_000, 1_000, 500]);
    const recorded = await store.listTasks({ run: run.runId });
    expect(recorded).toHaveLength(2_500);
    await run.cancel();
    await run.done;
  } finally {
    await close();
  }
}, 120_000);
