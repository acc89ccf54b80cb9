/**
 * A controller that survives its own crash: the example sweep (`examples/controller/sweep.ts`)
 * is killed with SIGKILL mid-sweep, once it has started training processes, then run again.
 * The rerun must reattach to what the first run started — no step's task started twice — and
 * end with the right result. Against a started server (which keeps running the tasks), and
 * against the embedded engine (which died with the controller: the rerun adopts its tasks).
 */
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton } from "../helpers/cli.js";
import { type Server, killStarted, startServer, waitFor } from "../helpers/server.js";
import {
  EXAMPLE_DIR,
  exampleWorkdir,
  runScript,
  runScriptToEnd,
  storedAttempts,
  storedTasks,
} from "./helpers.js";

const SWEEP = path.join(EXAMPLE_DIR, "sweep.ts");
const STEPS = ["template", "train-0", "train-1", "train-2", "train-3", "train-4", "evaluate"];

afterAll(killStarted);

async function crashThenRerun(dir: string): Promise<void> {
  const args = ["--workdir", dir, "--step-seconds", "1"];
  const first = runScript(SWEEP, args);
  // Killed once the second training of the grid has a process: the template and the first
  // training are done, the second is running, nothing after it exists yet.
  const running = await waitFor("a process for the second training (train-1)", async () => {
    const tasks = await storedTasks(dir).catch(() => []);
    const t = tasks.find((r) => r.idempotencyKey?.endsWith(":train-1"));
    if (!t) return undefined;
    const attempts = await storedAttempts(dir, t.id);
    return attempts.some((a) => a.pid !== null) ? t : undefined;
  });
  first.child.kill("SIGKILL");
  const killed = await first.exited;
  expect(killed.signal).toBe("SIGKILL");
  expect(first.stdout()).toBe("");
  const startedBefore = (await storedTasks(dir)).filter((t) => t.idempotencyKey !== null);
  expect(startedBefore.map((t) => t.idempotencyKey!.split(":").at(-1))).toEqual([
    "template",
    "train-0",
    "train-1",
  ]);
  expect(startedBefore.find((t) => t.id === running.id)?.status).not.toBe("succeeded");

  const second = await runScriptToEnd(SWEEP, args);
  const result = JSON.parse(second.stdout) as {
    controller: string;
    best: { lr: number; accuracy: number; task: string };
    evaluation: { status: string; testAccuracy: number };
    trials: Array<{ lr: number; accuracy: number | null; task: string }>;
  };
  // The right result: the grid up to the first model over the threshold, its evaluation.
  expect(result.trials.map((t) => t.lr)).toEqual([0.01, 0.03, 0.1, 0.3, 0.6]);
  expect(result.best).toMatchObject({ lr: 0.6, accuracy: 0.9973 });
  expect(result.evaluation).toMatchObject({ status: "succeeded", testAccuracy: 0.9972 });
  expect(second.stderr).toMatch(/template: reattached to task/);
  expect(second.stderr).toMatch(/lr=0.01 epochs=40: reattached to task/);
  expect(second.stderr).toMatch(new RegExp(`lr=0.03 epochs=40: reattached to task ${running.id}`));
  expect(second.stderr).toMatch(/lr=0.1 epochs=40: started task/);

  // Each step's task was created once and its process started once.
  const tasks = (await storedTasks(dir)).filter((t) => t.idempotencyKey?.startsWith(`${result.controller}:`));
  expect(tasks.map((t) => t.idempotencyKey!.slice(result.controller.length + 1)).sort()).toEqual(
    [...STEPS].sort(),
  );
  for (const t of tasks) {
    expect(t.status, t.name).toBe("succeeded");
    expect(t.attempts, `${t.name} started ${t.attempts} times`).toBe(1);
    expect(await storedAttempts(dir, t.id)).toHaveLength(1);
  }
  for (const t of startedBefore) expect(tasks.map((x) => x.id)).toContain(t.id);
  expect(result.trials[1]!.task).toBe(running.id);
}

describe("a controller killed mid-sweep and run again", () => {
  let server: Server | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("reattaches to the tasks a started server kept running", async () => {
    const dir = exampleWorkdir(makeProject({}));
    server = await startServer(dir);
    await crashThenRerun(dir);
  });

  it("reattaches to the tasks of the embedded engine that died with it", async () => {
    await crashThenRerun(exampleWorkdir(makeProject({})));
  });
});

