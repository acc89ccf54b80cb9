/** `/runs`: start a pipeline, list and inspect runs, cancel and retry them. */
import * as z from "zod";
import { runOwner } from "../../engine/ownership.js";
import { type ControllerOptions, recordedController } from "../../engine/step-hooks.js";
import { taskViews } from "../../engine/task-view.js";
import { resolveParams } from "../../spec/params.js";
import { reservedTaskEnvProblem } from "../../spec/reserved-env.js";
import type { PipelineSpec, ProjectSpec } from "../../spec/types.js";
import { type RunRow, isTerminal, rootRun } from "../../store/store.js";
import { own } from "../../util/dict.js";
import type { ServerContext } from "../context.js";
import { badField, conflict, notFound, underField } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import {
  HoldAnswerBodySchema,
  HoldParamsSchema,
  HoldsQuerySchema,
  IdParamsSchema,
  ListRunsQuerySchema,
  RetryBodySchema,
  RunDetailSchema,
  RunListSchema,
  RunSummarySchema,
  StartRunBodySchema,
} from "../schemas.js";
import { findRun, runSummary } from "../views.js";
import { sleep, within } from "./util.js";

/** How long `cancel` waits for the run to end before answering 202 (still stopping). */
export const CANCEL_WAIT_MS = 10_000;

