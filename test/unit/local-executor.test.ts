import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { StateLayout } from "../../dist/engine/layout.js";
import type { AttemptRef, ExitResult, TaskProcess } from "../../dist/executors/executor.js";
// The build: the local executor forks `launcher.js` beside its own module, which exists only in dist/.
import { LocalExecutor } from "../../dist/executors/local-executor.js";

/** The Executor port v2, with the local executor: handles, async adoption, the workspace. */

let dir: string;
let layout: StateLayout;
const executors: LocalExecutor[] = [];
let seq = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-executor-"));
  layout = new StateLayout(path.join(dir, ".baton"));
});

afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.shutdown()));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function executor(): LocalExecutor {
  const e = new LocalExecutor({ layout, killGraceMs: 500 });
  executors.push(e);
  return e;
}

function attempt(number = 1): AttemptRef {
  seq++;
  return { runId: "run_x", taskId: `task_${process.pid}_${seq}`, name: `t${seq}`, attempt: number };
}

function launch(
  e: LocalExecutor,
  ref: AttemptRef,
  command: string,
  extra: object = {},
): Promise<TaskProcess> {
  return e.launch({
    ...ref,
    command,
    cwd: dir,
    env: { BATON_RUN_ID: ref.runId, BATON_TASK_ID: ref.taskId, BATON_ATTEMPT: String(ref.attempt) },
    outputs: [],
    ...extra,
  });
}

const ended = (found: TaskProcess | { ended: ExitResult }): ExitResult | undefined =>
  "ended" in found ? found.ended : undefined;

describe("LocalExecutor (Executor port v2)", () => {
  it("launches an attempt with a local handle and reports its exit", async () => {
    const e = executor();
    const ref = attempt();
    const proc = await launch(
      e,
      ref,
      'echo hello; echo "$BATON_OUTPUT_DIR" > "$BATON_OUTPUT_DIR/where"; exit 3',
    );
    expect(proc.pid).toBeGreaterThan(0);
    // The start time is read as the process starts, before it can have been reaped (Linux: /proc).
    expect(proc.handle).toBe(`local:${proc.pid}:${proc.pidStart ?? ""}`);
    if (process.platform === "linux") expect(proc.pidStart).toMatch(/^\d+$/);
    const result = await proc.exited;
    expect(result).toMatchObject({ exitCode: 3, reason: "exited" });
    // The folders and the log are where tasks have always found them.
    const outputDir = layout.outputDir(ref.runId, ref.taskId);
    expect(fs.readFileSync(path.join(outputDir, "where"), "utf8").trim()).toBe(outputDir);
    expect(fs.readFileSync(layout.logPath(ref.runId, ref.taskId, 1), "utf8")).toBe("hello\n");
    const log = await e.workspace.readLog(ref, 2);
    expect(log.data.toString()).toBe("llo\n");
    expect(log.offset).toBe(6);
  });

  it("adopts a live attempt by its handle, from another executor, and follows it to its end", async () => {
    const ref = attempt();
    const go = path.join(dir, `${ref.taskId}.go`);
    const proc = await launch(executor(), ref, `while [ ! -e ${go} ]; do sleep 0.05; done; exit 4`);
    const found = await executor().adopt({ ...ref, handle: proc.handle, startedAt: Date.now() });
    expect(ended(found)).toBeUndefined();
    const adopted = found as TaskProcess;
    expect(adopted.pid).toBe(proc.pid);
    expect(adopted.handle).toBe(proc.handle);
    fs.writeFileSync(go, "");
    // Read from the exit status the shell wrote: this executor did not start the process.
    expect(await adopted.exited).toMatchObject({ exitCode: 4, reason: "exited" });
  });

  it("adopts an attempt that ended meanwhile: its exit status, read where it ran", async () => {
    const ref = attempt();
    const proc = await launch(executor(), ref, "exit 5");
    await proc.exited;
    const found = await executor().adopt({ ...ref, handle: proc.handle, startedAt: Date.now() });
    expect(ended(found)).toMatchObject({ exitCode: 5, reason: "exited" });
  });

  it("reports an unknown handle, or a process gone without a status, as lost", async () => {
    const e = executor();
    const foreign = await e.adopt({ ...attempt(), handle: "slurm:12345", startedAt: Date.now() });
    expect(ended(foreign)).toMatchObject({ reason: "lost", exitCode: null });
    expect(ended(foreign)?.message).toContain("slurm:12345");
    const gone = await e.adopt({ ...attempt(), handle: "local:999999999:1", startedAt: Date.now() });
    expect(ended(gone)).toMatchObject({
      reason: "lost",
      message: "the process is gone and left no exit status",
    });
  });

  it("an attempt sees the inputs placed and the cached outputs restored by the workspace", async () => {
    const e = executor();
    const source = path.join(dir, "source.txt");
    fs.writeFileSync(source, "from the workdir\n");
    const blob = path.join(dir, "blob.txt");
    fs.writeFileSync(blob, "from the content store\n");
    const { sha256 } = await e.workspace.cas.put(blob);
    const ref = attempt();
    await e.workspace.prepare(ref, {
      inputs: [
        {
          name: "data",
          files: [
            { rel: "a.txt", source },
            { rel: "sub/b.txt", sha256 },
          ],
        },
      ],
      restore: [{ path: "kept/old.txt", sha256 }],
    });
    const proc = await launch(
      e,
      ref,
      'cat "$BATON_INPUTS_DIR/data/a.txt" "$BATON_INPUTS_DIR/data/sub/b.txt" "$BATON_OUTPUT_DIR/kept/old.txt" > "$BATON_OUTPUT_DIR/seen.txt"',
    );
    const result = await proc.exited;
    expect(result).toMatchObject({ exitCode: 0, reason: "exited" });
    const outputDir = layout.outputDir(ref.runId, ref.taskId);
    expect(fs.readFileSync(path.join(outputDir, "seen.txt"), "utf8")).toBe(
      "from the workdir\nfrom the content store\nfrom the content store\n",
    );
    // Collected after the end is told (a promise), so that a freed slot starts its next task first.
    expect((await result.collected)?.outputs.map((o) => o.path)).toEqual(["kept/old.txt", "seen.txt"]);
  });

  it("places the files a launch request describes before the process starts", async () => {
    const e = executor();
    const source = path.join(dir, "launch-input.txt");
    fs.writeFileSync(source, "given at launch\n");
    const ref = attempt();
    const proc = await launch(e, ref, 'cat "$BATON_INPUTS_DIR/in/x.txt"', {
      files: { inputs: [{ name: "in", files: [{ rel: "x.txt", source }] }] },
    });
    expect(await proc.exited).toMatchObject({ exitCode: 0 });
    expect(fs.readFileSync(layout.logPath(ref.runId, ref.taskId, 1), "utf8")).toBe("given at launch\n");
  });

  it("starts an attempt after the first from an empty output folder", async () => {
    const e = executor();
    const ref = attempt(2);
    const outputDir = layout.outputDir(ref.runId, ref.taskId);
    fs.mkdirSync(outputDir, { recursive: true });
    fs.writeFileSync(path.join(outputDir, "stale.txt"), "from attempt 1");
    const proc = await launch(e, ref, 'ls -A "$BATON_OUTPUT_DIR"; touch "$BATON_OUTPUT_DIR/fresh.txt"');
    expect(await proc.exited).toMatchObject({ exitCode: 0 });
    expect(fs.readFileSync(layout.logPath(ref.runId, ref.taskId, 2), "utf8")).toBe("");
    expect(fs.readdirSync(outputDir)).toEqual(["fresh.txt"]);
  });
});