describe("a pipeline with hooks killed mid-run and run again", () => {
  it("with its resume key, reattaches to the same run: each task started once, the same early stop", async () => {
    const dir = makeProject({});
    const script = path.join(import.meta.dirname, "fixtures", "hook-sweep.ts");
    const first = runScript(script, [dir, "sweep-2026-12-06"]);
    const running = await waitFor("a process for train:1", async () => {
      const t = (await storedTasks(dir).catch(() => [])).find((r) => r.name === "train[1]");
      return t && (await storedAttempts(dir, t.id)).some((a) => a.pid !== null) ? t : undefined;
    });
    first.child.kill("SIGKILL");
    await first.exited;
    expect(first.stderr()).toMatch(/^train\[0\]: new$/m);
    const runId = running.runId;

    const second = await runScriptToEnd(script, [dir, "sweep-2026-12-06"]);
    const result = JSON.parse(second.stdout) as { id: string; status: string; train: string[][] };
    expect(result.status).toBe("succeeded");
    expect(result.train).toEqual([
      ["train[0]", "succeeded"],
      ["train[1]", "succeeded"],
      ["train[2]", "succeeded"],
      ["train[3]", "skipped"],
    ]);
    expect(second.stderr).toMatch(/^train\[0\]: reattached$/m);
    expect(second.stderr).toMatch(/^train\[1\]: reattached$/m);
    expect(second.stderr).toMatch(/^train\[2\]: new$/m);
    // The same run, resumed: one run in the store, each task that ran started once.
    expect(result.id).toBe(runId);
    const all = await storedTasks(dir);
    expect(new Set(all.map((t) => t.runId))).toEqual(new Set([runId]));
    const tasks = all.filter((t) => t.status !== "skipped");
    expect(tasks.map((t) => t.name).sort()).toEqual(["report", "train[0]", "train[1]", "train[2]"]);
    expect(tasks.map((t) => t.attempts)).toEqual([1, 1, 1, 1]);
    expect(tasks.find((t) => t.name === "train[1]")?.id).toBe(running.id);
  });
});

describe("a pipeline with hooks run twice without a resume key", () => {
  it("is two runs: the second does not reattach to the first, its results come from the cache", async () => {
    const dir = makeProject({});
    const script = path.join(import.meta.dirname, "fixtures", "hook-sweep.ts");
    const first = JSON.parse((await runScriptToEnd(script, [dir])).stdout) as { id: string; status: string };
    const again = await runScriptToEnd(script, [dir]);
    const second = JSON.parse(again.stdout) as { id: string; status: string; train: string[][] };
    expect(first.status).toBe("succeeded");
    expect(second.status).toBe("succeeded");
    expect(second.id).not.toBe(first.id);
    // Nothing reattached: each hooked task of the second run is its own, answered as new.
    expect(again.stderr).not.toMatch(/reattached/);
    expect(again.stderr).toMatch(/^train\[0\]: new$/m);
    const ls = await runBaton(["ls"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = ls.stdout.split("\n").filter((l) => l.startsWith("run_"));
    expect(listed).toHaveLength(2);
    expect(ls.stdout).toContain(first.id);
    expect(ls.stdout).toContain(second.id);
    // Results are still reused through the cache.
    const secondTasks = (await storedTasks(dir)).filter(
      (t) => t.runId === second.id && t.name === "train[0]",
    );
    expect(secondTasks.map((t) => t.status)).toEqual(["cached"]);
  });
});

describe("an embedded controller killed while its task's children run, then run again", () => {
  it("adopts the parent, which ends only when its children have, failed because one failed", async () => {
    const dir = makeProject({});
    const script = path.join(import.meta.dirname, "fixtures", "parent-children.ts");
    const first = runScript(script, [dir, BATON_BIN]);
    // Killed once both children run: the parent's own process has exited 0 by then.
    await waitFor("processes for both children", async () => {
      const tasks = await storedTasks(dir).catch(() => []);
      const children = tasks.filter((t) => t.name === "slow" || t.name === "broken");
      if (children.length < 2) return undefined;
      for (const c of children)
        if (!(await storedAttempts(dir, c.id)).some((a) => a.pid !== null)) return undefined;
      return children;
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const before = await storedTasks(dir);
    expect(before.find((t) => t.name === "parent")?.status).toBe("running");
    expect(before.find((t) => t.name === "slow")?.status).toBe("running");

    const second = await runScriptToEnd(script, [dir, BATON_BIN]);
    const result = JSON.parse(second.stdout) as { id: string; status: string; error: string | null };
    expect(result).toMatchObject({ status: "failed", error: "1 child task failed or was cancelled" });
    const tasks = await storedTasks(dir);
    const parent = tasks.find((t) => t.name === "parent")!;
    const slow = tasks.find((t) => t.name === "slow")!;
    const broken = tasks.find((t) => t.name === "broken")!;
    expect(parent.id).toBe(result.id);
    expect([slow.status, broken.status]).toEqual(["succeeded", "failed"]);
    expect(slow.parentId).toBe(parent.id);
    // Each task ran once: the parent's process was not started again, nor the children's.
    for (const t of [parent, slow, broken]) expect(t.attempts, t.name).toBe(1);
    // The parent ended after its slower child.
    expect(parent.endedAt!).toBeGreaterThanOrEqual(slow.endedAt!);
  });
});