export function runRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      path: "/runs",
      tag: "runs",
      summary: "Start a run",
      description:
        "Starts a pipeline named in the server's baton.yaml (or registered with POST /pipelines), or one of a whole definition given in the body. Params are checked against their declarations.",
      body: StartRunBodySchema,
      responses: {
        200: {
          description:
            "The run started earlier with the same `resumeKey` (resumed first if its engine died).",
          schema: z.object({ run: RunSummarySchema }),
        },
        201: { description: "The run, started.", schema: z.object({ run: RunSummarySchema }) },
        404: { description: "No pipeline of that name." },
      },
      async handle({ body, reply }) {
        const target =
          body.definition !== undefined
            ? ctx.catalog.fromDefinition(body.definition, body.pipeline)
            : ctx.catalog.byName(body.pipeline!);
        const { pipeline } = target;
        let params: Record<string, unknown>;
        try {
          params = resolveParams(pipeline.params, body.params ?? {}, {
            fromCli: false,
            where: `pipeline "${pipeline.name}"`,
          });
        } catch (err) {
          throw underField(err, "body.params");
        }
        for (const field of ["targets", "from"] as const) {
          for (const [i, node] of (body[field] ?? []).entries()) {
            if (!Object.hasOwn(pipeline.nodes, node)) {
              throw badField(`body.${field}[${i}]`, `no node "${node}" in pipeline "${pipeline.name}"`);
            }
          }
        }
        if (body.controller) checkControllerSteps(target.project, pipeline, body.controller);
        // Re-attaching is explicit: the run started earlier with the same resume key, again.
        const resumeKey = body.resumeKey ?? body.controller?.key;
        if (resumeKey !== undefined) {
          const existing = await runWithKey(ctx, pipeline.name, resumeKey);
          if (existing) {
            reply.code(200).header("location", `/api/v1/runs/${existing.id}`);
            return { run: await runSummary(ctx, existing) };
          }
        }
        const controller = await ctx.engine.startRun(target.project, {
          pipeline: pipeline.name,
          params,
          workdir: target.project.workdir,
          specFile: target.specFile,
          targets: body.targets,
          from: body.from,
          noCache: body.noCache,
          ...(body.controller ? { controller: body.controller } : {}),
          ...(resumeKey !== undefined ? { resumeKey } : {}),
        });
        ctx.runs.track(controller);
        const run = (await ctx.store.getRun(controller.runId))!;
        reply.code(201).header("location", `/api/v1/runs/${run.id}`);
        return { run: await runSummary(ctx, run) };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/runs",
      tag: "runs",
      summary: "List runs, newest first, with their tasks counted by status",
      description:
        "A page of runs, newest first (by creation time, then creation order), child runs included. Filtered in the store; `nextCursor` is the `before` of the next page.",
      query: ListRunsQuerySchema,
      responses: {
        200: { description: "A page of runs.", schema: RunListSchema },
        400: { description: "A bad query value, or a `before` naming no run." },
      },
      async handle({ query }) {
        const limit = query.limit ?? 50;
        let before: RunRow | undefined;
        if (query.before !== undefined) {
          before = await ctx.store.getRun(query.before);
          if (!before) {
            throw badField(
              "query.before",
              `no run "${query.before}": pass the nextCursor of an earlier page`,
            );
          }
        }
        // One more than asked for, to know whether there is a next page.
        const rows = await ctx.store.listRuns({
          limit: limit + 1,
          pipeline: query.pipeline,
          status: query.status,
          before,
        });
        const runs = rows.slice(0, limit);
        return {
          runs: await Promise.all(runs.map((r) => runSummary(ctx, r))),
          nextCursor: rows.length > limit ? runs[runs.length - 1]!.id : null,
        };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/runs/:id",
      tag: "runs",
      summary: "A run with its tasks",
      params: IdParamsSchema,
      responses: {
        200: { description: "The run.", schema: RunDetailSchema },
        404: { description: "No such run." },
      },
      async handle({ params }) {
        const run = await findRun(ctx.store, params.id);
        const tasks = await ctx.store.listTasks({ run: run.id });
        const outputs = await ctx.store.listOutputs(tasks.map((t) => t.id));
        // Child runs of `pipeline:` nodes, which the UI links to: one query, not one per task.
        const childRuns = await ctx.store.listRuns({ parentRunId: run.id });
        return {
          run: await runSummary(ctx, run, tasks),
          tasks: taskViews(tasks, outputs),
          childRuns: childRuns.map((c) => ({
            id: c.id,
            pipeline: c.pipeline,
            status: c.status,
            parentTask: c.parentTaskId,
          })),
        };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/runs/:id/cancel",
      tag: "runs",
      summary: "Cancel a run",
      description:
        "Cancels a run (a child run cancels its whole run tree), driven by this server or by another server sharing its database. Answers 200 once it ended, or 202 if its tasks are still stopping; 503 when the server driving it does not answer.",
      params: IdParamsSchema,
      responses: {
        200: { description: "The run, cancelled." },
        202: { description: "Cancelling: tasks are still stopping." },
        409: {
          description: "The run has ended, or an engine that takes no messages (`baton run`) drives it.",
        },
        503: { description: "The server driving it did not answer." },
      },
      async handle({ params, reply }) {
        const run = await findRun(ctx.store, params.id);
        const root = await rootRun(ctx.store, run);
        const ended = await cancelRunTree(ctx, run, root);
        const fresh = (await ctx.store.getRun(root.id))!;
        reply.code(ended ? 200 : 202);
        return {
          run: await runSummary(ctx, fresh),
          cancelled: root.id,
          ...(root.id !== run.id
            ? { note: `run ${run.id} is part of run ${root.id}, which was cancelled as a whole` }
            : {}),
        };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/runs/:id/holds",
      tag: "runs",
      summary: "Tasks waiting for the run's controller",
      description:
        "Tasks of the run (and of its child runs) held for the controller's hooks (`before`: params known, not started; `after`: ended, not counted yet). With `wait`, answers once there is one, or the run ended, or the time is up.",
      params: IdParamsSchema,
      query: HoldsQuerySchema,
      responses: {
        200: {
          description: "The holds, and whether the run is still running.",
          schema: z.object({ holds: z.array(z.record(z.string(), z.unknown())), running: z.boolean() }),
        },
        404: { description: "No such run." },
      },
      async handle({ params, query }) {
        const run = await findRun(ctx.store, params.id);
        const board = ctx.engine.holds;
        if (run.status === "running") await board.wait(run.id, query.wait ?? 0);
        const fresh = (await ctx.store.getRun(run.id))!;
        return { holds: board.list(run.id), running: fresh.status === "running" };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/runs/:id/holds/:taskId",
      tag: "runs",
      summary: "Answer a held task",
      description:
        "The controller's answer to a hold: for `before`, the task's params and extra environment, or a skip, or an error (the task fails); for `after`, nothing, or an error (the task counts as failed for its node and the run).",
      params: HoldParamsSchema,
      body: HoldAnswerBodySchema,
      responses: {
        200: { description: "Released." },
        400: { description: "A bad answer (an environment variable Baton sets itself...)." },
        404: { description: "No such run, or no such hold (answered, or released by a cancel)." },
      },
      async handle({ params, body }) {
        const run = await findRun(ctx.store, params.id);
        for (const name of Object.keys(body.env ?? {})) {
          const why = reservedTaskEnvProblem(name);
          if (why !== undefined) throw badField(`body.env.${name}`, why);
        }
        const answer = {
          ...(body.params !== undefined ? { params: body.params } : {}),
          ...(body.env !== undefined ? { env: body.env } : {}),
          ...(body.skip !== undefined ? { skip: body.skip } : {}),
          ...(body.error !== undefined ? { error: body.error } : {}),
        };
        if (!ctx.engine.holds.answer(run.id, params.taskId, body.kind, answer)) {
          throw notFound(`run ${run.id} holds no task ${params.taskId} in ${body.kind}`);
        }
        return { released: params.taskId };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/runs/:id/retry",
      tag: "runs",
      summary: "Retry a finished run in place",
      description:
        "New attempts for the run's tasks, in the same run: every task, or with failedOnly only failed, skipped and cancelled ones.",
      params: IdParamsSchema,
      body: RetryBodySchema,
      responses: {
        202: { description: "The run, running again." },
        409: { description: "The run is still running." },
      },
      async handle({ params, body, reply }) {
        const run = await findRun(ctx.store, params.id);
        const root = await retryRun(ctx, run, body.failedOnly ? "retry-failed" : "retry-all");
        reply.code(202);
        return { run: await runSummary(ctx, root) };
      },
    }),
  ];
}

/**
 * Cancels the run tree `run` belongs to, if this server drives it. Returns whether it ended
 * within {@link CANCEL_WAIT_MS}.
 */
async function cancelRunTree(ctx: ServerContext, run: RunRow, root: RunRow): Promise<boolean> {
  const controller = ctx.runs.get(root.id);
  if (controller) return within(controller.cancel(), CANCEL_WAIT_MS);
  if (run.status !== "running") throw conflict(`run ${run.id} has already ended (${run.status})`);
  // A run of submitted tasks: the engine cancels each top task with its subtree.
  const tops = (await ctx.store.listTasks({ run: root.id })).filter(
    (t) => t.parentId === null && !isTerminal(t.status),
  );
  let cancelled = false;
  for (const t of tops) if (await ctx.engine.cancelTask(t.id)) cancelled = true;
  if (!cancelled) {
    // Another server's engine drives it: asked through the bus (see bus-relay.ts).
    if (await ctx.bus.askOwner(root, { op: "cancel-run", runId: root.id }))
      return within(runEnded(ctx, root.id), CANCEL_WAIT_MS);
    throw conflict(
      `run ${root.id} is not driven by this server${root.engineId || root.enginePid ? ` but by ${(await runOwner(ctx.store, root)).label}` : ""}: cancel it there`,
    );
  }
  return within(runEnded(ctx, root.id), CANCEL_WAIT_MS);
}

/** Resolves once the run has ended (polling the store); the caller bounds the wait. */
async function runEnded(ctx: ServerContext, runId: string): Promise<void> {
  const deadline = Date.now() + CANCEL_WAIT_MS;
  while (Date.now() < deadline) {
    if ((await ctx.store.getRun(runId))?.status !== "running") return;
    await sleep(ctx.timings.pollMs);
  }
}

/** Gives the tasks of `run`'s tree new attempts (see `Engine.restoreRun`); returns the root run. */
export async function retryRun(
  ctx: ServerContext,
  run: RunRow,
  mode: "retry-failed" | "retry-all",
): Promise<RunRow> {
  const root = await rootRun(ctx.store, run);
  const stillRunning =
    ctx.runs.get(root.id) !== undefined ||
    (root.status === "running" && (await runOwner(ctx.store, root)).live);
  if (stillRunning) throw conflict(`run ${root.id} is still running: wait for it or cancel it first`);
  const project = ctx.catalog.forRun(root);
  ctx.runs.track(await ctx.engine.restoreRun(project, root, mode));
  return (await ctx.store.getRun(root.id))!;
}

/** Every step `controller` names is a node of its pipeline (400 naming the key otherwise). */
function checkControllerSteps(
  project: ProjectSpec,
  pipeline: PipelineSpec,
  controller: ControllerOptions,
): void {
  for (const step of Object.keys(controller.steps)) {
    if (!Object.hasOwn(pipeline.nodes, step)) {
      throw badField(`body.controller.steps.${step}`, `no node "${step}" in pipeline "${pipeline.name}"`);
    }
  }
  for (const [name, steps] of Object.entries(controller.pipelines ?? {})) {
    const nested = own(project.pipelines, name);
    if (!nested) throw badField(`body.controller.pipelines.${name}`, `no pipeline "${name}"`);
    for (const step of Object.keys(steps)) {
      if (!Object.hasOwn(nested.nodes, step)) {
        throw badField(
          `body.controller.pipelines.${name}.${step}`,
          `no node "${step}" in pipeline "${name}"`,
        );
      }
    }
  }
}

/**
 * The root run of `pipeline` started with resume key `key` (or, before, controller key), if any: resumed here first
 * when it is recorded as running but no engine drives it (the controller that embedded its
 * engine crashed).
 */
async function runWithKey(ctx: ServerContext, pipeline: string, key: string): Promise<RunRow | undefined> {
  const runs = await ctx.store.listRuns({ pipeline, limit: 10_000 });
  const run = runs.find(
    (r) => r.parentRunId === null && (r.options.resumeKey ?? recordedController(r.options)?.key) === key,
  );
  if (!run) return undefined;
  const orphaned =
    run.status === "running" &&
    ctx.runs.get(run.id) === undefined &&
    (run.engineId === ctx.engine.id || !(await runOwner(ctx.store, run)).live);
  if (orphaned) {
    const project = ctx.catalog.forRun(run);
    ctx.runs.track(await ctx.engine.restoreRun(project, run, "resume"));
  }
  return (await ctx.store.getRun(run.id))!;
}
