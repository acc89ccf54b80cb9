import fs from "node:fs";
import { BatonError, didYouMean } from "../errors.js";
import { commandSizeProblem } from "../executors/arg-limit.js";
import { MAX_NAME_LENGTH, NAME_PATTERN, NAME_RULE, nameFault } from "../spec/problems.js";
import { reservedTaskEnvProblem } from "../spec/reserved-env.js";
import { defaultName } from "../spec/task-name.js";
import type { PoolSpec } from "../spec/types.js";
import {
  type AttemptEnd,
  type NewRun,
  type NewTask,
  type RunRow,
  type RunStatus,
  type TaskDep,
  type TaskRow,
  type TaskState,
  type TaskStatus,
  isTerminal,
} from "../store/store.js";
import { newRunId, newTaskId, parseIdQuery } from "../util/ids.js";
import { plural } from "../util/plural.js";
import { type NodeOutcome, conditionHolds } from "./conditions.js";
import type { Engine, SubmitRequest } from "./engine.js";
import { isOwnerLive, ownerLabel } from "./ownership.js";
import { paramEnvName, paramEnvValue } from "./task-context.js";
import { type RunnableTask, type TaskOwner, TaskRunner } from "./task-runner.js";
import { applyTransition } from "./transitions.js";

/** How a submitted task runs; stored with it (`TaskRow.submit`) so a restarted engine can run it too. */
interface SubmitSpec {
  command: string;
  cwd: string;
  /** The user's variables (`-e`); older records hold the params' `BATON_PARAM_*` here too. */
  env: Record<string, string>;
  labels: Record<string, string>;
  retries: number;
  timeoutMs?: number;
  shard?: { id: number; total: number };
  /** The tasks of one batch (`baton submit --each`) share this key: they may start as one job array. */
  batch?: string;
}

/** What the submissions of one batch share. */
interface Batch {
  runId: string;
  parentId: string | null;
  key: string | undefined;
  /** Set when the batch has several submissions: {@link SubmitSpec.batch}. */
  group: string | undefined;
}

interface TreeTask {
  id: string;
  runId: string;
  name: string;
  parentId: string | null;
  pool: string;
  priority: number;
  status: TaskStatus;
  attempts: number;
  spec: SubmitSpec;
  /** Its params (`BATON_PARAM_*`). */
  params: Record<string, unknown>;
  outputDir: string;
  deps: TaskDep[];
  /** Dependencies that have not ended yet. */
  waiting: number;
  cancel?: () => void;
  cancelRequested?: boolean;
  retryTimer?: NodeJS.Timeout;
}

/**
 * Children of one parent task (a submitted task or a pipeline task) that have not ended. Kept
 * while the parent may still ask about them: dropped once they have all ended and the parent's
 * process has exited (it waited for them) or the parent itself has ended.
 */
interface Family {
  open: number;
  failed: number;
  waiters: Array<() => void>;
  /** The parent ended (here) while children were still open: the family goes with the last one. */
  parentEnded?: boolean;
}

/** What a {@link TaskTree} holds in memory (`Engine.stats`): all of it is for tasks not ended yet. */
export interface TaskTreeStats {
  /** Submitted tasks driven here that have not ended. */
  tasks: number;
  /** Tasks with children not all ended, or whose parent has not collected them yet. */
  families: number;
  /** Tasks waited on by submitted tasks that are pending. */
  dependencies: number;
  /** Lone task trees not ended. */
  loneRuns: number;
  /** Dependencies driven by another engine, looked up in the store. */
  foreign: number;
}

const BACKOFF_MS = 1000;
/** How often dependencies driven by another engine are looked up in the store. */
const FOREIGN_POLL_MS = 300;

/**
 * Tasks submitted on their own, Velda style (`baton submit`, `POST /tasks`, the SDK).
 *
 * A task submitted inside another (its `BATON_TASK_ID`) becomes that task's child, in the same
 * run; `after*` names refer to its siblings. A parent whose process exited 0 stays `running`
 * until all its children have ended, and fails if any of them failed; so a sibling with children
 * counts as done only when its whole subtree is. A task submitted outside any task starts a run
 * of its own (a lone task tree).
 */
export class TaskTree {
  private readonly tasks = new Map<string, TreeTask>();
  private readonly dependents = new Map<string, TreeTask[]>();
  private readonly families = new Map<string, Family>();
  /** Lone task trees: top-level tasks of each run not ended yet, and whether one failed. */
  private readonly loneRuns = new Map<string, { open: number; failed: boolean; cancelled: boolean }>();
  /** Dependencies not ended that another engine drives (see {@link pollForeignDependencies}). */
  private readonly foreign = new Set<string>();
  private foreignTimer: NodeJS.Timeout | undefined;
  /** Runs the attempts of submitted tasks (docs/architecture.md, "Task lifecycle"). */
  private readonly runner: TaskRunner<TreeTask>;

  constructor(
    private readonly engine: Engine,
    private pools: Record<string, PoolSpec>,
    private readonly defaultCwd: string,
  ) {
    this.runner = new TaskRunner(engine, this.taskOwner());
  }

