/**
 * A pipeline executed by the SDK, step by step, from the controller process: what `baton.run`
 * does with a pipeline whose steps have hooks (`before`, `after`), `continueOnFailure` or
 * `concurrency`, since that code cannot run inside the engine.
 *
 * Each task of a step is submitted on its own (`POST /tasks`) with the idempotency key
 * `<run key>:<step>` (`<run key>:<step>:<index>` for a `foreach`/`matrix` step), so that the same
 * controller run started again — after a crash — finds the tasks it had started and waits for
 * them instead of starting them again. Steps start in dependency order as soon as what they
 * need has ended, with the engine's rules for `needs` conditions, skips, `if:`, `with:`,
 * `foreach:`, `matrix:` and expressions. Differences from an engine run are listed in
 * docs/sdk.md ("Pipelines with hooks").
 */
import { resolveWorkdirPatterns } from "../artifacts/inputs.js";
import { selectOutputs } from "../artifacts/outputs.js";
import { judgeNeeds, nodeOutcome } from "../engine/conditions.js";
import {
  type NeededNode,
  type ProducedFile,
  needsContext,
  paramEnvName,
  paramEnvValue,
} from "../engine/task-context.js";
import { BatonError, ensureBatonError } from "../errors.js";
import { type TaskInstance, planFanout } from "../graph/expand.js";
import { topologicalOrder } from "../graph/topo.js";
import { evaluateValue, isTruthy } from "../spec/expressions.js";
import { type FanoutCount, limitsFromEnv, nodeLimitMessage } from "../spec/limits.js";
import { resolveParams } from "../spec/params.js";
import type { NodeSpec, PipelineNodeSpec, TaskNodeSpec } from "../spec/types.js";
import { dict, own } from "../util/dict.js";
import type { StepOptions, ValidatedPipeline } from "./builder.js";
import type { RunHandle, RunResult, TaskHandle } from "./handles.js";
import type { BeforeContext, StepOutcome, StepResult, StepTaskResult } from "./hooks.js";
import { SDK_RUN_LABEL } from "./labels.js";
import { type Session, httpStatusOf } from "./session.js";
import type { RunStatus, SubmitOptions, TaskInfo, TaskSummary, WaitOptions } from "./types.js";

/** The label naming the pipeline step a controller task runs (`sweep.train`). */
export const SDK_STEP_LABEL = "baton.sdk/step";

/** What a controller run needs from the client. @internal */
export interface ControllerDeps {
  session: Session;
  submit(options: SubmitOptions): Promise<TaskHandle>;
}

/** A run of a pipeline driven by the SDK. Start one with `baton.run(pipeline)`. @internal */
export class ControllerRun implements RunHandle {
  readonly kind = "controller";
  readonly id: string;
  readonly pipeline: string;
  private current: RunStatus = "running";
  private cancelled = false;
  private readonly handles: TaskHandle[] = [];
  private readonly inFlight = new Set<TaskHandle>();
  private readonly children = new Set<ControllerRun>();
  private readonly results = new Map<string, StepResult>();
  private readonly done: Promise<RunResult>;

  /**
   * @param params The pipeline's params, already resolved against its declarations.
   * @param key The controller run key, prefix of every idempotency key.
   */
  constructor(
    private readonly deps: ControllerDeps,
    private readonly validated: ValidatedPipeline,
    pipeline: string,
    private readonly params: Record<string, unknown>,
    key: string,
  ) {
    this.id = key;
    this.pipeline = pipeline;
    this.done = this.drive();
    // A failure is reported by `wait()`; never as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  get status(): RunStatus {
    return this.current;
  }

  /** Results of the steps that have ended so far, by step name. */
  get steps(): Readonly<Record<string, StepResult>> {
    return Object.fromEntries(this.results);
  }

  async refresh(): Promise<RunStatus> {
    return this.current;
  }

