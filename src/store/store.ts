/**
 * The Store port: everything the engine remembers, behind methods named after domain
 * transitions. The engine persists a change before it acts on it (a task is recorded as
 * started before its process is spawned), so a crash never leaves work the store does not know.
 *
 * Terminology
 * - Run: one execution of a pipeline (or of a tree of submitted tasks). Runs nest: a
 *   `pipeline:` node starts a child run whose `parentTaskId` is that node's task.
 * - Task: one execution of a command, with one or more attempts. Its status is that of its
 *   latest attempt, or a status decided without a process (`skipped`, `cached`, `cancelled`).
 * - Attempt: one process. A finished attempt is never rewritten; a retry adds a new one.
 *
 * Adapters: `sqlite-store.ts` (default, `.baton/baton.db`) and `postgres-store.ts`
 * (`--db postgres://…`); `open-store.ts` picks one. All methods are async for the latter.
 */

import type { BatonError } from "../errors.js";

/** Every task status, in the order a task goes through them (docs/architecture.md). */
export const TASK_STATUSES = [
  "pending",
  // Gates: held for approval (`approval:`), no slot taken, until approved or rejected.
  "waiting",
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
  "cached",
] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const RUN_STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_TASK_STATUSES: ReadonlySet<TaskStatus> = new Set([
  "succeeded",
  "failed",
  "cancelled",
  "skipped",
  "cached",
]);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_TASK_STATUSES.has(status);
}

export interface RunRow {
  id: string;
  /** Pipeline name, or the submitted task's name for a lone task tree. */
  pipeline: string;
  status: RunStatus;
  params: Record<string, unknown>;
  /** How the run was asked for (`--target`, `--from`, `--no-cache`), so a resume does the same. */
  options: RunRequestOptions;
  /** Folder tasks run in (the one holding baton.yaml). */
  workdir: string;
  /** The pipeline file this run came from, if any. */
  specFile: string | null;
  parentRunId: string | null;
  parentTaskId: string | null;
  createdAt: number;
  endedAt: number | null;
  /** Process id of the engine driving the run, for messages and to adopt its processes. */
  enginePid: number | null;
  /**
   * The engine driving the run (`eng_<ULID>`, see {@link EngineRow}); null for runs recorded
   * before engines had ids. Whether it is still driven is decided by `engine/ownership.ts`.
   */
  engineId: string | null;
  /** Why the run failed when no task says it: it could not be planned, or resumed. */
  error: string | null;
}

export interface RunRequestOptions {
  targets?: string[];
  from?: string[];
  noCache?: boolean;
  /** The resume key the run was started with (`POST /runs` `resumeKey`). */
  resumeKey?: string;
  /** Triggers: the trigger that started the run (`triggers:` name). */
  trigger?: string;
}

export interface TaskRow {
  id: string;
  runId: string;
  /** Display name: the node name, `train[0]` for foreach, `images[input=a,config=b]` for matrix. */
  name: string;
  /** The pipeline node this task comes from (null for submitted tasks). */
  node: string | null;
  /** Parent task (submitted inside a task); null for pipeline tasks. */
  parentId: string | null;
  status: TaskStatus;
  pool: string;
  priority: number;
  /** The resolved command, once the task became ready. */
  command: string | null;
  params: Record<string, unknown>;
  /** The foreach item or matrix combination, if any. */
  item: unknown;
  exitCode: number | null;
  attempts: number;
  cached: boolean;
  outputDir: string;
  metrics: Record<string, unknown>;
  /** Why the task failed, was skipped or cancelled, in words. */
  error: string | null;
  cacheKey: string | null;
  /** What the cache key was computed from (engine-defined JSON), to explain cache misses. */
  cacheParts: Record<string, unknown> | null;
  /** For a `cached` task: the task that computed the result it reused (null if not recorded). */
  cachedFrom: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** For submitted tasks: how to run it (command, env, cwd, retries...), engine-defined JSON. */
  submit: Record<string, unknown> | null;
  idempotencyKey: string | null;
  /** `image:` of the task's node (recorded and shown; the local executor runs on the host). */
  image: string | null;
  /** Gates: the task's approval gate, once it reached one (null: it has none, or not reached). */
  approval: ApprovalRecord | null;
  /**
   * Why a task recorded `running` has not started where its executor runs it (a Slurm job pending
   * for `Priority`...): it is shown as `queued` with this reason. Null once it runs.
   */
  queueReason: string | null;
}

