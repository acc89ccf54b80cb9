/**
 * Picking up tasks an SDK controller submitted to its embedded engine before it crashed.
 *
 * Why this lives in the SDK: with no server, the engine runs inside the controller process, so
 * a crash of the controller is a crash of the engine. Task processes outlive it (they run in
 * their own session and write their exit status to a file). `baton server` and `baton resume`
 * restore orphaned task trees (`Engine.restoreTree`), but an embedded engine looks for none when
 * it starts, so an embedded `Baton` adopts the orphaned tasks the SDK submitted, with the same
 * adoption code (`adoptAttempt`): a process still alive is watched to its end, an exit status
 * written meanwhile is read, a task that never started is started now. Only lone top-level
 * tasks the SDK labelled (`baton.sdk/run`) are taken, never tasks with dependencies or children.
 */
import os from "node:os";
import {
  adoptAttempt,
  attemptEnd,
  collectedResults,
  failureText,
  launchAttempt,
  retryDelay,
} from "../engine/attempt.js";
import type { Engine } from "../engine/engine.js";
import { runOwner } from "../engine/ownership.js";
import type { ExitResult } from "../executors/executor.js";
import type { PoolSpec } from "../spec/types.js";
import { type RunRow, type Store, type TaskRow, type TaskStatus, isTerminal } from "../store/store.js";

/** The label every task a controller submits carries: the controller run key. */
export const SDK_RUN_LABEL = "baton.sdk/run";

/** What `TaskTree` stores as a submitted task's `submit` column (engine-defined JSON). */
interface StoredSubmit {
  command: string;
  cwd: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  retries?: number;
  timeoutMs?: number;
  shard?: { id: number; total: number };
}

/** The engine's backoff before a submitted task's retry (as `TaskTree` uses). */
const BACKOFF_MS = 1000;