  async wait(options: WaitOptions = {}): Promise<RunResult> {
    const { signal } = options;
    if (!signal) return this.done;
    signal.throwIfAborted();
    return new Promise<RunResult>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.done.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  async tasks(): Promise<TaskHandle[]> {
    return [...this.handles, ...[...this.children].flatMap((c) => c.handles)];
  }

  /** Stops submitting, cancels the tasks in flight (and child runs), and waits for the run to end. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await Promise.allSettled([
      ...[...this.inFlight].map((t) => t.cancel()),
      ...[...this.children].map((c) => c.cancel()),
    ]);
    await this.done.catch(() => undefined);
  }

  private async drive(): Promise<RunResult> {
    const spec = this.validated.project.pipelines[this.pipeline]!;
    const pending = new Set(topologicalOrder(spec.nodes));
    const running = new Map<string, Promise<void>>();
    try {
      while (pending.size > 0 || running.size > 0) {
        for (const name of [...pending]) {
          const node = spec.nodes[name]!;
          if (!node.needs.every((n) => this.results.has(n.node))) continue;
          pending.delete(name);
          running.set(
            name,
            this.runStep(node).then((result) => {
              this.results.set(name, result);
              running.delete(name);
            }),
          );
        }
        if (running.size === 0) break;
        await Promise.race(running.values());
      }
    } catch (err) {
      // The API failed (not a task): stop what is in flight, report it from `wait()`.
      this.cancelled = true;
      await Promise.allSettled([...running.values()]);
      this.current = "failed";
      throw err;
    }
    this.current = this.finalStatus();
    return {
      id: this.id,
      pipeline: this.pipeline,
      status: this.current,
      tasks: (await this.tasks()).map((t) => t.info ?? summaryOf(t)),
      steps: this.steps,
    };
  }

  private finalStatus(): RunStatus {
    if (this.cancelled) return "cancelled";
    let cancelled = false;
    for (const [name, r] of this.results) {
      if (r.status === "failed" && !this.options(name)?.continueOnFailure) return "failed";
      if (r.status === "cancelled") cancelled = true;
    }
    return cancelled ? "cancelled" : "succeeded";
  }

  private options(step: string): Readonly<StepOptions> | undefined {
    return this.validated.builders.get(this.pipeline)?.stepOptions(step);
  }

  /** How a step that ended counts for the steps that need it (`continueOnFailure` hides a failure). */
  private outcomeFor(step: string): StepOutcome {
    const r = this.results.get(step);
    if (!r) return "cancelled";
    return r.status === "failed" && this.options(step)?.continueOnFailure ? "succeeded" : r.status;
  }

  private async runStep(node: NodeSpec): Promise<StepResult> {
    const step = node.name;
    if (this.cancelled) return { step, status: "cancelled", tasks: [], reason: "the run was cancelled" };
    const verdict = judgeNeeds(node.needs, (n) => this.outcomeFor(n));
    if (!verdict.run) return { step, status: "skipped", tasks: [], reason: verdict.reason };
    const needs = Object.fromEntries(node.needs.map((n) => [n.node, this.results.get(n.node)!]));
    const handedOut = new Map<string, ProducedFile>();
    const context: Record<string, unknown> = {
      params: this.params,
      needs: needsContext(
        this.neededNodes(node),
        (files, glob) => selectOutputs(files, glob),
        (files) => {
          for (const f of files) handedOut.set(f.abs, f);
        },
      ),
      run: { id: this.id },
      env: process.env,
    };
    if (node.kind === "pipeline") return this.runChild(node, context);

    let instances: TaskInstance[];
    try {
      const fanout = planFanout(node, (value, field) => {
        const list = evaluateValue(value, context);
        if (!Array.isArray(list)) throw new Error(`${field} must be a list, got ${JSON.stringify(list)}`);
        return list;
      });
      // Counted before anything is made: the same limit as the engine's.
      const max = limitsFromEnv(process.env).perNode;
      if (fanout.count > max) {
        const field = node.foreach !== undefined ? "foreach" : "matrix";
        const size = {
          field,
          count: fanout.count,
          factors: fanout.factors,
          fromParams: [],
        } satisfies FanoutCount;
        throw new BatonError("TOO_MANY_TASKS", `${node.path}.${field}: ${nodeLimitMessage(size, max)}`);
      }
      instances = Array.from({ length: fanout.count }, (_, i) => fanout.instance(i));
    } catch (err) {
      const failed = taskResult({ name: step, index: 0 }, {}, "failed", ensureBatonError(err).message);
      return { step, status: "failed", tasks: [failed] };
    }
    const fannedOut = node.foreach !== undefined || node.matrix !== undefined;
    const limit = Math.min(this.options(step)?.concurrency ?? instances.length, instances.length);
    const tasks: StepTaskResult[] = new Array(instances.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < instances.length; i = next++) {
        const inst = instances[i]!;
        const key = fannedOut ? `${this.id}:${step}:${inst.index}` : `${this.id}:${step}`;
        tasks[i] = await this.runTask(node, inst, key, context, needs, handedOut);
      }
    };
    await Promise.all(Array.from({ length: Math.max(limit, 1) }, worker));
    return { step, status: nodeOutcome(tasks.map((t) => t.status)), tasks };
  }