/** Gates: a task's approval (`approval:`, or an action's `require-approval`). */
export interface ApprovalRecord {
  state: "waiting" | "approved" | "rejected";
  /** The gate's message ("" when none). */
  message: string;
  /** When the task started waiting (ms since the epoch). */
  requestedAt: number;
  /** Who decided (`cli:alice`, `api`, `web`), when, and with what comment; null while waiting. */
  by: string | null;
  at: number | null;
  comment: string | null;
}

/** Gates: an approval decision. */
export interface ApprovalDecision {
  approved: boolean;
  by: string;
  at: number;
  comment: string | null;
}

/** A reusable result, as `baton cache ls` shows it. */
export interface CacheEntry {
  cacheKey: string;
  taskId: string;
  name: string;
  runId: string;
  pipeline: string;
  endedAt: number | null;
  files: number;
  bytes: number;
}

/** A task's status and who drives its run (see {@link Store.getTaskStates}). */
export interface TaskState {
  id: string;
  name: string;
  status: TaskStatus;
  runId: string;
  runStatus: RunStatus;
  /** Process id of the engine driving the task's run (null: none). */
  enginePid: number | null;
  /** The engine driving the task's run, with its lease (null: none, or not recorded). */
  engineId: string | null;
  engine: EngineRow | null;
}

/**
 * An engine sharing the store: it drives the runs it created or claimed while its lease lasts.
 * It renews the lease on a timer; one that stops renewing it (its process died) is gone once
 * the lease has expired (or sooner, see `engine/ownership.ts`).
 */
export interface EngineRow {
  /** `eng_<ULID>`. */
  id: string;
  /** `os.hostname()` of its machine. */
  host: string;
  /** The kernel boot id of its machine ("" if unknown): a pid means nothing after a reboot. */
  bootId: string;
  pid: number;
  startedAt: number;
  /** Milliseconds since the epoch; the engine is gone once this has passed. */
  leaseExpiresAt: number;
}

/** `claimRun`'s `from` meaning: whoever drives it, if that engine's lease has expired. */
export const ANY_EXPIRED = Object.freeze({ anyExpired: true as const });

/** A submitted task waits for another (`--after-success`, `--after-fail`, `--after`). */
export interface TaskDep {
  taskId: string;
  needsTaskId: string;
  condition: "success" | "failure" | "always";
}

export type AttemptStatus = "running" | "succeeded" | "failed" | "cancelled";

/** Why an attempt ended the way it did. */
export type AttemptReason = "exited" | "timeout" | "cancelled" | "lost" | "setup";

export interface AttemptRow {
  taskId: string;
  number: number;
  status: AttemptStatus;
  /** What the executor needs to find the attempt again (opaque; null until it started). */
  handle: string | null;
  /** The process id, when the attempt runs as a process on this machine (for display and adoption). */
  pid: number | null;
  /** Kernel start time of the process (to tell a reused pid apart). */
  pidStart: string | null;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: AttemptReason | null;
  message: string | null;
  logPath: string;
}

export interface OutputRow {
  taskId: string;
  /** Relative to the task's output folder, `/`-separated. */
  path: string;
  sha256: string;
  size: number;
}

/**
 * What a new task may reuse of an earlier one with the same cache key: only what a cache hit
 * records (a rerun of 10,000 tasks reads 10,000 of these, not 10,000 whole task records).
 */
export interface CachedResult {
  /** The earlier task. */
  taskId: string;
  /** The task that ran, when the earlier one had itself reused its result. */
  cachedFrom: string | null;
  outputDir: string;
  metrics: Record<string, unknown>;
  /** Its output files, by path. */
  outputs: Array<Omit<OutputRow, "taskId">>;
}

export type NewRun = Omit<RunRow, "status" | "endedAt" | "error" | "engineId"> & {
  /** The engine creating the run (null or left out: none, as for runs recorded by tools). */
  engineId?: string | null;
};

export type NewTask = Pick<
  TaskRow,
  "id" | "runId" | "name" | "node" | "parentId" | "pool" | "priority" | "params" | "item" | "outputDir"
> & {
  status: "pending" | "queued" | "skipped" | "cancelled";
  command?: string | null;
  error?: string | null;
  submit?: Record<string, unknown> | null;
  idempotencyKey?: string | null;
  image?: string | null;
};

