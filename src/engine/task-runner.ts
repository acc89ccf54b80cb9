import type { OutputFile } from "../artifacts/outputs.js";
import type { ExitResult, StartAhead } from "../executors/executor.js";
import type { PoolSpec } from "../spec/types.js";
import type { AttemptEnd, TaskCompletion, TaskStatus } from "../store/store.js";
import { childrenFailedText } from "../util/plural.js";
import {
  type AttemptPlan,
  adoptAttempt,
  attemptEnd,
  attemptRef,
  collectedResults,
  failureText,
  interruptTask,
  launchAttempt,
  retryDelay,
} from "./attempt.js";
import type { Engine } from "./engine.js";
import { watchSilence } from "./silence-watch.js";
import { applyTransition } from "./transitions.js";
import { readValohaiMetadata } from "./valohai-env.js";

/** The part of a task its owner holds that the runner reads and moves on. */
export interface RunnerTask {
  id: string;
  name: string;
  status: TaskStatus;
  /** Attempts made so far. */
  attempts: number;
  /** Stops the running attempt's process. */
  cancel?: (() => void) | undefined;
  /** A cancel arrived while the attempt's process was being started. */
  cancelRequested?: boolean | undefined;
  retryTimer?: NodeJS.Timeout | undefined;
}

/**
 * What running a task takes. Asked of its owner when an attempt is queued, started or adopted,
 * not held per task: a run of 100,000 tasks keeps its commands in its node specs.
 */
export interface RunnableTask extends Omit<AttemptPlan, "taskId" | "name" | "number"> {
  /** Failed attempts retried at most `limit` times, after `backoffMs` doubled each time. */
  retries: { limit: number; backoffMs: number };
  pool: PoolSpec;
  priority: number;
}

/** How a task ended, as recorded. */
export interface TaskEnd {
  status: TaskStatus;
  exitCode: number | null;
  error: string | null;
  metrics: Record<string, unknown>;
  outputs: OutputFile[];
}

/**
 * Who drives a task: a pipeline run (`RunController`) for a node's task, the task tree
 * (`TaskTree`) for a submitted one. The runner tells it of each transition; it keeps its own
 * graph (nodes, families, dependencies) and tells its listeners.
 */
export interface TaskOwner<T extends RunnerTask> {
  /** What running `task` takes. */
  runnable(task: T): RunnableTask;
  /** False while the owner stops (a cancelled run): no queued attempt starts, no failure is retried. */
  mayRun(task: T): boolean;
  /** An attempt started (`task.status` is `running`). */
  running(task: T, attempt: number): void;
  /** The process exited 0 and the task waits for `open` children before it ends. */
  waiting(task: T, open: number): void;
  /** An attempt failed and another is due after the backoff (`task.status` is `queued`). */
  retrying(task: T, exitCode: number | null, error: string): void;
  /** The backoff is over. Default: the task is queued for a slot again. */
  retryDue?(task: T): void;
  /** The store says the task had already ended (`actual`) when this side tried to end it. */
  endedElsewhere(task: T, actual: TaskStatus): Promise<void>;
  /** The task ended (recorded, `task.status` set). */
  ended(task: T, end: TaskEnd): Promise<void>;
  /** What else the owner records with a task's end (a pipeline task's cache key...). */
  recorded?(task: T, status: TaskCompletion["status"]): Partial<TaskCompletion>;
  /** Why a running task was cancelled, when the owner stopped for a reason (`stopped: NODE failed`). */
  cancelReason?(task: T): string | undefined;
  /** Runs background work; a bug in it ends the task (or run) loudly instead of hanging it. */
  guard(task: T, work: Promise<void>): void;
}

/**
 * One task lifecycle for every kind of task (docs/architecture.md, "Task lifecycle"): waits for
 * a slot, launches an attempt, waits for its process, collects metrics and outputs, waits for
 * the children the task submitted, retries a failure after a backoff, and records the end. A
 * process adopted after a restart enters the same path at its end; a cancel stops the task
 * wherever it is (queued, running, waiting to retry).
 */
export class TaskRunner<T extends RunnerTask> {
  constructor(
    private readonly engine: Engine,
    private readonly owner: TaskOwner<T>,
  ) {}

  /** Queues a `queued` task for a slot of its pool. */
  enqueue(task: T, plan: RunnableTask = this.owner.runnable(task)): void {
    this.engine.enqueue(plan.pool, plan.priority, {
      taskId: task.id,
      start: (ahead) => this.runAttempt(task, ahead),
    });
  }

  /**
   * One attempt in its slot: record it, start the process, wait; its end is recorded outside the
   * slot. Started ahead of its slot, the process starts once `ahead.go` resolves.
   */
  private async runAttempt(task: T, ahead?: StartAhead): Promise<void> {
    if (task.status !== "queued" || !this.owner.mayRun(task)) return;
    const plan = this.owner.runnable(task);
    const number = task.attempts + 1;
    task.attempts = number;
    task.status = "running";
    this.owner.running(task, number);
    const { proc, logPath } = await launchAttempt(
      this.engine,
      { ...plan, taskId: task.id, name: task.name, number },
      ahead,
    );
    task.cancel = () => proc.cancel();
    // A cancel came while the process was starting.
    if (task.cancelRequested || !this.owner.mayRun(task)) proc.cancel();
    const silence = plan.noOutputTimeout && watchSilence(logPath, plan.noOutputTimeout, () => proc.cancel());
    const exited = await proc.exited;
    const result = silence ? silence.end(exited) : exited;
    task.cancel = undefined;
    // The slot is for running processes: give it back now, and record the end outside it.
    this.owner.guard(task, this.attemptEnded(task, number, result, plan));
  }

