/**
 * `Baton`: the client of the TypeScript SDK (docs/sdk.md). One transport: it always talks HTTP to
 * an API — a server's (`BATON_URL`, or a live server recorded in `.baton/server.json`), or that
 * of an engine it embeds in the process when there is none, exactly as `baton run` does.
 */
import fs from "node:fs";
import path from "node:path";
import { ApiClient, type ApiEndpoint, findEndpoint } from "../client/api-client.js";
import { BatonError } from "../errors.js";
import { resolveParams } from "../spec/params.js";
import type { Pipeline, PoolOptions } from "./builder.js";
import {
  Controller,
  type ControllerOptions,
  type ControllerRunOptions,
  SDK_RUN_LABEL,
  explicitResumeKey,
} from "./controller.js";
import { type EmbeddedEngine, startEmbeddedEngine } from "./embedded.js";
import { EngineRunHandle, type RunHandle, TaskHandle } from "./handles.js";
import { HookedRun, controllerOptions } from "./hooked-run.js";
import { type Session, httpStatusOf } from "./session.js";
import type { CloneOptions, RunInfo, SubmitOptions, TaskInfo, TaskStatus, TaskSummary } from "./types.js";

/** Options of {@link Baton.connect}. */
export interface ConnectOptions {
  /** The server's base URL (`http://127.0.0.1:8377`). Default: `BATON_URL`, then `.baton/server.json`. */
  url?: string;
  /** The API token. Default: `BATON_TOKEN` (with `url`), or the token the server recorded. */
  token?: string;
  /**
   * The project folder: where `.baton/` is looked for (here and above), where an embedded
   * engine keeps its state and reads `baton.yaml`, and where submitted tasks run. Default: the
   * current directory.
   */
  workdir?: string;
  /**
   * `true`: always start an embedded engine; `false`: never (fail when no server is found).
   * Default: embedded only when no server is found.
   */
  embedded?: boolean;
  /** Pools of an embedded engine, added to `local` and to those of `workdir/baton.yaml`. */
  pools?: Record<string, PoolOptions>;
  /** How often handles ask the API while waiting. Default 200 ms. */
  pollIntervalMs?: number;
  /**
   * The task submissions become children of. Default: `BATON_TASK_ID` when the program runs as
   * a Baton task and talks to the engine running it (through `BATON_URL`); `null` for none.
   */
  parentTaskId?: string | null;
  /** Where `BATON_URL`, `BATON_TOKEN` and `BATON_TASK_ID` are read. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link Baton.run}. */
export interface RunOptions extends ControllerRunOptions {
  /** The pipeline's params, as JSON values of their declared types. */
  params?: Record<string, unknown>;
  /**
   * Drive the pipeline step by step from this process even without hooks, so that it survives
   * a crash of the controller (each task is submitted once, see {@link ControllerRunOptions}).
   * Pipelines with hooks always are, and so is a run given a `controllerId` (not a `resumeKey`).
   */
  stepByStep?: boolean;
  /** Run only these nodes and what they need (`baton run --target`). Engine runs only. */
  targets?: string[];
  /** Rerun these nodes and everything downstream (`--from`). Engine runs only. */
  from?: string[];
  /** Do not reuse cached results. Engine runs only. */
  noCache?: boolean;
}

/** Filters of {@link Baton.tasks}. */
export interface TaskFilter {
  /** Only tasks of this run. */
  run?: string;
  /** Only children of this task. */
  parent?: string;
  /** Only tasks with one of these statuses. */
  status?: TaskStatus[];
  /** Only tasks with exactly this name. */
  name?: string;
  /** Only tasks of runs of this pipeline. */
  pipeline?: string;
  /** Only tasks with all these labels (`KEY=VALUE`, or `KEY` for any value). */
  label?: string[];
  /** At most this many, the latest (default 1000). */
  limit?: number;
}

/**
 * A connection to Baton: start pipelines, submit and clone tasks, wait for them and read what
 * they produced.
 *
 * ```ts
 * const baton = await Baton.connect();
 * try {
 *   const run = await baton.run(pipeline("hello").step("say", { run: "echo hi" }));
 *   await run.wait();
 * } finally {
 *   await baton.close();
 * }
 * ```
 */
export class Baton {
  /** The API's base URL. */
  readonly url: string;
  /** `server`: a server found or given; `embedded`: an engine this process started. */
  readonly mode: "server" | "embedded";
  /** The project folder (see {@link ConnectOptions.workdir}). */
  readonly workdir: string;
  private readonly session: Session;
  private closed = false;

