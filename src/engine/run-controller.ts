import fs from "node:fs";
import path from "node:path";
import { hashCacheKey, hashFile } from "../artifacts/hash.js";
import {
  type InputLinkPlan,
  ensureWritableDir,
  planInputLinks,
  resolveWorkdirFiles,
  resolveWorkdirPatterns,
  workdirFileRel,
} from "../artifacts/inputs.js";
import { selectOutputs } from "../artifacts/outputs.js";
import { urlFileRel } from "../artifacts/url-inputs.js";
import { BatonError, type Problem, ensureBatonError, formatProblem } from "../errors.js";
import type { TaskRef } from "../executors/executor.js";
import { type Fanout, type TaskInstance, instanceChunks, planFanout } from "../graph/expand.js";
import { topologicalOrder } from "../graph/topo.js";
import { evaluateValue, renderValue } from "../spec/expressions.js";
import { classifyInputSource, inputSourceProblem } from "../spec/input-sources.js";
import { type LimitProblem, checkPipelineLimits, nodeLimitMessage, runLimitMessage } from "../spec/limits.js";
import { argsContext } from "../spec/param-args.js";
import { resolveParams } from "../spec/params.js";
import { formatPath } from "../spec/problems.js";
import type {
  InputSpec,
  NodeSpec,
  PipelineSpec,
  PoolSpec,
  ProjectSpec,
  SourceLocation,
  TaskNodeSpec,
} from "../spec/types.js";
import type {
  ApprovalDecision,
  ApprovalRecord,
  AttemptEnd,
  NewTask,
  RunStatus,
  TaskStatus,
} from "../store/store.js";
import { dict, own } from "../util/dict.js";
import { groupBy } from "../util/group-by.js";
import { newRunId, newTaskId } from "../util/ids.js";
import { mapLimit } from "../util/map-limit.js";
import { joinUnder, relativeUnder } from "../util/paths.js";
import { childrenFailedText, plural } from "../util/plural.js";
import { makeStateDir, makeStateFile } from "../util/state-mode.js";
import { Breather } from "../util/yield.js";
import { CacheHits } from "./cache-hits.js";
import { type CacheParts, cacheKey } from "./cache-key.js";
import { commandFiles, workdirNames } from "./command-files.js";
import { type NodeOutcome, judgeNeeds, nodeOutcome } from "./conditions.js";
import type { Engine } from "./engine.js";
import { countedStatus, dueActions, effectiveRetries, onErrorOf, stopsAllOnFailure } from "./on-error.js";
import { keepRelease } from "./release.js";
import { type ControllerOptions, StepHooks } from "./step-hooks.js";
import { type NeededNode, type ProducedFile, needsContext } from "./task-context.js";
import { type RunnableTask, type TaskOwner, TaskRunner } from "./task-runner.js";
import { applyTransition } from "./transitions.js";
import { type ValohaiInputFile, writeValohaiConfig } from "./valohai-env.js";

export interface RunOptions {
  pipeline: string;
  /** Pipeline params, already checked against their declarations. */
  params: Record<string, unknown>;
  /** Folder tasks run in (the one holding baton.yaml). */
  workdir: string;
  specFile?: string | null;
  /** Run only these nodes and what they need (`--target`). */
  targets?: string[];
  /** Set when picking up a recorded run (resume, retry); a new id otherwise. */
  runId?: string;
  /** Do not reuse cached results (`--no-cache`). */
  noCache?: boolean;
  /** Rerun these nodes and everything downstream of them, reusing the rest (`--from`). */
  from?: string[];
  /** For child runs started by a `pipeline:` node. */
  parentRunId?: string | null;
  parentTaskId?: string | null;
  /** Controller hooks of the run's steps (the SDK's `before`, `after`...): see step-hooks.ts. */
  controller?: ControllerOptions;
  /** The resume key it was started with, recorded for `POST /runs` to find it again. */
  resumeKey?: string;
  /** Triggers: the trigger starting the run, recorded with it. */
  trigger?: string;
}

interface NodeState {
  spec: NodeSpec;
  tasks: TaskState[];
  expanded: boolean;
  /** Needed nodes that have not ended yet. */
  waiting: number;
  downstream: NodeState[];
  outcome?: NodeOutcome;
  /** How many leading tasks are known to have ended (a task never un-ends within a run). */
  endedPrefix?: number;
}

interface TaskState {
  id: string;
  name: string;
  node: NodeState;
  item?: unknown;
  matrix?: Record<string, unknown>;
  status: TaskStatus;
  attempts: number;
  params: Record<string, unknown>;
  command: string;
  /** Its `env:`, evaluated; undefined until the task is prepared here (not after a restart). */
  env?: Record<string, string>;
  outputDir: string;
  files: ProducedFile[];
  metrics: Record<string, unknown>;
  cancel?: () => void;
  retryTimer?: NodeJS.Timeout;
  cacheKey?: string;
  cacheParts?: CacheParts;
  /** For a cache hit: the task that computed the reused result. */
  cachedFrom?: string;
  /** A cancel arrived while the attempt's process was being started. */
  cancelRequested?: boolean;
  /** Gates: its approval, once it reached its gate. */
  approval?: ApprovalRecord | null;
}

/** A file bound to an input: produced upstream (with its hash) or found in the working folder. */
type BoundFile = {
  abs: string;
  rel: string;
  producer?: string | undefined;
  sha256?: string | undefined;
  /** The URL a downloaded file came from. */
  uri?: string | undefined;
};

/**
 * Tasks of one node prepared at once (resolving inputs, checking the cache). Their cache lookups
 * and writes are batched (see CacheHits): a fully cached fan-out of 10,000 tasks commits about
 * forty times, not 10,000. Not more at once: what a task holds while it is prepared (its
 * context, command, environment and cache key) would outlive the collector's young generation,
 * and copying it costs more than the commits saved (a cached rerun of 10,000 tasks took 1.09 s
 * with 1,024 at once, 0.92 s with 256 and 0.95 s with 64); and the first task starts sooner.
 */
const PREPARE_CONCURRENCY = 256;
/** Tasks ended at once by a cancel (their writes share transactions: 100,000 take seconds). */
const CANCEL_CONCURRENCY = 4096;
/** Tasks of one node from which their commands share one listing of the project folder. */
const LIST_WORKDIR_FROM = 64;
/** Tasks of a fan-out made between two looks at the event loop. */
const EXPAND_CHUNK = 256;
/** Task rows written per transaction when a node is expanded (each a few tens of milliseconds). */
const RECORD_CHUNK = 1_000;

/** A command or env value: a template that is one expression may yield a list or map; render it as in a string. */
function text(value: unknown): string {
  return typeof value === "string" ? value : renderValue(value);
}

/**
 * Drives one run: decides when each node is ready, skips what can no longer run, resolves each
 * task's command, inputs and environment, and asks the engine for slots. Every state change is
 * written to the store before it is acted on.
 */
export class RunController {
  readonly runId: string;
  readonly done: Promise<RunStatus>;
  private resolveDone!: (s: RunStatus) => void;
  private readonly pipeline: PipelineSpec;
  private readonly nodes = new Map<string, NodeState>();
  private readonly tasks = new Map<string, TaskState>();
  private remainingNodes = 0;
  private cancelling = false;
  /** Why the run is being cancelled (what tasks ended by the cancel record). */
  private cancelReason = "cancelled";
  /** Tasks being ended without running (their store write under way). */
  private readonly endingWithoutRunning = new Set<string>();
  private readonly pipelineDir: string;
  private readonly children = new Set<RunController>();
  /** File hashes of this run, by path, size, mtime and inode (see `hashWorkdirFile`). */
  private readonly fileHashes = new Map<string, Promise<string>>();
  /** How this controller picked up a recorded run, if it did (`pipeline:` nodes follow it). */
  private restoreMode: "resume" | "retry-failed" | "retry-all" | undefined;
  /** Nodes that must not reuse cached results: `--from` nodes and everything downstream. */
  private readonly rerunNodes = new Set<string>();
  /** Tasks of nodes expanded so far (held against the limit of tasks per run). */
  private plannedTasks = 0;
  /** Long loops (expanding, preparing) give the event loop a turn every few milliseconds. */
  private readonly breather = new Breather();
  /** Expansions being made and recorded: a cancel waits for them (they stop early) to end every task. */
  private readonly expanding = new Set<Promise<unknown>>();
  /** Runs the attempts of this run's tasks (docs/architecture.md, "Task lifecycle"). */
  private readonly runner: TaskRunner<TaskState>;
  /** The run's controller hooks, if it has any. */
  private readonly hooks: StepHooks | undefined;
  /** Cache look-ups and hits of tasks prepared together, each batch one store call. */
  private readonly cacheHits: CacheHits;

