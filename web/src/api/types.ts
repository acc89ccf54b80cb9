/**
 * The JSON shapes of Baton's API (`/api/v1`) that the UI reads. They mirror
 * `src/server/schemas.ts` and `src/engine/task-view.ts`; fields marked "wanted" are not served
 * yet and are read only when present.
 */

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

export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";

export const TASK_STATUSES: readonly TaskStatus[] = [
  "running",
  "waiting",
  "queued",
  "pending",
  "failed",
  "cancelled",
  "skipped",
  "succeeded",
  "cached",
];

export const RUN_STATUSES: readonly RunStatus[] = ["running", "succeeded", "failed", "cancelled"];

export type Counts = Record<TaskStatus, number>;

/** A task as `GET /runs/:id` and `GET /tasks` list it. */
export interface TaskView {
  id: string;
  run: string;
  name: string;
  node: string | null;
  parent: string | null;
  status: TaskStatus;
  /** Why a queued task waits where its executor runs it (a pending Slurm job); absent from older servers. */
  queueReason?: string | null;
  exitCode: number | null;
  attempts: number;
  cached: boolean;
  startedAt: string | null;
  endedAt: string | null;
  outputDir: string;
  outputs: string[];
  metrics: Record<string, unknown>;
  /** `image:` of the task's node (absent from older servers). */
  image?: string | null;
  /** Gates: its approval gate, once reached (null: none). */
  approval?: Approval | null;
}

/** Gates: a task's approval (`approval:` in baton.yaml). */
export interface Approval {
  state: "waiting" | "approved" | "rejected";
  message: string;
  requestedAt: string | null;
  by: string | null;
  at: string | null;
  comment: string | null;
}

export interface Attempt {
  number: number;
  status: "running" | "succeeded" | "failed" | "cancelled";
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  message: string | null;
  startedAt: string | null;
  endedAt: string | null;
  log: string;
  logUrl: string;
  /** Where it ran: `{kind: "slurm", id: "123_4"}`, `{kind: "local", id: PID}` (absent from older servers). */
  executor?: { kind: string; id: string } | null;
}

/** One part of a cache key that differs from the previous task's (`GET /tasks/:id` `cache.changes`). */
export interface CacheChange {
  part: "command" | "upstream" | "param" | "env" | "input" | "dep" | "file" | "resource" | "outputs";
  /** The param, env or resource name, or the file (`raw/a.csv`); null otherwise. */
  name: string | null;
  /** JSON for values, the command text, a file's sha256; null when it was not there. */
  before: string | null;
  after: string | null;
  /** In words, as `baton show` prints it. */
  text: string;
}

/** Why a task ran or was cached, as `baton show` says it. */
export interface CacheExplanation {
  key: string;
  verdict: "reused" | "first-run" | "changed" | "same-key" | "unexplained";
  hit: boolean;
  reusedFrom: string | null;
  reusedFromRun: string | null;
  parts: {
    command: string;
    params: Record<string, unknown>;
    env: Record<string, string>;
    inputs: Record<string, number>;
    deps: string[];
    /** Files of the project the command names (absent from older servers). */
    files?: string[];
    resources: Record<string, number>;
    outputs: string[];
  } | null;
  previousTaskId: string | null;
  previousRunId: string | null;
  changes: CacheChange[];
}

/** A task as `GET /tasks/:id` shows it. */
export interface TaskDetail extends TaskView {
  pool: string;
  command: string | null;
  params: Record<string, unknown>;
  item: unknown;
  error: string | null;
  cacheKey: string | null;
  createdAt: string | null;
  attemptsDetail: Attempt[];
  /** Wanted: bound input files by input name. */
  inputs?: Record<string, Array<{ path: string; sha256: string; size?: number; url?: string }>>;
  /** The cache decision explained; null without a cache key. */
  cache: CacheExplanation | null;
}

