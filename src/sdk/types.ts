/**
 * The data the SDK hands out: tasks, runs, outputs, as the API shows them (docs/cli.md, docs/api.md).
 *
 * Terminology
 * - Task: one execution of a command (docs/architecture.md). A {@link TaskInfo} is a snapshot of one; a
 *   `TaskHandle` (see `handles.ts`) is a live reference that can wait, read metrics and cancel.
 * - Run: one execution of a pipeline. A run the engine drives has an id (`run_<ULID>`); a run
 *   the SDK drives step by step (a pipeline with hooks) is identified by its controller run key.
 * - Controller run key: the stable name of one execution of a controller. Every task the
 *   controller submits carries an idempotency key derived from it, so that a controller started
 *   again after a crash finds the tasks it had already started instead of starting them again.
 *
 * Everything here is plain JSON data.
 */
import type { TaskDetail } from "../server/schemas.js";

/** Where a task is in its life (docs/architecture.md). */
export type TaskStatus =
  | "pending"
  | "waiting"
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "skipped"
  | "cached";

/** How a run is or ended. A run succeeds iff none of its tasks failed. */
export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";

/** The statuses a task never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set<TaskStatus>([
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
  "cached",
]);

/** Whether a task with this status has ended for good. */
export function isTerminalStatus(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Metric values as tasks append them to `$BATON_METRICS` (later keys win): JSON values. */
export type Metrics = Record<string, unknown>;

/** A task as `baton ls --json` and `GET /runs/:id` list it (docs/cli.md). */
export interface TaskSummary {
  /** `task_<ULID>` (a bare ULID in databases from before ids had kinds). */
  id: string;
  /** Id of the run the task belongs to. */
  run: string;
  /** Display name: `train`, `train[0]`, `images[input=a.raw,config=base]`, or the submitted name. */
  name: string;
  /** The pipeline node the task comes from; null for submitted tasks. */
  node: string | null;
  /** The task that submitted this one (Velda-style children); null otherwise. */
  parent: string | null;
  /** Where the task is in its life. */
  status: TaskStatus;
  /** Why a queued task waits where its executor runs it (`pending in Slurm (Priority)`), or null. */
  queueReason: string | null;
  /** Exit code of the latest attempt, once it ended. */
  exitCode: number | null;
  /** How many processes were started for it (a retry adds one). */
  attempts: number;
  /** Whether the result was reused from the cache. */
  cached: boolean;
  /** When its first attempt started (ISO 8601), or null. */
  startedAt: string | null;
  /** When it ended (ISO 8601), or null. */
  endedAt: string | null;
  /** `$BATON_OUTPUT_DIR` of the task, on the machine that ran it. */
  outputDir: string;
  /** Absolute paths of the recorded output files. */
  outputs: string[];
  /** What the task appended to `$BATON_METRICS`, later keys winning. */
  metrics: Metrics;
  /** Gates: its approval gate, once reached (times ISO 8601); null when it has none. */
  approval: {
    state: "waiting" | "approved" | "rejected";
    message: string;
    requestedAt: string | null;
    by: string | null;
    at: string | null;
    comment: string | null;
  } | null;
  /** `image:` of the task's node, or null (the local executor runs on the host). */
  image: string | null;
  /** The labels it was submitted with ({} for pipeline tasks). */
  labels: Record<string, string>;
}

/** One value of a metric, as the task appended it to `$BATON_METRICS` (see `TaskHandle.metricSeries`). */
export interface MetricPoint {
  /** The `step` of the object it was written in, when that was a number; else null. */
  step: number | null;
  value: unknown;
  /** When Baton recorded it (ISO 8601): metrics are read when the attempt ends. */
  at: string;
}

/** One attempt (one process) of a task. */
export interface AttemptInfo {
  /** 1 for the first attempt. */
  number: number;
  /** `running` until the process ended. */
  status: "running" | "succeeded" | "failed" | "cancelled";
  /** The process's exit code, once it ended (null when killed by a signal). */
  exitCode: number | null;
  /** The signal that ended it (`SIGTERM`...), if any. */
  signal: string | null;
  /** Why it ended: `exited`, `timeout`, `cancelled`, `lost` or `setup`. */
  reason: string | null;
  /** Words about anything but a plain exit (`timed out after 2s`). */
  message: string | null;
  /** ISO 8601 times, or null. */
  startedAt: string | null;
  /** ISO 8601, or null while it runs. */
  endedAt: string | null;
  /** Path of the attempt's log file. */
  log: string;
  /** Where to read the log through the API. */
  logUrl: string;
}

/** Everything `GET /tasks/:id` (and `baton show --json`) says about a task. */
export interface TaskInfo extends TaskSummary {
  /** The pool it ran in. */
  pool: string;
  /** The resolved command, once the task became ready; null for `pipeline:` nodes. */
  command: string | null;
  /** Resolved params (pipeline tasks); a submitted task's or a clone's `params` (seen as `BATON_PARAM_*`). */
  params: Record<string, unknown>;
  /** The `foreach` item or `matrix` combination, or the shard, if any. */
  item: unknown;
  /** Why the task failed, was skipped or was cancelled, in words. */
  error: string | null;
  /** What its result is reused by (docs/pipeline-file.md), for pipeline tasks. */
  cacheKey: string | null;
  /**
   * Why it was cached or ran, as `baton show` says; null without a cache key (not run yet,
   * submitted tasks, `pipeline:` nodes).
   */
  cache: CacheExplanation | null;
  /** When it was recorded (ISO 8601). */
  createdAt: string | null;
  /** Every attempt, oldest first. */
  attemptsDetail: AttemptInfo[];
}

/** Why a task was cached or ran (docs/pipeline-file.md): what `baton show` says about its cache key. */
export interface CacheExplanation {
  /** The cache key (sha256). */
  key: string;
  /**
   * `reused`: a cache hit, no process ran; `first-run`: no task of this name in an earlier run
   * of the pipeline to compare with; `changed`: parts of the key differ from the previous
   * task's (see `changes`); `same-key`: the key was the previous task's, but caching was off
   * (`--no-cache`, `cache: false`, `--from`) or that result could not be reused;
   * `unexplained`: the key's parts were not recorded (tasks of older versions).
   */
  verdict: "reused" | "first-run" | "changed" | "same-key" | "unexplained";
  /** Whether the result was reused (no process ran). */
  hit: boolean;
  /** For a hit: the task that computed the reused result, when recorded. */
  reusedFrom: string | null;
  /** The run of the `reusedFrom` task. */
  reusedFromRun: string | null;
  /** What the key was computed from; null when not recorded (hits record none: see `reusedFrom`). */
  parts: CacheKeyParts | null;
  /** For a task that ran: the task of the same name in the latest earlier run of the pipeline. */
  previousTaskId: string | null;
  /** The run of the `previousTaskId` task. */
  previousRunId: string | null;
  /** What differs from the previous task's key parts, in key order; empty unless `changed`. */
  changes: CacheChange[];
}

/** What a cache key was computed from (docs/pipeline-file.md), summarised. */
export interface CacheKeyParts {
  /** The command with run-specific paths replaced by stable tokens (`cas:<sha256>`, `inputs/NAME/file`). */
  command: string;
  /** The task's own params. */
  params: Record<string, unknown>;
  /** The task's declared `env:` values. */
  env: Record<string, string>;
  /** Input name -> how many files were bound to it. */
  inputs: Record<string, number>;
  /** `cache.deps` files. */
  deps: string[];
  /** Files of the project the command names (`step.py` of `python3 step.py`), hashed by content. */
  files: string[];
  /** The pool's resources (`{ gpu: 1 }`). */
  resources: Record<string, number>;
  /** Output globs kept. */
  outputs: string[];
}

/** One part of a cache key that differs from the previous task's: why a task ran again. */
export interface CacheChange {
  /**
   * `command` (its text), `upstream` (the content of upstream outputs it names), `param`,
   * `env`, `input` (a bound file), `dep` (a `cache.deps` file), `file` (a file of the project
   * the command names), `resource` (of the pool) or `outputs` (the globs kept).
   */
  part: "command" | "upstream" | "param" | "env" | "input" | "dep" | "file" | "resource" | "outputs";
  /** The param, env or resource name, or the file (`raw/a.csv`: input name / file); null otherwise. */
  name: string | null;
  /**
   * The earlier value: JSON for params, env and resources, the command text, a file's sha256,
   * the JSON list of outputs; null when it was not there (and for `upstream`).
   */
  before: string | null;
  /** The value now, as `before`; null when it is no longer there. */
  after: string | null;
  /** In words, as `baton show` prints it: `param lr: 0.01 -> 0.02`, `input raw/a.csv: content changed`. */
  text: string;
}

/** An output file of a task, with where to download it. */
export interface TaskOutput {
  /** Path relative to the task's output folder, `/`-separated. */
  path: string;
  /** Bytes. */
  size: number;
  /** Content hash (the file's name in the content store). */
  sha256: string;
  /** Download URL relative to the server: `/api/v1/artifacts/<sha256>`. */
  url: string;
  /** Absolute path of the file in the task's output folder (valid on the machine that ran it). */
  file: string;
}

/** A run as the API summarises it. */
export interface RunInfo {
  /** `run_<ULID>` (a bare ULID in databases from before ids had kinds). */
  id: string;
  /** The pipeline's name (for a lone submitted task: its name). */
  pipeline: string;
  /** `running` until every task ended. */
  status: RunStatus;
  /** Resolved params of the run. */
  params: Record<string, unknown>;
  /** When it started (ISO 8601). */
  createdAt: string | null;
  /** When it ended (ISO 8601), or null. */
  endedAt: string | null;
  /** For a child run (a `pipeline:` node): the run it belongs to. */
  parentRun: string | null;
  /** For a child run: the task of the `pipeline:` node that started it. */
  parentTask: string | null;
  /** Tasks by status. */
  counts: Partial<Record<TaskStatus, number>>;
}

/** Options of the `wait()` methods. */
export interface WaitOptions {
  /**
   * Stops waiting when aborted (the task or run goes on): `wait()` rejects with the signal's
   * reason. `AbortSignal.timeout(60_000)` gives a deadline.
   */
  signal?: AbortSignal;
  /** How often to ask the API; default the client's `pollIntervalMs` (200 ms). */
  pollIntervalMs?: number;
}

/** A task to submit on its own (`baton submit`, `POST /tasks`). */
export interface SubmitOptions {
  /** Shell command, run by `bash -eo pipefail -c` in {@link SubmitOptions.cwd}. */
  command: string;
  /** Display name; default the command's first meaningful word. */
  name?: string;
  /**
   * Params the task sees as `BATON_PARAM_<NAME>` (upper-cased, `-` as `_`; non-strings as JSON).
   * They are defaults: a clone of the task that overrides a param replaces its value, the
   * others are kept (see {@link Baton.clone}).
   */
  params?: Record<string, unknown>;
  /** Pool of the engine; default `local`. */
  pool?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Free-form labels, stored with the task. */
  labels?: Record<string, string>;
  /** Higher runs first among tasks waiting for the same pool. */
  priority?: number;
  /** Extra attempts after a failure. */
  retries?: number;
  /** Kill the task after this many milliseconds. */
  timeoutMs?: number;
  /** Names (or ids) of top-level submitted tasks that must succeed first (Velda `--after-success`). */
  afterSuccess?: string[];
  /** ... that must fail first (`--after-fail`). */
  afterFail?: string[];
  /** ... that must end first, however (`--after`). */
  after?: string[];
  /** Working directory; default the client's `workdir`. */
  cwd?: string;
  /**
   * The same key twice returns the task of the first submission instead of starting another.
   * A {@link Controller} sets it for you.
   */
  idempotencyKey?: string;
  /**
   * The task this one becomes a child of. Default: the task the program runs in
   * (`BATON_TASK_ID`), when it talks to the engine running that task; `null` for none.
   */
  parentTaskId?: string | null;
}

/** Overrides of {@link Baton.clone}. */
export interface CloneOptions {
  /**
   * Param overrides: names the task knows (a pipeline task's declared params, a submitted
   * task's `params`), else the clone fails (`USAGE`, naming the known ones). The copy lists them in `params`,
   * sees them as `BATON_PARAM_<NAME>`, and a pipeline task's command using `${{ params.X }}`
   * is rendered again with them.
   */
  params?: Record<string, unknown>;
  /** Name of the copy; default the original's. */
  name?: string;
  /** Pool of the copy; default the original's. */
  pool?: string;
  /** Labels of the copy, besides `baton.clone-of`. */
  labels?: Record<string, string>;
  /** As {@link SubmitOptions.idempotencyKey}: a second clone with the same key returns the first. */
  idempotencyKey?: string;
}

// The task shapes must stay what the server answers: these fail to compile on drift.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;
const taskInfoMatches: SameKeys<TaskInfo, TaskDetail> = true;
const taskDetailFits = (d: TaskDetail): TaskInfo => d;
void taskInfoMatches;
void taskDetailFits;
