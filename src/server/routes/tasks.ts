/** `/tasks`: submit, list and inspect tasks; cancel, retry and clone them; their outputs. */
import * as z from "zod";
import type { SubmitRequest } from "../../engine/engine.js";
import { runOwner } from "../../engine/ownership.js";
import { iso, taskViews } from "../../engine/task-view.js";
import { didYouMean } from "../../errors.js";
import { checkParamValue, inferParamType } from "../../spec/params.js";
import { rerenderCommand } from "../../spec/rerender.js";
import type { NodeSpec, ParamSpec, PipelineSpec } from "../../spec/types.js";
import { type RunRow, type TaskRow, isTerminal, rootRun } from "../../store/store.js";
import { dict, own } from "../../util/dict.js";
import type { ServerContext } from "../context.js";
import { HttpError, badField, conflict, underField } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import {
  CloneBodySchema,
  IdParamsSchema,
  IdsSchema,
  ListTasksQuerySchema,
  MetricsSchema,
  OutputSchema,
  SubmitBatchBodySchema,
  SubmitBodySchema,
  TaskDetailSchema,
  TaskViewSchema,
} from "../schemas.js";
import { findRun, findTask, runSummary, taskDetail } from "../views.js";
import { refreshPools } from "./pools.js";
import { CANCEL_WAIT_MS, retryRun } from "./runs.js";
import { sleep } from "./util.js";