  /** The lone task trees this tree drives (runs of their own), by run id. */
  loneRunIds(): string[] {
    return [...this.loneRuns.keys()];
  }

  /** What the task runner tells the tree, which keeps families, dependencies and lone runs. */
  private taskOwner(): TaskOwner<TreeTask> {
    return {
      runnable: (task) => this.runnable(task),
      mayRun: () => true,
      running: (task, attempt) => this.emitTask(task, { attempt }),
      waiting: (task, open) =>
        this.emitTask(task, { error: `waiting on ${plural(open, "child", "children")}` }),
      retrying: (task, exitCode, error) => this.emitTask(task, { exitCode, error }),
      endedElsewhere: (task, actual) => this.endedElsewhere(task, actual),
      ended: async (task, end) => {
        this.emitTask(task, { exitCode: end.exitCode, error: end.error });
        await this.settle(task);
      },
      guard: (task, work) => void this.guard(task, work),
    };
  }

  /** What running a submitted task takes. */
  private runnable(task: TreeTask): RunnableTask {
    return {
      runId: task.runId,
      command: task.spec.command,
      cwd: task.spec.cwd,
      params: task.params,
      userEnv: task.spec.env,
      shard: task.spec.shard,
      // Made where the task starts, not at submit: a server takes thousands of submissions a second.
      makeSharedDir: true,
      outputs: [],
      timeoutMs: task.spec.timeoutMs,
      retries: { limit: task.spec.retries, backoffMs: BACKOFF_MS },
      // A pool no longer configured (the server restarted with another baton.yaml): one slot.
      pool: this.pools[task.pool] ?? { name: task.pool, slots: 1, resources: {} },
      priority: task.priority,
      // The copies of one `submit -N` may start as one Slurm job array.
      ...(task.spec.shard ? { arrayGroup: `${task.runId}/-N` } : {}),
      // Likewise the tasks of one `submit --each`.
      ...(task.spec.batch ? { arrayGroup: `${task.runId}/${task.spec.batch}` } : {}),
    };
  }

  /** The pools new submissions may name (a server whose project file changed); queued tasks keep theirs. */
  setPools(pools: Record<string, PoolSpec>): void {
    this.pools = pools;
  }

  /** The pools submissions may name. */
  poolSpecs(): Record<string, PoolSpec> {
    return this.pools;
  }

  /** How much per-task state is held: none for tasks that have ended and whose family is settled. */
  stats(): TaskTreeStats {
    return {
      tasks: this.tasks.size,
      families: this.families.size,
      dependencies: this.dependents.size,
      loneRuns: this.loneRuns.size,
      foreign: this.foreign.size,
    };
  }

  /** Checks a submission whole, records it in one transaction, and starts what can start. */
  async submit(req: SubmitRequest): Promise<string[]> {
    return this.submitMany([req]);
  }

