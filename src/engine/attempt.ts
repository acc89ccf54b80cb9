import type { Collected } from "../artifacts/collect.js";
import type {
  AttemptRef,
  ExitResult,
  QueuedListener,
  StartAhead,
  TaskProcess,
} from "../executors/executor.js";
import type { PoolSpec } from "../spec/types.js";
import type { AttemptEnd } from "../store/store.js";
import type { Engine } from "./engine.js";
import { buildTaskEnv } from "./task-env.js";
import { valohaiEnv } from "./valohai-env.js";

/** What one attempt of a task needs, whoever drives the task (a pipeline run or a submitted tree). */
export interface AttemptPlan {
  runId: string;
  taskId: string;
  /** The task's name (`BATON_TASK_NAME`). */
  name: string;
  number: number;
  command: string;
  cwd: string;
  /** The task's own params (`BATON_PARAM_*`). */
  params: Record<string, unknown>;
  /** The task's `env:` / `-e`, evaluated (see {@link buildTaskEnv}). */
  userEnv: Record<string, string>;
  /** For one of `-N` copies (`BATON_SHARD_ID`, `BATON_TOTAL_SHARDS`). */
  shard?: { id: number; total: number } | undefined;
  /** The executor is to create the run's shared folder (see {@link LaunchRequest.makeSharedDir}). */
  makeSharedDir?: boolean;
  /** `outputs:` globs to keep after a success (empty: everything). */
  outputs: string[];
  timeoutMs?: number;
  /** `no-output-timeout:`: stop the attempt when its log stays the same this long (see silence-watch.ts). */
  noOutputTimeout?: { ms: number; text: string } | undefined;
  /** `image:`, recorded on the task (the local executor runs on the host). */
  image?: string | undefined;
  /** `compat: valohai`: Valohai's environment and config files (see valohai-env.ts). */
  compat?: "valohai" | undefined;
  /** Gates (`on-error: continue`): a failed attempt's outputs are kept too, for its dependents. */
  keepFailedOutputs?: boolean;
  /** The task's pool (its executor, and the executor's options). */
  pool?: PoolSpec;
  /** The fan-out the task belongs to, for executors that start fan-outs as one batch (see {@link LaunchRequest.arrayGroup}). */
  arrayGroup?: string;
}

export interface LaunchedAttempt {
  proc: TaskProcess;
  /** Where the executor keeps the attempt's log (as recorded with the attempt). */
  logPath: string;
}

/** The attempt of a plan, as the executor's requests name it. */
export function attemptRef(plan: {
  runId: string;
  taskId: string;
  name: string;
  number: number;
}): AttemptRef {
  return { runId: plan.runId, taskId: plan.taskId, name: plan.name, attempt: plan.number };
}

/**
 * Records a new attempt, then starts its process (persist first, act second): an engine that
 * dies in between leaves an attempt with no handle, which `resume` knows never ran unless the
 * executor finds its process without one (a local process, by its environment: its handle is
 * then written with the store's next batch). The executor empties the task's output folder
 * before an attempt after the first.
 */
export async function launchAttempt(
  engine: Engine,
  plan: AttemptPlan,
  ahead?: StartAhead,
): Promise<LaunchedAttempt> {
  await engine.launchGate;
  // An engine whose lease expired starts nothing before it knows its runs are still its own.
  await engine.holdsLease();
  const { store, executor } = engine;
  const ref = attemptRef(plan);
  const logPath = executor.workspace.logLocation(ref);
  await store.startAttempt({
    taskId: plan.taskId,
    number: plan.number,
    status: "running",
    pid: null,
    pidStart: null,
    startedAt: Date.now(),
    logPath,
  });
  // Stopped past the lease while the attempt was recorded, it must not start a process that the
  // engine taking its runs over has found missing, and started again.
  await engine.holdsLease();
  const proc = await executor.launch({
    ...ref,
    command: plan.command,
    cwd: plan.cwd,
    // The folder variables (`BATON_OUTPUT_DIR` ...) are the executor's: it adds them.
    env: buildTaskEnv({
      runId: plan.runId,
      task: { id: plan.taskId, name: plan.name },
      params: plan.params,
      // `compat: valohai` adds Valohai's variables; the task's own `env:` may override them.
      userEnv:
        plan.compat === "valohai" ? { ...valohaiEnv(engine, ref, plan.cwd), ...plan.userEnv } : plan.userEnv,
      engineEnv: engine.taskEnv,
      shard: plan.shard,
      attempt: plan.number,
    }),
    timeoutMs: plan.timeoutMs,
    outputs: plan.outputs,
    ...(plan.makeSharedDir ? { makeSharedDir: true } : {}),
    ...(plan.keepFailedOutputs ? { keepFailedOutputs: true } : {}),
    ...(plan.pool ? { pool: plan.pool } : {}),
    ...(plan.arrayGroup ? { arrayGroup: plan.arrayGroup } : {}),
    onQueued: queuedListener(engine, plan),
    // Started ahead of its slot (see Engine.armAhead): recorded, the process waits for the slot.
    ...(ahead ? { go: ahead.go, after: ahead.after, holdUntil: ahead.holdUntil } : {}),
  });
  if (proc.handle !== null) {
    const where = { handle: proc.handle, pid: proc.pid, pidStart: proc.pidStart };
    if (proc.findableWithoutHandle) {
      // Written with the store's next batch: an engine that dies first finds the process anyway.
      store.setAttemptHandle(plan.taskId, plan.number, where, { soon: true }).catch((err) => {
        process.stderr.write(`baton: cannot record the process of ${plan.name}: ${(err as Error).message}\n`);
      });
    } else await store.setAttemptHandle(plan.taskId, plan.number, where);
  }
  return { proc, logPath };
}

