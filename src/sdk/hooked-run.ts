/**
 * A pipeline run with controller hooks: ONE engine run (`POST /runs` with the whole definition
 * and `controller` options), laid out, cached and pooled as without hooks. The engine holds the
 * tasks of hooked steps (docs/api.md "holds"); this process runs `before` and `after` for them
 * and answers through the API. A resume key, when the caller gives one, is the run's idempotency
 * key: the same key again returns the same run (resumed if its engine died), and `after` is
 * replayed (`reattached: true`) for the tasks of hooked steps that had already ended. Without
 * one, every call is a new run.
 */
import { nodeOutcome } from "../engine/conditions.js";
import type { ControllerOptions, Hold, HoldAnswer, StepHookOptions } from "../engine/step-hooks.js";
import { ensureBatonError } from "../errors.js";
import type { StepOptions, ValidatedPipeline } from "./builder.js";
import { EngineRunHandle, type RunHandle, type RunResult, TaskHandle } from "./handles.js";
import type { BeforeContext, StepResult, StepTaskResult } from "./hooks.js";
import { type Session, httpStatusOf } from "./session.js";
import { type RunInfo, type RunStatus, type TaskInfo, type WaitOptions, isTerminalStatus } from "./types.js";

/** How long one `GET /runs/:id/holds` waits for a hold. */
const HOLD_WAIT_MS = 10_000;

/** The step options the engine needs, from the builders: `controller` of `POST /runs`. */
export function controllerOptions(
  validated: ValidatedPipeline,
  pipeline: string,
  key: string | undefined,
): ControllerOptions {
  const stepsOf = (name: string): Record<string, StepHookOptions> => {
    const builder = validated.builders.get(name);
    const out: Record<string, StepHookOptions> = {};
    for (const step of builder?.stepNames ?? []) {
      const o = builder!.stepOptions(step)!;
      const hooks: StepHookOptions = {};
      if (o.before) hooks.before = true;
      if (o.after) hooks.after = true;
      if (o.continueOnFailure !== undefined) hooks.continueOnFailure = o.continueOnFailure;
      if (o.concurrency !== undefined) hooks.concurrency = o.concurrency;
      if (Object.keys(hooks).length > 0) out[step] = hooks;
    }
    return out;
  };
  const pipelines: Record<string, Record<string, StepHookOptions>> = {};
  for (const name of validated.builders.keys()) {
    if (name === pipeline) continue;
    const steps = stepsOf(name);
    if (Object.keys(steps).length > 0) pipelines[name] = steps;
  }
  return {
    ...(key !== undefined ? { key } : {}),
    steps: stepsOf(pipeline),
    ...(Object.keys(pipelines).length > 0 ? { pipelines } : {}),
  };
}

interface RunDetail {
  run: RunInfo;
  tasks: Array<{ id: string; node: string | null; status: string; endedAt: string | null }>;
  childRuns: Array<{ id: string; pipeline: string; parentTask: string | null }>;
}

/** A run of a pipeline with hooks: `kind: "controller"`. Start one with `baton.run(pipeline)`. @internal */
export class HookedRun implements RunHandle {
  readonly kind = "controller";
  readonly id: string;
  readonly pipeline: string;
  private readonly key: string;
  private readonly engineRun: EngineRunHandle;
  /** `after` failures, by task id: they count as failed (the task's record keeps its status). */
  private readonly afterErrors = new Map<string, string>();
  /** Params `before` saw, by task id: what a task it skipped shows (its record has none). */
  private readonly beforeParams = new Map<string, Record<string, unknown>>();
  private readonly loop: Promise<void>;

  /**
   * @param attachedAt When this process asked for the run: tasks started before are `reattached`.
   */
  constructor(
    private readonly session: Session,
    private readonly validated: ValidatedPipeline,
    key: string | undefined,
    run: RunInfo,
    private readonly attachedAt: number,
  ) {
    this.id = run.id;
    // Hooks see a run key either way: the resume key, or the run's own id.
    this.key = key ?? run.id;
    this.pipeline = run.pipeline;
    this.engineRun = new EngineRunHandle(session, run);
    this.loop = this.answerHolds();
    this.loop.catch(() => undefined);
  }

  get status(): RunStatus {
    return this.engineRun.status;
  }

  /** Results of the steps of the pipeline, by step name (see {@link wait}). */
  steps: Readonly<Record<string, StepResult>> = {};

  refresh(): Promise<RunStatus> {
    return this.engineRun.refresh();
  }