  /**
   * Several submissions as one (`baton submit --each`, `POST /tasks/batch`): each is checked as
   * {@link submit} checks one, then all are recorded in one transaction, under one run at the
   * top level (else in their parent's run), and may start as one Slurm job array. They share
   * their parent and idempotency key.
   */
  async submitMany(reqs: SubmitRequest[]): Promise<string[]> {
    const store = this.engine.store;
    const first = reqs[0];
    if (!first) return [];
    const key = first.idempotencyKey;
    const parentId = first.parentTaskId ?? null;
    if (reqs.some((r) => r.idempotencyKey !== key || (r.parentTaskId ?? null) !== parentId)) {
      throw new BatonError(
        "USAGE",
        "submit: the tasks of one batch must share their parent and idempotency key",
      );
    }
    if (key) {
      const earlier = await store.findTasksByIdempotencyKey(key);
      if (earlier.length > 0) return earlier.map((t) => t.id);
    }
    let parent: TaskRow | undefined;
    if (parentId) {
      parent = await store.getTask(parentId);
      if (!parent)
        throw new BatonError("USAGE", `submit: parent task ${parentId} (BATON_TASK_ID) does not exist`);
      if (isTerminal(parent.status)) {
        throw new BatonError(
          "USAGE",
          `submit: parent task ${parent.name} has already ended (${parent.status})`,
        );
      }
    }
    const runId = parent ? parent.runId : newRunId();
    const batch: Batch = { runId, parentId, key, group: reqs.length > 1 ? newTaskId() : undefined };
    const created: TreeTask[] = [];
    const rows: NewTask[] = [];
    const deps: TaskDep[] = [];
    const known: Array<{ task: TaskRow }> = [];
    let head: { name: string; cwd: string } | undefined;
    for (const [i, req] of reqs.entries()) {
      const prepared = await this.prepare(req, batch).catch((err) => {
        if (reqs.length === 1 || !(err instanceof BatonError)) throw err;
        // Which line of `--each` (entry of the batch) it was.
        throw new BatonError(
          err.code,
          `task ${i + 1} of ${reqs.length} (${req.name ?? req.command}): ${err.message}`,
          {
            cause: err,
            problems: err.problems,
            context: { ...err.context, index: i },
          },
        );
      });
      head ??= prepared;
      created.push(...prepared.created);
      rows.push(...prepared.rows);
      deps.push(...prepared.deps);
      known.push(...prepared.resolved);
    }
    const run: NewRun | null = parent
      ? null
      : {
          id: runId,
          pipeline: reqs.length > 1 ? `${head!.name} (${reqs.length})` : head!.name,
          params: {},
          options: {},
          workdir: head!.cwd,
          specFile: null,
          parentRunId: null,
          parentTaskId: null,
          createdAt: Date.now(),
          enginePid: process.pid,
          engineId: this.engine.id,
        };
    // A process stopped past its lease must not add tasks to runs another engine took over.
    await this.engine.confirmLease();
    try {
      await store.addSubmittedTasks(run, rows, deps);
    } catch (err) {
      // Another submission with the same idempotency key got there first: return its tasks.
      if (key && isUniqueViolation(err)) {
        const earlier = await store.findTasksByIdempotencyKey(key);
        if (earlier.length > 0) return earlier.map((t) => t.id);
      }
      throw err;
    }
    if (run) {
      this.engine.emit({
        type: "run-started",
        runId,
        pipeline: run.pipeline,
        parentTaskId: null,
        taskCount: rows.length,
      });
    }
    if (run) this.loneRuns.set(runId, { open: 0, failed: false, cancelled: false });
    for (const task of created) {
      // Read back by a `restore` of its run that ran meanwhile, which took it over whole.
      if (this.tasks.has(task.id)) continue;
      this.tasks.set(task.id, task);
      const lone = this.loneRuns.get(task.runId);
      if (lone && task.parentId === null) lone.open++;
      if (parentId) this.family(parentId).open++;
      for (const d of task.deps) {
        if (this.statusOf(d.needsTaskId, known) === undefined) {
          task.waiting++;
          const list = this.dependents.get(d.needsTaskId) ?? [];
          list.push(task);
          this.dependents.set(d.needsTaskId, list);
          if (!this.tasks.has(d.needsTaskId)) this.watchForeign(d.needsTaskId);
        }
      }
      this.emitTask(task);
      if (task.waiting === 0) void this.guard(task, this.ready(task));
    }
    return created.map((t) => t.id);
  }