  private constructor(
    endpoint: ApiEndpoint,
    private readonly embedded: EmbeddedEngine | undefined,
    workdir: string,
    pollIntervalMs: number,
    parentTaskId: string | undefined,
  ) {
    this.url = endpoint.url;
    this.mode = embedded ? "embedded" : "server";
    this.workdir = workdir;
    const api = new ApiClient(endpoint);
    this.session = {
      api,
      endpoint,
      pollIntervalMs,
      workdir,
      parentTaskId,
      cancelTask: (id) => this.cancelTask(id),
      cloneTask: (id, options) => this.cloneTask(id, options),
    };
  }

  /**
   * Connects to Baton: the server `url` names, else the one `BATON_URL` names (inside a task,
   * the engine running it), else a live server recorded in `.baton/server.json` of the project
   * folder or a folder above, else an engine started here, embedded in this process (state in
   * `workdir/.baton/`, as `baton run` keeps it). Call {@link Baton.close} when done.
   *
   * An embedded engine first adopts the tasks a controller that crashed had submitted to it
   * (their processes outlive it), so that the controller started again can reattach to them.
   *
   * @throws BatonError `STORE_UNAVAILABLE` when the server cannot be reached, `USAGE` when it
   *   refuses the token, when `workdir` is not a folder, or when `embedded: false` and no
   *   server is found.
   */
  static async connect(options: ConnectOptions = {}): Promise<Baton> {
    const env = options.env ?? process.env;
    const workdir = path.resolve(options.workdir ?? process.cwd());
    if (!fs.statSync(workdir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new BatonError("USAGE", `workdir ${workdir} does not exist (or is not a folder)`);
    }
    const poll = options.pollIntervalMs ?? 200;
    let endpoint: ApiEndpoint | undefined;
    let fromTaskEnv = false;
    if (options.url !== undefined) {
      endpoint = { url: options.url.replace(/\/+$/, ""), token: options.token ?? env.BATON_TOKEN ?? "" };
    } else if (options.embedded !== true) {
      endpoint = findEndpoint(workdir, env);
      fromTaskEnv = endpoint !== undefined && Boolean(env.BATON_URL);
      if (endpoint && options.token !== undefined) endpoint = { ...endpoint, token: options.token };
    }
    const parent =
      options.parentTaskId !== undefined
        ? (options.parentTaskId ?? undefined)
        : fromTaskEnv
          ? env.BATON_TASK_ID || undefined
          : undefined;
    if (endpoint) {
      const baton = new Baton(endpoint, undefined, workdir, poll, parent);
      // Fail here, with a clear message, rather than at the first real call.
      await baton.session.api.get("/runs?limit=1");
      return baton;
    }
    if (options.embedded === false) {
      throw new BatonError(
        "USAGE",
        `no Baton server found for ${workdir}: set BATON_URL (and BATON_TOKEN), start \`baton server\` there, or connect without embedded: false`,
      );
    }
    const engine = await startEmbeddedEngine(workdir, options.pools ? { pools: options.pools } : {});
    return new Baton({ url: engine.url, token: engine.token }, engine, workdir, poll, parent);
  }

  /**
   * Starts a pipeline: a builder ({@link pipeline}), or the name of a pipeline the server
   * knows (its `baton.yaml`, or one registered with `POST /pipelines`).
   *
   * A pipeline with controller hooks (`before`, `after`, `continueOnFailure`, `concurrency`), or
   * run with `stepByStep`, is driven by this process step by step and survives its crash (see
   * {@link ControllerRunOptions.resumeKey}); the others are posted whole (`POST /runs`) and
   * driven by the engine. Every call starts a new run, unless it gives a `resumeKey` used
   * before: then it returns that earlier run (resumed if its engine died).
   *
   * @throws BatonError `SPEC_INVALID` (a builder problem, at its call site), `PARAM_INVALID`.
   */
  async run(p: Pipeline | string, options: RunOptions = {}): Promise<RunHandle> {
    this.checkOpen();
    const resumeKey = explicitResumeKey(options);
    if (typeof p === "string") {
      if (options.stepByStep || options.controllerId !== undefined) {
        throw new BatonError(
          "USAGE",
          `run("${p}"): only a pipeline built with pipeline() can be driven step by step (stepByStep, controllerId)`,
        );
      }
      return this.startEngineRun({ pipeline: p, resumeKey }, options);
    }
    const validated = p.validate();
    if (!p.isControlled && !options.stepByStep && options.controllerId === undefined) {
      return this.startEngineRun({ definition: validated.definition, pipeline: p.name, resumeKey }, options);
    }
    const spec = validated.project.pipelines[p.name]!;
    const params = resolveParams(spec.params, options.params ?? {}, {
      fromCli: false,
      where: `pipeline "${p.name}"`,
    });
    // Re-attaching is never implicit: without a resume key, every call is a new run.
    return this.startHookedRun(p, params, resumeKey, options);
  }

  /** A run by id (or unique id prefix). @throws BatonError `STORE_NOT_FOUND`. */
  async getRun(id: string): Promise<RunHandle> {
    this.checkOpen();
    const { run } = await this.session.api.get<{ run: RunInfo }>(`/runs/${encodeURIComponent(id)}`);
    return new EngineRunHandle(this.session, run);
  }

  /** A task by id (or unique id prefix). @throws BatonError `STORE_NOT_FOUND`. */
  async task(id: string): Promise<TaskHandle> {
    this.checkOpen();
    const info = await this.session.api.get<TaskInfo>(`/tasks/${encodeURIComponent(id)}`);
    return new TaskHandle(this.session, info);
  }

  /** Tasks, newest first (`GET /tasks`). */
  async tasks(filter: TaskFilter = {}): Promise<TaskHandle[]> {
    this.checkOpen();
    const query = new URLSearchParams();
    if (filter.run !== undefined) query.set("run", filter.run);
    if (filter.parent !== undefined) query.set("parent", filter.parent);
    if (filter.status?.length) query.set("status", filter.status.join(","));
    if (filter.name !== undefined) query.set("name", filter.name);
    if (filter.pipeline !== undefined) query.set("pipeline", filter.pipeline);
    for (const label of filter.label ?? []) query.append("label", label);
    if (filter.limit !== undefined) query.set("limit", String(filter.limit));
    const q = query.toString();
    const { tasks } = await this.session.api.get<{ tasks: TaskSummary[] }>(`/tasks${q ? `?${q}` : ""}`);
    return tasks.map((t) => new TaskHandle(this.session, t));
  }

  /**
   * Submits a task on its own (`baton submit`, Velda `vbatch`). Inside a Baton task it becomes
   * that task's child (see {@link ConnectOptions.parentTaskId}). With an `idempotencyKey` that
   * was used before, it returns the task of that first submission (`reattached`).
   */
  async submit(options: SubmitOptions): Promise<TaskHandle> {
    this.checkOpen();
    const parent = options.parentTaskId === undefined ? this.session.parentTaskId : options.parentTaskId;
    const labels = { ...options.labels };
    if (options.idempotencyKey !== undefined) labels[SDK_RUN_LABEL] ??= options.idempotencyKey;
    const body = dropUndefined({
      name: options.name,
      command: options.command,
      params: options.params,
      pool: options.pool,
      afterSuccess: options.afterSuccess,
      afterFail: options.afterFail,
      after: options.after,
      env: options.env,
      labels,
      priority: options.priority,
      retries: options.retries,
      timeoutMs: options.timeoutMs,
      parentTaskId: parent ?? undefined,
      cwd: path.resolve(this.workdir, options.cwd ?? "."),
      idempotencyKey: options.idempotencyKey,
    });
    return this.submitBody(body, options.idempotencyKey !== undefined);
  }

  /**
   * Submits a copy of a task with overrides (ClearML's clone + enqueue): its command again, with
   * `params` overriding the params it saw; the copy lists them in `params` and sees them as
   * `BATON_PARAM_<NAME>`. The original can be any task with a command: a template you submitted
   * (whose `params` are kept unless overridden), or a task of a pipeline run (whose command is
   * rendered again where its `run:` uses `${{ params.X }}`). A name the original does not know
   * is an error (`USAGE`, HTTP 400) naming it and the known ones. Inside a Baton task the copy
   * becomes its child, as a submission does. With an `idempotencyKey` (as a {@link Controller}
   * clones), a second clone with the same key returns the first.
   */
  async clone(task: TaskHandle | string, options: CloneOptions = {}): Promise<TaskHandle> {
    this.checkOpen();
    const { id, reattached } = await this.cloneTask(typeof task === "string" ? task : task.id, options);
    const info = await this.session.api.get<TaskInfo>(`/tasks/${id}`);
    return new TaskHandle(this.session, info, reattached);
  }

  /**
   * A controller run: a key, and task submissions named by step, each done once even across a
   * crash and restart of this program (see {@link ControllerOptions}).
   */
  controller(name: string, options: ControllerOptions = {}): Controller {
    this.checkOpen();
    return new Controller(
      {
        workdir: this.workdir,
        parentTaskId: this.session.parentTaskId,
        submit: (o) => this.submit(o),
        clone: (t, o) => this.clone(t, o),
        runControlled: (p, params, key) => this.startHookedRun(p, params, key, {}),
      },
      name,
      options,
    );
  }

  /**
   * Ends the connection. With an embedded engine, tasks still running are cancelled and the
   * engine stops (a program that exits without `close()` leaves them running: the next
   * `connect()` there adopts them). With a server, nothing is stopped: the server owns its work.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.embedded?.close();
  }

  /**
   * A pipeline with hooks: one engine run posted whole with the step options the engine needs,
   * its controller run key as idempotency key; this process answers the engine's holds.
   */
  private async startHookedRun(
    p: Pipeline,
    params: Record<string, unknown>,
    key: string | undefined,
    options: RunOptions,
  ): Promise<RunHandle> {
    const validated = p.validate();
    const attachedAt = Date.now();
    const body = dropUndefined({
      definition: validated.definition,
      pipeline: p.name,
      params,
      targets: options.targets,
      from: options.from,
      noCache: options.noCache,
      controller: controllerOptions(validated, p.name, key),
    });
    const { run } = await this.session.api.post<{ run: RunInfo }>("/runs", body);
    return new HookedRun(this.session, validated, key, run, attachedAt);
  }

  private async startEngineRun(
    target: { pipeline: string; definition?: unknown; resumeKey?: string | undefined },
    options: RunOptions,
  ): Promise<RunHandle> {
    const body = dropUndefined({
      ...target,
      params: options.params ?? {},
      targets: options.targets,
      from: options.from,
      noCache: options.noCache,
    });
    const { run } = await this.session.api.post<{ run: RunInfo }>("/runs", body);
    return new EngineRunHandle(this.session, run);
  }

  private async submitBody(body: Record<string, unknown>, keyed: boolean): Promise<TaskHandle> {
    const sentAt = Date.now();
    const { ids } = await this.session.api.post<{ ids: string[] }>("/tasks", body);
    const info = await this.session.api.get<TaskInfo>(`/tasks/${ids[0]}`);
    // The API does not say whether the key was known: a task created before we asked was.
    const reattached = keyed && info.createdAt !== null && Date.parse(info.createdAt) < sentAt;
    return new TaskHandle(this.session, info, reattached);
  }

  private async cancelTask(id: string): Promise<void> {
    try {
      await this.session.api.post(`/tasks/${id}/cancel`);
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw err;
      const info = await this.session.api.get<TaskInfo>(`/tasks/${id}`);
      if (!["succeeded", "failed", "cancelled", "skipped", "cached"].includes(info.status)) throw err;
    }
  }

  /**
   * Clones through `POST /tasks/:id/clone`, which checks the overrides against the params the
   * task knows. Inside a task the copy becomes its child, keyed or not.
   */
  private async cloneTask(id: string, options: CloneOptions): Promise<{ id: string; reattached: boolean }> {
    const keyed = options.idempotencyKey !== undefined;
    const labels: Record<string, string> = { ...options.labels };
    if (keyed) labels[SDK_RUN_LABEL] ??= options.idempotencyKey!;
    const body = dropUndefined({
      params: options.params,
      name: options.name,
      pool: options.pool,
      labels: Object.keys(labels).length > 0 ? labels : undefined,
      parentTaskId: this.session.parentTaskId,
      idempotencyKey: options.idempotencyKey,
    });
    const sentAt = Date.now();
    const { ids } = await this.session.api.post<{ ids: string[] }>(
      `/tasks/${encodeURIComponent(id)}/clone`,
      body,
    );
    if (!keyed) return { id: ids[0]!, reattached: false };
    const info = await this.session.api.get<TaskInfo>(`/tasks/${ids[0]}`);
    // The API does not say whether the key was known: a task created before we asked was.
    return { id: info.id, reattached: info.createdAt !== null && Date.parse(info.createdAt) < sentAt };
  }

  private checkOpen(): void {
    if (this.closed) throw new BatonError("USAGE", "this Baton connection is closed");
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