  /**
   * A task recorded `running` by an engine that died: finds its process (see {@link adoptAttempt}).
   * Returns what to do once the owner has rebuilt its graph (follow the process, record its end),
   * or nothing when the task is to run afresh (it is made `pending`).
   */
  async adopt(task: T): Promise<(() => Promise<void>) | undefined> {
    const plan = this.owner.runnable(task);
    const found = await adoptAttempt(this.engine, {
      runId: plan.runId,
      taskId: task.id,
      name: task.name,
      timeoutMs: plan.timeoutMs,
      pool: plan.pool,
    });
    if (found.state === "rerun") {
      task.status = "pending";
      return undefined;
    }
    if (found.state === "ended") return () => this.attemptEnded(task, found.number, found.result, plan);
    const proc = found.proc;
    task.cancel = () => proc.cancel();
    this.owner.running(task, found.number);
    const silence =
      plan.noOutputTimeout && watchSilence(found.logPath, plan.noOutputTimeout, () => proc.cancel());
    return async () => {
      const exited = await proc.exited;
      const result = silence ? silence.end(exited) : exited;
      task.cancel = undefined;
      await this.attemptEnded(task, found.number, result, plan);
    };
  }

  /**
   * An attempt's process ended (here, or while no engine watched): collect, then the task
   * succeeds once its children have (failing if one did or if collecting failed), or its
   * children go and it is retried or fails.
   */
  private async attemptEnded(task: T, number: number, result: ExitResult, plan: RunnableTask): Promise<void> {
    // Usually the executor collected where the task ran; an adopted process is collected here.
    const collected = await collectedResults(
      this.engine,
      result,
      attemptRef({ runId: plan.runId, taskId: task.id, name: task.name, number }),
      plan.outputs,
      plan.keepFailedOutputs,
    );
    const metrics =
      plan.compat === "valohai"
        ? {
            ...collected.metrics,
            ...(await readValohaiMetadata(
              this.engine,
              attemptRef({ runId: plan.runId, taskId: task.id, name: task.name, number }),
            )),
          }
        : collected.metrics;
    // The series first: once the task is seen ended, its points are there.
    if (collected.series?.length) await this.engine.store.addMetricPoints(task.id, number, collected.series);
    const end = attemptEnd(result);
    const tree = this.engine.tree;
    if (end.status === "succeeded") {
      // A task that submitted children ends when they all have.
      const open = tree.openChildren(task.id);
      if (open > 0) this.owner.waiting(task, open);
      const children = await tree.waitForChildren(task.id);
      const message =
        children.failed > 0
          ? childrenFailedText(children.failed)
          : collected.error !== undefined
            ? `collecting outputs failed: ${collected.error}`
            : undefined;
      if (message !== undefined) {
        await this.finish(
          task,
          { number, end: { ...end, status: "failed", message } },
          {
            status: "failed",
            exitCode: 0,
            error: message,
            metrics,
            outputs: [],
          },
        );
        return;
      }
      await this.finish(
        task,
        { number, end },
        {
          status: "succeeded",
          exitCode: 0,
          error: null,
          metrics,
          outputs: collected.outputs,
        },
      );
      return;
    }
    const why = failureText(result);
    // What a failed attempt submitted goes with it, before the task ends or retries.
    await tree.dropChildren(task.id);
    if (end.status === "failed" && number <= plan.retries.limit && this.owner.mayRun(task)) {
      await this.engine.store.finishAttemptForRetry(task.id, number, end);
      task.status = "queued";
      this.owner.retrying(task, result.exitCode, `${why}; retrying`);
      task.retryTimer = setTimeout(
        () => {
          task.retryTimer = undefined;
          if (this.owner.retryDue) this.owner.retryDue(task);
          else this.enqueue(task);
        },
        retryDelay(plan.retries.backoffMs, number),
      );
      return;
    }
    await this.finish(
      task,
      { number, end },
      {
        status: end.status === "cancelled" ? "cancelled" : "failed",
        exitCode: result.exitCode,
        error: (end.status === "cancelled" && this.owner.cancelReason?.(task)) || why,
        metrics,
        outputs: plan.keepFailedOutputs && end.status === "failed" ? collected.outputs : [],
      },
    );
  }

  /**
   * Records a task's end, with its last attempt's (or none: a cache hit, a task that could not
   * be prepared), then tells the owner.
   */
  async finish(
    task: T,
    attempt: { number: number; end: AttemptEnd } | null,
    end: TaskEnd & { status: TaskCompletion["status"] },
  ): Promise<void> {
    const write = this.engine.store.completeTask(task.id, attempt, {
      status: end.status,
      exitCode: end.exitCode,
      endedAt: Date.now(),
      metrics: end.metrics,
      outputs: end.outputs,
      error: end.error,
      ...this.owner.recorded?.(task, end.status),
    });
    // Lost a race (a cancel recorded first): the task ended as the store says.
    if (!(await applyTransition(write, task, (actual) => this.owner.endedElsewhere(task, actual)))) return;
    task.status = end.status;
    await this.owner.ended(task, end);
  }

  /**
   * Cancels one task: its retry timer is cleared; a running one has its process stopped (the end
   * of its attempt records the cancel); a queued one leaves its pool (unless `dequeue` is false:
   * the caller took many out at once). Returns false when the task was waiting and the caller
   * is to end it (without running it).
   */
  interrupt(task: T, dequeue = true): boolean {
    if (interruptTask(task)) return true;
    if (task.status === "queued" && dequeue) this.engine.dequeue((w) => w.taskId === task.id);
    return false;
  }
}
