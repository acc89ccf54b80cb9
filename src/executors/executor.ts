import type { Collected } from "../artifacts/collect.js";
import type { PoolSpec } from "../spec/types.js";
import type { AttemptRef, PrepareRequest, Workspace } from "./workspace.js";

export type { AttemptRef, TaskRef } from "./workspace.js";

/**
 * The Executor port: starts one attempt of a task somewhere and reports how it ended.
 * The engine decides what runs and when; an executor only knows how, and where.
 *
 * Requests name the attempt (run, task, attempt number) and describe what it needs; they carry
 * no path of the engine's machine. Where an attempt's log, exit status, metrics and folders are
 * is the executor's business, behind its {@link Workspace}. A started attempt is known by an
 * opaque `handle` the engine records, with which a later engine finds it again (`adopt`).
 *
 * Adapters: `local-executor.ts` (processes on this machine), `slurm-executor.ts` (sbatch jobs),
 * and `router.ts`, which picks one of them by the task's pool (and by the handle, to adopt).
 */

export interface LaunchRequest extends AttemptRef {
  /** Shell command, run by `bash -eo pipefail -c`. */
  command: string;
  /** Folder the command runs in, as the place that runs it sees it. */
  cwd: string;
  /**
   * Variables added to the executor's environment. The executor adds the folder variables
   * (`BATON_OUTPUT_DIR`, `BATON_INPUTS_DIR`, `BATON_PIPELINE_DIR`, `BATON_METRICS`,
   * `BATON_STATUS_FILE`) itself, from its workspace.
   */
  env: Record<string, string>;
  /** Kill the attempt after this long (SIGTERM to its group, SIGKILL after the grace period). */
  timeoutMs?: number;
  /** `outputs:` globs to keep after a success (empty: everything); collected where the task ran. */
  outputs: string[];
  /** Gates (`on-error: continue`): keep the outputs of a failed attempt too. */
  keepFailedOutputs?: boolean;
  /**
   * Create the run's shared folder (`$BATON_PIPELINE_DIR`) if it is missing: for tasks whose
   * engine did not make it (submitted ones).
   */
  makeSharedDir?: boolean;
  /** Files to place before the process starts (see {@link Workspace.prepare}). */
  files?: PrepareRequest;
  /** The task's pool: its `executor:` picks where the attempt runs, its `slurm:` and `resources` how. */
  pool?: PoolSpec;
  /**
   * The attempts of one fan-out share this key (a pipeline node's tasks, the copies of a
   * `submit -N`). An executor may start attempts launched together with the same key as one batch
   * (a Slurm job array); without a key, each attempt is started alone.
   */
  arrayGroup?: string;
  /** Told when the attempt waits where the executor runs it (and why), and when it starts: see {@link QueuedListener}. */
  onQueued?: QueuedListener;
  /**
   * The engine started the attempt ahead of its slot (a pool of short tasks): the executor may
   * get ready at once, but starts nothing before this resolves.
   */
  go?: Promise<void>;
  /**
   * With `go`: the task (id) whose slot this attempt gets when it ends. An executor that sees
   * that task's process end first may start this one then, without waiting for `go`; not after
   * `holdUntil` (ms since the epoch: the engine's lease), when only `go` starts it.
   */
  after?: string;
  holdUntil?: number;
}

/** How work started ahead of its slot starts (see {@link LaunchRequest.go}). */
export interface StartAhead {
  go: Promise<void>;
  after?: string;
  holdUntil?: number;
}

/**
 * An executor that hands attempts to a system with its own queue says why an attempt waits there
 * (`pending in Slurm (Priority)`), and null once it runs. The engine shows the task as queued
 * with that reason meanwhile.
 */
export type QueuedListener = (reason: string | null) => void;

export interface AdoptRequest extends AttemptRef {
  /** The handle recorded for the attempt, or null when the engine died before recording one. */
  handle: string | null;
  startedAt: number;
  timeoutMs?: number;
  /** The task's pool: where an attempt with no recorded handle may have been started. */
  pool?: PoolSpec;
  onQueued?: QueuedListener;
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
  /**
   * Metrics and outputs, when the executor collected them where the task ran; a promise when
   * it collects them after the end is reported (the local executor, so the next task starts first).
   */
  collected?: Collected | Promise<Collected>;
}

export interface TaskProcess {
  /**
   * What the executor needs to find this attempt again (`local:PID:START` for a local process; a
   * job id for a batch system). Null when the attempt never started (`exited` says why).
   */
  handle: string | null;
  /** The process id, when the attempt is a process on this machine (for display and same-host adoption). */
  pid: number | null;
  /** Kernel start time of the process (field 22 of /proc/PID/stat), to tell a reused pid apart. */
  pidStart: string | null;
  /**
   * The executor finds the attempt again after a restart without its handle (a local process, by
   * its environment): the handle is then recorded without waiting for the write.
   */
  readonly findableWithoutHandle?: boolean;
  readonly exited: Promise<ExitResult>;
  /** Ends the attempt: SIGTERM to its process group, SIGKILL after the grace period. */
  cancel(): void;
}

export interface Executor {
  readonly name: string;
  /** Where this executor's attempts keep their files, and how the engine reaches them. */
  readonly workspace: Workspace;
  /**
   * Starts an attempt and resolves once it has a handle. An attempt that cannot start resolves
   * `exited` with reason `setup`; only errors of the request itself throw.
   */
  launch(request: LaunchRequest): Promise<TaskProcess>;
  /** Gets ready to launch (helper processes, connections), so that the first launch does not wait. */
  warmUp?(): void;
  /**
   * Finds an attempt started by an engine that has since died, by its recorded handle: alive
   * (then it is watched until it ends), or ended (its exit status is read where it ran), or
   * lost (gone without an exit status, or a handle this executor does not know).
   */
  adopt(attempt: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }>;
  /** Kills everything still running and waits for it to end. */
  shutdown(): Promise<void>;
}
