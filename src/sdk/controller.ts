/**
 * A controller written as plain code (ClearML style): clone a template, override params,
 * wait, read metrics, decide. `baton.controller(name)` gives it a controller run key, and every
 * task it submits an idempotency key `<run key>:<step>`, so that running the controller again
 * after a crash reattaches to the tasks it had started instead of starting them again.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../engine/cache-key.js";
import { BatonError } from "../errors.js";
import type { Pipeline } from "./builder.js";
import type { RunHandle, TaskHandle } from "./handles.js";
import type { CloneOptions, SubmitOptions } from "./types.js";

/** The label tying a submitted task to its controller run key (its idempotency key's owner). */
export const SDK_RUN_LABEL = "baton.sdk/run";

/** Options of `baton.controller(name, options)`. */
export interface ControllerOptions {
  /**
   * The controller run key, to set it yourself (say, from a command-line flag). Running the
   * controller again with the same key reattaches to its tasks; a new key starts afresh.
   */
  id?: string;
  /**
   * What this run of the controller is about (a grid, a threshold...): when no `id` is given
   * and the program does not run as a Baton task, the key is a hash of the name, these inputs
   * and the working folder. Same inputs, same key: a rerun reattaches.
   */
  inputs?: unknown;
}

/** Options of `baton.run(pipeline, options)` that drive a pipeline from the controller. */
export interface ControllerRunOptions {
  /**
   * The resume key: a call with a key used before returns that earlier run (resumed if the
   * engine driving it died, `after` replayed for its ended tasks) instead of starting one, as a
   * restarted controller needs (`"nightly-2026-12-06"`). Without it, every call starts a new
   * run (finished results are still reused through the cache).
   */
  resumeKey?: string;
  /**
   * @deprecated An older name of {@link resumeKey} that also drives a pipeline without hooks
   * step by step (as `stepByStep`).
   */
  controllerId?: string;
}

/** What the controller needs from the client. @internal */
export interface ControllerHost {
  readonly workdir: string;
  readonly parentTaskId: string | undefined;
  submit(options: SubmitOptions): Promise<TaskHandle>;
  clone(task: TaskHandle | string, options: CloneOptions): Promise<TaskHandle>;
  runControlled(p: Pipeline, params: Record<string, unknown>, key: string): Promise<RunHandle>;
}

/**
 * A controller run: a key, and submissions named by step. Get one from `baton.controller()`.
 *
 * ```ts
 * const ctl = baton.controller("lr-sweep", { inputs: { grid } });
 * const template = await ctl.submit("template", { name: "train", command: "python3 train.py" });
 * const t = await ctl.clone("train-0", template, { params: { lr: 0.1 } });
 * ```
 */
export class Controller {
  /** The name given to `baton.controller(name)`. */
  readonly name: string;
  /** The controller run key: prefix of the idempotency key of every task it submits. */
  readonly key: string;
  private readonly started: TaskHandle[] = [];

  /** @internal */
  constructor(
    private readonly host: ControllerHost,
    name: string,
    options: ControllerOptions = {},
  ) {
    this.name = name;
    this.key = controllerKey(name, {
      explicit: options.id,
      parentTaskId: host.parentTaskId,
      content: { controller: name, inputs: options.inputs ?? null },
      workdir: host.workdir,
    });
  }

  /** The idempotency key of a step of this controller: `<key>:<step>`. */
  keyOf(step: string): string {
    if (step === "") throw new BatonError("USAGE", "a controller step needs a name");
    return `${this.key}:${step}`;
  }

  /**
   * Submits a task as the step `step` of this controller: once. Called again with the same step
   * (in this run or in a rerun after a crash), it returns the task started the first time.
   */
  async submit(step: string, options: Omit<SubmitOptions, "idempotencyKey">): Promise<TaskHandle> {
    const task = await this.host.submit({ ...options, idempotencyKey: this.keyOf(step) });
    this.started.push(task);
    return task;
  }

  /** Clones a task (see `Baton.clone`) as the step `step` of this controller: once, as {@link submit}. */
  async clone(
    step: string,
    task: TaskHandle | string,
    options: Omit<CloneOptions, "idempotencyKey"> = {},
  ): Promise<TaskHandle> {
    const copy = await this.host.clone(task, { ...options, idempotencyKey: this.keyOf(step) });
    this.started.push(copy);
    return copy;
  }

  /**
   * Runs a pipeline step by step from this controller (hooks or not), as the step `step`
   * (default: the pipeline's name): each of its tasks is submitted once, as {@link submit}.
   */
  async run(
    p: Pipeline,
    options: { params?: Record<string, unknown>; step?: string } = {},
  ): Promise<RunHandle> {
    return this.host.runControlled(p, options.params ?? {}, this.keyOf(options.step ?? p.name));
  }

  /** Tasks submitted or reattached through this controller in this process, in order. */
  get tasks(): readonly TaskHandle[] {
    return this.started;
  }
}

/**
 * The resume key a `baton.run` was given (`resumeKey`, or its older name `controllerId`), if any.
 * @throws BatonError `USAGE` for an empty key or two different ones. @internal
 */
export function explicitResumeKey(options: ControllerRunOptions): string | undefined {
  const { resumeKey, controllerId } = options;
  if (resumeKey !== undefined && controllerId !== undefined && resumeKey !== controllerId) {
    throw new BatonError(
      "USAGE",
      `resumeKey "${resumeKey}" and controllerId "${controllerId}" differ: give one (controllerId is an older name of resumeKey)`,
    );
  }
  const key = resumeKey ?? controllerId;
  if (key !== undefined && key.trim() === "") throw new BatonError("USAGE", "a resume key cannot be empty");
  return key;
}

/** The controller run key of `baton.controller` (see {@link ControllerOptions}). @internal */
export function controllerKey(
  name: string,
  parts: {
    explicit: string | undefined;
    parentTaskId: string | undefined;
    content: unknown;
    workdir: string;
  },
): string {
  if (parts.explicit !== undefined) {
    if (parts.explicit.trim() === "") throw new BatonError("USAGE", "a controller id cannot be empty");
    return parts.explicit;
  }
  if (parts.parentTaskId) return `task:${parts.parentTaskId}:${name}`;
  const hash = createHash("sha256")
    .update(canonicalJson({ content: parts.content, workdir: parts.workdir }))
    .digest("hex")
    .slice(0, 16);
  return `${name}:${hash}`;
}
