/** `/tasks`: submit, list and inspect tasks; cancel, retry and clone them; their outputs. */
import * as z from "zod";
import type { SubmitRequest } from "../../engine/engine.js";
import { paramEnvName, paramEnvValue } from "../../engine/task-context.js";
import { taskViews } from "../../engine/task-view.js";
import { didYouMean } from "../../errors.js";
import { checkParamValue, inferParamType } from "../../spec/params.js";
import { isTerminal } from "../../store/store.js";
import { type ServerContext, rootRun } from "../context.js";
import { HttpError, badField, conflict } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import {
  CloneBodySchema,
  IdParamsSchema,
  IdsSchema,
  ListTasksQuerySchema,
  OutputSchema,
  SubmitBodySchema,
  TaskDetailSchema,
  TaskViewSchema,
} from "../schemas.js";
import { findRun, findTask, runSummary, taskDetail } from "../views.js";
import { CANCEL_WAIT_MS, cancelRunTree, retryRun } from "./runs.js";
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
        const ids = await ctx.engine.submit(body);
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
      responses: { 200: { description: "Tasks, oldest first.", schema: z.object({ tasks: z.array(TaskViewSchema) }) } },
      async handle({ query }) {
        const run = query.run === undefined ? undefined : (await findRun(ctx.store, query.run)).id;
        const parent = query.parent === undefined ? undefined : (await findTask(ctx.store, query.parent)).id;
        const rows = await ctx.store.listTasks({ run, parent, status: query.status });
        const tasks = rows.slice(-(query.limit ?? 1000));
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
      responses: { 200: { description: "The task.", schema: TaskDetailSchema }, 404: { description: "No such task." } },
      async handle({ params }) {
        return taskDetail(ctx.store, await findTask(ctx.store, params.id));
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/:id/cancel",
      tag: "tasks",
      summary: "Cancel a task (a pipeline task: its whole run)",
      description:
        "A submitted task is cancelled with its subtree. Cancelling a single task of a pipeline run is not supported yet: the run it belongs to is cancelled, if this server drives it; the response says which run.",
      params: IdParamsSchema,
      responses: {
        200: { description: "The task's run, cancelled." },
        202: { description: "Cancelling: tasks are still stopping." },
        409: { description: "The task has ended, or its run is driven by another engine." },
      },
      async handle({ params, reply }) {
        const task = await findTask(ctx.store, params.id);
        if (isTerminal(task.status)) throw conflict(`task ${task.id} has already ended (${task.status})`);
        const run = (await ctx.store.getRun(task.runId))!;
        const root = await rootRun(ctx.store, run);
        if (!ctx.runs.get(root.id) && ctx.engine.tree.cancel(task.id)) {
          // A submitted task (Velda style): the engine cancels it and its children only.
          await waitUntilEnded(ctx, task.id, CANCEL_WAIT_MS);
          const now = await taskDetail(ctx.store, (await ctx.store.getTask(task.id))!);
          reply.code(isTerminal(now.status) ? 200 : 202);
          return { task: task.id, cancelled: task.id, status: now.status };
        }
        const ended = await cancelRunTree(ctx, run, root);
        reply.code(ended ? 200 : 202);
        return {
          task: task.id,
          cancelled: root.id,
          note: `cancelling one task is not supported yet: its whole run ${root.id} was cancelled`,
          run: await runSummary(ctx, (await ctx.store.getRun(root.id))!),
        };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/tasks/:id/retry",
      tag: "tasks",
      summary: "Retry a task's run (failed, skipped and cancelled tasks)",
      params: IdParamsSchema,
      responses: { 202: { description: "The run, running again." }, 409: { description: "The run is still running." } },
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
        const merged = { ...task.params };
        for (const [name, value] of Object.entries(body.params ?? {})) {
          const path = `body.params.${name}`;
          if (!Object.hasOwn(task.params, name)) {
            const known = Object.keys(task.params);
            const hint = didYouMean(name, known);
            throw badField(
              path,
              `task ${task.id} has no param "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}${known.length ? `; params: ${known.join(", ")}` : ""}`,
            );
          }
          // The declaration is not kept with the task: the type of its value stands for it.
          const wrong = checkParamValue({ type: inferParamType(task.params[name]) }, value);
          if (wrong !== undefined) throw badField(path, wrong);
          merged[name] = value;
        }
        const env: Record<string, string> = {};
        for (const [name, value] of Object.entries(merged)) env[paramEnvName(name)] = paramEnvValue(value);
        const request: SubmitRequest = {
          name: body.name ?? task.name,
          command: task.command,
          pool: body.pool ?? task.pool,
          env,
          labels: { "baton.clone-of": task.id },
          priority: task.priority,
          cwd: run.workdir,
        };
        const ids = await ctx.engine.submit(request);
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

/** Waits (polling the store) until the task has ended, at most `ms`. */
async function waitUntilEnded(ctx: ServerContext, taskId: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const task = await ctx.store.getTask(taskId);
    if (!task || isTerminal(task.status)) return;
    await sleep(ctx.timings.pollMs);
  }
}