/** Which runs `listRuns` answers: newest first (by creation time, then id). */
export interface RunFilter {
  /** At most this many (default 50). */
  limit?: number;
  /** Only the child runs started by this task (a `pipeline:` node), oldest first; the other fields are ignored. */
  parentTaskId?: string;
  /** Only the child runs started by the tasks of this run, oldest first; the other fields are ignored. */
  parentRunId?: string;
  /** Only runs of this pipeline. */
  pipeline?: string;
  /** Only runs with one of these statuses. */
  status?: RunStatus[];
  /** Only runs listed after this one, newest first: created earlier, or at the same time with a lower id. */
  before?: Pick<RunRow, "id" | "createdAt">;
}

/** What a task's view (`--json`, the API) shows of its record. */
export type TaskViewRow = Pick<
  TaskRow,
  | "id"
  | "runId"
  | "name"
  | "node"
  | "parentId"
  | "status"
  | "queueReason"
  | "exitCode"
  | "attempts"
  | "cached"
  | "startedAt"
  | "endedAt"
  | "outputDir"
  | "metrics"
  | "image"
  | "submit"
  | "approval"
>;

export interface TaskFilter {
  run?: string;
  parent?: string;
  status?: TaskStatus[];
}

/**
 * A task search (`GET /tasks`), every field optional but `limit`: tasks matching all of them,
 * newest first.
 */
export interface TaskQuery {
  run?: string;
  parent?: string;
  status?: TaskStatus[];
  /** The task's name, exactly. */
  name?: string;
  /** The pipeline of the task's run. */
  pipeline?: string;
  /** Labels the task must all have: with a value, that value; without, any value. */
  labels?: Array<{ key: string; value?: string }>;
  limit: number;
}

/** One object appended to `$BATON_METRICS`, one point per metric it holds (in the order written). */
export interface MetricPoint {
  name: string;
  /** The object's `step`, when it had a numeric one. */
  step: number | null;
  value: unknown;
  /** When Baton recorded it (epoch ms). */
  at: number;
}

export interface TaskCompletion {
  status: "succeeded" | "failed" | "cached" | "cancelled";
  exitCode: number | null;
  endedAt: number;
  metrics: Record<string, unknown>;
  outputs: Omit<OutputRow, "taskId">[];
  error: string | null;
  cacheKey?: string | null;
  cacheParts?: Record<string, unknown> | null;
  /** The resolved command and params, for tasks that end without having been queued (cache hits). */
  command?: string;
  params?: Record<string, unknown>;
  /** Where the outputs are, when that is not the task's own folder (a reused cached result). */
  outputDir?: string;
  /** For a cache hit: the task that computed the reused result. */
  cachedFrom?: string | null;
}

export interface AttemptEnd {
  status: Exclude<AttemptStatus, "running">;
  endedAt: number;
  exitCode: number | null;
  signal: string | null;
  reason: AttemptReason;
  message: string | null;
}

/** Notifications: how far one delivery got. */
export type NotificationStatus = "pending" | "delivered" | "failed";

/**
 * Notifications: one delivery of a `notify:` entry (a webhook POST or an e-mail) for an event
 * of a run. `request` is what is sent (already signed), so that another engine can finish it.
 */
export interface NotificationRow {
  id: string;
  runId: string;
  /** `success`, `failure`, `cancelled` (the run ended) or `approval` (a task waits). */
  event: string;
  kind: "webhook" | "email";
  /** The URL or addresses as the pipeline file gives them (a template is shown unexpanded). */
  target: string;
  status: NotificationStatus;
  attempts: number;
  /** HTTP status of the last attempt (webhooks), or the SMTP reply code. */
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  /** When the next attempt is due (pending), else null. */
  nextAttemptAt: number | null;
  /** The engine sending it. */
  engineId: string | null;
  /** What is sent (JSON): `{url, headers, body}` or `{to, subject, text}`; null once ended. */
  request: string | null;
}

/** Notifications: what a delivery attempt changes. */
export type NotificationUpdate = Pick<
  NotificationRow,
  "status" | "attempts" | "lastStatusCode" | "lastError" | "updatedAt" | "nextAttemptAt"
>;

/** Releases: a file of a release version. */
export interface ReleaseFile {
  /** Path within the release (as the task's outputs name it). */
  path: string;
  sha256: string;
  size: number;
}

/** Releases: a version to record (its number is the store's to give). */
export interface NewRelease {
  name: string;
  runId: string;
  taskId: string;
  createdAt: number;
  files: ReleaseFile[];
}