/**
 * Records and tells why an attempt waits in its executor's queue (the task shows as `queued` with
 * the reason), and that it started. Writes only changes; a write that fails is only a display lost.
 */
function queuedListener(
  engine: Engine,
  task: { runId: string; taskId: string; name: string },
): QueuedListener {
  let shown: string | null = null;
  return (reason) => {
    if (reason === shown) return;
    shown = reason;
    engine.store.setQueueReason(task.taskId, reason).catch(() => {});
    engine.emit({
      type: "task",
      runId: task.runId,
      taskId: task.taskId,
      name: task.name,
      status: reason === null ? "running" : "queued",
      queueReason: reason,
    });
  };
}

/**
 * Stops a task that has not ended, pipeline task or submitted one: its retry timer is cleared
 * and, if it runs, its process is cancelled (at once, or as soon as it exists). Returns true when
 * it was running (the end of its attempt records the cancel), false when it was waiting and the
 * caller is to end it.
 */
export function interruptTask(task: {
  status: string;
  retryTimer?: NodeJS.Timeout | undefined;
  cancelRequested?: boolean | undefined;
  cancel?: (() => void) | undefined;
}): boolean {
  if (task.retryTimer) {
    clearTimeout(task.retryTimer);
    task.retryTimer = undefined;
  }
  if (task.status !== "running") return false;
  task.cancelRequested = true;
  task.cancel?.();
  return true;
}

/** How an attempt's end is recorded. */
export function attemptEnd(result: ExitResult): AttemptEnd {
  const succeeded = result.reason === "exited" && result.exitCode === 0;
  return {
    status: succeeded ? "succeeded" : result.reason === "cancelled" ? "cancelled" : "failed",
    endedAt: result.endedAt,
    exitCode: result.exitCode,
    signal: result.signal,
    reason: result.reason,
    message: result.message,
  };
}

/** Why an attempt failed, in words. */
export function failureText(r: ExitResult): string {
  // An executor may say more than the code (Slurm: `Slurm: OUT_OF_MEMORY`).
  if (r.reason === "exited" && !r.message)
    return r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
  return r.message ?? r.reason;
}

/** Wait before retry number `attempt` (1-based): the backoff, doubled each time. */
export function retryDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/**
 * What became of the latest attempt of a task recorded `running` by an engine that died:
 * - `rerun`: there is no attempt to follow (none open, or its process never started, in which
 *   case the attempt is closed as `never started`): the task is to be run afresh;
 * - `ended`: its process ended while no engine watched; `result` is the exit status its shell
 *   wrote, or `lost` when it left none (killed hard, machine rebooted);
 * - `running`: its process is still alive (same pid and start time) and is now watched.
 */
export type AdoptedAttempt =
  | { state: "rerun" }
  | { state: "ended"; number: number; result: ExitResult; logPath: string }
  | { state: "running"; number: number; proc: TaskProcess; logPath: string };

/**
 * Finds the process of a task's open attempt after a restart (see {@link AdoptedAttempt}).
 * Shared by pipeline runs (`RunController.restore`) and submitted task trees (`TaskTree.restore`),
 * so both treat a live, finished, lost or never-started attempt the same way. A lost attempt
 * counts as an attempt: the caller retries it under the task's retry policy.
 */
export async function adoptAttempt(
  engine: Engine,
  task: { runId: string; taskId: string; name: string; timeoutMs?: number; pool?: PoolSpec },
): Promise<AdoptedAttempt> {
  const { store } = engine;
  const attempt = (await store.listAttempts(task.taskId)).at(-1);
  if (!attempt || attempt.endedAt !== null) return { state: "rerun" };
  const number = attempt.number;
  const logPath = attempt.logPath;
  // Attempts recorded before handles were: a local process by its pid.
  const handle =
    attempt.handle ?? (attempt.pid !== null ? `local:${attempt.pid}:${attempt.pidStart ?? ""}` : null);
  const found = await engine.executor.adopt({
    runId: task.runId,
    taskId: task.taskId,
    name: task.name,
    attempt: number,
    handle,
    startedAt: attempt.startedAt,
    timeoutMs: task.timeoutMs,
    ...(task.pool ? { pool: task.pool } : {}),
    onQueued: queuedListener(engine, task),
  });
  if (!("ended" in found)) return { state: "running", number, proc: found, logPath };
  if (found.ended.reason === "lost" && handle === null) {
    // The engine died between recording the attempt and starting its process: it never ran.
    await store.finishAttemptForRetry(task.taskId, number, {
      status: "failed",
      endedAt: found.ended.endedAt,
      exitCode: null,
      signal: null,
      reason: "lost",
      message: "never started: the engine stopped first",
    });
    return { state: "rerun" };
  }
  if (found.ended.reason === "lost") {
    // Its engine died and took what watched the process with it: say so where the task's error shows.
    const result = { ...found.ended, message: `engine lost: ${found.ended.message ?? "no exit status"}` };
    return { state: "ended", number, result, logPath };
  }
  return { state: "ended", number, result: found.ended, logPath };
}

/**
 * An attempt's metrics and (after a success) outputs: as the executor collected them where the
 * task ran, or collected here when it could not (a process adopted after a restart, or one
 * whose launcher died).
 */
export async function collectedResults(
  engine: Engine,
  result: ExitResult,
  attempt: AttemptRef,
  outputs: string[],
  keepFailed = false,
): Promise<Collected> {
  if (result.collected) return result.collected;
  const succeeded = result.reason === "exited" && result.exitCode === 0;
  return engine.executor.workspace.collect(attempt, succeeded || keepFailed ? outputs : null);
}