/** Adopts and drives orphaned SDK tasks of an embedded engine. @internal */
export class OrphanRecovery {
  private readonly cancels = new Map<string, () => void>();
  private readonly driving = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly engine: Engine,
    private readonly pools: Record<string, PoolSpec>,
  ) {}

  /** Finds orphaned runs of SDK tasks and starts driving them; returns the task ids taken. */
  async resumeAll(): Promise<string[]> {
    const store = this.engine.store;
    const taken: string[] = [];
    for (const run of await store.listRuns({ status: ["running"], limit: 100_000 })) {
      if (!(await isOrphanedLoneRun(store, run))) continue;
      const tasks = await store.listTasks({ run: run.id });
      const open = tasks.filter((t) => !isTerminal(t.status));
      if (!(await this.canTake(open))) continue;
      // Two programs connecting at once after a crash: only one gets the run.
      if (!(await store.claimRun(run.id, this.engine.id, run.engineId))) continue;
      const remaining = { count: open.length };
      const statuses = new Map<string, TaskStatus>(tasks.map((t) => [t.id, t.status]));
      for (const task of open) {
        taken.push(task.id);
        const p = this.drive(run, task)
          .catch((err) => {
            process.stderr.write(`baton sdk: cannot resume task ${task.id}: ${(err as Error).message}\n`);
            return "failed" as TaskStatus;
          })
          .then(async (status) => {
            statuses.set(task.id, status);
            if (--remaining.count === 0) await this.finishRun(run.id, [...statuses.values()]);
          });
        this.driving.add(p);
        void p.finally(() => this.driving.delete(p));
      }
    }
    return taken;
  }

  /** Cancels a task this recovery drives; false if it does not drive it. */
  cancel(taskId: string): boolean {
    const cancel = this.cancels.get(taskId);
    if (!cancel) return false;
    cancel();
    return true;
  }

  /** Cancels everything it drives and waits for it to be recorded. */
  async cancelAll(): Promise<void> {
    this.stopping = true;
    for (const cancel of this.cancels.values()) cancel();
    await Promise.allSettled([...this.driving]);
  }

  private async canTake(open: TaskRow[]): Promise<boolean> {
    if (open.length === 0) return false;
    for (const t of open) {
      const spec = t.submit as StoredSubmit | null;
      if (t.parentId !== null || !spec?.labels?.[SDK_RUN_LABEL] || typeof spec.command !== "string")
        return false;
      if ((await this.engine.store.listTaskDeps(t.id)).length > 0) return false;
    }
    return true;
  }

  /** Drives one task to its end; returns its final status. */
  private async drive(run: RunRow, task: TaskRow): Promise<TaskStatus> {
    const store = this.engine.store;
    const spec = task.submit as unknown as StoredSubmit;
    const last = (await store.listAttempts(task.id)).at(-1);
    let number = last?.number ?? 0;
    const found =
      task.status === "running"
        ? await adoptAttempt(this.engine, { runId: run.id, taskId: task.id, timeoutMs: spec.timeoutMs })
        : undefined;
    if (found && found.state !== "rerun") {
      let result: ExitResult;
      if (found.state === "ended") {
        result = found.result;
      } else {
        const proc = found.proc;
        this.cancels.set(task.id, () => proc.cancel());
        this.emit(run.id, task, "running", { attempt: found.number });
        result = await proc.exited;
        this.cancels.delete(task.id);
      }
      const outcome = await this.settle(run, task, spec, found.number, result, found.logPath);
      if (outcome !== "retry") return outcome;
    } else if (task.status === "pending") {
      await store.queueTask(task.id, spec.command, {});
    }
    // Not started yet (or to be retried): run it here, in a slot of its pool.
    for (;;) {
      if (this.stopping) return this.endUnstarted(run, task);
      number++;
      const attempt = number;
      const outcome = await new Promise<TaskStatus | "retry">((resolve, reject) => {
        const pool = this.pools[task.pool] ?? {
          name: task.pool,
          slots: os.availableParallelism(),
          resources: {},
        };
        this.engine.enqueue(pool, task.priority, {
          taskId: task.id,
          start: async () => {
            try {
              if (this.stopping) {
                resolve(await this.endUnstarted(run, task));
                return;
              }
              const result = await this.launch(run, task, spec, attempt);
              resolve(await this.settle(run, task, spec, attempt, result.exit, result.logPath));
            } catch (err) {
              reject(err);
            }
          },
        });
      });
      if (outcome !== "retry") return outcome;
      await new Promise((r) => setTimeout(r, retryDelay(BACKOFF_MS, attempt)));
    }
  }

  private async launch(
    run: RunRow,
    task: TaskRow,
    spec: StoredSubmit,
    number: number,
  ): Promise<{ exit: ExitResult; logPath: string }> {
    this.emit(run.id, task, "running", { attempt: number });
    const { proc, logPath } = await launchAttempt(this.engine, {
      runId: run.id,
      taskId: task.id,
      name: task.name,
      number,
      command: spec.command,
      cwd: spec.cwd,
      params: task.params,
      userEnv: spec.env ?? {},
      shard: spec.shard,
      outputDir: task.outputDir,
      outputs: [],
      timeoutMs: spec.timeoutMs,
    });
    this.cancels.set(task.id, () => proc.cancel());
    if (this.stopping) proc.cancel();
    const exit = await proc.exited;
    this.cancels.delete(task.id);
    return { exit, logPath };
  }

  /** Records how an attempt ended: the task's end, or `retry` when it gets another attempt. */
  private async settle(
    run: RunRow,
    task: TaskRow,
    spec: StoredSubmit,
    number: number,
    result: ExitResult,
    logPath: string,
  ): Promise<TaskStatus | "retry"> {
    const store = this.engine.store;
    const layout = this.engine.layout;
    const end = attemptEnd(result);
    const succeeded = end.status === "succeeded";
    // Adopted processes were not collected where they ran: collect here, as `RunController` does.
    const collected = await collectedResults(this.engine, result, {
      outputDir: task.outputDir,
      outputs: [],
      metricsPath: layout.metricsPath(run.id, task.id, number),
      logPath,
    });
    if (succeeded) {
      await store.completeTask(
        task.id,
        { number, end },
        {
          status: "succeeded",
          exitCode: 0,
          endedAt: Date.now(),
          metrics: collected.metrics,
          outputs: collected.outputs,
          error: collected.error ?? null,
        },
      );
      this.emit(run.id, task, "succeeded", { exitCode: 0 });
      return "succeeded";
    }
    const why = failureText(result);
    if (end.status === "failed" && number <= (spec.retries ?? 0) && !this.stopping) {
      await store.finishAttemptForRetry(task.id, number, end);
      this.emit(run.id, task, "queued", { exitCode: result.exitCode, error: `${why}; retrying` });
      return "retry";
    }
    const status = end.status === "cancelled" ? "cancelled" : "failed";
    await store.completeTask(
      task.id,
      { number, end },
      {
        status,
        exitCode: result.exitCode,
        endedAt: Date.now(),
        metrics: collected.metrics,
        outputs: [],
        error: why,
      },
    );
    this.emit(run.id, task, status, { exitCode: result.exitCode, error: why });
    return status;
  }

  private async endUnstarted(run: RunRow, task: TaskRow): Promise<TaskStatus> {
    await this.engine.store.endTaskWithoutRunning(task.id, "cancelled", "cancelled", Date.now());
    this.emit(run.id, task, "cancelled", { error: "cancelled" });
    return "cancelled";
  }

  private async finishRun(runId: string, statuses: TaskStatus[]): Promise<void> {
    const status = statuses.includes("failed")
      ? "failed"
      : statuses.includes("cancelled")
        ? "cancelled"
        : "succeeded";
    await this.engine.store.finishRun(runId, status, Date.now());
    this.engine.emit({ type: "run-ended", runId, status });
  }

  private emit(
    runId: string,
    task: TaskRow,
    status: TaskStatus,
    extra: { attempt?: number; exitCode?: number | null; error?: string | null },
  ): void {
    this.engine.emit({ type: "task", runId, taskId: task.id, name: task.name, status, ...extra });
  }
}

/** A lone task tree (submitted tasks, no pipeline file) left `running` by an engine that died. */
async function isOrphanedLoneRun(store: Store, run: RunRow): Promise<boolean> {
  if (run.status !== "running" || run.specFile !== null || run.parentRunId !== null) return false;
  if (run.engineId === null && run.enginePid === null) return true;
  return !(await runOwner(store, run)).live;
}
