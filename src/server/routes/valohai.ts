/**
 * Valohai's REST shape: `POST /api/v0/pipelines/` (and Valohai's body at `POST /api/v1/pipelines`)
 * creates and starts a pipeline run from Valohai's pipeline-creation JSON; `GET
 * /api/v0/pipelines/:id/` answers its status the way Valohai does, so scripts written for
 * Valohai's API can poll it. The translation is src/spec/valohai-api.ts.
 */
import fs from "node:fs";
import { parse as parseYaml } from "yaml";
import * as z from "zod";
import { type Origin, bodyPathOf, translateValohaiPipeline } from "../../spec/valohai-api.js";
import type { RunRow, RunStatus, TaskRow } from "../../store/store.js";
import { own } from "../../util/dict.js";
import type { ServerContext } from "../context.js";
import { HttpError, toValohaiErrorResponse } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { IdParamsSchema } from "../schemas.js";
import { findRun, runSummary } from "../views.js";

/** Valohai's pipeline-creation body (its fields are checked by the translation, each located). */
export const ValohaiPipelineBodySchema = z
  .record(z.string(), z.unknown())
  .describe(
    "Valohai's pipeline body: { project, title, nodes: [{ name, type: execution, on_error, actions, template: { step, command, image, parameters, inputs, environment_variables, time_limit, ... } } or { name, type: deployment, deployment }], edges: [{ source_node, source_type, source_key, target_node, target_type (input, parameter, file), target_key }] }.",
  );

/** Valohai's words for a run's status. */
const VALOHAI_STATUS: Record<RunStatus, string> = {
  running: "started",
  succeeded: "completed",
  failed: "error",
  cancelled: "stopped",
};
const VALOHAI_TASK_STATUS: Record<string, string> = {
  pending: "created",
  queued: "queued",
  running: "started",
  succeeded: "completed",
  cached: "completed",
  failed: "error",
  cancelled: "stopped",
  skipped: "stopped",
};

/** Starts the run Valohai's body describes; answers Valohai's pipeline shape plus the Baton run. */
export async function startValohaiPipeline(
  ctx: ServerContext,
  body: unknown,
): Promise<Record<string, unknown>> {
  const file = ctx.catalog.server.file;
  let serverFile: unknown;
  if (file !== undefined) serverFile = parseYaml(fs.readFileSync(file, "utf8"));
  const translated = translateValohaiPipeline(body, serverFile);
  if (!translated.ok) {
    const problems = translated.problems.map((p) => ({ path: `body.${p.path}`, message: p.message }));
    throw new HttpError(
      400,
      "BAD_REQUEST",
      problems.map((p) => `${p.path}: ${p.message}`).join("\n"),
      problems,
    );
  }
  const { definition, pipeline, ignored, origins } = translated.value;
  let target: ReturnType<typeof ctx.catalog.fromDefinition>;
  try {
    target = ctx.catalog.fromDefinition(definition, pipeline);
  } catch (err) {
    throw inPostedBody(err, origins);
  }
  const controller = await ctx.engine.startRun(target.project, {
    pipeline: target.pipeline.name,
    params: {},
    workdir: target.project.workdir,
    specFile: target.specFile,
  });
  ctx.runs.track(controller);
  const run = (await ctx.store.getRun(controller.runId))!;
  return { ...(await valohaiPipelineView(ctx, run)), ignored };
}

/**
 * A problem of the translated definition (`body.definition.pipelines.t.nodes[1].with.rows`),
 * moved to where it comes from in the posted JSON (`body.nodes[1].template.parameters.rows`).
 * A problem with no origin in the body (in the server's own steps) keeps its definition path,
 * under `body.definition`, and says so.
 */
function inPostedBody(err: unknown, origins: Origin[]): unknown {
  if (!(err instanceof HttpError) || err.problems.length === 0) return err;
  const problems = err.problems.map((p) => {
    const def = p.path?.startsWith("body.definition.") ? p.path.slice("body.definition.".length) : undefined;
    const at = def === undefined ? undefined : bodyPathOf(origins, def);
    if (at !== undefined) return { path: `body.${at}`, message: p.message };
    if (def === undefined) return p;
    return { ...p, message: `${p.message} (in the server's baton.yaml, at ${def})` };
  });
  return new HttpError(
    err.status,
    err.code,
    problems.map((p) => `${p.path}: ${p.message}`).join("\n"),
    problems,
  );
}

