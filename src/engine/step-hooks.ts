/**
 * Controller hooks inside the engine's own scheduling (docs/sdk.md "Pipelines with hooks").
 * A run started with `controller` options (`POST /runs`, from the SDK) has steps whose tasks
 * the engine holds for a controller process to answer:
 *
 * - `before`: a task whose params are known (after `if:` and `with:`) waits, still `pending`,
 *   until the controller answers with changed params and environment, a skip, or an error;
 *   then it goes on exactly as without a hook (params checked, command rendered, inputs, cache,
 *   pool).
 * - `after`: a task that ended does not count as ended for its node (what needs it waits)
 *   until the controller answers; an error makes it count as failed for the node and the run.
 * - `continueOnFailure`: a failed step counts as succeeded for what needs it and for the run.
 * - `concurrency: n`: at most `n` tasks of the step between "prepared" and "after released".
 *
 * Holds live in memory; a cancel of the run (or of the task) releases them at once. The
 * controller sees and answers them through `GET/POST /runs/:id/holds` (the engine's {@link HoldBoard}, `Engine.holds`).
 */
import { BatonError } from "../errors.js";
import { resolveParams } from "../spec/params.js";
import type { NodeSpec, TaskNodeSpec } from "../spec/types.js";
import type { RunRequestOptions, TaskStatus } from "../store/store.js";
import { type CacheParts, cacheKey } from "./cache-key.js";
import { type NodeOutcome, nodeOutcome } from "./conditions.js";

/** What the controller asked for one step. */
export interface StepHookOptions {
  before?: boolean;
  after?: boolean;
  continueOnFailure?: boolean;
  concurrency?: number;
}

/** The `controller` of `POST /runs`, recorded with the run so that a resume honours it. */
export interface ControllerOptions {
  /** The resume key, when the caller gave one: the run's idempotency key. */
  key?: string;
  /** Steps of the run's pipeline, by name. */
  steps: Record<string, StepHookOptions>;
  /** Steps of nested pipelines (`pipeline:` nodes), by pipeline name, then step name. */
  pipelines?: Record<string, Record<string, StepHookOptions>>;
  /** For a child run: the id of its root run, where its holds are listed. */
  root?: string;
}

/** The controller options recorded with a run, if any. */
export function recordedController(options: RunRequestOptions): ControllerOptions | undefined {
  return (options as { controller?: ControllerOptions }).controller;
}

/** A task waiting for the controller. */
export interface Hold {
  kind: "before" | "after";
  runId: string;
  taskId: string;
  pipeline: string;
  step: string;
  name: string;
  index: number;
  item?: unknown;
  matrix?: Record<string, unknown>;
  params: Record<string, unknown>;
  /** For `after`: how the task ended. */
  status?: TaskStatus;
}

/** The controller's answer. `error` fails the task (`before`) or counts it failed (`after`). */
export interface HoldAnswer {
  params?: Record<string, unknown>;
  env?: Record<string, string>;
  skip?: string;
  error?: string;
}

interface Waiter {
  hold: Hold;
  resolve(answer: HoldAnswer | undefined): void;
}

/** The holds of every run an engine drives, by root run id. */
export class HoldBoard {
  private readonly holds = new Map<string, Map<string, Waiter>>();
  private readonly wakers = new Map<string, Set<() => void>>();

  add(root: string, hold: Hold): Promise<HoldAnswer | undefined> {
    return new Promise((resolve) => {
      let map = this.holds.get(root);
      if (!map) {
        map = new Map();
        this.holds.set(root, map);
      }
      map.set(hold.taskId, { hold, resolve });
      this.wake(root);
    });
  }

  list(root: string): Hold[] {
    return [...(this.holds.get(root)?.values() ?? [])].map((w) => w.hold);
  }

  /** Answers a hold; false when there is none for that task (and kind). */
  answer(root: string, taskId: string, kind: Hold["kind"], answer: HoldAnswer): boolean {
    const waiter = this.holds.get(root)?.get(taskId);
    if (!waiter || waiter.hold.kind !== kind) return false;
    this.take(root, taskId)?.resolve(answer);
    return true;
  }

  /** Releases holds without an answer (a cancel). */
  release(root: string, pred: (h: Hold) => boolean): void {
    for (const w of [...(this.holds.get(root)?.values() ?? [])]) {
      if (pred(w.hold)) this.take(root, w.hold.taskId)?.resolve(undefined);
    }
  }