/** Releases: one version of a release. */
/** Remote agents (docs/scale-out.md "Remote agents"): an attempt of a pool with `executor: agent`. */
export interface NewAgentWork {
  /** `TASK_ID:ATTEMPT`: the attempt's handle is `agent:KEY`. */
  key: string;
  runId: string;
  taskId: string;
  attempt: number;
  pool: string;
  /** What the agent needs to run it (JSON: command, environment, inputs by hash...). */
  work: string;
  createdAt: number;
}

/**
 * Where an attempt handed to agents is: `open` (waiting for an agent), `claimed` (an agent holds
 * it under `token` until `leaseUntil`, renewed by its heartbeats), `done` (the agent reported
 * `result`), `lost` (its lease ran out first) or `cancelled` (before any agent claimed it).
 */
export type AgentClaimState = "open" | "claimed" | "done" | "lost" | "cancelled";

export interface AgentClaimRow extends NewAgentWork {
  state: AgentClaimState;
  agent: string | null;
  token: string | null;
  leaseUntil: number | null;
  claimedAt: number | null;
  cancelRequested: boolean;
  /** The agent's report (JSON), once `done`. */
  result: string | null;
}

/** An agent as its latest heartbeat described it. */
export interface AgentRow {
  name: string;
  host: string;
  pools: string[];
  slots: number;
  resources: Record<string, string>;
  startedAt: number;
  seenAt: number;
}

/** A per-agent token (`baton agent token create`): only the token's sha256 (hex) is kept. */
export interface AgentTokenRow {
  id: string;
  name: string;
  /** The pools an agent with it may serve. */
  pools: string[];
  hash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface ReleaseVersion {
  name: string;
  version: number;
  createdAt: number;
  runId: string;
  taskId: string;
  files: ReleaseFile[];
}

/** Releases: a release and its latest version. */
export interface ReleaseSummary {
  name: string;
  latestVersion: number;
  versions: number;
  /** When the latest version was made, by which run and task. */
  createdAt: number;
  runId: string;
  taskId: string;
}

/**
 * A message between engines sharing the store (see {@link Store.publish}): JSON, small (an
 * engine event, a control request or its answer).
 */
export interface BusMessage {
  /** The engine sending it (`eng_<ULID>`). */
  from: string;
  kind: "event" | "control";
  body: unknown;
}

/**
 * Triggers: what the store keeps of a trigger, shared by every server on the database. Triggers
 * of pipeline files have no `definition` (the file has it); those created with
 * `POST /api/v1/triggers` keep theirs here.
 */
export interface TriggerStateRow {
  name: string;
  /** An API-created trigger's definition (JSON: pipeline and trigger spec); null for file triggers. */
  definition: Record<string, unknown> | null;
  paused: boolean;
  /** When a server first saw it: a cron trigger fires for times after this only. */
  createdAt: number;
  /** The latest scheduled time of a cron trigger claimed (fired or skipped), ms. */
  lastSlotAt: number | null;
  /** The latest run it started. */
  lastRunId: string | null;
}

/** Triggers: one fire of a trigger (a scheduled time, an ended run, a webhook call). */
export interface TriggerFireRow {
  trigger: string;
  /** What makes the fire unique: `cron:<ms>`, `after:<run id>`, `fire:<ULID>`. */
  slot: string;
  /** The scheduled time of a cron fire (ms), else null. */
  slotAt: number | null;
  at: number;
  /** `started`, `skipped` (with `message`), `queued` (waits for the previous run), `failed` (to start). */
  outcome: "claimed" | "started" | "skipped" | "queued" | "failed";
  runId: string | null;
  message: string | null;
}

/**
 * How long an engine's lease lasts (renewed every third of it): BATON_ENGINE_LEASE_MS, else 20 s.
 * A server that dies is taken over by another within this time (plus a second, see
 * server/takeover.ts) when it ran on another machine.
 */
export function engineLeaseMs(): number {
  return Number(process.env.BATON_ENGINE_LEASE_MS) || 20_000;
}

/** A bus member is gone once it has not been seen for this long (members renew every third of it). */
export const BUS_MEMBER_TTL_MS = 15_000;

export interface Store {
  /** Records a new run as `running`. */
  createRun(run: NewRun): Promise<void>;
  /** Ends a run with its final status. */
  finishRun(
    id: string,
    status: Exclude<RunStatus, "running">,
    endedAt: number,
    error?: string | null,
  ): Promise<void>;
  /**
   * Marks a run as driven by engine `engineId` (registered: its pid is recorded too) again
   * (resume, retry); the run is `running`. Compare-and-set on the owner: with `from` a string
   * or null, only if the run is still recorded as driven by that engine (null: by none); with
   * {@link ANY_EXPIRED}, only if its engine's lease has expired (or it has none); without
   * `from`, whoever drives it. So of two engines picking up the same orphaned run, exactly one
   * gets it. Slots the previous owner held for the run's tasks are released. Returns whether
   * the claim was made.
   */
  claimRun(id: string, engineId: string, from?: string | null | typeof ANY_EXPIRED): Promise<boolean>;