  /** One submission of a batch, checked and turned into its task rows (not recorded yet). */
  private async prepare(req: SubmitRequest, batch: Batch) {
    const parentId = batch.parentId;
    const command = req.command?.trim();
    if (!command)
      throw new BatonError("USAGE", "submit: a command is required (`baton submit [flags] -- CMD...`)");
    const poolName = req.pool ?? "local";
    const pool = this.pools[poolName];
    if (!pool) throw unknownPool(poolName, Object.keys(this.pools));
    const shards = req.shards ?? 1;
    if (!Number.isInteger(shards) || shards < 1)
      throw new BatonError("USAGE", `submit: -N must be a whole number >= 1, got ${shards}`);
    const name = req.name?.trim() || defaultName(command);
    if (name.length > MAX_NAME_LENGTH) {
      throw submitProblem(
        "name",
        `-n "${name.slice(0, 40)}…" is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
      );
    }
    if (!isSubmitName(name)) {
      throw new BatonError(
        "USAGE",
        `submit: -n ${JSON.stringify(name)}: ${nameFault(name.replace(SUBMIT_EXTRA, "_"))} (a task name has ${NAME_RULE}; "." "[" "]" are allowed too)`,
      );
    }
    const cwd = req.cwd ?? this.defaultCwd;
    const env = { ...req.env };
    const params = req.params ?? {};
    checkSubmission(command, cwd, env, params, req.labels ?? {}, this.engine.taskEnv);

    const wanted: Array<[string, TaskDep["condition"]]> = [
      ...(req.afterSuccess ?? []).map((n) => [n, "success"] as [string, TaskDep["condition"]]),
      ...(req.afterFail ?? []).map((n) => [n, "failure"] as [string, TaskDep["condition"]]),
      ...(req.after ?? []).map((n) => [n, "always"] as [string, TaskDep["condition"]]),
    ];
    // Walked only for submissions that name dependencies (most do not).
    const ancestors = wanted.length > 0 ? await this.ancestorsOf(parentId) : new Set<string>();
    const resolved: Array<{ task: TaskRow; condition: TaskDep["condition"] }> = [];
    for (const [ref, condition] of wanted) {
      const flag = AFTER_FLAG[condition];
      for (const task of await this.resolveSiblings(parentId, ref, flag)) {
        if (ancestors.has(task.id)) {
          throw new BatonError(
            "USAGE",
            `submit: ${flag} ${ref} would wait for its own ancestor: that is a cycle`,
          );
        }
        resolved.push({ task, condition });
      }
    }

    const created: TreeTask[] = [];
    const rows: NewTask[] = [];
    const deps: TaskDep[] = [];
    for (let i = 0; i < shards; i++) {
      const id = newTaskId();
      const spec: SubmitSpec = {
        command,
        cwd,
        env,
        labels: req.labels ?? {},
        retries: req.retries ?? 0,
        timeoutMs: req.timeoutMs,
        ...(shards > 1 ? { shard: { id: i, total: shards } } : {}),
        ...(batch.group ? { batch: batch.group } : {}),
      };
      const taskDeps = resolved.map((d) => ({ taskId: id, needsTaskId: d.task.id, condition: d.condition }));
      const task: TreeTask = {
        id,
        runId: batch.runId,
        name: shards > 1 ? `${name}[${i}]` : name,
        parentId,
        pool: poolName,
        priority: req.priority ?? 0,
        status: "pending",
        attempts: 0,
        spec,
        params,
        outputDir: this.engine.layout.outputDir(batch.runId, id),
        deps: taskDeps,
        waiting: 0,
      };
      created.push(task);
      deps.push(...taskDeps);
      rows.push({
        id,
        runId: batch.runId,
        name: task.name,
        node: null,
        parentId,
        status: "pending",
        pool: poolName,
        priority: task.priority,
        params,
        item: spec.shard,
        outputDir: task.outputDir,
        command,
        submit: spec as unknown as Record<string, unknown>,
        idempotencyKey: batch.key ?? null,
      });
    }
    return { name, cwd, created, rows, deps, resolved };
  }

  /**
   * Takes over the submitted tasks of run `runId` after the engine that drove them died
   * (`baton server` at start, `baton resume`): the run must already be claimed for this engine.
   * `rows` are the run's tasks as recorded (pipeline tasks among them are left to their
   * `RunController`); with `loneRun`, the run is a lone task tree, which this tree ends once its
   * top-level tasks have.
   *
   * The bookkeeping is rebuilt first (families with their open and failed children, sibling
   * dependencies still waiting, the lone tree's open tasks); only then does anything move. Per
   * task: an ended task stays as it is; a `running` one is adopted (see {@link adoptAttempt}):
   * a live process is watched to its end, an exit status written meanwhile is taken, a lost
   * attempt counts as an attempt and is retried under the task's `--retries`, one that never
   * started runs now; a `queued` one waits for a slot again; a `pending` one runs once its
   * dependencies allow. A parent whose process has exited still waits for its children.
   */
  async restore(runId: string, rows: TaskRow[], loneRun?: RunRow): Promise<void> {
    if (this.loneRuns.has(runId))
      throw new BatonError("USAGE", `run ${runId} is already driven by this engine`);
    // A task may have submitted a child since its engine came back up (the API listens before
    // runs are resumed): that one is driven here already.
    const submitted = rows.filter((r) => r.node === null && r.submit !== null && !this.tasks.has(r.id));
    let lone: { open: number; failed: boolean; cancelled: boolean } | undefined;
    if (loneRun) {
      const top = submitted.filter((r) => r.parentId === null);
      lone = {
        open: top.filter((r) => !isTerminal(r.status)).length,
        failed: top.some((r) => r.status === "failed"),
        cancelled: top.some((r) => r.status === "cancelled"),
      };
      if (lone.open === 0) {
        // Its engine died after the last task ended but before the run did.
        await this.finishLoneRun(runId, lone);
        return;
      }
    }
    const statusOf = new Map(rows.map((r) => [r.id, r.status]));
    const open: Array<{ task: TreeTask; readable: boolean }> = [];
    const attemptStart = new Map(rows.map((r) => [r.id, r.startedAt ?? 0]));
    for (const row of submitted) {
      if (isTerminal(row.status)) {
        // A child that failed under its parent's current attempt fails that parent too (children
        // of earlier attempts went with them).
        const parent = row.parentId;
        if (
          parent &&
          statusOf.get(parent) === "running" &&
          failsParent(row.status) &&
          row.createdAt >= (attemptStart.get(parent) ?? 0)
        )
          this.family(parent).failed++;
        continue;
      }
      const spec = storedSubmitSpec(row.submit!, this.defaultCwd);
      const task: TreeTask = {
        id: row.id,
        runId,
        name: row.name,
        parentId: row.parentId,
        pool: row.pool,
        priority: row.priority,
        status: row.status,
        attempts: row.attempts,
        spec: spec ?? { command: row.command ?? "", cwd: this.defaultCwd, env: {}, labels: {}, retries: 0 },
        params: row.params,
        outputDir: row.outputDir,
        deps: [],
        waiting: 0,
      };
      this.tasks.set(task.id, task);
      if (task.parentId) this.family(task.parentId).open++;
      open.push({ task, readable: spec !== undefined });
    }
    // Children still open under a parent that has ended (skipped, or cancelled while they ran):
    // their family goes with the last of them.
    for (const { task } of open) {
      const parent = task.parentId ? statusOf.get(task.parentId) : undefined;
      if (parent !== undefined && isTerminal(parent)) this.family(task.parentId!).parentEnded = true;
    }
    for (const { task } of open) {
      task.deps = await this.engine.store.listTaskDeps(task.id);
      for (const d of task.deps) {
        // Top-level siblings are runs of their own, perhaps restored after this one: a
        // dependency not ended yet is waited for, wherever it is.
        const status =
          this.tasks.get(d.needsTaskId)?.status ??
          statusOf.get(d.needsTaskId) ??
          (await this.engine.store.getTask(d.needsTaskId))?.status;
        if (status === undefined || isTerminal(status)) continue; // judged when the task is ready
        task.waiting++;
        const list = this.dependents.get(d.needsTaskId) ?? [];
        list.push(task);
        this.dependents.set(d.needsTaskId, list);
        if (!this.tasks.has(d.needsTaskId)) this.watchForeign(d.needsTaskId);
      }
    }
    if (loneRun && lone) {
      this.loneRuns.set(runId, lone);
      this.engine.emit({
        type: "run-started",
        runId,
        pipeline: loneRun.pipeline,
        parentTaskId: null,
        taskCount: open.length,
      });
    }

    // Processes are looked for (and lost attempts closed) before anything may end.
    const followUps: Array<{ task: TreeTask; run: () => Promise<void> }> = [];
    for (const { task, readable } of open) {
      if (!readable) continue;
      if (task.status === "running") {
        const followUp = await this.runner.adopt(task);
        if (followUp) followUps.push({ task, run: followUp });
      }
    }
    for (const { task, readable } of open) {
      this.emitTask(task);
      if (!readable) {
        const why = "cannot be resumed: its submission was recorded without a command";
        void this.guard(task, this.complete(task, null, "failed", null, {}, [], why));
      } else if (task.status === "queued") this.enqueue(task);
      else if (task.status === "pending" && task.waiting === 0) void this.guard(task, this.ready(task));
    }
    for (const { task, run } of followUps) void this.guard(task, run());
  }

  /**
   * Resolves when every child of `parentId` has ended, with how many failed. Pipeline tasks
   * call this after their process succeeds, so that their children finish first. The parent's
   * process has exited, so it submits no more children: the family is forgotten then.
   */
  waitForChildren(parentId: string): Promise<{ failed: number }> | { failed: number } {
    const f = this.families.get(parentId);
    if (!f || f.open === 0) {
      this.families.delete(parentId);
      return { failed: f?.failed ?? 0 };
    }
    return new Promise((resolve) =>
      f.waiters.push(() => {
        if (this.families.get(parentId) === f) this.families.delete(parentId);
        resolve({ failed: f.failed });
      }),
    );
  }

  /**
   * What a failed attempt submitted goes with it: its children are cancelled and waited for,
   * and their count is dropped, so that a retry is judged by its own children only.
   */
  async dropChildren(parentId: string): Promise<void> {
    this.cancelChildren(parentId);
    await this.waitForChildren(parentId);
    this.families.delete(parentId);
  }

  /** Number of children of `parentId` still running or waiting. */
  openChildren(parentId: string): number {
    return this.families.get(parentId)?.open ?? 0;
  }

  /** Cancels a submitted task and its whole subtree. Returns false if the task is not driven here. */
  cancel(taskId: string): boolean {
    const task = this.tasks.get(taskId);
    this.cancelChildren(taskId);
    if (!task) return false;
    void this.guard(task, this.cancelOne(task));
    return true;
  }

  /** Cancels every child (and their children) of a task. */
  cancelChildren(parentId: string): void {
    for (const t of this.tasks.values()) if (t.parentId === parentId) this.cancel(t.id);
  }

  /** Cancels everything submitted here that has not ended. */
  async cancelAll(): Promise<void> {
    const open = [...this.tasks.values()].filter((t) => !isTerminal(t.status));
    // Out of the pools in one pass: one pass per task made stopping a server with thousands queued quadratic.
    const queued = new Set(open.filter((t) => t.status === "queued").map((t) => t.id));
    if (queued.size > 0) this.engine.dequeue((w) => queued.has(w.taskId));
    for (const t of open) await this.cancelOne(t, !queued.has(t.id));
  }

  private async cancelOne(task: TreeTask, dequeue = true): Promise<void> {
    if (isTerminal(task.status) || this.runner.interrupt(task, dequeue)) return;
    await this.endWithoutRunning(task, "cancelled", "cancelled");
  }

  private async resolveSiblings(parentId: string | null, ref: string, flag: string): Promise<TaskRow[]> {
    const store = this.engine.store;
    // A whole task id: `task_<ULID>`, or a bare ULID (of a new id, or an older database's id).
    const id = parseIdQuery(ref);
    const byId =
      id.ok && id.ulid.length === 26 && id.kinds.includes("task")
        ? ((await store.getTask(`task_${id.ulid}`)) ?? (await store.getTask(id.ulid)))
        : undefined;
    if (byId && byId.parentId === parentId) return [byId];
    const byName = await store.findSiblings(parentId, ref);
    if (byName.length > 0) return byName;
    const names = await store.listSiblingNames(parentId, 50);
    const hint = didYouMean(ref, names);
    const scope = parentId
      ? "among the tasks submitted by the same parent"
      : "among top-level submitted tasks";
    throw new BatonError(
      "USAGE",
      `submit: ${flag} ${ref}: no task named "${ref}" ${scope}${hint ? ` (did you mean "${hint}"?)` : ""}${
        names.length ? `; known: ${names.slice(0, 10).join(", ")}` : ""
      }`,
    );
  }

  private async ancestorsOf(taskId: string | null): Promise<Set<string>> {
    const out = new Set<string>();
    let id = taskId;
    while (id && !out.has(id)) {
      out.add(id);
      id = (await this.engine.store.getTask(id))?.parentId ?? null;
    }
    return out;
  }

  /**
   * Status of a dependency if it has ended, else undefined. One that ended here since it was
   * read from the store is not remembered: it is watched like another engine's task, whose end
   * the store shows (see {@link pollForeignDependencies}).
   */
  private statusOf(taskId: string, known: Array<{ task: TaskRow }>): TaskStatus | undefined {
    const live = this.tasks.get(taskId);
    if (live) return isTerminal(live.status) ? live.status : undefined;
    const row = known.find((k) => k.task.id === taskId)?.task;
    return row && isTerminal(row.status) ? row.status : undefined;
  }

  private family(parentId: string): Family {
    let f = this.families.get(parentId);
    if (!f) {
      f = { open: 0, failed: 0, waiters: [] };
      this.families.set(parentId, f);
    }
    return f;
  }

  /** All dependencies ended: run the task, or skip it if a condition cannot hold. */
  private async ready(task: TreeTask): Promise<void> {
    if (task.status !== "pending") return;
    for (const d of task.deps) {
      const live = this.tasks.get(d.needsTaskId);
      const row = live ? undefined : await this.engine.store.getTask(d.needsTaskId);
      const status = live?.status ?? row?.status;
      const outcome = outcomeOf(status ?? "cancelled");
      if (!conditionHolds(d.condition, outcome)) {
        // Named as the user named it (`--after-success train`); the id tells apart shards and namesakes.
        const name = live?.name ?? row?.name;
        const other = name ? `${name} (${d.needsTaskId})` : d.needsTaskId;
        await this.endWithoutRunning(
          task,
          "skipped",
          `needs ${other} to end in ${d.condition}, but it ${outcome}`,
        );
        return;
      }
    }
    // Its params stay what it was submitted with: the task view (and a clone) lists them.
    await this.engine.store.queueTask(task.id, task.spec.command, task.params);
    task.status = "queued";
    this.emitTask(task);
    this.enqueue(task);
  }

  private enqueue(task: TreeTask): void {
    this.runner.enqueue(task);
  }

  private async complete(
    task: TreeTask,
    attempt: { number: number; end: AttemptEnd } | null,
    status: "succeeded" | "failed" | "cancelled",
    exitCode: number | null,
    metrics: Record<string, unknown>,
    outputs: Array<{ path: string; sha256: string; size: number }>,
    error: string | null,
  ): Promise<void> {
    await this.runner.finish(task, attempt, { status, exitCode, error, metrics, outputs });
  }

  private async endWithoutRunning(
    task: TreeTask,
    status: "skipped" | "cancelled",
    reason: string,
  ): Promise<void> {
    if (isTerminal(task.status)) return;
    const write = this.engine.store.endTaskWithoutRunning(task.id, status, reason, Date.now());
    if (!(await applyTransition(write, task, (actual) => this.endedElsewhere(task, actual)))) return;
    task.status = status;
    this.emitTask(task, { error: reason });
    await this.settle(task);
  }

  /** The store says the task ended (`actual`) while this tree was about to end it otherwise. */
  private async endedElsewhere(task: TreeTask, actual: TaskStatus): Promise<void> {
    task.status = actual;
    this.emitTask(task);
    await this.settle(task);
  }

  /**
   * A task ended: its parent has one child fewer, its dependents one dependency fewer, a lone
   * tree's run ends. Nothing about it stays in memory: whoever asks later reads the store.
   */
  private async settle(task: TreeTask): Promise<void> {
    this.tasks.delete(task.id);
    const own = this.families.get(task.id);
    if (own) {
      if (own.open === 0) this.families.delete(task.id);
      else own.parentEnded = true;
    }
    if (task.parentId) {
      const f = this.family(task.parentId);
      f.open--;
      if (failsParent(task.status)) f.failed++;
      if (f.open === 0) {
        for (const w of f.waiters.splice(0)) w();
        if (f.parentEnded && this.families.get(task.parentId) === f) this.families.delete(task.parentId);
      }
    }
    this.dependencyEnded(task.id);
    const lone = task.parentId === null ? this.loneRuns.get(task.runId) : undefined;
    if (lone) {
      lone.open--;
      lone.failed ||= task.status === "failed";
      lone.cancelled ||= task.status === "cancelled";
      if (lone.open === 0) {
        this.loneRuns.delete(task.runId);
        await this.finishLoneRun(task.runId, lone);
      }
    }
  }

  /** A task ended (here or, watched, in another engine): its dependents have one dependency fewer. */
  private dependencyEnded(taskId: string): void {
    const waiting = this.dependents.get(taskId) ?? [];
    this.dependents.delete(taskId);
    for (const next of waiting) {
      next.waiting--;
      if (next.waiting === 0) void this.guard(next, this.ready(next));
    }
  }

  private watchForeign(taskId: string): void {
    this.foreign.add(taskId);
    if (this.foreignTimer) return;
    this.foreignTimer = setTimeout(() => void this.pollForeignDependencies(), FOREIGN_POLL_MS);
    // The engine's API or server keeps the process up; this timer alone must not.
    this.foreignTimer.unref();
  }

  /**
   * Tasks waiting on a task that another live engine drives (two embedded `baton submit`s in one
   * folder, each with its own engine): while there are any, the dependencies are looked up in
   * the store, all in one query, every {@link FOREIGN_POLL_MS}. One that has ended settles its
   * dependents as a task ended here would (they run, or are skipped). One whose run's engine is
   * gone (the process died without ending it) would never end: its dependents fail at once,
   * saying which engine is gone and that `baton resume RUN` continues that run.
   */
  private async pollForeignDependencies(): Promise<void> {
    this.foreignTimer = undefined;
    // Dropped: dependencies nobody waits on any more, and those now driven here (a restore).
    for (const id of this.foreign)
      if (!this.dependents.has(id) || this.tasks.has(id)) this.foreign.delete(id);
    if (this.foreign.size === 0) return;
    let states: TaskState[] = [];
    try {
      states = await this.engine.store.getTaskStates([...this.foreign]);
    } catch (err) {
      process.stderr.write(`baton: cannot look up dependencies in the store: ${(err as Error).message}\n`);
    }
    for (const state of states) {
      if (!this.foreign.has(state.id) || this.tasks.has(state.id)) continue;
      if (isTerminal(state.status)) {
        this.foreign.delete(state.id);
        this.dependencyEnded(state.id);
      } else if (engineGone(state)) {
        this.foreign.delete(state.id);
        const waiting = this.dependents.get(state.id) ?? [];
        this.dependents.delete(state.id);
        const engine =
          state.runStatus !== "running"
            ? `run has ${state.runStatus}`
            : state.enginePid === null && state.engineId === null
              ? "run has no engine"
              : `${ownerLabel(state, state.engine)} is gone`;
        const why = `needs ${state.name} (task ${state.id}), which is ${state.status} but whose ${engine}: it will not end until \`baton resume ${state.runId}\` continues its run; submit this task again then`;
        for (const next of waiting) {
          if (next.status === "pending")
            void this.guard(next, this.complete(next, null, "failed", null, {}, [], why));
        }
      }
    }
    if (this.foreign.size > 0 && !this.foreignTimer) {
      this.foreignTimer = setTimeout(() => void this.pollForeignDependencies(), FOREIGN_POLL_MS);
      this.foreignTimer.unref();
    }
  }

