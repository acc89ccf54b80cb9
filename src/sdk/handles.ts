/**
 * Live references to tasks and runs: wait for them, read their metrics, outputs and logs,
 * cancel them. Everything goes through the API; a handle keeps the last state it saw.
 */
import path from "node:path";
import { BatonError } from "../errors.js";
import type { StepResult } from "./hooks.js";
import { type Session, httpStatusOf, sleep } from "./session.js";
import {
  type CloneOptions,
  type MetricPoint,
  type Metrics,
  type RunInfo,
  type RunStatus,
  type TaskInfo,
  type TaskOutput,
  type TaskStatus,
  type TaskSummary,
  type WaitOptions,
  isTerminalStatus,
} from "./types.js";

/**
 * A task: wait for it, read what it produced, cancel it, clone it. Get one from
 * `baton.task(id)`, `baton.submit(...)`, `baton.clone(...)` or `run.tasks()`.
 */
export class TaskHandle {
  /** The task's id (`task_` and a ULID; a bare ULID in databases from before ids had kinds). */
  readonly id: string;
  /**
   * Whether a submission found this task from an earlier submission with the same idempotency
   * key (a restarted controller reattaching) rather than starting it. Best effort: told from
   * the task's creation time.
   */
  readonly reattached: boolean;
  private last: TaskSummary | TaskInfo;
  private detailed: TaskInfo | undefined;

  /** @internal */
  constructor(
    private readonly session: Session,
    info: TaskSummary | TaskInfo,
    reattached = false,
  ) {
    this.id = info.id;
    this.last = info;
    if (isDetail(info)) this.detailed = info;
    this.reattached = reattached;
  }

  /** The task's name (`train[2]`, or the submitted name). */
  get name(): string {
    return this.last.name;
  }

  /** The id of the run the task belongs to. */
  get run(): string {
    return this.last.run;
  }

  /** The status when the handle last asked (see {@link TaskHandle.refresh}). */
  get status(): TaskStatus {
    return this.last.status;
  }

  /** The task as the handle last saw it in full, if it has. */
  get info(): TaskInfo | undefined {
    return this.detailed;
  }

  /** Asks the API for the task's current state (`GET /tasks/:id`). */
  async refresh(): Promise<TaskInfo> {
    const info = await this.session.api.get<TaskInfo>(`/tasks/${this.id}`);
    this.last = info;
    this.detailed = info;
    return info;
  }

  /**
   * Waits until the task has ended (`succeeded`, `failed`, `cancelled`, `skipped` or `cached`)
   * and returns it. It does not throw when the task failed: look at `status`.
   */
  async wait(options: WaitOptions = {}): Promise<TaskInfo> {
    const interval = options.pollIntervalMs ?? this.session.pollIntervalMs;
    for (;;) {
      options.signal?.throwIfAborted();
      const info = await this.refresh();
      if (isTerminalStatus(info.status)) return info;
      await sleep(interval, options.signal);
    }
  }

  /**
   * What the task appended to `$BATON_METRICS` (later keys win), as of now. The type argument
   * says what you expect the task to write; it is not checked:
   * `const { accuracy } = await t.metrics<{ accuracy: number }>()`.
   */
  async metrics<M extends Metrics = Metrics>(): Promise<M> {
    const info =
      this.detailed && isTerminalStatus(this.detailed.status) ? this.detailed : await this.refresh();
    return info.metrics as M;
  }

  /** One metric as a number, or undefined when the task wrote none by that name (or not a number). */
  async metric(name: string): Promise<number | undefined> {
    const value = (await this.metrics())[name];
    return typeof value === "number" ? value : undefined;
  }

  /**
   * Every value of one metric the task appended to `$BATON_METRICS`, in the order written, with
   * its `step` (`GET /tasks/:id/metrics`); [] when it wrote none by that name. Recorded when
   * the attempt ends: a running task shows the series of none yet.
   */
  async metricSeries(name: string): Promise<MetricPoint[]> {
    const { series } = await this.session.api.get<{ series: Record<string, MetricPoint[]> }>(
      `/tasks/${this.id}/metrics`,
    );
    return Object.hasOwn(series, name) ? series[name]! : [];
  }

  /** The task's output files (`GET /tasks/:id/outputs`), recorded once it succeeded. */
  async outputs(): Promise<TaskOutput[]> {
    const info = this.detailed ?? (await this.refresh());
    const { outputs } = await this.session.api.get<{ outputs: Array<Omit<TaskOutput, "file">> }>(
      `/tasks/${this.id}/outputs`,
    );
    return outputs.map((o) => ({ ...o, file: path.join(info.outputDir, o.path) }));
  }

  /** The bytes of one output file (by its path in the output folder), downloaded through the API. */
  async readOutput(output: string | TaskOutput): Promise<Buffer> {
    let found: TaskOutput | undefined;
    if (typeof output === "string") {
      found = (await this.outputs()).find((o) => o.path === output);
      if (!found) throw new BatonError("STORE_NOT_FOUND", `task ${this.id} has no output "${output}"`);
    } else {
      found = output;
    }
    return downloadBytes(this.session, found.url);
  }

  /** The log of the latest attempt (or of `attempt`), as text; at most the last 10 MiB. */
  async log(options: { attempt?: number } = {}): Promise<string> {
    let text = "";
    const query = options.attempt === undefined ? "" : `?attempt=${options.attempt}`;
    await this.session.api.stream(`/tasks/${this.id}/log${query}`, (chunk) => {
      text += chunk;
    });
    return text;
  }