  /** Records an engine (or renews it, same id) with its lease. */
  registerEngine(engine: EngineRow): Promise<void>;
  /** Extends an engine's lease; false if the engine is not recorded. */
  renewEngineLease(id: string, leaseExpiresAt: number): Promise<boolean>;
  /** Ends an engine's lease at `at` (it stops) and releases the slots it holds. */
  endEngineLease(id: string, at: number): Promise<void>;
  getEngine(id: string): Promise<EngineRow | undefined>;

  /**
   * Claims pool slots for these tasks (in order) for engine `engineId`, atomically: a task gets
   * a slot only while fewer than `slots` tasks of `pool` hold one for an engine whose lease has
   * not expired at `now`. A task that already holds one keeps it. Returns the ids granted (a
   * prefix of `taskIds`): two engines sharing the store never exceed a pool's slots.
   */
  claimSlots(
    pool: string,
    slots: number,
    engineId: string,
    taskIds: string[],
    now: number,
  ): Promise<string[]>;
  /**
   * Hands the slot `fromTaskId` holds to `toTaskId` (same engine and pool): what an engine does
   * when a process ends and another task of the pool waits there, so the count never changes.
   * Returns false if `fromTaskId` held none.
   */
  transferSlot(fromTaskId: string, toTaskId: string, now: number): Promise<boolean>;
  /** Gives back the slots these tasks hold (their processes ended). */
  releaseSlots(taskIds: string[]): Promise<void>;
  /** Slots held per pool by engines whose lease has not expired at `now` (pools with none left out). */
  countSlots(now: number): Promise<Record<string, number>>;

