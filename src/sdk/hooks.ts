/**
 * Controller hooks (ClearML's pre- and post-execute callbacks): code that runs in the
 * controller process before a step's task starts and after it ended. A pipeline with hooks is
 * still one engine run: the engine holds the hooked tasks until this process answers (see
 * `hooked-run.ts` and `engine/step-hooks.ts`).
 */
import type { TaskHandle } from "./handles.js";
import type { Metrics, TaskInfo, TaskOutput, TaskStatus } from "./types.js";

/** How a step ended, seen from the steps that need it (`needs.X.status`). */
export type StepOutcome = "succeeded" | "failed" | "skipped" | "cancelled";

/** One task of a step (one `foreach` item or `matrix` combination) as the controller saw it end. */
export interface StepTaskResult {
  /** Task name: `train`, `train[2]`, `images[input=a.raw]`. */
  name: string;
  /** Position among the step's tasks (0 for a step that does not fan out). */
  index: number;
  /** The `foreach` item, if the step has `foreach`. */
  item?: unknown;
  /** The combination, if the step has `matrix`. */
  matrix?: Record<string, unknown>;
  /** The params the task was given (after `before`). */
  params: Record<string, unknown>;
  /** `skipped` when `if:`, `needs` or `before` decided not to run it; else the task's status. */
  status: TaskStatus;
  /** The task, unless it was never submitted. */
  task?: TaskHandle;
  /** The task as it ended, unless it was never submitted. */
  info?: TaskInfo;
  /** What the task appended to `$BATON_METRICS` (empty if it never ran). */
  metrics: Metrics;
  /** Its output files (empty unless it succeeded). */
  outputs: TaskOutput[];
  /** Why it failed or was skipped, in words (also: an exception thrown by a hook). */
  error?: string;
  /** Whether the task was found from an earlier run of the controller rather than started now. */
  reattached: boolean;
}

/** A step once all its tasks have ended. */
export interface StepResult {
  /** The step's name. */
  step: string;
  /** Failed if any task failed, else cancelled if any was, else skipped if all were, else succeeded. */
  status: StepOutcome;
  /** One entry per task, in order (none when the whole step was skipped or cancelled). */
  tasks: StepTaskResult[];
  /** Why the whole step was skipped or cancelled (a `needs` condition that cannot hold...). */
  reason?: string;
}

/** What every hook is told about the task it runs for. */
export interface StepContext {
  /** The run's resume key (`ControllerRunOptions.resumeKey`), or its id when it was given none. */
  readonly runKey: string;
  /** The pipeline the step belongs to. */
  readonly pipeline: string;
  /** The step (node) name. */
  readonly step: string;
  /** The task name: `train`, `train[2]`, `images[input=a.raw,config=base]`. */
  readonly name: string;
  /** Position among the step's tasks (0 for a step that does not fan out). */
  readonly index: number;
  /** The `foreach` item, when the step has `foreach`. */
  readonly item?: unknown;
  /** The combination, when the step has `matrix`. */
  readonly matrix?: Readonly<Record<string, unknown>>;
  /** The pipeline's params, resolved. */
  readonly runParams: Readonly<Record<string, unknown>>;
  /** Results of the steps this one needs, by step name. */
  readonly needs: Readonly<Record<string, StepResult>>;
}

/** What `before` may look at and change. */
export interface BeforeContext extends StepContext {
  /**
   * The task's params after `with:`, to change in place. They are checked against the step's
   * declared params again afterwards, and the command is rendered with them.
   */
  params: Record<string, unknown>;
  /** Extra environment variables for the task, to add to. */
  env: Record<string, string>;
  /** Do not run this task: it is recorded as `skipped` with the reason, and `after` is not called. */
  skip(reason?: string): void;
}

/** What `after` sees once the task ended (whether it succeeded or not). */
export interface AfterContext extends StepContext {
  /** The params the task was given (after `before`). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The task: read its log, clone it... */
  readonly task: TaskHandle;
  /** The task as it ended. */
  readonly info: TaskInfo;
  /** How it ended: `succeeded`, `failed`, `cancelled`... */
  readonly status: TaskStatus;
  /** What it appended to `$BATON_METRICS`. */
  readonly metrics: Metrics;
  /** Its output files (empty unless it succeeded). */
  readonly outputs: readonly TaskOutput[];
  /** Whether the task was found from an earlier run of the controller rather than started now. */
  readonly reattached: boolean;
}

/**
 * Runs before a task of the step is submitted: may change its params and environment, or skip
 * it. It runs again for every task when a controller is restarted, so keep it a function of
 * what it is given (and of what earlier hooks saw): a reattached task keeps the params it was
 * first submitted with. An exception fails the task (without running it).
 */
export type BeforeHook = (ctx: BeforeContext) => void | Promise<void>;

/**
 * Runs after a task of the step ended, with its status, metrics and outputs. An exception
 * fails the task as the controller counts it (the task's own record keeps its status).
 */
export type AfterHook = (ctx: AfterContext) => void | Promise<void>;