  /** One task of a step: `if:`, params, `before`, command, submit (or reattach), wait, `after`. */
  private async runTask(
    node: TaskNodeSpec,
    inst: { name: string; index: number; item?: unknown; matrix?: Record<string, unknown> },
    key: string,
    nodeContext: Record<string, unknown>,
    needs: Record<string, StepResult>,
    handedOut: Map<string, ProducedFile>,
  ): Promise<StepTaskResult> {
    if (this.cancelled) return taskResult(inst, {}, "cancelled", "the run was cancelled");
    const options = this.options(node.name);
    const context: Record<string, unknown> = { ...nodeContext, task: { name: inst.name } };
    if (inst.item !== undefined) context.item = inst.item;
    if (inst.matrix !== undefined) context.matrix = inst.matrix;
    const where = `step "${node.name}" of pipeline "${this.pipeline}"`;
    const base = {
      runKey: this.id,
      pipeline: this.pipeline,
      step: node.name,
      name: inst.name,
      index: inst.index,
      ...(inst.item !== undefined ? { item: inst.item } : {}),
      ...(inst.matrix !== undefined ? { matrix: inst.matrix } : {}),
      runParams: this.params,
      needs,
    };
    let params: Record<string, unknown> = {};
    let request: SubmitOptions;
    try {
      if (node.if !== undefined && !isTruthy(evaluateValue(node.if, context))) {
        return taskResult(inst, {}, "skipped", `if: ${node.if} is false`);
      }
      const given = evaluateValue(node.with, context) as Record<string, unknown>;
      params = resolveParams(node.params, given, { fromCli: false, where });
      const hookEnv: Record<string, string> = dict();
      if (options?.before) {
        let skipped: string | undefined;
        const ctx: BeforeContext = {
          ...base,
          params: { ...params },
          env: hookEnv,
          skip: (reason) => {
            skipped = reason ?? "skipped by before()";
          },
        };
        try {
          await options.before(ctx);
        } catch (err) {
          return taskResult(inst, params, "failed", `before() threw: ${ensureBatonError(err).message}`);
        }
        if (skipped !== undefined) return taskResult(inst, params, "skipped", skipped);
        params = resolveParams(node.params, ctx.params, {
          fromCli: false,
          where: `${where} (after before())`,
        });
      }
      const inputs = await this.resolveInputs(node, context, handedOut);
      const runContext = { ...context, params: { ...this.params, ...params }, inputs };
      const command = String(evaluateValue(node.run, runContext));
      // Params go as params: the engine sets BATON_PARAM_* (env may not), and shows them.
      const env: Record<string, string> = dict();
      for (const [name, value] of Object.entries(node.env))
        env[name] = String(evaluateValue(value, runContext));
      Object.assign(env, hookEnv);
      request = {
        command,
        name: taskName(inst.name),
        pool: node.pool,
        env,
        params: { ...this.params, ...params },
        labels: { [SDK_RUN_LABEL]: this.id, [SDK_STEP_LABEL]: `${this.pipeline}.${node.name}` },
        priority: node.priority,
        retries: node.retries.limit,
        ...(node.timeoutMs !== undefined ? { timeoutMs: node.timeoutMs } : {}),
        idempotencyKey: key,
      };
    } catch (err) {
      return taskResult(inst, params, "failed", ensureBatonError(err).message);
    }

    let handle: TaskHandle;
    try {
      handle = await this.deps.submit(request);
    } catch (err) {
      // The engine refused the task (unknown pool, bad name): a failure of this task, not of the API.
      const status = httpStatusOf(err);
      if (status !== undefined && status >= 400 && status < 500) {
        return taskResult(inst, params, "failed", ensureBatonError(err).message);
      }
      throw err;
    }
    this.handles.push(handle);
    this.inFlight.add(handle);
    let info: TaskInfo;
    try {
      if (this.cancelled) await handle.cancel();
      info = await handle.wait();
    } finally {
      this.inFlight.delete(handle);
    }
    const ok = info.status === "succeeded" || info.status === "cached";
    const outputs = ok ? await handle.outputs() : [];
    const result: StepTaskResult = {
      ...taskResult(inst, params, info.status, info.error ?? undefined),
      task: handle,
      info,
      metrics: info.metrics,
      outputs,
      reattached: handle.reattached,
    };
    if (options?.after) {
      try {
        await options.after({
          ...base,
          params,
          task: handle,
          info,
          status: info.status,
          metrics: info.metrics,
          outputs,
          reattached: handle.reattached,
        });
      } catch (err) {
        result.status = "failed";
        result.error = `after() threw: ${ensureBatonError(err).message}`;
      }
    }
    return result;
  }