  /** A lone task tree ended: it failed if a top-level task failed. */
  private async finishLoneRun(runId: string, lone: { failed: boolean; cancelled: boolean }): Promise<void> {
    const status: RunStatus = lone.failed ? "failed" : lone.cancelled ? "cancelled" : "succeeded";
    await this.engine.store.finishRun(runId, status, Date.now());
    this.engine.emit({ type: "run-ended", runId, status });
  }

  private emitTask(
    task: TreeTask,
    extra: { attempt?: number; exitCode?: number | null; error?: string | null } = {},
  ): void {
    this.engine.emit({
      type: "task",
      runId: task.runId,
      taskId: task.id,
      name: task.name,
      status: task.status,
      ...extra,
    });
  }

  /** A failure inside the tree's own bookkeeping fails the task loudly instead of hanging it. */
  private async guard(task: TreeTask, p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (err) {
      process.stderr.write(`baton: internal error on task ${task.id}: ${(err as Error).stack ?? err}\n`);
      if (!isTerminal(task.status)) {
        task.status = "failed";
        await this.settle(task).catch(() => undefined);
      }
    }
  }
}

/** Whether the run of a task not ended has no live engine to end it. */
function engineGone(state: TaskState): boolean {
  if (state.runStatus !== "running") return true;
  return !isOwnerLive(state, state.engine);
}

