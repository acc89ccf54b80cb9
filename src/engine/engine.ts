import os from "node:os";
import { ContentStore } from "../artifacts/cas.js";
import { UrlInputs } from "../artifacts/url-inputs.js";
import { BatonError, ensureBatonError } from "../errors.js";
import type { Executor, StartAhead } from "../executors/executor.js";
import { type TaskLimits, limitsFromEnv } from "../spec/limits.js";
import type { PoolSpec, ProjectSpec } from "../spec/types.js";
import {
  type ApprovalDecision,
  type RunRow,
  type RunStatus,
  type Store,
  type TaskStatus,
  engineLeaseMs,
} from "../store/store.js";
import { newEngineId } from "../util/ids.js";
import type { StateLayout } from "./layout.js";
import { Notifier } from "./notify/notifier.js";
import { bootId, ownerLiveness } from "./ownership.js";
import { PoolQueue } from "./pool-queue.js";
import { RunController, type RunOptions } from "./run-controller.js";
import { HoldBoard, recordedController } from "./step-hooks.js";
import { TaskTree, type TaskTreeStats } from "./task-tree.js";

/** What the engine tells its listeners (progress display, server events). */
export type EngineEvent =
  | { type: "run-started"; runId: string; pipeline: string; parentTaskId: string | null; taskCount: number }
  | {
      type: "task";
      runId: string;
      taskId: string;
      name: string;
      status: TaskStatus;
      /** Attempt number for `running`; exit code or reason for ends. */
      attempt?: number;
      exitCode?: number | null;
      error?: string | null;
      /** A `running` task whose attempt waits in its executor's queue shows as `queued`, with why. */
      queueReason?: string | null;
      /** New tasks appear with `pending` or later when a node is expanded. */
    }
  | { type: "tasks-added"; runId: string; count: number }
  | { type: "run-ended"; runId: string; status: RunStatus; error?: string | null };

export interface EngineOptions {
  store: Store;
  executor: Executor;
  layout: StateLayout;
  /** Extra environment for every task (e.g. `BATON_URL`, `BATON_TOKEN` so nested submits work). */
  taskEnv?: Record<string, string>;
  /** Pools for submitted tasks (a pipeline run uses its file's pools). Default: `local` with one slot per CPU. */
  pools?: Record<string, PoolSpec>;
  /** Where submitted tasks run unless they say otherwise. */
  workdir?: string;
  /**
   * The most tasks a node and a run may expand to. Default: BATON_MAX_TASKS_PER_NODE and
   * BATON_MAX_TASKS_PER_RUN, or 100,000 each.
   */
  limits?: TaskLimits;
  /** How long the engine's lease lasts (renewed every third of it). Default: BATON_ENGINE_LEASE_MS, or 20 s. */
  leaseMs?: number;
  /**
   * Called when this engine's lease expired (it was stopped or starved longer than the lease) and
   * another engine has taken over some of its runs: it must not go on driving them. By default
   * the process says so on stderr and exits with code 1; its task processes keep running and
   * are adopted by the engine that took the runs over.
   */
  onLeaseLost?: (runIds: string[]) => void;
}

/** How soon a pool that another engine fills is asked again for a slot. */
const SLOT_RETRY_MS = 200;

/**
 * How long a slot whose work ended is kept for the next work of its pool before it goes back to
 * the store. In a chain, the next task is queued about a millisecond after its upstream ends; it
 * then takes the slot over without asking the store for one (a commit and a turn of the loop).
 */
const SLOT_LINGER_MS = 10;

/**
 * A pool whose work lately lasted less than this (on average, over at least
 * {@link ARM_AFTER_ENDS} ends; `BATON_START_AHEAD_MS`, 0 to turn it off) has its next work
 * started ahead, one per busy slot: recorded
 * `running` while the slots' tasks still run, so that when one ends the next process starts at
 * once, with nothing to write first. Tasks of a few milliseconds then follow each other as
 * closely as under make; a task of this length shown `running` a moment early is no one's loss,
 * and pools of longer tasks never do it.
 */