  constructor(
    private readonly engine: Engine,
    private readonly project: ProjectSpec,
    private readonly options: RunOptions,
  ) {
    const pipeline = project.pipelines[options.pipeline];
    if (!pipeline) {
      throw new BatonError("SPEC_UNKNOWN_PIPELINE", `no pipeline "${options.pipeline}" in ${project.file}`);
    }
    this.pipeline = pipeline;
    this.runId = options.runId ?? newRunId();
    this.pipelineDir = engine.layout.pipelineDir(this.runId);
    if (options.controller)
      this.hooks = new StepHooks(engine.holds, this.runId, pipeline.name, options.controller);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.runner = new TaskRunner(engine, this.taskOwner());
    this.cacheHits = new CacheHits(engine.store);
  }

  /** What the task runner tells this run, which keeps its graph: nodes, their outcomes, the run's end. */
  private taskOwner(): TaskOwner<TaskState> {
    return {
      runnable: (task) => this.runnable(task),
      mayRun: () => !this.cancelling,
      cancelReason: () => (this.cancelling ? this.cancelReason : undefined),
      running: (task, attempt) => this.emitTask(task, { attempt }),
      waiting: (task, open) =>
        this.emitTask(task, { error: `waiting on ${plural(open, "child", "children")}` }),
      retrying: (task, exitCode, error) => this.emitTask(task, { exitCode, error }),
      retryDue: (task) => {
        if (task.command && task.env) this.enqueue(task);
        else {
          // Picked up after a restart: its environment is worked out again.
          task.status = "pending";
          void this.guard(this.prepareTask(task, this.neededNodes(task.node)));
        }
      },
      recorded: (task, status) => ({
        cacheKey: task.cacheKey,
        // A reused result's parts are those of the task that computed it: not written again.
        cacheParts:
          status === "cached"
            ? undefined
            : (task.cacheParts as unknown as Record<string, unknown> | undefined),
        command: task.command || undefined,
        params: task.params,
        outputDir: task.outputDir,
        cachedFrom: status === "cached" ? task.cachedFrom : undefined,
      }),
      endedElsewhere: (task, actual) => this.endedElsewhere(task, actual),
      ended: async (task, end) => {
        if (task.node.spec.kind === "task") {
          // A `pipeline:` node hands on its child run's files, set when that run ended.
          // Gates: a `continue` node's failed task hands on what it produced too.
          if (end.status === "succeeded" || onErrorOf(task.node.spec) === "continue") {
            task.files = end.outputs.map((o) => ({
              abs: joinUnder(task.outputDir, o.path),
              rel: o.path,
              producer: task.name,
              sha256: o.sha256,
            }));
          }
          task.metrics = end.metrics;
        }
        this.emitTask(task, { exitCode: end.exitCode, error: end.error });
        await this.taskEnded(task);
      },
      guard: (_task, work) => void this.guard(work),
    };
  }

  /** What running a task of a `task` node takes. */
  private runnable(task: TaskState): RunnableTask {
    const spec = task.node.spec as TaskNodeSpec;
    return {
      runId: this.runId,
      command: task.command,
      cwd: this.options.workdir,
      params: task.params,
      userEnv: task.env ?? {},
      outputs: spec.outputs,
      timeoutMs: spec.timeoutMs,
      noOutputTimeout: spec.noOutputTimeout,
      image: spec.image,
      compat: spec.compat,
      retries: effectiveRetries(spec),
      ...(onErrorOf(spec) === "continue" ? { keepFailedOutputs: true } : {}),
      pool: this.project.pools[spec.pool] ?? { name: spec.pool, slots: 1, resources: {} },
      priority: spec.priority,
      // A node's tasks (a foreach or matrix) launched together may start as one Slurm job array.
      arrayGroup: `${this.runId}/${spec.name}`,
    };
  }

  get isRoot(): boolean {
    return !this.options.parentTaskId;
  }

  /** Plans the run, records it and its tasks, and starts the nodes that need nothing. */
  async start(): Promise<void> {
    this.buildGraph();
    // Before anything is recorded: fan-outs known now (literal lists, params) are counted, not
    // expanded, and a run over the limits is refused.
    const tooMany = checkPipelineLimits(
      this.project,
      this.pipeline,
      this.options.params,
      this.engine.limits,
      new Set(this.nodes.keys()),
    );
    if (tooMany.length > 0) throw this.limitError(tooMany);
    // Before anything is recorded: a run that cannot have its folder must not be left `running`.
    ensureWritableDir(this.pipelineDir, "run folder");
    await this.engine.store.createRun({
      id: this.runId,
      pipeline: this.pipeline.name,
      params: this.options.params,
      options: {
        targets: this.options.targets,
        from: this.options.from,
        noCache: this.options.noCache,
        ...(this.options.controller ? { controller: this.options.controller } : {}),
        ...(this.options.resumeKey !== undefined ? { resumeKey: this.options.resumeKey } : {}),
        ...(this.options.trigger !== undefined ? { trigger: this.options.trigger } : {}),
      },
      workdir: this.options.workdir,
      specFile: this.options.specFile ?? null,
      parentRunId: this.options.parentRunId ?? null,
      parentTaskId: this.options.parentTaskId ?? null,
      createdAt: Date.now(),
      enginePid: process.pid,
      engineId: this.engine.id,
    });

    let planned = 0;
    try {
      // Expand what can be expanded now, so that `baton ls` shows every planned task from the start.
      planned = await this.planAndRecord();
    } catch (err) {
      // Final: a run that cannot be planned is failed with the reason, never resumed.
      await this.failPlanning(`planning failed: ${ensureBatonError(err).message}`);
      throw err;
    }
    this.engine.emit({
      type: "run-started",
      runId: this.runId,
      pipeline: this.pipeline.name,
      parentTaskId: this.options.parentTaskId ?? null,
      taskCount: planned,
    });
    await this.startReadyNodes();
  }

  /**
   * Expands every node that can be expanded at the start and records their tasks together, in
   * chunks of {@link RECORD_CHUNK} rows (a transaction each), not a transaction per node: a
   * pipeline of 100,000 one-task nodes is 100 transactions. Returns how many tasks. A cancel
   * meanwhile waits for it; cancelled while planning, what is recorded is cancelled.
   */
  private async planAndRecord(): Promise<number> {
    const work = (async () => {
      let count = 0;
      let batch: NewTask[] = [];
      for (const node of this.nodes.values()) {
        if (this.cancelling) break;
        const tasks = await this.tryExpand(node, false);
        count += tasks.length;
        for (const task of tasks) batch.push(task);
        if (batch.length >= RECORD_CHUNK) {
          await this.recordTasks(batch);
          batch = [];
        }
      }
      await this.recordTasks(batch);
      return count;
    })();
    this.expanding.add(work);
    try {
      return await work;
    } finally {
      this.expanding.delete(work);
    }
  }

  /** Expands a node and records its tasks; returns how many. A cancel meanwhile waits for it. */
  private async expandAndRecord(node: NodeState, atReady: boolean, needed?: NeededNode[]): Promise<number> {
    const work = (async () => {
      const tasks = await this.tryExpand(node, atReady, needed);
      await this.recordTasks(tasks);
      return tasks.length;
    })();
    this.expanding.add(work);
    try {
      return await work;
    } finally {
      this.expanding.delete(work);
    }
  }