/** A submission refused because of one of its fields (`cwd`, `labels.team`): exit 2, HTTP 400 naming it. */
function submitProblem(field: string, message: string): BatonError {
  return new BatonError("USAGE", `submit: ${field}: ${message}`, { problems: [{ path: field, message }] });
}

/** Longest label value, in characters (keys are names: {@link MAX_NAME_LENGTH}). */
const MAX_LABEL_VALUE_LENGTH = 1000;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * What would only fail later, checked before anything is recorded: a working directory that is
 * not there (it failed at spawn as "spawn /bin/bash ENOENT"), a command and environment larger
 * than the system takes (E2BIG at spawn), NUL bytes the OS cannot pass, labels of any length.
 */
function checkSubmission(
  command: string,
  cwd: string,
  env: Record<string, string>,
  params: Record<string, unknown>,
  labels: Record<string, string>,
  engineEnv: Record<string, string>,
): void {
  if (command.includes("\0"))
    throw submitProblem("command", "contains a NUL character, which no process can be given");
  if (cwd.includes("\0")) throw submitProblem("cwd", "contains a NUL character");
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(cwd);
  } catch {
    throw submitProblem("cwd", `working directory ${cwd} does not exist`);
  }
  if (!stat.isDirectory()) throw submitProblem("cwd", `working directory ${cwd} is not a directory`);
  for (const [key, value] of Object.entries(env)) {
    if (key === "" || key.includes("=") || key.includes("\0"))
      throw submitProblem(
        `env.${key}`,
        `"${key.slice(0, 40)}" is not a variable name (no "=", no NUL, not empty)`,
      );
    if (value.includes("\0")) throw submitProblem(`env.${key}`, "the value contains a NUL character");
    const reserved = reservedTaskEnvProblem(key);
    if (reserved) throw submitProblem(`env.${key}`, reserved);
  }
  for (const [key, value] of Object.entries(labels)) {
    if (key.length > MAX_NAME_LENGTH)
      throw submitProblem(
        "labels",
        `label "${key.slice(0, 40)}…" is ${key.length} characters long; the limit is ${MAX_NAME_LENGTH}`,
      );
    if (key === "" || CONTROL_CHARACTER.test(key))
      throw submitProblem(`labels.${key}`, "a label name must not be empty or hold control characters");
    if (value.length > MAX_LABEL_VALUE_LENGTH)
      throw submitProblem(
        `labels.${key}`,
        `the value is ${value.length} characters long; the limit is ${MAX_LABEL_VALUE_LENGTH}`,
      );
    if (CONTROL_CHARACTER.test(value))
      throw submitProblem(`labels.${key}`, "the value holds control characters");
  }
  const paramEnv = Object.fromEntries(
    Object.entries(params).map(([k, v]) => [paramEnvName(k), paramEnvValue(v)]),
  );
  const tooBig = commandSizeProblem(command, { ...process.env, ...engineEnv, ...env, ...paramEnv });
  if (tooBig) throw submitProblem(Buffer.byteLength(command) > 100_000 ? "command" : "env", tooBig);
}