export interface RunSummary {
  id: string;
  pipeline: string;
  status: RunStatus;
  params: Record<string, unknown>;
  createdAt: string | null;
  endedAt: string | null;
  parentRun: string | null;
  parentTask: string | null;
  specFile: string | null;
  /** Why the run failed or was stopped when no task says it (null otherwise). */
  error?: string | null;
  /** The trigger that started the run (null: none). */
  trigger?: string | null;
  driven: boolean;
  counts: Counts;
}

/** `GET /runs`: a page of runs, newest first. */
export interface RunList {
  runs: RunSummary[];
  /** `before` of the next (older) page; null on the last. */
  nextCursor: string | null;
}

export interface ChildRun {
  id: string;
  pipeline: string;
  status: RunStatus;
  parentTask: string | null;
}

export interface NodeNeed {
  node: string;
  condition: "success" | "failure" | "always";
}

export interface PipelineNode {
  name: string;
  kind: "task" | "pipeline";
  step?: string;
  pipeline?: string;
  needs: NodeNeed[];
  fanout?: "foreach" | "matrix";
}

export interface RunDetail {
  run: RunSummary;
  tasks: TaskView[];
  childRuns: ChildRun[];
  /** Wanted: the run's own graph, for runs of definitions posted to the API. */
  nodes?: PipelineNode[];
}

export type ParamType = "string" | "int" | "float" | "bool" | "list" | "json";

export interface ParamDecl {
  name: string;
  type: ParamType;
  required: boolean;
  default?: unknown;
  choices?: unknown[];
  description?: string;
}

export interface PipelineSummary {
  name: string;
  source: "file" | "registered";
  file: string | null;
  params: ParamDecl[];
  nodes: PipelineNode[];
}

export interface OutputFile {
  path: string;
  size: number;
  sha256: string;
  url: string;
}

/** Releases: what `release:` nodes kept (`GET /releases`, `GET /releases/:name`). */
export interface ReleaseSummary {
  name: string;
  latestVersion: number;
  versions: number;
  /** When the latest version was made. */
  createdAt: string;
  /** The run and the task (of its `release:` node) that made the latest version. */
  run: string;
  task: string;
}

export interface ReleaseVersion {
  version: number;
  createdAt: string;
  run: string;
  task: string;
  /** `url` is under `/api/v1` and needs the token. */
  files: OutputFile[];
}

export interface ReleaseDetail {
  name: string;
  /** Newest first. */
  versions: ReleaseVersion[];
}

export interface Problem {
  path?: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

/** What `GET /events` sends, one per SSE message. */
export type EngineEvent =
  | { type: "run-started"; runId: string; pipeline: string; parentTaskId: string | null; taskCount: number }
  | {
      type: "task";
      runId: string;
      taskId: string;
      name: string;
      status: TaskStatus;
      attempt?: number;
      exitCode?: number | null;
      error?: string | null;
    }
  | { type: "tasks-added"; runId: string; count: number }
  | { type: "run-ended"; runId: string; status: RunStatus };

/** Notifications: one delivery of a run's `notify:` entry (`GET /runs/:id/notifications`). */
export interface NotificationView {
  id: string;
  event: "success" | "failure" | "cancelled" | "approval";
  kind: "webhook" | "email";
  target: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  nextAttemptAt: string | null;
}

/** Triggers: one trigger the server fires (`GET /triggers`). */
export interface TriggerView {
  name: string;
  pipeline: string;
  kind: "cron" | "after" | "webhook";
  schedule: string;
  timezone: string | null;
  overlap: string;
  catchup: string;
  paused: boolean;
  source: "file" | "registered" | "api";
  where: string;
  nextFireAt: string | null;
  lastFireAt: string | null;
  lastRun: { id: string; status: string } | null;
  lastOutcome: { outcome: string; message: string | null; at: string | null } | null;
}

/** Remote agents: one agent as `GET /agents` shows it. */
export interface AgentView {
  name: string;
  host: string;
  pools: string[];
  slots: number;
  inUse: number;
  resources: Record<string, string>;
  startedAt: string;
  lastHeartbeat: string;
  /** Heard from within its lease. */
  connected: boolean;
  tasks: Array<{ taskId: string; runId: string; attempt: number }>;
}