  /**
   * Records new tasks in chunks, each its own transaction, so that other requests are served
   * in between. An engine that dies in the middle leaves part of a node recorded: a resume
   * records the rest ({@link completeExpansions}).
   */
  private async recordTasks(tasks: NewTask[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += RECORD_CHUNK) {
      await this.engine.store.addTasks(tasks.slice(i, i + RECORD_CHUNK));
    }
  }

  /** Nodes whose tasks were being recorded when their engine died: the missing ones are recorded now. */
  private async completeExpansions(): Promise<void> {
    for (const node of this.nodes.values()) {
      const spec = node.spec;
      if (spec.kind !== "task" || node.tasks.length === 0) continue;
      if (spec.foreach === undefined && spec.matrix === undefined) continue;
      // A task named as the node itself stands for a fan-out that failed: nothing to complete.
      if (node.tasks.some((t) => t.name === spec.name)) continue;
      let fanout: Fanout;
      try {
        const context = this.nodeContext(this.neededNodes(node), {});
        fanout = planFanout(spec, (value) => {
          const list = evaluateValue(value, context);
          if (!Array.isArray(list)) throw new BatonError("EXPR_EVAL", "not a list");
          return list;
        });
      } catch {
        continue;
      }
      if (fanout.count <= node.tasks.length || fanout.count > this.engine.limits.perNode) continue;
      const have = new Set(node.tasks.map((t) => t.name));
      const missing: NewTask[] = [];
      for (let i = 0; i < fanout.count; i++) {
        const inst = fanout.instance(i);
        if (!have.has(inst.name)) missing.push(this.newTask(node, inst));
        if (i % EXPAND_CHUNK === 0) await this.breather.breathe();
      }
      this.plannedTasks += missing.length;
      await this.recordTasks(missing);
    }
  }

  /**
   * Picks up a run recorded in the store. `resume`: after the engine driving it died — adopts
   * task processes still alive, collects exit statuses written meanwhile, reruns attempts
   * that were lost, and goes on with the graph. `retry`: gives failed, skipped and cancelled
   * tasks new attempts (`all`: every task), keeping the rest. No finished result is lost.
   */
  async restore(mode: "resume" | "retry-failed" | "retry-all", claimFrom?: string | null): Promise<void> {
    this.restoreMode = mode;
    this.buildGraph();
    const store = this.engine.store;
    const all = await store.listTasks({ run: this.runId });
    // Tasks submitted from inside this run's tasks (`baton submit` in a step) belong to the
    // engine's task tree, not to a node; see below.
    const rows = all.filter((r) => r.node !== null || r.submit === null);
    const submitted = all.filter((r) => r.node === null && r.submit !== null);
    this.plannedTasks = rows.length;
    const kept = rows.filter((r) => r.status === "succeeded" || r.status === "cached");
    const outputs = groupBy(await store.listOutputs(kept.map((r) => r.id)), (o) => o.taskId);
    const reopen: string[] = [];
    for (const row of rows) {
      const node = row.node === null ? undefined : this.nodes.get(row.node);
      if (!node) {
        throw new BatonError(
          "USAGE",
          `run ${this.runId} has task "${row.name}" of node "${row.node}", which is no longer in pipeline "${this.pipeline.name}"`,
        );
      }
      const fanout = node.spec.kind === "task" && node.spec.matrix !== undefined ? "matrix" : "item";
      const task: TaskState = {
        id: row.id,
        name: row.name,
        node,
        ...(row.item === undefined
          ? {}
          : fanout === "matrix"
            ? { matrix: row.item as Record<string, unknown> }
            : { item: row.item }),
        status: row.status,
        attempts: row.attempts,
        params: row.params,
        command: row.command ?? "",
        outputDir: row.outputDir,
        files: (outputs.get(row.id) ?? []).map((o) => ({
          abs: joinUnder(row.outputDir, o.path),
          rel: o.path,
          producer: row.name,
          sha256: o.sha256,
        })),
        metrics: row.metrics,
        approval: row.approval,
      };
      node.tasks.push(task);
      node.expanded = true;
      this.tasks.set(task.id, task);
      const again =
        mode === "retry-all"
          ? isEnded(row.status)
          : mode === "retry-failed" && ["failed", "skipped", "cancelled"].includes(row.status);
      if (again) {
        reopen.push(row.id);
        // A reused cached result points at an earlier task's folder: a new attempt gets its own.
        task.outputDir = this.engine.executor.workspace.folders(this.taskRef(task)).outputDir;
        task.files = [];
        // A retry runs the task again: it does not take the result it is retrying from the cache.
        this.rerunNodes.add(node.spec.name);
      }
      if (again || row.status === "queued") task.status = "pending";
    }
    if (mode !== "resume" && rows.some((r) => r.status === "running")) {
      throw new BatonError(
        "USAGE",
        `run ${this.runId} is still running: cancel it or wait for it before retrying`,
      );
    }
    if (!(await store.claimRun(this.runId, this.engine.id, claimFrom))) {
      throw new BatonError(
        "STATE_CONFLICT",
        `run ${this.runId} was picked up by another engine meanwhile: leave it to that one`,
        { context: { claimedElsewhere: true } },
      );
    }
    if (reopen.length > 0) await store.reopenTasks(this.runId, reopen);
    await this.completeExpansions();
    const followUps: Array<() => Promise<void>> = [];
    for (const task of this.tasks.values()) {
      if (task.status === "running") {
        const followUp = await this.adopt(task);
        if (followUp) followUps.push(followUp);
      }
    }
    // What the run's tasks had submitted goes on too (a retry starts them over: their parents
    // run again and submit anew). Before any adopted attempt ends: a step whose process has
    // exited must find its children's family to wait for.
    if (mode === "resume" && submitted.length > 0) await this.engine.tree.restore(this.runId, all);

    for (const node of this.nodes.values()) {
      if (node.expanded && node.tasks.every((t) => isEnded(t.status))) {
        node.outcome = this.hooks?.outcome(node) ?? this.outcomeOf(node);
        this.remainingNodes--;
      }
    }
    for (const node of this.nodes.values()) {
      node.waiting = node.spec.needs.filter((n) => this.nodes.get(n.node)!.outcome === undefined).length;
    }
    this.engine.emit({
      type: "run-started",
      runId: this.runId,
      pipeline: this.pipeline.name,
      parentTaskId: this.options.parentTaskId ?? null,
      taskCount: [...this.tasks.values()].filter((t) => !isEnded(t.status)).length,
    });
    // Only now that outcomes are known may adopted attempts end and move the graph on.
    for (const followUp of followUps) void this.guard(followUp());
    await this.startReadyNodes();
  }

  /**
   * A task recorded as running when its engine died: finds its process, or settles its attempt
   * (see {@link TaskRunner.adopt}). Returns what to do once the graph is rebuilt (wait for the
   * process, record its end).
   */
  private async adopt(task: TaskState): Promise<(() => Promise<void>) | undefined> {
    if (task.node.spec.kind === "task") return this.runner.adopt(task);
    // A child run is prepared again: runChildPipeline then follows the run it started before.
    task.status = "pending";
    return undefined;
  }

  /** Starts every node whose needs have all ended (or ends the run if nothing is left). */
  private async startReadyNodes(): Promise<void> {
    if (this.remainingNodes === 0) {
      await this.finish();
      return;
    }
    for (const node of [...this.nodes.values()]) {
      if (node.outcome === undefined && node.waiting === 0) void this.guard(this.nodeReady(node));
    }
  }

  /** The nodes to run, with their edges, and the nodes `--from` says to rerun. */
  private buildGraph(): void {
    const specNodes = this.selectNodes();
    const order = topologicalOrder(specNodes);
    for (const name of order) {
      const spec = specNodes[name]!;
      this.nodes.set(name, { spec, tasks: [], expanded: false, waiting: spec.needs.length, downstream: [] });
    }
    for (const node of this.nodes.values()) {
      for (const need of node.spec.needs) this.nodes.get(need.node)!.downstream.push(node);
    }
    this.remainingNodes = this.nodes.size;
    for (const name of this.options.from ?? []) {
      const start = this.nodes.get(name);
      if (!start)
        throw new BatonError(
          "USAGE",
          `--from ${name}: no node "${name}" in pipeline "${this.pipeline.name}"`,
        );
      const visit = (n: NodeState) => {
        if (this.rerunNodes.has(n.spec.name)) return;
        this.rerunNodes.add(n.spec.name);
        for (const d of n.downstream) visit(d);
      };
      visit(start);
    }
  }