/** A run as Valohai shows a pipeline: id, title, status, urls, nodes; plus Baton's run. */
async function valohaiPipelineView(ctx: ServerContext, run: RunRow): Promise<Record<string, unknown>> {
  const tasks = await ctx.store.listTasks({ run: run.id });
  const byNode = new Map<string, TaskRow[]>();
  for (const t of tasks) {
    const node = t.node ?? t.name;
    byNode.set(node, [...(byNode.get(node) ?? []), t]);
  }
  // A release: node is what a Valohai deployment node became.
  let releases = new Set<string>();
  try {
    const pipeline = own(ctx.catalog.forRun(run).pipelines, run.pipeline);
    const nodes = Object.values(pipeline?.nodes ?? {});
    releases = new Set(nodes.filter((n) => n.kind === "task" && n.release !== undefined).map((n) => n.name));
  } catch {
    // The run's definition cannot be read any more: its nodes are shown as executions.
  }
  return {
    id: run.id,
    title: run.pipeline,
    status: VALOHAI_STATUS[run.status],
    ctime: new Date(run.createdAt).toISOString(),
    urls: {
      display: `/runs/${run.id}`,
      api: `/api/v0/pipelines/${run.id}/`,
      baton: `/api/v1/runs/${run.id}`,
    },
    nodes: [...byNode.entries()].map(([name, list]) => ({
      name,
      type: releases.has(name) ? "deployment" : "execution",
      status: VALOHAI_TASK_STATUS[list[list.length - 1]!.status] ?? list[list.length - 1]!.status,
      tasks: list.map((t) => ({ id: t.id, name: t.name, status: t.status })),
    })),
    run: await runSummary(ctx, run),
  };
}

export function valohaiRoutes(ctx: ServerContext): ApiRoute[] {
  /** Answers errors in Valohai's shape (these routes are for Valohai's clients). */
  const valohaiErrors = async (reply: { code(n: number): unknown }, work: () => Promise<unknown>) => {
    try {
      return await work();
    } catch (err) {
      const { status, body } = toValohaiErrorResponse(err);
      reply.code(status);
      return body;
    }
  };
  return [
    defineRoute({
      method: "POST",
      path: "/api/v0/pipelines/",
      absolute: true,
      tag: "valohai",
      summary: "Create and start a pipeline run from Valohai's pipeline JSON",
      description:
        "Valohai's `POST /api/v0/pipelines/`: template.step names a step of the server's baton.yaml (template fields override it), or template.command is the node's command; a deployment node keeps the files its edges send as a release. Errors come back in Valohai's shape: field -> list of messages, or {detail}.",
      body: ValohaiPipelineBodySchema,
      responses: {
        201: { description: "The pipeline run, started (Valohai's shape plus `run`)." },
        400: { description: "Field -> list of messages (e.g. `nodes[0].template.step`)." },
      },
      async handle({ body, reply }) {
        return valohaiErrors(reply, async () => {
          const view = await startValohaiPipeline(ctx, body);
          reply.code(201).header("location", (view.urls as { api: string }).api);
          return view;
        });
      },
    }),

    defineRoute({
      method: "GET",
      path: "/api/v0/pipelines/:id/",
      absolute: true,
      tag: "valohai",
      summary: "A pipeline run, as Valohai shows a pipeline",
      description: "status: started, completed, error or stopped.",
      params: IdParamsSchema,
      responses: {
        200: { description: "Valohai's pipeline shape plus `run`." },
        404: { description: "No such run: {detail}." },
      },
      async handle({ params, reply }) {
        return valohaiErrors(reply, async () => {
          const run = await findRun(ctx.store, params.id);
          return valohaiPipelineView(ctx, run);
        });
      },
    }),
  ];
}