  /** Records planned tasks in one transaction. */
  addTasks(tasks: NewTask[]): Promise<void>;
  /**
   * Records submitted tasks and what they wait for, in one transaction; with `run`, also the
   * new run they start (a lone task tree). Either all of it is recorded or none.
   */
  addSubmittedTasks(run: NewRun | null, tasks: NewTask[], deps: TaskDep[]): Promise<void>;
  /** Tasks created by an earlier submission with this idempotency key. */
  findTasksByIdempotencyKey(key: string): Promise<TaskRow[]>;
  /**
   * The latest submission named `name` among the children of `parentId` (or, with null, among
   * top-level submitted tasks): one task, or all its shards (`name[0]`, `name[1]`...). What
   * `--after NAME` refers to.
   */
  findSiblings(parentId: string | null, name: string): Promise<TaskRow[]>;
  /** Names of the children of `parentId` (or of top-level submitted tasks), for messages. */
  listSiblingNames(parentId: string | null, limit: number): Promise<string[]>;
  listTaskDeps(taskId: string): Promise<TaskDep[]>;
  /**
   * Status of each of these tasks with the engine driving its run, in one query: what an engine
   * waiting on tasks that another engine drives watches. Unknown ids are left out.
   */
  getTaskStates(ids: string[]): Promise<TaskState[]>;
  /*
   * Status changes. Each is a compare-and-set on the task's status (see store/task-states.ts):
   * from a status the transition does not allow, nothing is written and the method throws
   * STATE_CONFLICT (context: taskId, from, to, actual); for an unknown task, STORE_NOT_FOUND.
   */
  /** A task's needs are met: it waits for a slot, with its resolved command. */
  queueTask(id: string, command: string, params: Record<string, unknown>): Promise<void>;
  /** A task will not run: `skipped` (condition cannot hold / `if:` false) or `cancelled`. */
  endTaskWithoutRunning(
    id: string,
    status: "skipped" | "cancelled",
    reason: string,
    at: number,
  ): Promise<void>;
  /** A process is about to start: marks the task `running` and records a new attempt. */
  startAttempt(
    attempt: Omit<AttemptRow, "endedAt" | "exitCode" | "signal" | "reason" | "message" | "handle">,
  ): Promise<void>;
  /**
   * Why the running task's attempt still waits in its executor (null: it started). Ignored unless
   * the task is `running`; a new attempt clears it.
   */
  setQueueReason(taskId: string, reason: string | null): Promise<void>;
  /**
   * Records how to find the attempt again (its executor's handle, and its pid if it has one) once
   * it started. A handle that already says more (`HANDLE@AGENT`, written by the server an agent
   * claimed the attempt from, which can be first) is kept. `soon`: nothing waits for it, and the
   * store may write it with its next batch of writes, within a fraction of a second (for a handle
   * an engine can do without after a restart: a local process is found by its environment).
   */
  setAttemptHandle(
    taskId: string,
    number: number,
    where: { handle: string; pid: number | null; pidStart: string | null },
    options?: { soon?: boolean },
  ): Promise<void>;
  /**
   * Gives finished tasks of a run another go (`baton retry`): back to `pending`, attempts kept,
   * outputs of the old result forgotten. The run is `running` again.
   */
  reopenTasks(runId: string, taskIds: string[]): Promise<void>;
  /**
   * Gates: the task's needs are met but it must be approved first: `pending` → `waiting`, with
   * its resolved command and the gate's message.
   */
  holdForApproval(
    id: string,
    command: string,
    params: Record<string, unknown>,
    message: string,
    at: number,
  ): Promise<void>;
  /**
   * Gates: records an approval decision on a `waiting` task: approved → `queued`, rejected →
   * `failed` with "rejected by WHO: COMMENT". Returns the task as it is now.
   */
  decideApproval(id: string, decision: ApprovalDecision): Promise<TaskRow>;
  /** An attempt ended and the task will try again: the task goes back to `queued`. */
  finishAttemptForRetry(taskId: string, number: number, end: AttemptEnd): Promise<void>;
  /**
   * Cache hits: ends many tasks `cached` (each as `completeTask(id, null, completion)` would) in
   * one write. Returns, in order, null for each task ended, or the refusal (`STATE_CONFLICT`,
   * `STORE_NOT_FOUND`) of one that could not be: a refusal leaves that task as it was and the
   * others ended.
   */
  completeCachedTasks(
    hits: Array<{ taskId: string; completion: TaskCompletion & { status: "cached" } }>,
  ): Promise<Array<BatonError | null>>;
  /** An attempt ended (or none was needed) and the task is final, in one transaction. */
  completeTask(
    taskId: string,
    attempt: { number: number; end: AttemptEnd } | null,
    completion: TaskCompletion,
  ): Promise<void>;

  getRun(id: string): Promise<RunRow | undefined>;
  /** Runs newest first, filtered (see {@link RunFilter}); a page of them when given `before`. */
  listRuns(filter?: RunFilter): Promise<RunRow[]>;
  /**
   * Root runs (no parent run) recorded `running`, oldest first: what a server sweeping for runs
   * of dead engines looks at every second, answered from an index of running runs only.
   */
  listRunningRoots(): Promise<RunRow[]>;
  getTask(id: string): Promise<TaskRow | undefined>;
  /** Tasks matching every field of `filter`, in the order they were recorded. */
  listTasks(filter: TaskFilter): Promise<TaskRow[]>;
  /**
   * The tasks of a run in the order they were recorded, with only what their views show
   * (`taskViews`): a run of 10,000 tasks listed for `run --json` without reading and parsing
   * every command, parameter set and cache key.
   */
  listTaskViewRows(runId: string): Promise<TaskViewRow[]>;
  /** Tasks matching every field of `query`, newest first, at most `query.limit` (see {@link TaskQuery}). */
  queryTasks(query: TaskQuery): Promise<TaskRow[]>;
  /** Records the metric points an attempt appended to `$BATON_METRICS`, in order. */
  addMetricPoints(taskId: string, attempt: number, points: MetricPoint[]): Promise<void>;
  /** The metric points of one attempt of a task (of one metric, given `name`), in the order written. */
  listMetricPoints(taskId: string, attempt: number, name?: string): Promise<MetricPoint[]>;
  /** How many tasks of a run have each status (statuses with none are left out). */
  countTasks(runId: string): Promise<Partial<Record<TaskStatus, number>>>;
  listAttempts(taskId: string): Promise<AttemptRow[]>;
  /** Outputs of several tasks at once, in task then path order. */
  listOutputs(taskIds: string[]): Promise<OutputRow[]>;
  /**
   * The latest task with this cache key that succeeded (or was itself restored from cache),
   * with its outputs: what a new task with the same key may reuse.
   */
  findCachedResult(cacheKey: string): Promise<CachedResult | undefined>;
  /**
   * {@link findCachedResult} for many keys in one look-up (a rerun checks thousands of keys):
   * the result of each key that has one, the same one `findCachedResult` gives for it.
   */
  findCachedResults(cacheKeys: string[]): Promise<Map<string, CachedResult>>;
  /** The latest task of the same name in an earlier run of the same pipeline (to explain a cache miss). */
  findPreviousTask(task: TaskRow): Promise<TaskRow | undefined>;
  /** Content hash remembered for a file, keyed by path, size, mtime and inode. */
  getFileHash(key: string): Promise<string | undefined>;
  setFileHash(key: string, sha256: string): Promise<void>;