export function taskRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      path: "/tasks",
      tag: "tasks",
      summary: "Submit a task (baton submit)",
      description:
        "Submits one task (or `shards` copies), Velda style. With parentTaskId it becomes that task's child and after* names refer to its siblings.",
      body: SubmitBodySchema,
      responses: { 201: { description: "The new tasks' ids.", schema: IdsSchema } },
      async handle({ body, reply }) {
        // The pools as the server's pipeline file declares them now: an edit needs no restart.
        refreshPools(ctx);
        const ids = await ctx.engine.submit(body).catch((err) => {
          throw underField(err, "body");
        });
        reply.code(201);
        return { ids };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/batch",
      tag: "tasks",
      summary: "Submit many tasks at once (baton submit --each)",
      description:
        "Submits up to 10,000 tasks in one request and one transaction, each as POST /tasks would. At the top level they form one run; inside a task they become its children. They must share parentTaskId and idempotencyKey. Answers with the ids in the order of `tasks` (shards expanded in place).",
      body: SubmitBatchBodySchema,
      // 10,000 submissions of a few hundred bytes each.
      bodyLimit: 16 * 1024 * 1024,
      responses: { 201: { description: "The new tasks' ids.", schema: IdsSchema } },
      async handle({ body, reply }) {
        refreshPools(ctx);
        const ids = await ctx.engine.submitMany(body.tasks).catch((err) => {
          throw underField(err, "body");
        });
        reply.code(201);
        return { ids };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/tasks",
      tag: "tasks",
      summary: "List tasks",
      query: ListTasksQuerySchema,
      responses: {
        200: { description: "Tasks, newest first.", schema: z.object({ tasks: z.array(TaskViewSchema) }) },
      },
      async handle({ query }) {
        const run = query.run === undefined ? undefined : (await findRun(ctx.store, query.run)).id;
        const parent = query.parent === undefined ? undefined : (await findTask(ctx.store, query.parent)).id;
        const tasks = await ctx.store.queryTasks({
          run,
          parent,
          status: query.status,
          name: query.name,
          pipeline: query.pipeline,
          labels: query.label,
          limit: query.limit ?? 1000,
        });
        const outputs = await ctx.store.listOutputs(tasks.map((t) => t.id));
        return { tasks: taskViews(tasks, outputs) };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/tasks/:id",
      tag: "tasks",
      summary: "A task: command, params, error, attempts, outputs, metrics",
      params: IdParamsSchema,
      responses: {
        200: { description: "The task.", schema: TaskDetailSchema },
        404: { description: "No such task." },
      },
      async handle({ params }) {
        return taskDetail(ctx.store, await findTask(ctx.store, params.id));
      },
    }),

    defineRoute({
      method: "GET",
      path: "/tasks/:id/metrics",
      tag: "tasks",
      summary: "A task's metrics: the last value of each, and every value in order",
      params: IdParamsSchema,
      responses: {
        200: { description: "The metrics.", schema: MetricsSchema },
        404: { description: "No such task." },
      },
      async handle({ params }) {
        const task = await findTask(ctx.store, params.id);
        return { task: task.id, last: task.metrics, series: await metricSeries(ctx, task) };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/:id/cancel",
      tag: "tasks",
      summary: "Cancel a task and its subtree",
      description:
        "Cancels one task (a submitted task, or a task of a pipeline run, whose other tasks go on), with its children: driven by this server's engine, or by another server sharing its database. Answers 200 once it ended, or 202 if it is still stopping; 503 when the server driving it does not answer.",
      params: IdParamsSchema,
      responses: {
        200: { description: "The task, cancelled." },
        202: { description: "Cancelling: the task is still stopping." },
        409: {
          description: "The task has ended, or an engine that takes no messages (`baton run`) drives it.",
        },
        503: { description: "The server driving it did not answer." },
      },
      async handle({ params, reply }) {
        const task = await findTask(ctx.store, params.id);
        if (isTerminal(task.status)) throw conflict(`task ${task.id} has already ended (${task.status})`);
        // Another server's engine drives it: asked through the bus (see bus-relay.ts).
        let owner: string | undefined;
        const request = { op: "cancel-task" as const, taskId: task.id };
        if (!(await ctx.engine.cancelTask(task.id))) {
          const run = await rootRun(ctx.store, (await ctx.store.getRun(task.runId))!);
          owner = await ctx.bus.askOwner(run, request);
          if (owner === undefined) {
            throw conflict(
              `task ${task.id} is not driven by this server${run.engineId || run.enginePid ? ` but by ${(await runOwner(ctx.store, run)).label}` : ""}: cancel it there`,
            );
          }
        }
        await waitUntilEnded(ctx, task.id, CANCEL_WAIT_MS, () =>
          owner === undefined ? ctx.engine.cancelTask(task.id) : ctx.bus.tell(owner, request),
        );
        const status = (await ctx.store.getTask(task.id))!.status;
        reply.code(isTerminal(status) ? 200 : 202);
        return { task: task.id, cancelled: task.id, status };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/:id/retry",
      tag: "tasks",
      summary: "Retry a task's run (failed, skipped and cancelled tasks)",
      params: IdParamsSchema,
      responses: {
        202: { description: "The run, running again." },
        409: { description: "The run is still running." },
      },
      async handle({ params, reply }) {
        const task = await findTask(ctx.store, params.id);
        const run = (await ctx.store.getRun(task.runId))!;
        const root = await retryRun(ctx, run, "retry-failed");
        reply.code(202);
        return { task: task.id, run: await runSummary(ctx, root) };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/:id/clone",
      tag: "tasks",
      summary: "Submit a copy of a task with overrides (ClearML clone)",
      description:
        "Submits the task's resolved command again as a new task. `params` override the task's params, which the copy sees as BATON_PARAM_<NAME>; the command text itself is kept as it was resolved.",
      params: IdParamsSchema,
      body: CloneBodySchema,
      responses: { 201: { description: "The new tasks' ids.", schema: IdsSchema } },
      async handle({ params, body, reply }) {
        const task = await findTask(ctx.store, params.id);
        if (task.command === null) {
          throw new HttpError(
            409,
            "CONFLICT",
            `task ${task.id} has no command to clone (${task.status === "pending" ? "it is not ready yet" : "it runs a child pipeline"})`,
          );
        }
        const run = (await ctx.store.getRun(task.runId))!;
        // What the task saw as BATON_PARAM_*: the run's params, then its own.
        const before: Record<string, unknown> = dict(run.params, task.params);
        const merged: Record<string, unknown> = dict(before);
        const source = task.node === null ? undefined : nodeSource(ctx, run, task);
        const decls = paramDeclarations(run, task, source);
        const known = Object.keys(decls);
        for (const [name, value] of Object.entries(body.params ?? {})) {
          const path = `body.params.${name}`;
          const decl = own(decls, name);
          if (decl === undefined) throw badField(path, unknownParam(task, name, known));
          const wrong = checkParamValue(decl, value);
          if (wrong !== undefined) throw badField(path, wrong);
          merged[name] = value;
        }
        const command = cloneCommand(task, source, before, merged);
        const request: SubmitRequest = {
          name: body.name ?? task.name,
          command,
          pool: body.pool ?? task.pool,
          params: merged,
          labels: { ...body.labels, "baton.clone-of": task.id },
          priority: task.priority,
          cwd: run.workdir,
          parentTaskId: body.parentTaskId,
          idempotencyKey: body.idempotencyKey,
        };
        const ids = await ctx.engine.submit(request).catch((err) => {
          throw underField(err, "body");
        });
        reply.code(201);
        return { ids };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/tasks/:id/outputs",
      tag: "tasks",
      summary: "A task's output files, with download URLs",
      params: IdParamsSchema,
      responses: {
        200: {
          description: "Outputs, by path.",
          schema: z.object({ task: z.string(), outputs: z.array(OutputSchema) }),
        },
      },
      async handle({ params }) {
        const task = await findTask(ctx.store, params.id);
        const outputs = await ctx.store.listOutputs([task.id]);
        return {
          task: task.id,
          outputs: outputs.map((o) => ({
            path: o.path,
            size: o.size,
            sha256: o.sha256,
            url: `/api/v1/artifacts/${o.sha256}`,
          })),
        };
      },
    }),
  ];
}

/**
 * The points of the task's latest attempt by metric, in the order written; a cached task shows
 * those of the task whose result it reused.
 */
async function metricSeries(
  ctx: ServerContext,
  task: TaskRow,
): Promise<Record<string, Array<{ step: number | null; value: unknown; at: string | null }>>> {
  let source: TaskRow | undefined = task;
  if (task.cached && task.cachedFrom) source = await ctx.store.getTask(task.cachedFrom);
  const series: Record<string, Array<{ step: number | null; value: unknown; at: string | null }>> = dict();
  // Every point is also a last value: none of those (a task reopened by a retry, not started
  // again yet) means no series either, whatever earlier attempts wrote.
  if (!source || source.attempts === 0 || Object.keys(task.metrics).length === 0) return series;
  for (const p of await ctx.store.listMetricPoints(source.id, source.attempts)) {
    const point = { step: p.step, value: p.value, at: iso(p.at) };
    const list = own(series, p.name);
    if (list) list.push(point);
    else series[p.name] = [point];
  }
  return series;
}

/**
 * Waits (polling the store) until the task has ended, at most `ms`. `again` is called once a
 * second meanwhile: a cancel that arrives while the process is being launched can be lost by
 * the engine, and asking again is harmless.
 */
async function waitUntilEnded(
  ctx: ServerContext,
  taskId: string,
  ms: number,
  again: () => Promise<unknown>,
): Promise<void> {
  const start = Date.now();
  let asked = start;
  while (Date.now() - start < ms) {
    const task = await ctx.store.getTask(taskId);
    if (!task || isTerminal(task.status)) return;
    if (Date.now() - asked >= 1000) {
      asked = Date.now();
      await again();
    }
    await sleep(ctx.timings.pollMs);
  }
}

/** Where a pipeline task came from: its pipeline and node as the run's file declares them now. */
interface NodeSource {
  pipeline?: PipelineSpec;
  node?: NodeSpec;
  /** Why the file could not be read. */
  error?: string;
}

function nodeSource(ctx: ServerContext, run: RunRow, task: TaskRow): NodeSource {
  try {
    const pipeline = own(ctx.catalog.forRun(run).pipelines, run.pipeline);
    return { pipeline, node: task.node === null ? undefined : own(pipeline?.nodes, task.node) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The params a task can be cloned with: those of its run and its own (for a submitted task, the
 * params it was submitted with), declared as in the run's pipeline file when it can still be
 * read, else typed by their current values.
 */
function paramDeclarations(
  run: RunRow,
  task: TaskRow,
  source: NodeSource | undefined,
): Record<string, ParamSpec> {
  const decls: Record<string, ParamSpec> = dict();
  for (const [name, value] of Object.entries({ ...run.params, ...task.params })) {
    decls[name] = { type: inferParamType(value) };
  }
  Object.assign(decls, source?.pipeline?.params);
  if (source?.node?.kind === "task") Object.assign(decls, source.node.params);
  return decls;
}

function unknownParam(task: TaskRow, name: string, known: string[]): string {
  if (known.length === 0) {
    return `task ${task.id} has no params to override (a submitted task knows the params it was submitted with, and it was submitted with none)`;
  }
  const hint = didYouMean(name, known);
  return `task ${task.id} has no param "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; params: ${known.join(", ")}`;
}

/**
 * The clone's command: a pipeline task's `run:` rendered again with the new params (what its
 * other expressions rendered to is kept); a submitted task's command as it is.
 */
function cloneCommand(
  task: TaskRow,
  source: NodeSource | undefined,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string {
  const resolved = task.command!;
  if (source === undefined) return resolved;
  const changed = Object.keys(after).some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  if (!changed) return resolved;
  const node = source.node;
  const result =
    node?.kind === "task"
      ? rerenderCommand({ template: node.run, resolved, decls: node.params, before, after })
      : {
          ok: false as const,
          reason: source.error ?? `its node "${task.node}" is no longer in its pipeline file`,
        };
  if (!result.ok) {
    throw new HttpError(
      409,
      "CONFLICT",
      `task ${task.id}'s command cannot be rendered again with the new params: ${result.reason}`,
    );
  }
  return result.command;
}
