import type { CollectRequest, Collected } from "../artifacts/collect.js";

/**
 * The Executor port: starts one attempt of a task somewhere and reports how it ended.
 * The engine decides what runs and when; an executor only knows how.
 *
 * Adapters: `local-executor.ts` (processes on this machine). Remote agents and Slurm come later
 * behind the same interface.
 */

export interface LaunchRequest {
  taskId: string;
  attempt: number;
  /** Shell command, run by `bash -eo pipefail -c`. */
  command: string;
  cwd: string;
  /** Variables added to the engine's own environment. */
  env: Record<string, string>;
  /** stdout and stderr of the attempt are appended here. */
  logPath: string;
  /** The process writes its exit status here when it ends, so a restarted engine can read it. */
  statusPath: string;
  /** Kill the attempt after this long (SIGTERM to its group, SIGKILL after the grace period). */
  timeoutMs?: number;
  /** Created (empty) before the process starts: the task's `$BATON_OUTPUT_DIR`. */
  outputDir: string;
  /** Created if missing before the process starts: the run's `$BATON_PIPELINE_DIR`, when the engine did not make it. */
  sharedDir?: string;
  /** What to collect where the task ran, once it ends (metrics; outputs after a success). */
  collect?: CollectRequest;
}

export interface AdoptRequest {
  taskId: string;
  attempt: number;
  /** The recorded pid, if the engine got to record it. */
  pid: number | null;
  pidStart: string | null;
  statusPath: string;
  startedAt: number;
  timeoutMs?: number;
}

/** How an attempt ended, as data (never an exception). */
export interface ExitResult {
  /** Exit code of the command; null when it was killed by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  reason: "exited" | "timeout" | "cancelled" | "lost" | "setup";
  /** Human words for anything but a plain exit, e.g. `timed out after 2s`. */
  message: string | null;
  endedAt: number;
  /** Metrics and outputs, when the executor collected them (see {@link LaunchRequest.collect}). */
  collected?: Collected;
}

export interface TaskProcess {
  pid: number;
  /** Kernel start time of the process (field 22 of /proc/PID/stat), to tell a reused pid apart. */
  pidStart: string | null;
  readonly exited: Promise<ExitResult>;
  /** Ends the attempt: SIGTERM to its process group, SIGKILL after the grace period. */
  cancel(): void;
}

export interface Executor {
  readonly name: string;
  /**
   * Starts an attempt and resolves once its pid is known. A process that cannot start resolves
   * `exited` with reason `setup`; only errors of the request itself throw.
   */
  launch(request: LaunchRequest): Promise<TaskProcess>;
  /** Gets ready to launch (helper processes, connections), so that the first launch does not wait. */
  warmUp?(): void;
  /**
   * Finds the process of an attempt started by an engine that has since died: alive (then it
   * is watched until it ends), or ended (its exit status is read from `statusPath`), or lost.
   */
  adopt(attempt: AdoptRequest): TaskProcess | { ended: ExitResult };
  /** Kills everything still running and waits for it to end. */
  shutdown(): Promise<void>;
}