  /**
   * Cancels the run: queued and pending tasks end `cancelled` (with `reason`), running ones are
   * killed.
   */
  async cancel(reason = "cancelled"): Promise<void> {
    if (this.cancelling) return this.done.then(() => undefined);
    this.cancelling = true;
    this.cancelReason = reason;
    this.hooks?.releaseAll();
    // Tasks being made now are cancelled once recorded (their making stops early).
    await Promise.allSettled([...this.expanding]);
    for (const child of this.children) void child.cancel();
    const removed = new Set(this.engine.dequeue((w) => this.tasks.has(w.taskId)));
    const now = Date.now();
    const ending: TaskState[] = [];
    for (const task of this.tasks.values()) {
      if (task.retryTimer) {
        clearTimeout(task.retryTimer);
        task.retryTimer = undefined;
        removed.add(task.id);
      }
      this.engine.tree.cancelChildren(task.id);
      // Queued, waiting for approval, or pending in a node being prepared (preparing stops at the cancel).
      if (removed.has(task.id) || task.status === "waiting" || (task.status === "pending" && !task.cancel))
        ending.push(task);
      else task.cancel?.();
    }
    // Many at once, so that their store writes share transactions (100,000 tasks take seconds, not minutes).
    await mapLimit(ending, CANCEL_CONCURRENCY, (task) =>
      this.endWithoutRunning(task, "cancelled", reason, now),
    );
    // Nodes not reached yet: everything left pending is cancelled as the run drains.
    for (const node of this.nodes.values()) {
      if (node.outcome === undefined && node.waiting > 0) {
        for (const task of node.tasks) await this.endWithoutRunning(task, "cancelled", reason, now);
      }
    }
    await this.drainIfIdle();
    await this.done;
  }