  /** Results the cache can reuse, newest first: one row per cache key. */
  listCacheEntries(limit: number): Promise<CacheEntry[]>;
  /** Stops reusing results: of every task, or of every task outside `keepRuns`. Returns how many. */
  forgetCachedResults(keepRuns?: string[]): Promise<number>;
  /** Content hashes of the outputs of these runs' tasks (what `cache gc` must keep). */
  blobsOfRuns(runIds: string[]): Promise<Set<string>>;
  /** Ids of the newest root runs and of all their child runs. */
  recentRunTrees(count: number): Promise<string[]>;

  /**
   * Finds a run or task (or, given `only`, only that kind) by its id, its bare ULID, or a
   * unique prefix of either (at least 4 characters after `run_`/`task_`; see `util/ids.ts`).
   * @throws STORE_AMBIGUOUS listing candidates; STORE_NOT_FOUND (also for a too-short prefix).
   */
  resolveId(text: string, only?: "run" | "task"): Promise<{ kind: "run" | "task"; id: string }>;

  /**
   * Releases: records version N+1 of release `name` (N the latest), atomically; a task that
   * already recorded a version (its engine died before the task ended) gets that version back.
   */
  recordRelease(release: NewRelease): Promise<number>;
  /** Releases, by name, each with its latest version. */
  listReleases(): Promise<ReleaseSummary[]>;
  /** The versions of a release, newest first, with their files (empty: no such release). */
  getReleaseVersions(name: string): Promise<ReleaseVersion[]>;
  /** Content hashes of every released file (what `cache gc` must keep). */
  releaseBlobs(): Promise<Set<string>>;

  /** Notifications: records a delivery about to be sent. */
  addNotification(row: NotificationRow): Promise<void>;
  /** Notifications: records an attempt's result (the request is dropped once it ended). */
  updateNotification(id: string, update: NotificationUpdate): Promise<void>;
  /** Notifications: the deliveries of a run, oldest first. */
  listNotifications(runId: string): Promise<NotificationRow[]>;
  /** Notifications: every pending delivery, oldest first. */
  listPendingNotifications(): Promise<NotificationRow[]>;
  /** Notifications: makes `engineId` the sender of a pending delivery sent by `from`; false if another took it. */
  claimNotification(id: string, from: string | null, engineId: string): Promise<boolean>;
  /* Remote agents (sqlite-agents.ts, postgres-agents.ts). */
  /** Makes an attempt claimable by the agents of its pool (again: nothing changes). */
  offerAgentWork(work: NewAgentWork): Promise<void>;
  /**
   * Hands the oldest open attempt of one of `pools` to `agent` (compare-and-set: two agents
   * never get the same one), under `token` until `leaseUntil`; undefined when none is open.
   */
  claimAgentWork(
    agent: string,
    pools: string[],
    token: string,
    now: number,
    leaseUntil: number,
  ): Promise<AgentClaimRow | undefined>;
  getAgentClaim(key: string): Promise<AgentClaimRow | undefined>;
  /** Attempts claimed and not yet reported (what agents run now). */
  listClaimedAgentWork(): Promise<AgentClaimRow[]>;
  /**
   * Extends the leases of the claims an agent still holds (key and token both match, still
   * `claimed`) to `leaseUntil`; returns the current rows of all the given keys that exist.
   */
  renewAgentClaims(
    claims: Array<{ key: string; token: string }>,
    leaseUntil: number,
  ): Promise<AgentClaimRow[]>;
  /** Records an agent's report: only while `claimed` under `token`. False: stale, ignored. */
  finishAgentClaim(key: string, token: string, result: string): Promise<boolean>;
  /** Marks a claim `lost` if its lease ended before `now`. False: renewed or ended meanwhile. */
  expireAgentClaim(key: string, now: number): Promise<boolean>;
  /** Asks for the attempt to stop: an open one is `cancelled` at once, a claimed one told to its agent. */
  cancelAgentClaim(key: string): Promise<AgentClaimRow | undefined>;
  /** Records an agent's heartbeat (its description as it is now). */
  recordAgent(agent: AgentRow): Promise<void>;
  /** Agents seen since `since`, by name. */
  listAgents(since: number): Promise<AgentRow[]>;
  /** Stores a new per-agent token (its hash). */
  createAgentToken(token: AgentTokenRow): Promise<void>;
  /** Per-agent tokens, oldest first. */
  listAgentTokens(): Promise<AgentTokenRow[]>;
  /** The per-agent token with this sha256 (hex), if it exists (was not removed). */
  findAgentToken(hash: string): Promise<AgentTokenRow | undefined>;
  /** Records that the token was used at `at`. */
  touchAgentToken(id: string, at: number): Promise<void>;
  /** Revokes a per-agent token. False: there was none with this id. */
  deleteAgentToken(id: string): Promise<boolean>;