  /** Streams the log to `onChunk` as it is written, until the task ends. */
  async followLog(onChunk: (text: string) => void): Promise<void> {
    await this.session.api.stream(`/tasks/${this.id}/log?follow=1`, onChunk);
  }

  /**
   * Cancels the task (SIGTERM to its process group, then SIGKILL). A task of a pipeline run
   * cannot be cancelled alone yet: its whole run is. A task that has ended is left as it is.
   */
  async cancel(): Promise<void> {
    await this.session.cancelTask(this.id);
    await this.refresh();
  }

  /** Submits a copy of this task with overrides: see `Baton.clone`. */
  async clone(options: CloneOptions = {}): Promise<TaskHandle> {
    const { id, reattached } = await this.session.cloneTask(this.id, options);
    const info = await this.session.api.get<TaskInfo>(`/tasks/${id}`);
    return new TaskHandle(this.session, info, reattached);
  }

  /** `{ id, name, status }`, for logs. */
  toJSON(): { id: string; name: string; status: TaskStatus } {
    return { id: this.id, name: this.name, status: this.status };
  }
}

/** What a run ended as. */
export interface RunResult {
  /** The run id (`run_` and a ULID), or the controller run key for a run the SDK drove. */
  id: string;
  /** The pipeline's name. */
  pipeline: string;
  /** `succeeded` iff no task failed (for a run driven step by step: no step failed without `continueOnFailure`). */
  status: RunStatus;
  /** Every task of the run (and of its child runs). */
  tasks: TaskSummary[];
  /** For a run the SDK drove step by step: each step's result, by step name. */
  steps?: Record<string, StepResult>;
}

/**
 * A run of a pipeline: one the engine drives (`kind: "engine"`), or one the SDK drives step by
 * step because its steps have controller hooks (`kind: "controller"`).
 */
export interface RunHandle {
  /** The run id (`run_` and a ULID), or the controller run key. */
  readonly id: string;
  /** The pipeline's name. */
  readonly pipeline: string;
  /** `engine`: posted whole, driven by the engine; `controller`: driven step by step by this process. */
  readonly kind: "engine" | "controller";
  /** The status when the handle last looked. */
  readonly status: RunStatus;
  /** Asks for the current status. */
  refresh(): Promise<RunStatus>;
  /** Waits until the run has ended. It does not throw when the run failed: look at `status`. */
  wait(options?: WaitOptions): Promise<RunResult>;
  /** The run's tasks so far (with those of its child runs). */
  tasks(): Promise<TaskHandle[]>;
  /** Cancels the run: running tasks get SIGTERM, nothing new starts. */
  cancel(): Promise<void>;
}

interface RunDetailBody {
  run: RunInfo;
  tasks: TaskSummary[];
  childRuns: Array<{ id: string; pipeline: string; status: RunStatus; parentTask: string | null }>;
}

/** A run the engine drives (`POST /runs`). @internal */
export class EngineRunHandle implements RunHandle {
  readonly kind = "engine";
  readonly id: string;
  readonly pipeline: string;
  private current: RunStatus;

  constructor(
    private readonly session: Session,
    info: RunInfo,
  ) {
    this.id = info.id;
    this.pipeline = info.pipeline;
    this.current = info.status;
  }

  get status(): RunStatus {
    return this.current;
  }

  async refresh(): Promise<RunStatus> {
    const body = await this.session.api.get<RunDetailBody>(`/runs/${this.id}`);
    this.current = body.run.status;
    return this.current;
  }

  async wait(options: WaitOptions = {}): Promise<RunResult> {
    const interval = options.pollIntervalMs ?? this.session.pollIntervalMs;
    for (;;) {
      options.signal?.throwIfAborted();
      if ((await this.refresh()) !== "running") break;
      await sleep(interval, options.signal);
    }
    return { id: this.id, pipeline: this.pipeline, status: this.current, tasks: await this.allTasks() };
  }

  async tasks(): Promise<TaskHandle[]> {
    return (await this.allTasks()).map((t) => new TaskHandle(this.session, t));
  }

  async cancel(): Promise<void> {
    try {
      await this.session.api.post(`/runs/${this.id}/cancel`);
    } catch (err) {
      // 409: it has ended already (or another engine drives it, which `refresh` will show).
      if (httpStatusOf(err) !== 409 || (await this.refresh()) === "running") throw err;
    }
    await this.refresh();
  }

  private async allTasks(): Promise<TaskSummary[]> {
    const out: TaskSummary[] = [];
    const visit = async (runId: string) => {
      const body = await this.session.api.get<RunDetailBody>(`/runs/${runId}`);
      out.push(...body.tasks);
      for (const child of body.childRuns) await visit(child.id);
    };
    await visit(this.id);
    return out;
  }
}

/** Fetches bytes from a server-relative URL (`/api/v1/artifacts/...`) with the session's token. */
async function downloadBytes(session: Session, url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(`${session.endpoint.url}${url}`, {
      headers: { authorization: `Bearer ${session.endpoint.token}` },
    });
  } catch (err) {
    throw new BatonError("STORE_UNAVAILABLE", `cannot reach the Baton server at ${session.endpoint.url}`, {
      cause: err,
    });
  }
  if (!res.ok) {
    throw new BatonError(
      res.status === 404 ? "STORE_NOT_FOUND" : "INTERNAL",
      `GET ${url}: HTTP ${res.status}`,
      {
        context: { status: res.status },
      },
    );
  }
  return Buffer.from(await res.arrayBuffer());
}

function isDetail(info: TaskSummary | TaskInfo): info is TaskInfo {
  return "attemptsDetail" in info;
}