  /** Whether this run has a task with that id. */
  hasTask(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /**
   * Cancels one task (and whatever it submitted): killed if running, `cancelled` if waiting.
   * The rest of the run goes on; nodes that needed it to succeed are skipped.
   */
  async cancelTask(taskId: string): Promise<void> {
    const task = this.tasks.get(taskId);
    this.hooks?.releaseTask(taskId);
    if (!task || isEnded(task.status)) return;
    this.engine.tree.cancelChildren(task.id);
    if (this.runner.interrupt(task)) return;
    await this.endWithoutRunning(task, "cancelled", "cancelled", Date.now());
  }

  /** Nodes of the pipeline, or only the targets and what they need. */
  private selectNodes(): Record<string, NodeSpec> {
    const all = this.pipeline.nodes;
    if (!this.options.targets?.length) return all;
    const keep = new Set<string>();
    const visit = (name: string) => {
      if (keep.has(name)) return;
      const node = own(all, name);
      if (!node)
        throw new BatonError(
          "USAGE",
          `--target ${name}: no node "${name}" in pipeline "${this.pipeline.name}"`,
        );
      keep.add(name);
      for (const n of node.needs) visit(n.node);
    };
    for (const t of this.options.targets) visit(t);
    const out: Record<string, NodeSpec> = dict();
    for (const name of Object.keys(all)) if (keep.has(name)) out[name] = all[name]!;
    return out;
  }

  /**
   * Expands a node into task records. Before the node is ready (`atReady` false), only nodes
   * whose fan-out does not depend on upstream results are expanded; errors wait for readiness.
   * The fan-out is counted and checked against the limits before any task is made, and tasks
   * are made in chunks that leave the event loop free in between.
   */
  private async tryExpand(node: NodeState, atReady: boolean, needed?: NeededNode[]): Promise<NewTask[]> {
    if (node.expanded) return [];
    const spec = node.spec;
    let fanout: Fanout;
    if (spec.kind === "pipeline") {
      fanout = { count: 1, factors: [], instance: (index) => ({ name: spec.name, index }) };
    } else {
      const context = this.nodeContext(needed ?? [], {});
      try {
        fanout = planFanout(spec, (value, field) => {
          const list = evaluateValue(value, context);
          if (!Array.isArray(list)) {
            throw new BatonError("EXPR_EVAL", `${field} must be a list, got ${JSON.stringify(list)}`);
          }
          return list;
        });
        this.checkExpansion(spec, fanout);
      } catch (err) {
        if (!atReady) return [];
        throw err;
      }
    }
    node.expanded = true;
    this.plannedTasks += fanout.count;
    const out: NewTask[] = [];
    for (const chunk of instanceChunks(fanout, EXPAND_CHUNK)) {
      for (const inst of chunk) out.push(this.newTask(node, inst));
      await this.breather.breathe();
      if (this.cancelling) break; // the rest would only be cancelled (a retry makes them)
    }
    return out;
  }

  /** A task of a node's fan-out, known to the run, and its row to record. */
  private newTask(node: NodeState, inst: TaskInstance): NewTask {
    const spec = node.spec;
    const id = newTaskId();
    const task = this.addTaskState(node, id, inst.name);
    task.item = inst.item;
    task.matrix = inst.matrix;
    return {
      id,
      runId: this.runId,
      name: inst.name,
      node: spec.name,
      parentId: null,
      status: "pending" as const,
      pool: spec.kind === "task" ? spec.pool : "local",
      priority: spec.kind === "task" ? spec.priority : 0,
      params: {},
      item: inst.item ?? inst.matrix,
      outputDir: task.outputDir,
      ...(spec.kind === "task" && spec.image !== undefined ? { image: spec.image } : {}),
    };
  }

  /** A fan-out known only now (from upstream results) over the limits fails its node, saying where and why. */
  private checkExpansion(spec: TaskNodeSpec, fanout: Fanout): void {
    const { perNode, perRun } = this.engine.limits;
    const field = spec.foreach !== undefined ? "foreach" : "matrix";
    let message: string | undefined;
    if (fanout.count > perNode) {
      message = nodeLimitMessage(
        {
          field,
          count: fanout.count,
          factors: fanout.factors,
          fromParams: fanout.factors.map(() => undefined),
        },
        perNode,
      );
    } else if (this.plannedTasks + fanout.count > perRun) {
      message = `the run would make ${runLimitMessage(
        this.plannedTasks + fanout.count,
        [
          ["tasks planned before", this.plannedTasks],
          [spec.name, fanout.count],
        ],
        perRun,
      )}`;
    }
    if (message === undefined) return;
    const problem = this.placed(spec.loc, [...spec.path.split("."), field], message);
    throw new BatonError("TOO_MANY_TASKS", formatProblem(problem), { problems: [problem] });
  }

  /** A problem placed at `loc` (a node's or the pipeline's) when it came from a file. */
  private placed(loc: SourceLocation, path: ReadonlyArray<string | number>, message: string): Problem {
    const problem: Problem = { file: this.project.file, path: formatPath(path), message };
    if (loc.line > 0) {
      problem.line = loc.line;
      problem.column = loc.column;
    }
    return problem;
  }

  /** The error refusing a run whose fan-outs are over the limits (nothing is recorded). */
  private limitError(problems: LimitProblem[]): BatonError {
    const placed = problems.map((p) => this.placed((p.node ?? this.pipeline).loc, p.path, p.message));
    return new BatonError("TOO_MANY_TASKS", placed.map(formatProblem).join("\n"), {
      problems: placed,
      context: { limits: this.engine.limits },
    });
  }

  /** Expression context shared by the node-level fields (`with`, `foreach`, `matrix`, `if`, bindings). */
  private nodeContext(
    needed: NeededNode[],
    extra: Record<string, unknown>,
    onFiles?: (f: ProducedFile[]) => void,
  ) {
    return {
      params: this.options.params,
      needs: needsContext(needed, (files, glob) => selectOutputs(files, glob), onFiles ?? (() => undefined)),
      run: { id: this.runId, dir: this.pipelineDir },
      env: process.env,
      ...extra,
    };
  }

  private neededNodes(node: NodeState): NeededNode[] {
    return node.spec.needs.map((need) => {
      const n = this.nodes.get(need.node)!;
      return {
        name: need.node,
        outcome: n.outcome ?? "cancelled",
        tasks: n.tasks.map((t) => ({
          id: t.id,
          name: t.name,
          outputDir: t.outputDir,
          files: t.files,
          metrics: t.metrics,
          params: t.params,
        })),
      };
    });
  }

  /** All needed nodes have ended: skip the node, or resolve and queue its tasks. */
  private async nodeReady(node: NodeState): Promise<void> {
    if (this.cancelling) return;
    const verdict = judgeNeeds(node.spec.needs, (name) => this.nodes.get(name)!.outcome ?? "cancelled");
    const needed = this.neededNodes(node);
    if (!node.expanded) {
      try {
        const added = await this.expandAndRecord(node, true, needed);
        this.engine.emit({ type: "tasks-added", runId: this.runId, count: added });
      } catch (err) {
        // A fan-out that cannot be evaluated fails the node as one task that says why.
        node.expanded = true;
        const id = newTaskId();
        const task = this.placeholderTask(node, id);
        await this.engine.store.addTasks([
          {
            id,
            runId: this.runId,
            name: node.spec.name,
            node: node.spec.name,
            parentId: null,
            status: "pending",
            pool: "local",
            priority: 0,
            params: {},
            item: undefined,
            outputDir: task.outputDir,
          },
        ]);
        if (!verdict.run) await this.endWithoutRunning(task, "skipped", verdict.reason, Date.now());
        else await this.failWithoutRunning(task, ensureBatonError(err).message);
        return;
      }
    }
    if (node.tasks.length === 0) {
      await this.nodeEnded(node);
      return;
    }
    if (!verdict.run) {
      const now = Date.now();
      for (const task of node.tasks) await this.endWithoutRunning(task, "skipped", verdict.reason, now);
      return;
    }
    // Many at once, so that their store writes share transactions (see SqliteStore).
    const pending = node.tasks.filter((t) => t.status === "pending");
    // A large fan-out lists the project folder once for all its commands (see commandFiles).
    const names = pending.length >= LIST_WORKDIR_FROM ? workdirNames(this.options.workdir) : undefined;
    await mapLimit(pending, PREPARE_CONCURRENCY, async (task) => {
      await this.breather.breathe();
      // A cancel while 100,000 tasks are prepared: the rest are left to the cancel.
      if (this.cancelling || task.status !== "pending") return;
      await this.prepareTask(task, needed, names);
    });
  }

  /** One task standing for a node whose fan-out could not be evaluated (it fails, saying why). */
  private placeholderTask(node: NodeState, id: string): TaskState {
    return this.addTaskState(node, id, node.spec.name);
  }

  /** A new pending task of `node`, known to the run. */
  private addTaskState(node: NodeState, id: string, name: string): TaskState {
    const task: TaskState = {
      id,
      name,
      node,
      status: "pending",
      attempts: 0,
      params: {},
      command: "",
      outputDir: this.engine.executor.workspace.folders({ runId: this.runId, taskId: id, name }).outputDir,
      files: [],
      metrics: {},
    };
    node.tasks.push(task);
    this.tasks.set(id, task);
    return task;
  }

  /** Resolves `if`, params, inputs, command and environment, then queues the task. */
  private async prepareTask(
    task: TaskState,
    needed: NeededNode[],
    names?: () => ReadonlySet<string> | undefined,
  ): Promise<void> {
    const spec = task.node.spec;
    const handedOut = new Map<string, ProducedFile>();
    const extra: Record<string, unknown> = { task: { id: task.id, name: task.name } };
    if (task.item !== undefined) extra.item = task.item;
    if (task.matrix !== undefined) extra.matrix = task.matrix;
    const context = this.nodeContext(needed, extra, (files) => {
      for (const f of files) handedOut.set(f.abs, f);
    });
    try {
      if (spec.if !== undefined && !evaluateValue(spec.if, context)) {
        await this.endWithoutRunning(task, "skipped", `if: ${spec.if} is false`, Date.now());
        return;
      }
      if (spec.kind === "pipeline") {
        const child = this.project.pipelines[spec.pipeline]!;
        const given = evaluateValue(spec.with, context) as Record<string, unknown>;
        task.params = resolveParams(child.params, given, { fromCli: false, where: `${spec.path}.with` });
        task.command = `pipeline ${spec.pipeline}`;
        if (this.cancelling) return; // ended by the cancel
        await this.engine.store.queueTask(task.id, task.command, task.params);
        task.status = "queued";
        this.emitTask(task);
        void this.guard(this.runChildPipeline(task, child));
        return;
      }
      const given = evaluateValue(spec.with, context) as Record<string, unknown>;
      task.params = resolveParams(spec.params, given, { fromCli: false, where: `${spec.path}.with` });
      const skip = (reason: string) => this.endWithoutRunning(task, "skipped", reason, Date.now());
      if (this.hooks && !(await this.hooks.before(task, skip))) return;
      // Where the task will see its inputs (planned here; the executor's workspace places them).
      const { inputsDir } = this.engine.executor.workspace.folders(this.taskRef(task));
      const inputs: Record<string, string[]> = dict();
      const inputHashes: Record<string, Record<string, string>> = dict();
      const links: Array<{ plan: InputLinkPlan; files: BoundFile[] }> = [];
      for (const [name, decl] of Object.entries(spec.inputs)) {
        const binding = own(spec.bindings, name) ?? decl.default;
        if (binding === undefined) {
          if (decl.optional) {
            inputs[name] = [];
            continue;
          }
          throw new BatonError("TASK_INPUT_MISSING", `input "${name}" has no binding and no default`);
        }
        // Valohai lays bound files out by basename unless told otherwise.
        const keep = decl.keepDirectories ?? (spec.compat === "valohai" ? "none" : undefined);
        const files = await this.resolveBinding(name, binding, context, handedOut, decl, keep);
        // Links are only planned here: a cache hit never needs them.
        const plan = planInputLinks(inputsDir, name, files);
        links.push({ plan, files });
        inputs[name] = plan.links;
        const hashes: Record<string, string> = dict();
        for (const [i, f] of files.entries())
          hashes[plan.rels[i]!] = f.sha256 ?? (await this.hashWorkdirFile(f.abs));
        inputHashes[name] = hashes;
      }
      const runContext = {
        ...context,
        params: { ...this.options.params, ...task.params },
        inputs,
        ...argsContext(spec.params, task.params),
      };
      task.command = text(evaluateValue(spec.run, runContext));
      task.env = this.userEnv(spec, runContext);
      await this.computeCacheKey(task, spec, runContext, needed, inputs, inputHashes, names);
      this.hooks?.applyEnv(task);
      if (this.cancelling) return; // ended by the cancel
      if (await this.startGate(task, spec, runContext)) return;
      if (await this.tryCache(task, spec)) return;
      if (spec.release) {
        await this.keepRelease(task, spec.release.name, links[0]?.plan.rels ?? [], links[0]?.files ?? []);
        return;
      }
      // Placed by the executor's workspace, where the task will run.
      const placed = links.map(({ plan, files }) => ({
        name: plan.name,
        files: files.map((f, i) => ({ rel: plan.rels[i]!, source: f.abs, sha256: f.sha256 })),
      }));
      if (placed.length > 0)
        await this.engine.executor.workspace.prepare(this.taskRef(task), { inputs: placed });
      if (spec.compat === "valohai") {
        const vhInputs: Record<string, ValohaiInputFile[]> = dict();
        for (const { plan, files } of links)
          vhInputs[plan.name] = files.map((f, i) => ({
            path: plan.links[i]!,
            uri: f.uri ?? f.abs,
            sha256: f.sha256,
          }));
        await writeValohaiConfig(this.engine, this.taskRef(task), task.params, vhInputs);
      }
      if (this.cancelling) return;
      await this.engine.store.queueTask(task.id, task.command, task.params);
      task.status = "queued";
      this.emitTask(task);
      this.enqueue(task);
    } catch (err) {
      await this.failWithoutRunning(task, ensureBatonError(err).message);
    }
  }

  private async resolveBinding(
    input: string,
    binding: string | string[],
    context: Record<string, unknown>,
    handedOut: Map<string, ProducedFile>,
    decl: InputSpec,
    keep: InputSpec["keepDirectories"],
  ): Promise<BoundFile[]> {
    const { optional } = decl;
    const value = evaluateValue(binding, context);
    const entries = (Array.isArray(value) ? value.flat() : [value]).map((v) => String(v));
    const files: BoundFile[] = [];
    const patterns: string[] = [];
    for (const entry of entries) {
      const produced = handedOut.get(entry);
      if (produced) {
        // Upstream outputs keep their path in the output folder, but with `none`: then every
        // file goes straight in the input's folder, not in one folder per producer task.
        files.push(
          keep === "none"
            ? { ...produced, rel: path.posix.basename(produced.rel), producer: undefined }
            : produced,
        );
        continue;
      }
      const source = classifyInputSource(entry);
      if (source.kind === "unsupported") {
        throw new BatonError("TASK_INPUT_MISSING", inputSourceProblem(input, entry) as string, {
          context: { input, url: entry },
        });
      }
      if (source.kind === "url") {
        const blob = await this.engine.urlInputs.get(entry, input);
        files.push({
          abs: this.engine.cas.pathOf(blob.sha256),
          rel: urlFileRel(source.url, keep),
          sha256: blob.sha256,
          uri: entry,
        });
      } else if (entry !== "") patterns.push(entry);
    }
    if (patterns.length > 0) {
      const found = await resolveWorkdirFiles(this.options.workdir, patterns, { optional, input });
      for (const f of found) files.push({ abs: f.abs, rel: workdirFileRel(this.options.workdir, f, keep) });
    }
    if (files.length === 0 && !optional) {
      throw new BatonError(
        "TASK_INPUT_MISSING",
        `input "${input}": ${JSON.stringify(binding)} selects no file (mark the input optional if that can happen)`,
      );
    }
    if (decl.filename !== undefined && files.length > 0) {
      if (files.length > 1) {
        throw new BatonError(
          "TASK_INPUT_MISSING",
          `input "${input}": filename "${decl.filename}" needs exactly one file, but ${JSON.stringify(binding)} selects ${files.length}`,
          { context: { input } },
        );
      }
      files[0] = { ...(files[0] as BoundFile), rel: decl.filename, producer: undefined };
    }
    return files;
  }

  /**
   * Content hash of a file in the working folder, remembered by path, size, mtime and inode: in
   * the store, and for this run in memory (a file named by every task of a fan-out is hashed once).
   */
  private async hashWorkdirFile(file: string): Promise<string> {
    const st = await fs.promises.stat(file);
    const key = hashCacheKey(file, st);
    let hashing = this.fileHashes.get(key);
    if (!hashing) {
      hashing = (async () => {
        const known = await this.engine.store.getFileHash(key);
        if (known) return known;
        const { sha256 } = await hashFile(file);
        await this.engine.store.setFileHash(key, sha256);
        return sha256;
      })();
      this.fileHashes.set(key, hashing);
      hashing.catch(() => this.fileHashes.delete(key));
    }
    return hashing;
  }

  /**
   * Works out what the task's result depends on (docs/pipeline-file.md). The command is rendered a second
   * time with run-specific paths replaced by stable tokens, so equal work gets equal keys.
   */
  private async computeCacheKey(
    task: TaskState,
    spec: TaskNodeSpec,
    runContext: Record<string, unknown>,
    needed: NeededNode[],
    inputs: Record<string, string[]>,
    inputHashes: Record<string, Record<string, string>>,
    names?: () => ReadonlySet<string> | undefined,
  ): Promise<void> {
    const taskDir = this.engine.layout.taskDir(this.runId, task.id);
    const canonicalInputs: Record<string, string[]> = dict();
    for (const [name, links] of Object.entries(inputs))
      canonicalInputs[name] = links.map((l) => relativeUnder(taskDir, l));
    const canonical = {
      ...runContext,
      inputs: canonicalInputs,
      needs: needsContext(
        needed,
        (files, glob) => selectOutputs(files, glob),
        () => undefined,
        "canonical",
      ),
      run: { id: "<run.id>", dir: "<run.dir>" },
      task: { id: "<task.id>", name: task.name },
    };
    const deps: Record<string, string> = dict();
    if (spec.cache.deps.length > 0) {
      const files = await resolveWorkdirPatterns(this.options.workdir, spec.cache.deps, {
        optional: false,
        input: "cache.deps",
      });
      for (const f of files) deps[path.relative(this.options.workdir, f)] = await this.hashWorkdirFile(f);
    }
    // Files of the project the command names (`python3 step.py`), by content.
    const files: Record<string, string> = dict();
    const named = await commandFiles(
      task.command ?? "",
      this.options.workdir,
      [this.engine.layout.root],
      names,
    );
    for (const f of named) files[path.relative(this.options.workdir, f)] = await this.hashWorkdirFile(f);
    const env: Record<string, string> = dict();
    for (const [name, value] of Object.entries(spec.env)) env[name] = text(evaluateValue(value, canonical));
    const parts: CacheParts = {
      command: text(evaluateValue(spec.run, canonical)),
      // The task's own params: all that BATON_PARAM_* and `params.X` in its command can show it.
      params: task.params,
      env,
      inputs: inputHashes,
      deps,
      // Only when there are some: keys of commands naming no file stay what they were.
      ...(Object.keys(files).length > 0 ? { files } : {}),
      resources: this.project.pools[spec.pool]?.resources ?? {},
      outputs: spec.outputs,
    };
    task.cacheParts = parts;
    task.cacheKey = cacheKey(parts);
  }

  /** Reuses an earlier result with the same key, if caching is on and its blobs are all there. */
  private async tryCache(task: TaskState, spec: TaskNodeSpec): Promise<boolean> {
    if (!spec.cache.enabled || this.options.noCache || this.rerunNodes.has(spec.name) || !task.cacheKey)
      return false;
    const hit = await this.cacheHits.find(task.cacheKey);
    if (!hit) return false;
    const outputs = hit.outputs;
    if (outputsIntact(hit.outputDir, outputs)) {
      // The earlier result's folder is still whole (outputs are read-only once recorded): reuse it as is.
      task.outputDir = hit.outputDir;
    } else {
      for (const o of outputs) if (!(await this.engine.cas.has(o.sha256))) return false;
      await this.engine.executor.workspace.prepare(this.taskRef(task), { restore: outputs });
    }
    task.files = outputs.map((o) => ({
      abs: joinUnder(task.outputDir, o.path),
      rel: o.path,
      producer: task.name,
      sha256: o.sha256,
    }));
    task.metrics = hit.metrics;
    // The task that ran, not a cached task that reused its result in turn.
    task.cachedFrom = hit.cachedFrom ?? hit.taskId;
    // A reused result keeps the parts of the task that computed it: this task's are not kept.
    task.cacheParts = undefined;
    // Recorded with the other hits of this batch, in one write (as the task runner's `finish` would).
    const write = this.cacheHits.complete(task.id, {
      status: "cached",
      exitCode: 0,
      endedAt: Date.now(),
      metrics: task.metrics,
      outputs,
      error: null,
      cacheKey: task.cacheKey,
      command: task.command || undefined,
      params: task.params,
      outputDir: task.outputDir,
      cachedFrom: task.cachedFrom,
    });
    if (!(await applyTransition(write, task, (actual) => this.endedElsewhere(task, actual)))) return true;
    task.status = "cached";
    this.emitTask(task, { exitCode: 0, error: null });
    await this.taskEnded(task);
    return true;
  }

  /** Releases: a `release:` node keeps its bound files as the next version of its release. */
  private async keepRelease(task: TaskState, release: string, rels: string[], files: BoundFile[]) {
    const number = task.attempts + 1;
    const kept = await keepRelease(this.engine, {
      runId: this.runId,
      taskId: task.id,
      name: task.name,
      number,
      release,
      command: task.command,
      params: task.params,
      files: files.map((f, i) => ({ abs: f.abs, rel: rels[i]!, sha256: f.sha256 })),
    });
    task.attempts = number;
    task.status = "running";
    task.files = kept.outputs.map((o) => ({
      abs: joinUnder(task.outputDir, o.path),
      rel: o.path,
      producer: task.name,
      sha256: o.sha256,
    }));
    await this.complete(task, kept.attempt, "succeeded", 0, {}, kept.outputs, null);
  }

  /** The task as the executor's workspace names it. */
  private taskRef(task: TaskState): TaskRef {
    return { runId: this.runId, taskId: task.id, name: task.name };
  }

  /** The task's own `env:`, evaluated; Baton's variables are added at launch (`buildTaskEnv`). */
  private userEnv(spec: TaskNodeSpec, context: Record<string, unknown>): Record<string, string> {
    const env: Record<string, string> = dict();
    for (const [name, value] of Object.entries(spec.env)) env[name] = text(evaluateValue(value, context));
    return env;
  }

  private enqueue(task: TaskState): void {
    this.runner.enqueue(task);
  }

  /**
   * A `pipeline:` node: its child run. Picking up a recorded run, the node's earlier child run
   * is followed rather than started afresh: resumed if its engine died with it, or given new
   * attempts for what failed (`retry --failed-only`), keeping what it finished.
   */
  private async runChildPipeline(task: TaskState, child: PipelineSpec): Promise<void> {
    if (this.cancelling) return;
    const previous = this.restoreMode
      ? (await this.engine.store.listRuns({ parentTaskId: task.id })).at(-1)
      : undefined;
    const reuse =
      previous?.status === "running"
        ? "resume"
        : previous && previous.status !== "succeeded" && this.restoreMode === "retry-failed"
          ? "retry-failed"
          : undefined;
    // A resumed child run goes on under the attempt that started it; anything else is a new attempt.
    const number = reuse === "resume" ? Math.max(task.attempts, 1) : task.attempts + 1;
    const logPath = this.engine.layout.logPath(this.runId, task.id, number);
    makeStateDir(path.dirname(logPath));
    makeStateFile(logPath);
    if (number > task.attempts) {
      await this.engine.store.startAttempt({
        taskId: task.id,
        number,
        status: "running",
        pid: null,
        pidStart: null,
        startedAt: Date.now(),
        logPath,
      });
    }
    task.attempts = number;
    task.status = "running";
    this.emitTask(task, { attempt: number });
    let controller: RunController;
    try {
      controller =
        previous && reuse
          ? await this.engine.restoreRun(this.project, previous, reuse)
          : await this.engine.startRun(this.project, {
              pipeline: child.name,
              params: task.params,
              workdir: this.options.workdir,
              specFile: this.options.specFile,
              parentRunId: this.runId,
              parentTaskId: task.id,
              noCache: this.options.noCache,
              ...(this.hooks ? { controller: this.hooks.child(child.name) } : {}),
            });
    } catch (err) {
      // A child run that cannot be planned (over the task limits...) fails its node, saying why.
      const message = `child run of pipeline ${child.name} not started: ${ensureBatonError(err).message}`;
      fs.appendFileSync(logPath, `${message}\n`);
      const end = {
        status: "failed" as const,
        endedAt: Date.now(),
        exitCode: null,
        signal: null,
        reason: "exited" as const,
        message,
      };
      await this.complete(task, { number, end }, "failed", null, {}, [], message);
      return;
    }
    this.children.add(controller);
    fs.appendFileSync(
      logPath,
      `${reuse ? `${reuse === "resume" ? "resumed" : "retrying"} ` : ""}child run ${controller.runId} of pipeline ${child.name}\n`,
    );
    const status = await controller.done;
    this.children.delete(controller);
    task.files = controller.producedFiles();
    const ok = status === "succeeded";
    const taskStatus = ok ? "succeeded" : status === "cancelled" ? "cancelled" : "failed";
    const message = ok ? null : `child run ${controller.runId} ${status}`;
    await this.complete(
      task,
      {
        number,
        end: {
          status: taskStatus,
          endedAt: Date.now(),
          exitCode: null,
          signal: null,
          reason: "exited",
          message,
        },
      },
      taskStatus,
      null,
      {},
      [],
      message,
    );
  }

  /** Every file the run's tasks produced (what a `pipeline:` node hands downstream). */
  producedFiles(): ProducedFile[] {
    return [...this.tasks.values()].flatMap((t) => t.files);
  }

  private async complete(
    task: TaskState,
    attempt: { number: number; end: AttemptEnd } | null,
    status: "succeeded" | "failed" | "cancelled" | "cached",
    exitCode: number | null,
    metrics: Record<string, unknown>,
    outputs: Array<{ path: string; sha256: string; size: number }>,
    error: string | null,
  ): Promise<void> {
    await this.runner.finish(task, attempt, { status, exitCode, error, metrics, outputs });
  }

  /** The store says the task ended (`actual`) while this run was about to end it otherwise. */
  private async endedElsewhere(task: TaskState, actual: TaskStatus): Promise<void> {
    task.status = actual;
    this.emitTask(task);
    await this.taskEnded(task);
  }

  private async failWithoutRunning(task: TaskState, message: string): Promise<void> {
    await this.complete(task, null, "failed", null, {}, [], message);
  }

  private async endWithoutRunning(
    task: TaskState,
    status: "skipped" | "cancelled",
    reason: string,
    at: number,
  ): Promise<void> {
    if (task.status !== "pending" && task.status !== "queued" && task.status !== "waiting") return;
    // Ended once: a cancel and a node's end may both reach a task not started.
    if (this.endingWithoutRunning.has(task.id)) return;
    this.endingWithoutRunning.add(task.id);
    let ended: boolean;
    try {
      const write = this.engine.store.endTaskWithoutRunning(task.id, status, reason, at);
      ended = await applyTransition(write, task, (actual) => this.endedElsewhere(task, actual));
    } finally {
      this.endingWithoutRunning.delete(task.id);
    }
    if (!ended) return;
    task.status = status;
    this.emitTask(task, { error: reason });
    await this.taskEnded(task);
  }

  private async taskEnded(task: TaskState): Promise<void> {
    await this.hooks?.ended(task);
    this.endGate(task);
    const node = task.node;
    if (node.outcome !== undefined) return;
    // Tasks end roughly in order: scan on from the first one not known to have ended (linear overall).
    let i = node.endedPrefix ?? 0;
    while (i < node.tasks.length && isEnded(node.tasks[i]!.status)) i++;
    node.endedPrefix = i;
    if (i < node.tasks.length || this.hooks?.holding(node.spec.name)) return;
    await this.nodeEnded(node);
  }

  private async nodeEnded(node: NodeState): Promise<void> {
    if (node.outcome !== undefined) return;
    node.outcome = this.hooks?.outcome(node) ?? this.outcomeOf(node);
    this.remainingNodes--;
    for (const next of node.downstream) {
      next.waiting--;
      if (next.waiting === 0) {
        if (this.cancelling) {
          const now = Date.now();
          if (!next.expanded) next.expanded = true;
          for (const t of next.tasks) await this.endWithoutRunning(t, "cancelled", this.cancelReason, now);
          if (next.tasks.length === 0 && next.outcome === undefined) await this.nodeEnded(next);
        } else {
          void this.guard(this.nodeReady(next));
        }
      }
    }
    if (this.remainingNodes === 0) await this.finish();
  }

  /** After a cancel, nodes that will never become ready must still be counted as ended. */
  private async drainIfIdle(): Promise<void> {
    const active = [...this.tasks.values()].some((t) => t.status === "running" || t.status === "queued");
    if (active || this.children.size > 0) return;
    for (const node of this.nodes.values()) {
      if (node.outcome === undefined) {
        node.outcome = "cancelled";
        this.remainingNodes--;
      }
    }
    if (this.remainingNodes <= 0) await this.finish();
  }

  private finished = false;

  /** Ends a run that could not be planned: failed, with the reason on the run. */
  private async failPlanning(reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.engine.store.finishRun(this.runId, "failed", Date.now(), reason);
    this.engine.emit({ type: "run-ended", runId: this.runId, status: "failed" });
    this.notifyEnd();
    this.resolveDone("failed");
  }

  private async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const statuses = [...this.tasks.values()].map(
      (t) => this.hooks?.forRun(t) ?? countedStatus(onErrorOf(t.node.spec), t.status),
    );
    // A failure makes the run failed; otherwise a cancelled task (or the whole run cancelled)
    // makes it cancelled: its work was not all done, though nothing failed. An action's
    // stop-pipeline ends it cancelled, saying why.
    const status: RunStatus = this.stopped?.status
      ? this.stopped.status
      : statuses.includes("failed")
        ? "failed"
        : this.cancelling || statuses.includes("cancelled")
          ? "cancelled"
          : "succeeded";
    const why =
      this.stopped?.reason ??
      (status === "failed" ? this.hooks?.failureReason(this.tasks.values()) : undefined);
    await this.engine.store.finishRun(this.runId, status, Date.now(), why);
    this.engine.emit({ type: "run-ended", runId: this.runId, status, ...(why ? { error: why } : {}) });
    this.notifyEnd();
    this.resolveDone(status);
    this.hooks?.close();
  }