const ARM_AHEAD_MS = envMs("BATON_START_AHEAD_MS", 25);
const ARM_AFTER_ENDS = 8;

function envMs(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return process.env[name] !== undefined && process.env[name] !== "" && Number.isFinite(value) && value >= 0
    ? value
    : fallback;
}

/**
 * A task submitted on its own (`baton submit`, `POST /tasks`, the SDK), Velda style. Inside a
 * task (`parentTaskId` set) it becomes that task's child and `after*` names refer to siblings.
 */
export interface SubmitRequest {
  /** Display name; also what siblings name in `after*`. Default: the command's first word. */
  name?: string;
  /** Shell command, run by `bash -eo pipefail -c`. */
  command: string;
  pool?: string;
  /** Sibling names (or task ids) that must succeed / fail / end first. */
  afterSuccess?: string[];
  afterFail?: string[];
  after?: string[];
  env?: Record<string, string>;
  /** Params the task sees as BATON_PARAM_<NAME> (and that `show` and the API list). */
  params?: Record<string, unknown>;
  labels?: Record<string, string>;
  priority?: number;
  /** Start this many copies with BATON_SHARD_ID / BATON_TOTAL_SHARDS. */
  shards?: number;
  retries?: number;
  timeoutMs?: number;
  /** The submitting task (BATON_TASK_ID), which becomes the parent. */
  parentTaskId?: string;
  /** Working directory; default the engine's. */
  cwd?: string;
  /** Same key twice returns the tasks of the first submission instead of starting new ones. */
  idempotencyKey?: string;
}

/** A unit of work waiting for a pool slot. `start` resolves when the slot can be given back. */
export interface QueuedWork {
  taskId: string;
  /**
   * Runs the work in its slot. With `ahead`, the work is started ahead of its slot (see
   * {@link Engine.armAhead}): it records its attempt and gets ready at once, and starts its
   * process only once `ahead.go` resolves (or when the task `ahead.after` ends, if its executor
   * sees that first).
   */
  start: (ahead?: StartAhead) => Promise<void>;
}

/** See {@link Engine.stats}. */
export interface EngineStats {
  /** Pipeline runs driven here that have not ended. */
  runs: number;
  tree: TaskTreeStats;
  /** Pools used since the engine started (by name: as many as the project declares). */
  pools: number;
  /** Tasks waiting for a slot, in all pools. */
  queued: number;
  /** Slots in use. */
  running: number;
  /** Event listeners (progress display, open event streams). */
  listeners: number;
}

/** A pool as `baton pools` shows it. */
export interface PoolUsage {
  name: string;
  slots: number;
  /** Slots taken by running tasks, of every engine sharing the store. */
  inUse: number;
  /** Tasks waiting for a slot. */
  queued: number;
  /** False for a pool still used by queued or running tasks but no longer in the project file. */
  declared: boolean;
}

/**
 * The engine: pools of slots shared by every run it drives, the executor, the store, and the
 * content store. Runs are driven by {@link RunController}s; the engine only hands out slots.
 */