  async wait(options: WaitOptions = {}): Promise<RunResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const loop = signal
      ? new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
          this.loop.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
        })
      : this.loop;
    await loop;
    const result = await this.engineRun.wait(options);
    this.steps = await this.stepResults(this.id, this.pipeline);
    return { ...result, steps: this.steps };
  }

  tasks(): Promise<TaskHandle[]> {
    return this.engineRun.tasks();
  }

  /** Cancels the run (the engine releases every hold at once). Safe inside a hook. */
  cancel(): Promise<void> {
    return this.engineRun.cancel();
  }

  private options(pipeline: string, step: string): Readonly<StepOptions> | undefined {
    return this.validated.builders.get(pipeline)?.stepOptions(step);
  }

  /** Replays `after` for hooked tasks that ended before we came, then answers holds until the run ends. */
  private async answerHolds(): Promise<void> {
    const answered = new Set<string>();
    const detail = await this.session.api.get<RunDetail>(`/runs/${this.id}`);
    const { holds } = await this.session.api.get<{ holds: Hold[] }>(`/runs/${this.id}/holds`);
    const held = new Set(holds.map((h) => h.taskId));
    const runs = [{ id: this.id, pipeline: this.pipeline, tasks: detail.tasks }];
    for (const child of detail.childRuns) {
      const d = await this.session.api.get<RunDetail>(`/runs/${child.id}`);
      runs.push({ id: child.id, pipeline: child.pipeline, tasks: d.tasks });
    }
    const ended = runs
      .flatMap((r) => r.tasks.map((t) => ({ run: r, task: t })))
      .filter(
        ({ run, task }) =>
          task.node !== null &&
          this.options(run.pipeline, task.node)?.after &&
          isTerminalStatus(task.status as TaskInfo["status"]) &&
          !held.has(task.id),
      )
      .sort((a, b) => Date.parse(a.task.endedAt ?? "") - Date.parse(b.task.endedAt ?? ""));
    for (const { run, task } of ended) {
      const info = await this.session.api.get<TaskInfo>(`/tasks/${task.id}`);
      if (info.attempts === 0 && info.status !== "cached") continue; // never ran: no after
      const index = run.tasks.filter((t) => t.node === task.node).findIndex((t) => t.id === task.id);
      await this.runAfter({ run: run.id, pipeline: run.pipeline, step: task.node!, index }, info, true);
    }
    for (;;) {
      const body = await this.session.api.get<{ holds: Hold[]; running: boolean }>(
        `/runs/${this.id}/holds?wait=${HOLD_WAIT_MS}`,
      );
      const fresh = body.holds.filter((h) => !answered.has(`${h.kind}:${h.taskId}`));
      if (fresh.length === 0 && !body.running) return;
      for (const hold of fresh) {
        answered.add(`${hold.kind}:${hold.taskId}`);
        const answer = hold.kind === "before" ? await this.runBefore(hold) : await this.afterHold(hold);
        try {
          await this.session.api.post(`/runs/${this.id}/holds/${hold.taskId}`, {
            kind: hold.kind,
            ...answer,
          });
        } catch (err) {
          // Released meanwhile (a cancel): nothing to answer.
          if (httpStatusOf(err) !== 404) throw err;
        }
      }
    }
  }

  private async runBefore(hold: Hold): Promise<HoldAnswer> {
    const before = this.options(hold.pipeline, hold.step)?.before;
    if (!before) return {};
    this.beforeParams.set(hold.taskId, hold.params);
    let skipped: string | undefined;
    const ctx: BeforeContext = {
      ...(await this.context(hold.runId, hold.pipeline, hold.step, hold)),
      params: { ...hold.params },
      env: {},
      skip: (reason) => {
        skipped = reason ?? "skipped by before()";
      },
    };
    try {
      await before(ctx);
    } catch (err) {
      return { error: `before() threw: ${ensureBatonError(err).message}` };
    }
    if (skipped !== undefined) return { skip: skipped };
    return { params: ctx.params, env: ctx.env };
  }

  private async afterHold(hold: Hold): Promise<HoldAnswer> {
    const info = await this.session.api.get<TaskInfo>(`/tasks/${hold.taskId}`);
    const started = info.startedAt ?? info.endedAt;
    const reattached = started !== null && Date.parse(started) < this.attachedAt;
    return this.runAfter(
      { run: hold.runId, pipeline: hold.pipeline, step: hold.step, index: hold.index },
      info,
      reattached,
    );
  }

  private async runAfter(
    where: { run: string; pipeline: string; step: string; index: number },
    info: TaskInfo,
    reattached: boolean,
  ): Promise<HoldAnswer> {
    const after = this.options(where.pipeline, where.step)?.after;
    if (!after) return {};
    const task = new TaskHandle(this.session, info, reattached);
    const ok = info.status === "succeeded" || info.status === "cached";
    const outputs = ok ? await task.outputs() : [];
    const base = await this.context(where.run, where.pipeline, where.step, {
      name: info.name,
      index: where.index,
      item: info.item,
      params: info.params,
    });
    try {
      await after({
        ...base,
        params: info.params,
        task,
        info,
        status: info.status,
        metrics: info.metrics,
        outputs,
        reattached,
      });
      return {};
    } catch (err) {
      const error = `after() threw: ${ensureBatonError(err).message}`;
      this.afterErrors.set(info.id, error);
      return { error };
    }
  }

  /** What every hook is told: the task, the run's params, the results of the steps this one needs. */
  private async context(
    runId: string,
    pipeline: string,
    step: string,
    task: { name: string; index: number; item?: unknown; matrix?: Record<string, unknown>; params: unknown },
  ) {
    const { run } = await this.session.api.get<{ run: RunInfo }>(`/runs/${runId}`);
    const node = this.validated.project.pipelines[pipeline]?.nodes[step];
    const fanout = node?.kind === "task" && node.matrix !== undefined ? "matrix" : "item";
    const needs: Record<string, StepResult> = {};
    if (node && node.needs.length > 0) {
      const all = await this.stepResults(runId, pipeline);
      for (const n of node.needs) if (all[n.node]) needs[n.node] = all[n.node]!;
    }
    return {
      runKey: this.key,
      pipeline,
      step,
      name: task.name,
      index: task.index,
      ...(task.item !== undefined && task.item !== null
        ? fanout === "matrix"
          ? { matrix: task.item as Record<string, unknown> }
          : { item: task.item }
        : {}),
      ...(task.matrix !== undefined ? { matrix: task.matrix } : {}),
      runParams: run.params,
      needs,
    };
  }

  /** The steps of a run, from its tasks (a `pipeline:` step: the tasks of its child run). */
  private async stepResults(runId: string, pipeline: string): Promise<Record<string, StepResult>> {
    const detail = await this.session.api.get<RunDetail>(`/runs/${runId}`);
    const spec = this.validated.project.pipelines[pipeline];
    const out: Record<string, StepResult> = {};
    for (const step of Object.keys(spec?.nodes ?? {})) {
      const node = spec!.nodes[step]!;
      const rows = detail.tasks.filter((t) => t.node === step);
      let tasks: StepTaskResult[] = [];
      if (node.kind === "pipeline") {
        for (const row of rows) {
          const child = detail.childRuns.filter((c) => c.parentTask === row.id).at(-1);
          if (child) {
            const childSteps = await this.stepResults(child.id, child.pipeline);
            tasks.push(...Object.values(childSteps).flatMap((s) => s.tasks));
          }
        }
      } else {
        tasks = await Promise.all(rows.map((row, index) => this.taskResult(row.id, index, node)));
      }
      if (rows.length === 0) continue;
      const statuses =
        node.kind === "pipeline"
          ? rows.map((r) => r.status as TaskInfo["status"])
          : tasks.map((t) => t.status);
      const status = nodeOutcome(statuses);
      const result: StepResult = { step, status, tasks };
      if (status === "skipped" || status === "cancelled") {
        const why = tasks.find((t) => t.error !== undefined)?.error;
        if (why !== undefined) result.reason = why;
      }
      out[step] = result;
    }
    return out;
  }

  private async taskResult(
    id: string,
    index: number,
    node: { kind: string; matrix?: unknown },
  ): Promise<StepTaskResult> {
    const info = await this.session.api.get<TaskInfo>(`/tasks/${id}`);
    const ran = info.attempts > 0 || info.status === "cached";
    const started = info.startedAt ?? info.endedAt;
    const reattached = ran && started !== null && Date.parse(started) < this.attachedAt;
    const afterError = this.afterErrors.get(id);
    const ok = info.status === "succeeded" || info.status === "cached";
    const r: StepTaskResult = {
      name: info.name,
      index,
      params: info.status === "skipped" ? (this.beforeParams.get(id) ?? info.params) : info.params,
      status: afterError !== undefined ? "failed" : info.status,
      metrics: info.metrics,
      outputs: ran && ok ? await new TaskHandle(this.session, info).outputs() : [],
      reattached,
    };
    if (info.item !== undefined && info.item !== null) {
      if (node.matrix !== undefined) r.matrix = info.item as Record<string, unknown>;
      else r.item = info.item;
    }
    if (ran) {
      r.task = new TaskHandle(this.session, info, reattached);
      r.info = info;
    }
    const error = afterError ?? info.error ?? undefined;
    if (error !== undefined && error !== null) r.error = error;
    return r;
  }
}
