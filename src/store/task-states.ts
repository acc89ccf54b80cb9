/**
 * The task state machine: which status a task may go to from which. Pure (no I/O). The store
 * enforces it: every method that changes a task's status does so only from the statuses this
 * table (narrowed to that method, see {@link TRANSITION_SOURCES}) allows, and otherwise writes
 * nothing and throws `STATE_CONFLICT` (see docs/architecture.md, "Task states").
 */
import { BatonError } from "../errors.js";
import type { TaskStatus } from "./store.js";

const ENDED = ["succeeded", "failed", "cancelled", "skipped", "cached"] as const;

/**
 * Allowed transitions, `from` → every `to`:
 * - `pending` → `queued` (its needs are met), `waiting` (its needs are met, but it waits for
 *   approval), `skipped`/`cancelled` (it will not run), `failed` (it could not be prepared),
 *   `cached` (a reused result);
 * - `waiting` → `queued` (approved), `failed` (rejected), `skipped`/`cancelled`;
 * - `queued` → `queued` (prepared again after a restart), `running` (a slot was given),
 *   `skipped`/`cancelled`, `failed`, `cached` (prepared again after a restart), and
 *   `succeeded` (a resumed `pipeline:` node, prepared again, whose child run went on under the
 *   attempt that started it);
 * - `running` → `running` (a new attempt after one that never started), `queued` (a retry, or
 *   prepared again after a restart), `succeeded`, `failed`, `cancelled`;
 * - an ended status → `pending`, only through `reopenTasks` (`baton retry`).
 */
export const TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ["waiting", "queued", "skipped", "cancelled", "failed", "cached"],
  waiting: ["queued", "skipped", "cancelled", "failed"],
  queued: ["queued", "running", "succeeded", "skipped", "cancelled", "failed", "cached"],
  running: ["running", "queued", "succeeded", "failed", "cancelled"],
  succeeded: ["pending"],
  failed: ["pending"],
  cancelled: ["pending"],
  skipped: ["pending"],
  cached: ["pending"],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

/** The statuses a task may go to `to` from, by the table. */
export function predecessors(to: TaskStatus): TaskStatus[] {
  return (Object.keys(TASK_TRANSITIONS) as TaskStatus[]).filter((from) => canTransition(from, to));
}

/**
 * What each Store method accepts as the task's status before it, a subset of the table: a
 * method named after a transition does only that transition.
 */
export const TRANSITION_SOURCES = {
  /** `queueTask`: needs met, or prepared again after a restart. */
  queue: ["pending", "queued", "running"],
  /** `holdForApproval`. */
  hold: ["pending"],
  /** `decideApproval`: approved (→ queued) or rejected (→ failed). */
  decide: ["waiting"],
  /** `endTaskWithoutRunning`: never from `running` (a running task ends through its attempt). */
  endWithoutRunning: ["pending", "waiting", "queued"],
  /** `startAttempt`. */
  start: ["queued", "running"],
  /** `finishAttemptForRetry`. */
  retry: ["running"],
  /**
   * `completeTask` with an attempt: the attempt's process ran (`queued`: a resumed `pipeline:`
   * node, prepared again, ends the attempt its child run went on under).
   */
  completeAttempt: ["running", "queued"],
  /** `completeTask` without an attempt, by the status it ends in (cached: never from `running`). */
  completeWithout: {
    succeeded: [],
    failed: ["pending", "waiting", "queued", "running"],
    cancelled: ["pending", "waiting", "queued", "running"],
    cached: ["pending", "queued"],
  },
  /** `reopenTasks`. */
  reopen: [...ENDED],
} as const satisfies Record<string, unknown>;

/** What a refused transition found, to report it (see {@link stateConflict}). */
export interface TransitionRefusal {
  taskId: string;
  /** The statuses it had to be in. */
  from: readonly TaskStatus[];
  to: TaskStatus;
  /** What it was (undefined: no such task). */
  actual: TaskStatus | undefined;
  /** What was tried, in words (`start attempt 2`). */
  action: string;
}

/** The error a refused transition throws: `STATE_CONFLICT` naming the task, what and what it found. */
export function stateConflict(r: TransitionRefusal): BatonError {
  const found = r.actual === undefined ? "no such task" : `it is ${r.actual}`;
  return new BatonError(
    r.actual === undefined ? "STORE_NOT_FOUND" : "STATE_CONFLICT",
    `task ${r.taskId}: cannot ${r.action} (${r.to} only from ${r.from.join("|")}): ${found}`,
    { context: { taskId: r.taskId, from: [...r.from], to: r.to, actual: r.actual ?? null } },
  );
}

/** Whether `err` is a refused transition (another engine or a race changed the task first). */
export function isStateConflict(err: unknown): boolean {
  return err instanceof BatonError && err.code === "STATE_CONFLICT";
}