  /** `notify:` of a top-level run (a child run's end shows in its parent's). */
  private notifyEnd(): void {
    if (!this.options.parentRunId) this.engine.notifier.runEnded(this.runId, this.pipeline.notify);
  }

  // Gates: on error, actions, approval ---------------------------------------------------------

  /** Why the run was stopped by a gate (`on-error: stop-all`, an action's stop-pipeline), and how it ends. */
  private stopped: { reason: string; status?: "cancelled" } | undefined;

  /** A node's outcome from its tasks, a `continue` node's failures counting as successes. */
  private outcomeOf(node: NodeState): NodeOutcome {
    const onError = onErrorOf(node.spec);
    return nodeOutcome(node.tasks.map((t) => countedStatus(onError, t.status)));
  }

  /**
   * Before a task starts: its node-starting actions (stop-pipeline, require-approval) and its
   * `approval:` gate. Returns true when the task does not go on now (held, or the run stopped).
   */
  private async startGate(
    task: TaskState,
    spec: TaskNodeSpec,
    context: Record<string, unknown>,
  ): Promise<boolean> {
    // Most nodes have no actions: their tasks skip building the context.
    const due = spec.actions?.length
      ? dueActions(spec.actions, "node-starting", spec.name, { ...context, metrics: task.metrics })
      : undefined;
    if (due?.todo.has("stop-pipeline")) {
      this.stopRun(due.reason, "cancelled");
      return true;
    }
    const gated = spec.approval !== undefined || due?.todo.has("require-approval");
    if (!gated || task.approval?.state === "approved") return false;
    const message = spec.approval ?? "";
    const write = this.engine.store.holdForApproval(task.id, task.command, task.params, message, Date.now());
    if (!(await applyTransition(write, task, (actual) => this.endedElsewhere(task, actual)))) return true;
    task.status = "waiting";
    task.approval = { state: "waiting", message, requestedAt: Date.now(), by: null, at: null, comment: null };
    this.emitTask(task, { error: `waiting for approval${message ? `: ${message}` : ""}` });
    this.engine.notifier.approvalRequested(this.runId, this.pipeline.notify, {
      id: task.id,
      name: task.name,
      message,
    });
    return true;
  }