/** Whether a child that ended so makes its parent fail (as {@link TaskTree} counts in a family). */
function failsParent(status: TaskStatus): boolean {
  return status === "failed" || status === "cancelled";
}

/** A submission as recorded (`TaskRow.submit`), with defaults for what older records lack. */
function storedSubmitSpec(stored: Record<string, unknown>, defaultCwd: string): SubmitSpec | undefined {
  const s = stored as Partial<SubmitSpec>;
  if (typeof s.command !== "string" || s.command.trim() === "") return undefined;
  return {
    command: s.command,
    cwd: typeof s.cwd === "string" ? s.cwd : defaultCwd,
    env: s.env ?? {},
    labels: s.labels ?? {},
    retries: typeof s.retries === "number" ? s.retries : 0,
    timeoutMs: typeof s.timeoutMs === "number" ? s.timeoutMs : undefined,
    ...(s.shard ? { shard: s.shard } : {}),
  };
}

function outcomeOf(status: TaskStatus): NodeOutcome {
  if (status === "succeeded" || status === "cached") return "succeeded";
  if (status === "failed") return "failed";
  if (status === "skipped") return "skipped";
  return "cancelled";
}

/** The flag that asks for each dependency condition, to name it back in messages. */
const AFTER_FLAG: Record<TaskDep["condition"], string> = {
  success: "--after-success",
  failure: "--after-fail",
  always: "--after",
};

/** A pool nobody declared: how to declare it, and where to see the ones there are. */
export function unknownPool(name: string, known: string[]): BatonError {
  const hint = didYouMean(name, known);
  const slots = /-(\d+)$/.exec(name)?.[1] ?? "1";
  return new BatonError(
    "USAGE",
    `submit: unknown pool "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; pools: ${known.join(", ")}. ` +
      `Declare it in baton.yaml:\n  pools:\n    ${name}: { slots: ${slots} }\n` +
      "(`baton pools` lists the pools there are)",
  );
}

/** Characters a submitted task's name may hold besides those of a name (`train.v2`, `shard[0]`). */
const SUBMIT_EXTRA = /[.[\]]/g;

/** Whether `-n NAME` is acceptable: a name (`Train model (MNIST)`), where `.`, `[`, `]` are allowed too. */
function isSubmitName(name: string): boolean {
  return NAME_PATTERN.test(name.replace(SUBMIT_EXTRA, "_"));
}

/** A unique index refused a row (SQLite's code is on the store error's cause; PostgreSQL's is 23505). */
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return e.cause?.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "23505";
}