  /** Resolves once `root` has a hold, or something changed (a run ended), or after `ms`. */
  async wait(root: string, ms: number): Promise<void> {
    if (this.list(root).length > 0 || ms <= 0) return;
    await new Promise<void>((resolve) => {
      let set = this.wakers.get(root);
      if (!set) {
        set = new Set();
        this.wakers.set(root, set);
      }
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.wakers.delete(root);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  wake(root: string): void {
    for (const w of [...(this.wakers.get(root) ?? [])]) w();
  }

  private take(root: string, taskId: string): Waiter | undefined {
    const map = this.holds.get(root);
    const w = map?.get(taskId);
    map?.delete(taskId);
    if (map && map.size === 0) this.holds.delete(root);
    return w;
  }
}

/** What the hooks need to know of a task (a run controller's task state). */
export interface HookTask {
  id: string;
  name: string;
  node: { spec: NodeSpec; tasks: HookTask[] };
  item?: unknown;
  matrix?: Record<string, unknown>;
  status: TaskStatus;
  attempts: number;
  params: Record<string, unknown>;
  env?: Record<string, string>;
  cacheKey?: string;
  cacheParts?: CacheParts;
}

/** The hooks of one run (see the file comment). */
export class StepHooks {
  readonly root: string;
  private released = false;
  /** Per step: tasks between "prepared" and "after released", and tasks waiting for room. */
  private readonly inFlight = new Map<string, Set<string>>();
  private readonly waiting = new Map<string, Array<() => void>>();
  /** Environment `before` added, by task id. */
  private readonly hookEnv = new Map<string, Record<string, string>>();
  /** Tasks whose `after` threw: they count as failed for their node and the run. */
  private readonly afterFailed = new Map<string, string>();
  /** Tasks held in `after`, by step. */
  private readonly heldAfter = new Map<string, number>();

  constructor(
    private readonly board: HoldBoard,
    private readonly runId: string,
    private readonly pipeline: string,
    readonly options: ControllerOptions,
  ) {
    this.root = options.root ?? runId;
  }

  /** The options of a child run of `pipeline` started by this run. */
  child(pipeline: string): ControllerOptions {
    return {
      ...(this.options.key !== undefined ? { key: this.options.key } : {}),
      steps: this.options.pipelines?.[pipeline] ?? {},
      ...(this.options.pipelines ? { pipelines: this.options.pipelines } : {}),
      root: this.root,
    };
  }

  private step(name: string): StepHookOptions | undefined {
    return Object.hasOwn(this.options.steps, name) ? this.options.steps[name] : undefined;
  }

  /**
   * Before a task's command is rendered: waits for room (`concurrency`), then for the
   * controller's `before`. Sets the task's params. Returns false when the task must not go on
   * (skipped here, or the hold was released by a cancel).
   * @throws BatonError when `before` failed or its params do not fit the declarations.
   */
  async before(task: HookTask, skip: (reason: string) => Promise<void>): Promise<boolean> {
    const spec = task.node.spec;
    const opts = this.step(spec.name);
    if (!opts || spec.kind !== "task") return true;
    if (opts.concurrency !== undefined && !(await this.acquire(task, opts.concurrency))) return false;
    if (!opts.before) return true;
    const answer = await this.hold("before", task);
    if (answer === undefined || task.status !== "pending") return false;
    if (answer.error !== undefined) throw new BatonError("USAGE", answer.error);
    if (answer.skip !== undefined) {
      await skip(answer.skip);
      return false;
    }
    if (answer.params !== undefined) {
      task.params = resolveParams((spec as TaskNodeSpec).params, answer.params, {
        fromCli: false,
        where: `${spec.path} (params from before())`,
      });
    }
    if (answer.env && Object.keys(answer.env).length > 0) this.hookEnv.set(task.id, answer.env);
    return true;
  }

  /** Adds the environment `before` gave to the task's, and to its cache key. */
  applyEnv(task: HookTask): void {
    const env = this.hookEnv.get(task.id);
    if (!env) return;
    this.hookEnv.delete(task.id);
    task.env = { ...task.env, ...env };
    if (task.cacheParts) {
      task.cacheParts = { ...task.cacheParts, env: { ...task.cacheParts.env, ...env } };
      task.cacheKey = cacheKey(task.cacheParts);
    }
  }

  /** When a task ended: waits for the controller's `after`, then gives its room back. */
  async ended(task: HookTask): Promise<void> {
    const step = task.node.spec.name;
    const opts = this.step(step);
    if (!opts) return;
    const ran =
      task.status === "succeeded" ||
      task.status === "cached" ||
      ((task.status === "failed" || task.status === "cancelled") && task.attempts > 0);
    if (opts.after && ran && !this.released) {
      this.heldAfter.set(step, (this.heldAfter.get(step) ?? 0) + 1);
      try {
        const answer = await this.hold("after", task);
        if (answer?.error !== undefined) this.afterFailed.set(task.id, answer.error);
      } finally {
        this.heldAfter.set(step, this.heldAfter.get(step)! - 1);
      }
    }
    this.inFlight.get(step)?.delete(task.id);
    this.pump(task);
  }

  /** Whether a task of `step` is still held in `after` (its node has not ended then). */
  holding(step: string): boolean {
    return (this.heldAfter.get(step) ?? 0) > 0;
  }

  /** How a node ended for what needs it: `after` failures count, `continueOnFailure` hides failures. */
  outcome(node: { spec: NodeSpec; tasks: HookTask[] }): NodeOutcome {
    const outcome = nodeOutcome(node.tasks.map((t) => this.counted(t)));
    return outcome === "failed" && this.step(node.spec.name)?.continueOnFailure ? "succeeded" : outcome;
  }

  /** A task's status as the run's status counts it. */
  forRun(task: HookTask): TaskStatus {
    const status = this.counted(task);
    return status === "failed" && this.step(task.node.spec.name)?.continueOnFailure ? "succeeded" : status;
  }

  /** Why the run failed when only an `after` says so. */
  failureReason(tasks: Iterable<HookTask>): string | undefined {
    for (const t of tasks) {
      const why = this.afterFailed.get(t.id);
      if (why !== undefined && t.status !== "failed" && !this.step(t.node.spec.name)?.continueOnFailure) {
        return `task ${t.name}: ${why}`;
      }
    }
    return undefined;
  }

  /** A cancel of the run: every hold and every wait for room ends now, and none starts again. */
  releaseAll(): void {
    this.released = true;
    this.board.release(this.root, (h) => h.runId === this.runId);
    for (const list of this.waiting.values()) for (const go of list.splice(0)) go();
  }

  /** A cancel of one task: its hold ends now. */
  releaseTask(taskId: string): void {
    this.board.release(this.root, (h) => h.taskId === taskId);
  }

  /** The run ended: whoever waits for holds looks again. */
  close(): void {
    this.board.wake(this.root);
  }

  private counted(task: HookTask): TaskStatus {
    return this.afterFailed.has(task.id) ? "failed" : task.status;
  }

  private hold(kind: Hold["kind"], task: HookTask): Promise<HoldAnswer | undefined> {
    const hold: Hold = {
      kind,
      runId: this.runId,
      taskId: task.id,
      pipeline: this.pipeline,
      step: task.node.spec.name,
      name: task.name,
      index: task.node.tasks.indexOf(task),
      ...(task.item !== undefined ? { item: task.item } : {}),
      ...(task.matrix !== undefined ? { matrix: task.matrix } : {}),
      params: task.params,
      ...(kind === "after" ? { status: task.status } : {}),
    };
    return this.board.add(this.root, hold);
  }

  /** Room for one more task of the step; tasks adopted after a restart (running, queued) count too. */
  private async acquire(task: HookTask, limit: number): Promise<boolean> {
    const step = task.node.spec.name;
    let set = this.inFlight.get(step);
    if (!set) {
      set = new Set();
      this.inFlight.set(step, set);
    }
    const used = () =>
      set.size +
      task.node.tasks.filter((t) => !set.has(t.id) && (t.status === "running" || t.status === "queued"))
        .length;
    while (!this.released && used() >= limit) {
      await new Promise<void>((resolve) => {
        const list = this.waiting.get(step) ?? [];
        list.push(resolve);
        this.waiting.set(step, list);
      });
    }
    if (this.released) return false;
    if (task.status !== "pending") {
      // Ended while it waited (a cancel): the room it was woken for goes to the next one.
      this.pump(task);
      return false;
    }
    set.add(task.id);
    return true;
  }

  /** A task of the step gave its room back: the first task waiting for room looks again. */
  private pump(task: HookTask): void {
    this.waiting.get(task.node.spec.name)?.shift()?.();
  }
}