  /** After a task ended: its node-complete / node-error actions, and its node's `on-error:`. */
  private endGate(task: TaskState): void {
    if (
      this.cancelling ||
      (task.status !== "failed" && task.status !== "succeeded" && task.status !== "cached")
    )
      return;
    const spec = task.node.spec;
    if (spec.kind !== "task") {
      return;
    }
    const failed = task.status === "failed";
    // No actions: nothing to evaluate (a rerun of 10,000 hits makes no context for each).
    if (!spec.actions?.length) {
      if (failed && stopsAllOnFailure(onErrorOf(spec))) this.stopRun(`stopped: ${spec.name} failed`);
      return;
    }
    const context = {
      ...this.nodeContext(this.neededNodes(task.node), { task: { id: task.id, name: task.name } }),
      params: { ...this.options.params, ...task.params },
      metrics: task.metrics,
      ...(task.item !== undefined ? { item: task.item } : {}),
      ...(task.matrix !== undefined ? { matrix: task.matrix } : {}),
    };
    const due = dueActions(spec.actions, failed ? "node-error" : "node-complete", spec.name, context);
    if (due?.todo.has("stop-pipeline")) {
      this.stopRun(due.reason, "cancelled");
      return;
    }
    if (failed && stopsAllOnFailure(onErrorOf(spec))) this.stopRun(`stopped: ${spec.name} failed`);
  }