  /*
   * Messages between engines sharing the store (servers relaying events, cancel and approve
   * for runs another engine drives). Best effort: a message published while a subscriber is
   * disconnected may be lost; what matters is always in the store too.
   */
  /** Sends messages, in order, to every subscription on this database (this store's own too). */
  publish(messages: BusMessage[]): Promise<void>;
  /**
   * Receives every message published on this database from now on, in the order published,
   * until the returned function is called (or the store is closed). `member` (an engine id) is
   * recorded as listening while the subscription lasts (see {@link Store.busMembers}).
   */
  subscribe(member: string, handler: (message: BusMessage) => void): Promise<() => Promise<void>>;
  /** Members subscribed at `now` (seen within {@link BUS_MEMBER_TTL_MS}). */
  busMembers(now: number): Promise<string[]>;

  /*
   * Triggers (src/server/triggers/): their state, and each fire claimed once by one server.
   */
  /** Records a trigger (if it is not yet) and answers its state. */
  ensureTrigger(name: string, createdAt: number): Promise<TriggerStateRow>;
  listTriggerStates(): Promise<TriggerStateRow[]>;
  /** Creates or replaces an API-created trigger's definition. */
  putTriggerDefinition(name: string, definition: Record<string, unknown>, createdAt: number): Promise<void>;
  /** Forgets a trigger and its fires; false if it was not recorded. */
  deleteTrigger(name: string): Promise<boolean>;
  /** Pauses or resumes a trigger; resuming at `at` drops the fires missed while paused. */
  setTriggerPaused(name: string, paused: boolean, at: number): Promise<void>;
  /**
   * Records a fire, unless one with the same trigger and slot is recorded already: returns
   * whether this call recorded it (so of several servers, exactly one gets each fire). A cron
   * fire also moves the trigger's `lastSlotAt` forward.
   */
  claimTriggerFire(fire: TriggerFireRow): Promise<boolean>;
  /**
   * Compare-and-set on a fire's outcome: from `from` to `to` (with its run and message); a run
   * becomes the trigger's `lastRunId`. Returns whether it was changed.
   */
  updateTriggerFire(
    trigger: string,
    slot: string,
    from: TriggerFireRow["outcome"],
    to: Pick<TriggerFireRow, "outcome" | "runId" | "message">,
  ): Promise<boolean>;
  /** A trigger's fires, newest first; only those with `outcome` when given. */
  listTriggerFires(
    trigger: string,
    limit: number,
    outcome?: TriggerFireRow["outcome"],
  ): Promise<TriggerFireRow[]>;
  /** Whether the trigger has a fire for this slot. */
  hasTriggerFire(trigger: string, slot: string): Promise<boolean>;

  close(): Promise<void>;
}

/** The root of a run's tree (a `pipeline:` node's child run belongs to its parent's root). */
export async function rootRun(store: Store, run: RunRow): Promise<RunRow> {
  let current = run;
  for (let depth = 0; current.parentRunId && depth < 100; depth++) {
    const parent = await store.getRun(current.parentRunId);
    if (!parent) break;
    current = parent;
  }
  return current;
}
