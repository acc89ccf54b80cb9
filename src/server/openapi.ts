/**
 * The OpenAPI 3.1 document of the API, generated from the route table and the same zod
 * schemas that validate requests (`z.toJSONSchema`), so the document cannot drift from what
 * the server accepts.
 */
import * as z from "zod";
import { ProjectFileSchema } from "../spec/schema.js";
import { type ApiRoute, routeUrl } from "./route.js";
import { DefinitionSchema, ErrorBodySchema } from "./schemas.js";

type JsonSchema = Record<string, unknown>;

const DEFINITION_REF = "#/components/schemas/PipelineDefinition";
const ERROR_REF = "#/components/schemas/Error";

/** JSON Schema of a zod schema; pipeline definitions point at the shared component. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...out } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    override: (ctx) => {
      if (ctx.zodSchema === DefinitionSchema) {
        const description = ctx.jsonSchema.description;
        for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as JsonSchema)[key];
        Object.assign(ctx.jsonSchema, { $ref: DEFINITION_REF, ...(description ? { description } : {}) });
      }
    },
  }) as JsonSchema;
  return out;
}

/** `/runs/:id` -> `/runs/{id}`. */
function openApiPath(route: ApiRoute): string {
  return routeUrl(route).replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** `POST /runs/:id/cancel` -> `postRunsIdCancel`. */
function operationId(route: ApiRoute): string {
  const words = routeUrl(route)
    .replace(/^\/api\/v1/, "")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** Parameters of one kind (`path`, `query`) from an object schema's properties. */
function parameters(schema: z.ZodType | undefined, where: "path" | "query"): JsonSchema[] {
  if (!schema) return [];
  const js = jsonSchema(schema, "input");
  const props = (js.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((js.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: { $ref: ERROR_REF } } },
});

/** Builds the document for `GET /openapi.json`. */
export function buildOpenApi(routes: readonly ApiRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      const isError = Number(status) >= 400;
      if (isError) {
        responses[status] = errorResponse(spec.description);
        continue;
      }
      const type = spec.contentType ?? "application/json";
      responses[status] = {
        description: spec.description,
        ...(spec.schema || spec.contentType
          ? {
              content: {
                [type]: { schema: spec.schema ? jsonSchema(spec.schema, "output") : { type: "string" } },
              },
            }
          : {}),
      };
    }
    if (route.body || route.query || route.params) {
      responses["400"] ??= errorResponse("The request is invalid: each problem names its field.");
    }
    if (route.body) responses["413"] ??= errorResponse("The body is larger than 1 MiB.");
    if (route.auth) responses["401"] ??= errorResponse("Missing or wrong token.");
    const operation: Record<string, unknown> = {
      operationId: operationId(route),
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      security: route.auth ? [{ bearer: [] }, { queryToken: [] }] : [],
      parameters: [...parameters(route.params, "path"), ...parameters(route.query, "query")],
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: jsonSchema(route.body, "input") } },
            },
          }
        : {}),
      responses,
    };
    const key = openApiPath(route);
    paths[key] = { ...paths[key], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Baton API",
      version,
      description:
        "Runs, tasks, logs, artifacts and events of a Baton server. Every route but /healthz needs the token of .baton/token, as `Authorization: Bearer <token>` or `?token=<token>`.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        queryToken: { type: "apiKey", in: "query", name: "token" },
      },
      schemas: {
        PipelineDefinition: jsonSchema(ProjectFileSchema(), "input"),
        Error: jsonSchema(ErrorBodySchema, "output"),
      },
    },
  };
}