  /** Cancels every unfinished task of the run, as `baton cancel` does, recording why. */
  private stopRun(reason: string, status?: "cancelled"): void {
    if (this.cancelling || this.stopped) return;
    this.stopped = status ? { reason, status } : { reason };
    void this.guard(this.cancel(reason));
  }

  /**
   * Gates: approves or rejects a task waiting for approval (`baton approve`/`reject`). Approved,
   * it is queued and runs; rejected, it fails and its dependents are skipped.
   * @throws BatonError `STATE_CONFLICT` when the task is not waiting.
   */
  async decide(taskId: string, decision: ApprovalDecision): Promise<void> {
    const task = this.tasks.get(taskId);
    const row = await this.engine.store.decideApproval(taskId, decision);
    if (!task) return;
    task.approval = row.approval;
    if (!decision.approved) {
      task.status = "failed";
      this.emitTask(task, { error: row.error });
      await this.taskEnded(task);
      return;
    }
    if (this.cancelling) return;
    task.status = "pending";
    // Prepared again (its gate now passes): inputs placed, cache checked, then queued.
    void this.guard(this.prepareTask(task, this.neededNodes(task.node)));
  }

  private emitTask(
    task: TaskState,
    extra: { attempt?: number; exitCode?: number | null; error?: string | null } = {},
  ) {
    this.engine.emit({
      type: "task",
      runId: this.runId,
      taskId: task.id,
      name: task.name,
      status: task.status,
      ...extra,
    });
  }

  /** Background steps must never leave the run hanging: a bug fails the run loudly instead. */
  private async guard(p: Promise<void>): Promise<void> {
    try {
      await p;
      if (this.cancelling) await this.drainIfIdle();
    } catch (err) {
      process.stderr.write(`baton: internal error in run ${this.runId}: ${(err as Error).stack ?? err}\n`);
      for (const t of this.tasks.values()) {
        if (!isEnded(t.status)) {
          t.cancel?.();
          t.status = "failed";
        }
      }
      if (!this.finished) await this.finish().catch(() => undefined);
    }
  }
}

function isEnded(status: TaskStatus): boolean {
  return status !== "pending" && status !== "queued" && status !== "running" && status !== "waiting";
}

/**
 * Whether a recorded result's files are all still in its folder, with their sizes. Synchronous
 * on purpose: a fully cached rerun of 10,000 tasks makes 10,000 of these tiny stats, and a
 * round trip through the thread pool for each costs more than the stat itself.
 */
function outputsIntact(dir: string, outputs: Array<{ path: string; size: number }>): boolean {
  try {
    return outputs.every(
      (o) => fs.statSync(joinUnder(dir, o.path), { throwIfNoEntry: false })?.size === o.size,
    );
  } catch {
    return false; // unreadable folder: restore from the content store instead
  }
}