export class Engine {
  /** `eng_<ULID>`: this engine in the store, owner of the runs it drives and of its pool slots. */
  readonly id = newEngineId();
  readonly store: Store;
  readonly executor: Executor;
  readonly layout: StateLayout;
  readonly cas: ContentStore;
  /** `http(s)://` inputs, downloaded once into the content store (src/artifacts/url-inputs.ts). */
  readonly urlInputs: UrlInputs;
  readonly taskEnv: Record<string, string>;
  /** The most tasks a node and a run may expand to (checked before anything is recorded). */
  readonly limits: TaskLimits;
  /**
   * Resolved when tasks may start (e.g. once the embedded API that `BATON_URL` points at is
   * listening). Cache hits and planning never wait for it.
   */
  launchGate: Promise<unknown> = Promise.resolve();
  /** Tasks submitted on their own (Velda style), and the parent/child bookkeeping of every task. */
  readonly tree: TaskTree;
  /** Tasks of runs with controller hooks, waiting for the controller's answer (see step-hooks.ts). */
  readonly holds = new HoldBoard();
  /** Sends the `notify:` entries of the runs this engine drives (engine/notify/). */
  readonly notifier: Notifier;
  private readonly pools = new Map<string, PoolQueue<QueuedWork>>();
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly controllers = new Set<RunController>();
  /** How long this engine's lease lasts; renewed every third of it. */
  readonly leaseMs: number;
  /** Until when this engine's lease holds, by its own clock (the expiry it last recorded). */
  private leaseUntil = 0;
  private renewing: Promise<void> | undefined;
  /** Set once another engine took over runs of this one after its lease expired. */
  private leaseLost = false;
  private readonly onLeaseLost: (runIds: string[]) => void;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Pools being asked for slots, and pools waiting to ask again (another engine fills them). */
  private readonly claiming = new Map<PoolQueue<QueuedWork>, Set<QueuedWork>>();
  private readonly slotRetry = new Map<PoolQueue<QueuedWork>, NodeJS.Timeout>();
  /** Per pool, when its idle slots go back to the store (see {@link SLOT_LINGER_MS}). */
  private readonly slotLinger = new Map<PoolQueue<QueuedWork>, NodeJS.Timeout>();
  private readonly poolNames = new Map<PoolQueue<QueuedWork>, string>();

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.executor = options.executor;
    this.layout = options.layout;
    this.cas = new ContentStore(options.layout.cas);
    this.urlInputs = new UrlInputs(this.cas);
    this.taskEnv = options.taskEnv ?? {};
    this.limits = options.limits ?? limitsFromEnv(process.env);
    const pools = options.pools ?? {
      local: { name: "local", slots: os.availableParallelism(), resources: {} },
    };
    this.tree = new TaskTree(this, pools, options.workdir ?? process.cwd());
    this.leaseMs = options.leaseMs ?? engineLeaseMs();
    this.onLeaseLost = options.onLeaseLost ?? exitOnLeaseLost;
    this.notifier = new Notifier({
      store: this.store,
      workspace: this.executor.workspace,
      engineId: this.id,
    });
    this.register();
  }

  /**
   * Records this engine in the store with its lease, and renews the lease on a timer that does
   * not keep the process alive. Writes of one turn are applied in order, so anything this engine
   * records later finds it registered.
   */
  private register(): void {
    const now = Date.now();
    this.leaseUntil = now + this.leaseMs;
    void this.store
      .registerEngine({
        id: this.id,
        host: os.hostname(),
        bootId: bootId(),
        pid: process.pid,
        startedAt: now,
        leaseExpiresAt: this.leaseUntil,
      })
      .catch((err) => process.stderr.write(`baton: cannot register the engine: ${(err as Error).message}\n`));
    this.leaseTimer = setInterval(
      () => {
        this.renewLease().catch(() => {
          // The database is away for a moment (tried again at the next tick), or the store was
          // closed by the engine's owner shutting down (then `close` stops the timer).
        });
      },
      Math.max(1, Math.floor(this.leaseMs / 3)),
    );
    this.leaseTimer.unref();
  }

  /**
   * Renews the lease. When it had already expired by this engine's own clock (the process was
   * stopped, suspended, or starved for longer than the lease), another engine may have taken
   * its runs over meanwhile: those are checked first, and if any is now driven elsewhere the
   * engine must not go on with them ({@link EngineOptions.onLeaseLost}).
   */
  private renewLease(): Promise<void> {
    this.renewing ??= (async () => {
      const now = Date.now();
      if (now >= this.leaseUntil) {
        const lost = await this.runsTakenOver();
        if (lost.length > 0) {
          clearInterval(this.leaseTimer);
          this.leaseLost = true;
          this.onLeaseLost(lost);
          return;
        }
      }
      const until = now + this.leaseMs;
      if (await this.store.renewEngineLease(this.id, until)) this.leaseUntil = until;
    })().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** Root runs this engine drives that the store says another engine drives now. */
  private async runsTakenOver(): Promise<string[]> {
    const ids = new Set([...this.controllers].map((c) => c.runId));
    for (const id of this.tree.loneRunIds()) ids.add(id);
    const lost: string[] = [];
    for (const id of ids) {
      const run = await this.store.getRun(id);
      if (run && run.parentRunId === null && run.engineId !== null && run.engineId !== this.id) lost.push(id);
    }
    return lost;
  }

  /**
   * Resolves when this engine may start a process: at once while its lease holds by its own
   * clock; after a renewal when it has expired (see {@link renewLease}). Never resolves once
   * the lease is lost: the runs are another engine's.
   */
  async holdsLease(): Promise<void> {
    if (this.leaseLost) return new Promise<void>(() => {});
    if (Date.now() < this.leaseUntil) return;
    await this.renewLease();
    if (this.leaseLost) return new Promise<void>(() => {});
  }

  /**
   * Resolves when this engine may record new work for its runs (a submitted task): its lease
   * holds by its own clock with at least a third of it left; else it is renewed first, and a
   * process that was stopped or starved past its lease finds out whether its runs were taken
   * over before it writes anything. Then it refuses, and {@link EngineOptions.onLeaseLost} runs.
   * @throws STATE_CONFLICT when the lease is lost.
   */
  async confirmLease(): Promise<void> {
    if (!this.leaseLost && this.leaseUntil - Date.now() > this.leaseMs / 3) return;
    if (!this.leaseLost) await this.renewLease();
    if (this.leaseLost) {
      throw new BatonError(
        "STATE_CONFLICT",
        "this engine's lease expired and another engine took over its runs: send the request to the server that drives them",
      );
    }
  }

  /**
   * Ends the engine's lease (and gives back its pool slots): the runs it drove are orphaned at
   * once, for another engine to pick up. Call before closing the store.
   */
  async close(): Promise<void> {
    clearInterval(this.leaseTimer);
    // Deliveries waiting for a retry stay pending in the store (a server starting resumes them).
    this.notifier.close();
    for (const t of this.slotRetry.values()) clearTimeout(t);
    this.slotRetry.clear();
    for (const t of this.slotLinger.values()) clearTimeout(t);
    this.slotLinger.clear();
    await this.store.endEngineLease(this.id, Date.now()).catch(() => undefined);
  }

  /** Starts a run of a pipeline. The returned controller's `done` resolves with the run's status. */
  async startRun(project: ProjectSpec, options: RunOptions): Promise<RunController> {
    // Helper processes start while the run is planned; a fully cached run pays little for them.
    this.executor.warmUp?.();
    const controller = new RunController(this, project, options);
    this.controllers.add(controller);
    void controller.done.finally(() => this.controllers.delete(controller));
    await controller.start();
    return controller;
  }

  /**
   * Picks up a recorded run: `resume` after its engine died, or `retry-failed`/`retry-all`
   * to give its tasks new attempts. See {@link RunController.restore}.
   */
  async restoreRun(
    project: ProjectSpec,
    run: RunRow,
    mode: "resume" | "retry-failed" | "retry-all",
  ): Promise<RunController> {
    const controller = new RunController(this, project, {
      runId: run.id,
      pipeline: run.pipeline,
      params: run.params,
      workdir: run.workdir,
      specFile: run.specFile,
      targets: run.options.targets,
      from: run.options.from,
      noCache: run.options.noCache,
      controller: recordedController(run.options),
      parentRunId: run.parentRunId,
      parentTaskId: run.parentTaskId,
    });
    this.controllers.add(controller);
    void controller.done.finally(() => this.controllers.delete(controller));
    try {
      await controller.restore(mode, run.engineId);
    } catch (err) {
      // Not driven here: a later cancel must not end it again.
      this.controllers.delete(controller);
      // A run that cannot be resumed is failed with the reason, not tried again at every start.
      if (mode === "resume") await this.abandonRun(run.id, err);
      throw err;
    }
    return controller;
  }

  /**
   * Fails a recorded run that cannot be resumed (its file no longer plans, a fan-out over the
   * limits...), with the reason on the run, so that no engine tries it again. Not when another
   * engine picked it up meanwhile: that one drives it.
   */
  async abandonRun(runId: string, err: unknown): Promise<void> {
    const e = ensureBatonError(err);
    if (e.context.claimedElsewhere === true) return;
    await this.store.finishRun(runId, "failed", Date.now(), `cannot resume: ${e.message}`);
    this.emit({ type: "run-ended", runId, status: "failed" });
  }

  /**
   * Picks up a lone tree of submitted tasks (a run with no pipeline file) whose engine died:
   * claims it, then lets {@link TaskTree.restore} adopt what still runs and go on. Resolves
   * once the tree is driven here; its end is the `run-ended` event (and the run's status).
   */
  async restoreTree(run: RunRow): Promise<void> {
    if (run.specFile !== null) {
      throw new BatonError("USAGE", `run ${run.id} is a pipeline run: resume it with restoreRun`);
    }
    if (run.status !== "running") {
      throw new BatonError("USAGE", `run ${run.id} is ${run.status}: nothing to resume`);
    }
    if (!(await this.store.claimRun(run.id, this.id, run.engineId))) {
      throw new BatonError(
        "STATE_CONFLICT",
        `run ${run.id} was picked up by another engine meanwhile: leave it to that one`,
        { context: { claimedElsewhere: true } },
      );
    }
    await this.tree.restore(run.id, await this.store.listTasks({ run: run.id }), run);
  }

  /**
   * Picks up every lone tree of submitted tasks in this store whose engine died (`baton server`
   * and an embedded SDK engine at start): each is claimed and restored ({@link restoreTree}).
   * One that cannot be is failed with the reason (see {@link abandonRun}), so that the next
   * start does not try again; runs another live engine drives, or picks up meanwhile, are left
   * to it (and not listed).
   */
  async restoreOrphanedTrees(
    running?: RunRow[],
    live: (run: RunRow) => Promise<boolean> = ownerLiveness(this.store),
  ): Promise<{ resumed: string[]; failed: Array<{ id: string; error: string }> }> {
    const resumed: string[] = [];
    const failed: Array<{ id: string; error: string }> = [];
    for (const run of running ?? (await this.store.listRunningRoots())) {
      if (run.status !== "running" || run.specFile !== null || run.parentRunId !== null) continue;
      if (run.engineId === this.id || (await live(run))) continue;
      try {
        await this.restoreTree(run);
        resumed.push(run.id);
      } catch (err) {
        const e = ensureBatonError(err);
        // Another engine picked it up first (several servers sweep at once): theirs now.
        if (e.context.claimedElsewhere === true) continue;
        failed.push({ id: run.id, error: e.message });
        await this.abandonRun(run.id, err).catch(() => undefined);
      }
    }
    return { resumed, failed };
  }

  /**
   * What the engine holds in memory, to check that it stays bounded: a server that has run any
   * number of tasks holds per-task state only for those not ended yet.
   */
  stats(): EngineStats {
    let queued = 0;
    let running = 0;
    for (const q of this.pools.values()) {
      queued += q.size;
      running += q.running - q.idle.length;
    }
    return {
      runs: this.controllers.size,
      tree: this.tree.stats(),
      pools: this.pools.size,
      queued,
      running,
      listeners: this.listeners.size,
    };
  }

  /** Submits a task (or `shards` copies); returns the created task ids. */
  async submit(request: SubmitRequest): Promise<string[]> {
    return this.tree.submit(request);
  }

  /**
   * Submits several tasks as one batch (`baton submit --each`): checked one by one, recorded in
   * one transaction, under one run at the top level. They share their parent and idempotency key.
   */
  async submitMany(requests: SubmitRequest[]): Promise<string[]> {
    return this.tree.submitMany(requests);
  }

  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const l of this.listeners) l(event);
  }

  /**
   * Replaces the pools submissions may name (a server's project file changed): new pools can be
   * used at once, and a pool whose slots changed hands out slots by its new count.
   */
  setPools(pools: Record<string, PoolSpec>): void {
    this.tree.setPools(pools);
    for (const [name, spec] of Object.entries(pools)) {
      const queue = this.pools.get(name);
      if (queue && queue.slots !== spec.slots) {
        queue.slots = spec.slots;
        this.pump(queue);
      }
    }
  }

  /**
   * The pools submissions may name, then any other pool in use, with slots in use (by every
   * engine sharing the store) and tasks waiting here.
   */
  async poolUsage(): Promise<PoolUsage[]> {
    const declared = this.tree.poolSpecs();
    const names = [...Object.keys(declared), ...[...this.pools.keys()].filter((n) => !(n in declared))];
    const held = await this.store.countSlots(Date.now());
    return names.map((name) => {
      const queue = this.pools.get(name);
      return {
        name,
        slots: declared[name]?.slots ?? queue?.slots ?? 0,
        inUse: held[name] ?? 0,
        queued: queue?.size ?? 0,
        declared: name in declared,
      };
    });
  }

  /** Queues work for a slot of `pool`; the pool is created from its spec on first use. */
  enqueue(pool: PoolSpec, priority: number, work: QueuedWork): void {
    let queue = this.pools.get(pool.name);
    if (!queue) {
      queue = new PoolQueue<QueuedWork>(pool.slots);
      this.pools.set(pool.name, queue);
      this.poolNames.set(queue, pool.name);
    }
    queue.push(work, priority);
    this.pump(queue);
  }

  /** Takes queued work out of every pool (cancel). Returns the task ids removed. */
  dequeue(pred: (work: QueuedWork) => boolean): string[] {
    const removed: string[] = [];
    // Work started ahead is running, not waiting: its task is stopped as a running one is.
    for (const q of this.pools.values())
      for (const w of q.remove((x) => !STARTED_AHEAD.has(x) && pred(x))) removed.push(w.taskId);
    // Work out of the queue while its slot is asked for: it does not start.
    for (const asking of this.claiming.values()) {
      for (const w of asking) {
        if (pred(w)) {
          asking.delete(w);
          removed.push(w.taskId);
        }
      }
    }
    return removed;
  }

  /**
   * Cancels one task this engine drives, with its subtree: a submitted task, or a task of a
   * pipeline run (the rest of the run goes on). Returns false when no run here has it.
   */
  async cancelTask(taskId: string): Promise<boolean> {
    if (this.tree.cancel(taskId)) return true;
    for (const c of this.controllers) {
      if (c.hasTask(taskId)) {
        await c.cancelTask(taskId);
        return true;
      }
    }
    return false;
  }

  /**
   * Gates: approves or rejects a task waiting for approval in a run this engine drives.
   * Returns false when no run here has it.
   * @throws BatonError `STATE_CONFLICT` when it is not waiting.
   */
  async decideApproval(taskId: string, decision: ApprovalDecision): Promise<boolean> {
    for (const c of this.controllers) {
      if (c.hasTask(taskId)) {
        await c.decide(taskId, decision);
        return true;
      }
    }
    return false;
  }

  /** Cancels every run this engine drives (Ctrl-C, SIGTERM). */
  async cancelAll(): Promise<void> {
    await Promise.all([
      ...[...this.controllers].filter((c) => c.isRoot).map((c) => c.cancel()),
      this.tree.cancelAll(),
    ]);
  }

  /**
   * Starts queued work while the pool has slots. A slot is counted in the store (so that engines
   * sharing it never exceed the pool's slots): the work waiting first is taken out of the queue,
   * as much as this engine has room for, and asked for slots in one write; what the store does
   * not grant goes back to the front of the queue, asked again when a slot is given back here or
   * after {@link SLOT_RETRY_MS} (another engine holds them). One request per pool at a time.
   */
  private pump(queue: PoolQueue<QueuedWork>): void {
    // A slot kept idle goes to the work started ahead, else to the work waiting first, as a slot
    // handed over at an end would.
    while (queue.idle.length > 0 && queue.running <= queue.slots) {
      const work = this.nextForSlot(queue);
      if (!work) break;
      this.handOver(queue, queue.idle.pop()!, work);
    }
    // Work started ahead whose slot did not come (the pool's slots changed): it asks for one
    // first, as the work waiting first.
    if (queue.running < queue.slots) {
      for (const armed of queue.armed.splice(0)) queue.push(armedWork(armed), Number.POSITIVE_INFINITY);
    }
    if (this.claiming.has(queue)) return;
    const taken: Array<ReturnType<PoolQueue<QueuedWork>["popEntry"]> & {}> = [];
    while (queue.running + taken.length < queue.slots) {
      const entry = queue.popEntry();
      if (!entry) break;
      taken.push(entry);
    }
    if (taken.length === 0) return;
    const retry = this.slotRetry.get(queue);
    if (retry) {
      clearTimeout(retry);
      this.slotRetry.delete(queue);
    }
    const asking = new Set(taken.map((e) => e.value));
    this.claiming.set(queue, asking);
    queue.running += taken.length;
    const pool = this.poolNames.get(queue)!;
    const ids = taken.map((e) => e.value.taskId);
    this.store
      .claimSlots(pool, queue.slots, this.id, ids, Date.now())
      .catch((err) => {
        process.stderr.write(`baton: cannot claim a slot of pool ${pool}: ${(err as Error).message}\n`);
        return [] as string[];
      })
      .then((granted) => {
        this.claiming.delete(queue);
        const refused = taken.slice(granted.length);
        queue.running -= refused.length;
        for (const e of refused) if (asking.has(e.value)) queue.reinsert(e);
        const dropped: string[] = [];
        for (const e of taken.slice(0, granted.length)) {
          if (asking.has(e.value)) this.startWork(queue, e.value);
          else {
            // Dequeued (cancelled) while its slot was asked for.
            queue.running--;
            dropped.push(e.value.taskId);
          }
        }
        if (dropped.length > 0) void this.store.releaseSlots(dropped).catch(() => undefined);
        if (refused.length > 0 && !this.slotRetry.has(queue)) {
          const timer = setTimeout(() => {
            this.slotRetry.delete(queue);
            this.pump(queue);
          }, SLOT_RETRY_MS);
          timer.unref();
          this.slotRetry.set(queue, timer);
        } else if (refused.length === 0) this.pump(queue);
      });
  }

  /**
   * Runs work holding a slot. When it ends, the slot goes straight to the next work waiting here
   * (the store's count does not change, so that need not be waited for), else it is kept idle
   * for {@link SLOT_LINGER_MS}, then goes back to the store.
   */
  private startWork(queue: PoolQueue<QueuedWork>, work: QueuedWork): void {
    const began = performance.now();
    queue.holding.add(work.taskId);
    queue.unfollowed.add(work.taskId);
    work
      .start()
      .catch(() => undefined)
      .finally(() => {
        queue.noteDuration(performance.now() - began);
        queue.holding.delete(work.taskId);
        queue.unfollowed.delete(work.taskId);
        // The work started ahead to follow this one takes its slot whatever else waits: its
        // executor may have started it already, at this one's end.
        const follower = queue.armed.findIndex((a) => a.after === work.taskId);
        const next =
          follower >= 0
            ? armedWork(queue.armed.splice(follower, 1)[0]!)
            : queue.running <= queue.slots && !this.claiming.has(queue)
              ? this.nextForSlot(queue)
              : undefined;
        if (next) {
          this.handOver(queue, work.taskId, next);
          return;
        }
        queue.idle.push(work.taskId);
        if (!this.slotLinger.has(queue)) {
          const timer = setTimeout(() => this.releaseIdle(queue), SLOT_LINGER_MS);
          timer.unref();
          this.slotLinger.set(queue, timer);
        }
      });
    this.armAhead(queue);
  }

  /** What a slot that frees goes to: the work started ahead first, else the work waiting first. */
  private nextForSlot(queue: PoolQueue<QueuedWork>): QueuedWork | undefined {
    const armed = queue.armed.shift();
    return armed ? armedWork(armed) : queue.popEntry()?.value;
  }

  /**
   * In a pool of short tasks ({@link ARM_AHEAD_MS}) whose slots are all busy, starts the work
   * waiting first ahead of its slot, one per busy slot: it records its attempt now, and its
   * process starts as soon as a slot frees (`nextForSlot`).
   */
  private armAhead(queue: PoolQueue<QueuedWork>): void {
    if (!queue.lastsUnder(ARM_AHEAD_MS, ARM_AFTER_ENDS) || this.claiming.has(queue)) return;
    const busy = queue.running - queue.idle.length;
    while (busy >= queue.slots && queue.armed.length < busy) {
      const entry = queue.popEntry();
      if (!entry) return;
      let go!: () => void;
      const ready = new Promise<void>((resolve) => {
        go = resolve;
      });
      // It follows a running work that no other follows: that one's slot is its, so its executor
      // may start it the moment that one ends (not past this engine's lease).
      const after = queue.unfollowed.values().next().value as string | undefined;
      if (after !== undefined) queue.unfollowed.delete(after);
      const armed = { taskId: entry.value.taskId, go, fired: false, done: Promise.resolve(), after };
      armed.done = entry.value
        // Its slot may come after this process was stopped past its lease: checked again then.
        .start({ go: ready.then(() => this.holdsLease()), after, holdUntil: this.leaseUntil })
        .catch(() => undefined)
        .then(() => {
          if (armed.fired) return;
          // Ended before a slot came (cancelled, or not runnable after all): it holds none, and
          // the work it followed may be followed by another.
          const i = queue.armed.indexOf(armed);
          if (i >= 0) queue.armed.splice(i, 1);
          if (after !== undefined && queue.holding.has(after)) queue.unfollowed.add(after);
        });
      queue.armed.push(armed);
    }
  }

  /** Gives the slot held for task `from` to `work`, and runs it. */
  private handOver(queue: PoolQueue<QueuedWork>, from: string, work: QueuedWork): void {
    this.store.transferSlot(from, work.taskId, Date.now()).catch((err) => {
      process.stderr.write(`baton: cannot hand over the slot of ${from}: ${(err as Error).message}\n`);
    });
    this.startWork(queue, work);
  }

  /** The idle slots of a pool go back to the store (other engines sharing it may use them). */
  private releaseIdle(queue: PoolQueue<QueuedWork>): void {
    this.slotLinger.delete(queue);
    const ids = queue.idle.splice(0);
    if (ids.length === 0) return;
    queue.running -= ids.length;
    this.store.releaseSlots(ids).catch((err) => {
      process.stderr.write(`baton: cannot give back the slot of ${ids[0]}: ${(err as Error).message}\n`);
    });
    this.pump(queue);
  }
}

/** The default {@link EngineOptions.onLeaseLost}: stop at once, leaving the runs to their new engine. */
function exitOnLeaseLost(runIds: string[]): void {
  process.stderr.write(
    `baton: this engine's lease expired (the process was stopped or starved for longer than BATON_ENGINE_LEASE_MS) and another engine took over ${runIds.length === 1 ? `run ${runIds[0]}` : `${runIds.length} runs (${runIds.slice(0, 3).join(", ")}${runIds.length > 3 ? ", …" : ""})`}: exiting, leaving them to it\n`,
  );
  process.exit(1);
}

/** The works made by {@link armedWork}. */
const STARTED_AHEAD = new WeakSet<QueuedWork>();

/** Work started ahead, as the work its slot runs: starting it lets its process go; it ends with the work. */
function armedWork(armed: PoolQueue<QueuedWork>["armed"][number]): QueuedWork {
  const work: QueuedWork = {
    taskId: armed.taskId,
    start: () => {
      armed.fired = true;
      armed.go();
      return armed.done;
    },
  };
  STARTED_AHEAD.add(work);
  return work;
}
