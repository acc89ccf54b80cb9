import fs from "node:fs";
import { type Collected, collectAttempt } from "../artifacts/collect.js";
import type { ExitResult, TaskProcess } from "../executors/executor.js";
import type { AttemptEnd } from "../store/store.js";
import type { Engine } from "./engine.js";
import { buildTaskEnv } from "./task-env.js";

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
  outputDir: string;
  /** The run's shared folder, if the executor is to create it (see {@link LaunchRequest.sharedDir}). */
  sharedDir?: string;
  /** `outputs:` globs to keep after a success (empty: everything). */
  outputs: string[];
  timeoutMs?: number;
}

export interface LaunchedAttempt {
  proc: TaskProcess;
  logPath: string;
  metricsPath: string;
}

/**
 * Records a new attempt, then starts its process (persist first, act second): an engine that
 * dies in between leaves an attempt with no pid, which `resume` knows never ran.
 */
export async function launchAttempt(engine: Engine, plan: AttemptPlan): Promise<LaunchedAttempt> {
  await engine.launchGate;
  const { layout, store } = engine;
  const logPath = layout.logPath(plan.runId, plan.taskId, plan.number);
  const metricsPath = layout.metricsPath(plan.runId, plan.taskId, plan.number);
  // Each attempt starts from an empty output folder (the executor creates it).
  if (plan.number > 1) fs.rmSync(plan.outputDir, { recursive: true, force: true });
  await store.startAttempt({
    taskId: plan.taskId,
    number: plan.number,
    status: "running",
    pid: null,
    pidStart: null,
    startedAt: Date.now(),
    logPath,
  });
  const proc = await engine.executor.launch({
    taskId: plan.taskId,
    attempt: plan.number,
    command: plan.command,
    cwd: plan.cwd,
    env: buildTaskEnv({
      layout,
      runId: plan.runId,
      task: { id: plan.taskId, name: plan.name, outputDir: plan.outputDir },
      params: plan.params,
      userEnv: plan.userEnv,
      engineEnv: engine.taskEnv,
      shard: plan.shard,
      attempt: plan.number,
    }),
    logPath,
    statusPath: layout.statusPath(plan.runId, plan.taskId, plan.number),
    timeoutMs: plan.timeoutMs,
    outputDir: plan.outputDir,
    ...(plan.sharedDir ? { sharedDir: plan.sharedDir } : {}),
    collect: { outputDir: plan.outputDir, globs: plan.outputs, casRoot: layout.cas, metricsPath, logPath },
  });
  if (proc.pid) await store.setAttemptPid(plan.taskId, plan.number, proc.pid, proc.pidStart);
  return { proc, logPath, metricsPath };
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
  if (r.reason === "exited") return r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
  return r.message ?? r.reason;
}

/** Wait before retry number `attempt` (1-based): the backoff, doubled each time. */
export function retryDelay(backoffMs: number, attempt: number): number {
  return backoffMs * 2 ** (attempt - 1);
}

/** Where one attempt's log and metrics are. */
export interface AttemptFiles {
  logPath: string;
  metricsPath: string;
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
  | ({ state: "ended"; number: number; result: ExitResult } & AttemptFiles)
  | ({ state: "running"; number: number; proc: TaskProcess } & AttemptFiles);

/**
 * Finds the process of a task's open attempt after a restart (see {@link AdoptedAttempt}).
 * Shared by pipeline runs (`RunController.restore`) and submitted task trees (`TaskTree.restore`),
 * so both treat a live, finished, lost or never-started attempt the same way. A lost attempt
 * counts as an attempt: the caller retries it under the task's retry policy.
 */
export async function adoptAttempt(
  engine: Engine,
  task: { runId: string; taskId: string; timeoutMs?: number },
): Promise<AdoptedAttempt> {
  const { layout, store } = engine;
  const attempt = (await store.listAttempts(task.taskId)).at(-1);
  if (!attempt || attempt.endedAt !== null) return { state: "rerun" };
  const number = attempt.number;
  const files = {
    logPath: attempt.logPath,
    metricsPath: layout.metricsPath(task.runId, task.taskId, number),
  };
  const found = engine.executor.adopt({
    taskId: task.taskId,
    attempt: number,
    pid: attempt.pid,
    pidStart: attempt.pidStart,
    statusPath: layout.statusPath(task.runId, task.taskId, number),
    startedAt: attempt.startedAt,
    timeoutMs: task.timeoutMs,
  });
  if (!("ended" in found)) return { state: "running", number, proc: found, ...files };
  if (found.ended.reason === "lost" && attempt.pid === null) {
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
  return { state: "ended", number, result: found.ended, ...files };
}

/**
 * An attempt's metrics and (after a success) outputs: as the executor collected them where the
 * task ran, or collected here when it could not (a process adopted after a restart, or one
 * whose launcher died).
 */
export async function collectedResults(
  engine: Engine,
  result: ExitResult,
  where: AttemptFiles & { outputDir: string; outputs: string[] },
): Promise<Collected> {
  if (result.collected) return result.collected;
  const succeeded = result.reason === "exited" && result.exitCode === 0;
  return collectAttempt(
    {
      outputDir: where.outputDir,
      globs: succeeded ? where.outputs : null,
      casRoot: engine.layout.cas,
      metricsPath: where.metricsPath,
      logPath: where.logPath,
    },
    engine.cas,
  );
}
