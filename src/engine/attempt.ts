import fs from "node:fs";
import type { ExitResult, TaskProcess } from "../executors/executor.js";
import type { AttemptEnd } from "../store/store.js";
import type { Engine } from "./engine.js";

/** What one attempt of a task needs, whoever drives the task (a pipeline run or a submitted tree). */
export interface AttemptPlan {
  runId: string;
  taskId: string;
  number: number;
  command: string;
  cwd: string;
  env: Record<string, string>;
  outputDir: string;
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
    env: { ...engine.taskEnv, ...plan.env, BATON_METRICS: metricsPath, BATON_ATTEMPT: String(plan.number) },
    logPath,
    statusPath: layout.statusPath(plan.runId, plan.taskId, plan.number),
    timeoutMs: plan.timeoutMs,
    outputDir: plan.outputDir,
    collect: { outputDir: plan.outputDir, globs: plan.outputs, casRoot: layout.cas, metricsPath, logPath },
  });
  if (proc.pid) await store.setAttemptPid(plan.taskId, plan.number, proc.pid, proc.pidStart);
  return { proc, logPath, metricsPath };
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
