/** `/pipelines`: what can be run (for a launch form), and registering definitions by name. */
import * as z from "zod";
import type { PipelineSpec } from "../../spec/types.js";
import { isValohaiPipelineBody } from "../../spec/valohai-api.js";
import { own } from "../../util/dict.js";
import type { ServerContext } from "../context.js";
import { badField } from "../http-errors.js";
import { type ApiRoute, defineRoute, parseInput } from "../route.js";
import { type PipelineSummary, PipelineSummarySchema, RegisterPipelineBodySchema } from "../schemas.js";
import { ValohaiPipelineBodySchema, startValohaiPipeline } from "./valohai.js";

export function pipelineRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/pipelines",
      tag: "pipelines",
      summary: "Pipelines this server can run: its baton.yaml's, then registered ones",
      responses: {
        200: {
          description: "Pipelines with their params and nodes.",
          schema: z.object({ pipelines: z.array(PipelineSummarySchema) }),
        },
      },
      async handle() {
        const project = ctx.catalog.server.current();
        const fromFile = Object.values(project?.pipelines ?? {}).map((p) =>
          summarize(p, "file", project?.file ?? null),
        );
        // A registered definition that cannot be summarized is left out (and told in the
        // server's log): one bad file must not hide every other pipeline.
        const registered = ctx.catalog.registry.list().flatMap((r) => {
          if (project && Object.hasOwn(project.pipelines, r.name)) return [];
          try {
            const pipeline = own(r.project.pipelines, r.name);
            if (!pipeline) throw new Error(`it has no pipeline "${r.name}"`);
            return [summarize(pipeline, "registered", r.file)];
          } catch (err) {
            ctx.catalog.registry.warn(
              `registered pipeline ${r.file} left out of GET /pipelines: ${err instanceof Error ? err.message : err}`,
            );
            return [];
          }
        });
        return { pipelines: [...fromFile, ...registered] };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/pipelines",
      tag: "pipelines",
      summary: "Register a pipeline definition under a name, or start Valohai's pipeline JSON",
      description:
        "With { name, definition }: the definition (baton.yaml structure as JSON) is validated, kept in memory and in .baton/pipelines/<name>.json, and can then be started with POST /runs {pipeline: name}. Registering a name again replaces it; names of the server's baton.yaml cannot be taken. With Valohai's pipeline body ({ title, nodes, edges }, told apart by its `nodes` list): creates and starts the run, as POST /api/v0/pipelines/ does, with errors in Baton's shape.",
      body: z.union([RegisterPipelineBodySchema, ValohaiPipelineBodySchema]),
      responses: {
        201: {
          description: "Registered (or, for Valohai's body, the run started).",
          schema: z.object({ pipeline: PipelineSummarySchema }),
        },
      },
      async handle({ req, reply }) {
        // Valohai's body: create and start the run.
        if (isValohaiPipelineBody(req.body)) {
          const view = await startValohaiPipeline(ctx, req.body);
          reply.code(201).header("location", `/api/v1/runs/${(view.id as string) ?? ""}`);
          return view;
        }
        const { body } = parseInput({ body: RegisterPipelineBodySchema } as unknown as ApiRoute, req) as {
          body: z.output<typeof RegisterPipelineBodySchema>;
        };
        const project = ctx.catalog.server.current();
        if (project && Object.hasOwn(project.pipelines, body.name)) {
          throw badField(
            "body.name",
            `"${body.name}" is a pipeline of ${project.file}: register under another name`,
          );
        }
        const entry = ctx.catalog.registry.register(body.name, body.definition);
        reply.code(201).header("location", "/api/v1/pipelines");
        return { pipeline: summarize(own(entry.project.pipelines, entry.name)!, "registered", entry.file) };
      },
    }),
  ];
}

/** What a launch form needs: params with types, defaults and choices; nodes with their needs. */
function summarize(p: PipelineSpec, source: "file" | "registered", file: string | null): PipelineSummary {
  return {
    name: p.name,
    source,
    file,
    params: Object.entries(p.params).map(([name, spec]) => ({
      name,
      type: spec.type,
      required: spec.default === undefined && !spec.optional,
      ...(spec.default === undefined ? {} : { default: spec.default }),
      ...(spec.choices === undefined ? {} : { choices: spec.choices }),
      ...(spec.description === undefined ? {} : { description: spec.description }),
    })),
    nodes: Object.values(p.nodes).map((n) => ({
      name: n.name,
      kind: n.kind,
      ...(n.kind === "task" && n.step !== undefined ? { step: n.step } : {}),
      ...(n.kind === "pipeline" ? { pipeline: n.pipeline } : {}),
      needs: n.needs.map((need) => ({ node: need.node, condition: need.condition })),
      ...(n.kind === "task" && n.foreach !== undefined ? { fanout: "foreach" as const } : {}),
      ...(n.kind === "task" && n.matrix !== undefined ? { fanout: "matrix" as const } : {}),
    })),
  };
}