  /** A `pipeline:` step: the child pipeline, driven the same way under the key `<run key>:<step>`. */
  private async runChild(node: PipelineNodeSpec, context: Record<string, unknown>): Promise<StepResult> {
    const step = node.name;
    let params: Record<string, unknown>;
    try {
      if (node.if !== undefined && !isTruthy(evaluateValue(node.if, context))) {
        return { step, status: "skipped", tasks: [], reason: `if: ${node.if} is false` };
      }
      const child = this.validated.project.pipelines[node.pipeline]!;
      params = resolveParams(child.params, evaluateValue(node.with, context) as Record<string, unknown>, {
        fromCli: false,
        where: `step "${step}" of pipeline "${this.pipeline}"`,
      });
    } catch (err) {
      const failed = taskResult({ name: step, index: 0 }, {}, "failed", ensureBatonError(err).message);
      return { step, status: "failed", tasks: [failed] };
    }
    const run = new ControllerRun(this.deps, this.validated, node.pipeline, params, `${this.id}:${step}`);
    this.children.add(run);
    if (this.cancelled) await run.cancel();
    const result = await run.wait();
    const tasks = Object.values(result.steps ?? {}).flatMap((s) => s.tasks);
    const status: StepOutcome = result.status === "running" ? "cancelled" : result.status;
    return { step, status, tasks };
  }

  /** `needs.X` for expressions: the steps this one needs, with their tasks' outputs and metrics. */
  private neededNodes(node: NodeSpec): NeededNode[] {
    return node.needs.map((need) => {
      const r = this.results.get(need.node)!;
      return {
        name: need.node,
        outcome: r.status,
        tasks: r.tasks.flatMap((t) =>
          t.info
            ? [
                {
                  name: t.name,
                  outputDir: t.info.outputDir,
                  files: t.outputs.map((o) => ({
                    abs: o.file,
                    rel: o.path,
                    producer: t.name,
                    sha256: o.sha256,
                  })),
                  metrics: t.metrics,
                  params: t.params,
                },
              ]
            : [],
        ),
      };
    });
  }

  /**
   * `inputs.NAME`: the absolute paths of the bound files: outputs of needed steps as they are,
   * other paths and globs resolved in the working folder. (An engine run links them into
   * `$BATON_INPUTS_DIR` instead.)
   */
  private async resolveInputs(
    node: TaskNodeSpec,
    context: Record<string, unknown>,
    handedOut: Map<string, ProducedFile>,
  ): Promise<Record<string, string[]>> {
    const inputs: Record<string, string[]> = dict();
    for (const [name, decl] of Object.entries(node.inputs)) {
      const binding = own(node.bindings, name) ?? decl.default;
      if (binding === undefined) {
        if (decl.optional) {
          inputs[name] = [];
          continue;
        }
        throw new Error(`input "${name}" has no binding and no default`);
      }
      const value = evaluateValue(binding, context);
      const entries = (Array.isArray(value) ? value.flat() : [value]).map((v) => String(v));
      const files: string[] = [];
      const patterns: string[] = [];
      for (const entry of entries) {
        if (handedOut.has(entry)) files.push(entry);
        else if (entry !== "") patterns.push(entry);
      }
      if (patterns.length > 0) {
        files.push(
          ...(await resolveWorkdirPatterns(this.deps.session.workdir, patterns, {
            optional: decl.optional,
            input: name,
          })),
        );
      }
      if (files.length === 0 && !decl.optional) {
        throw new Error(`input "${name}": ${JSON.stringify(binding)} selects no file`);
      }
      inputs[name] = files;
    }
    return inputs;
  }
}

function taskResult(
  inst: { name: string; index: number; item?: unknown; matrix?: Record<string, unknown> },
  params: Record<string, unknown>,
  status: StepTaskResult["status"],
  error?: string,
): StepTaskResult {
  const r: StepTaskResult = {
    name: inst.name,
    index: inst.index,
    params,
    status,
    metrics: {},
    outputs: [],
    reattached: false,
  };
  if (inst.item !== undefined) r.item = inst.item;
  if (inst.matrix !== undefined) r.matrix = inst.matrix;
  if (error !== undefined) r.error = error;
  return r;
}

/** Submitted task names allow letters, digits and `_ . - [ ] = , :` only. */
function taskName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.\-[\]=,:]/g, "_");
}

function summaryOf(t: TaskHandle): TaskSummary {
  return {
    id: t.id,
    run: t.run,
    name: t.name,
    node: null,
    parent: null,
    status: t.status,
    exitCode: null,
    attempts: 0,
    cached: false,
    startedAt: null,
    endedAt: null,
    outputDir: "",
    outputs: [],
    metrics: {},
  };
}
