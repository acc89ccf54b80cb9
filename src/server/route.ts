/**
 * The route table's building block: a route names its method, path, the zod schemas of its
 * body, query string and path parameters, and what it answers. `app.ts` registers every route
 * from the table with validation derived from those schemas, `openapi.ts` documents them from
 * the same table, and the tests walk it (every route needs the token).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type * as z from "zod";
import { type Path, ProblemList, formatPath } from "../spec/problems.js";
import { checkShape } from "../spec/shape.js";
import { type ApiProblem, HttpError } from "./http-errors.js";

/** What a route answers with one status. */
export interface ResponseSpec {
  description: string;
  /** JSON body shape; leave out for streams and empty bodies. */
  schema?: z.ZodType;
  /** Content type when it is not JSON (`text/plain`, `text/event-stream`, ...). */
  contentType?: string;
}

/** Parsed request parts, typed by the route's schemas. */
export interface RouteInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** One route of the API, its schemas erased (see {@link defineRoute}). */
export interface ApiRoute {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path under `/api/v1`, in fastify syntax (`/runs/:id`), or absolute when `absolute` is set. */
  path: string;
  /** `/healthz` lives outside `/api/v1`. */
  absolute?: boolean;
  /** False only for `/healthz`. */
  auth: boolean;
  /** Largest request body in bytes, when not the server's default (`BODY_LIMIT`). */
  bodyLimit?: number;
  summary: string;
  description?: string;
  tag: string;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  handle(input: RouteInput<unknown, unknown, unknown>): Promise<unknown>;
}

export interface RouteDefinition<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType>
  extends Omit<ApiRoute, "handle" | "auth" | "body" | "query" | "params"> {
  auth?: boolean;
  body?: B;
  query?: Q;
  params?: P;
  /**
   * Answers the request: a value is sent as JSON (with `reply.code(...)` set first when it is
   * not 200); a streaming route hijacks the reply and returns it.
   */
  handle(input: RouteInput<z.output<B>, z.output<Q>, z.output<P>>): Promise<unknown>;
}

/** Defines a route, typing its handler's input by its schemas. */
export function defineRoute<
  B extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  P extends z.ZodType = z.ZodUndefined,
>(def: RouteDefinition<B, Q, P>): ApiRoute {
  return { ...def, auth: def.auth ?? true } as ApiRoute;
}

/** The full URL path of a route. */
export function routeUrl(route: Pick<ApiRoute, "path" | "absolute">): string {
  return route.absolute ? route.path : `/api/v1${route.path}`;
}

/**
 * Checks the request against the route's schemas. Every problem is reported at once, each
 * with the field's path (`body.params`, `query.limit`, `path.sha256`).
 *
 * @throws HttpError 400 `BAD_REQUEST` listing the problems.
 */
export function parseInput(
  route: ApiRoute,
  req: FastifyRequest,
): { body: unknown; query: unknown; params: unknown } {
  const problems = new ProblemList();
  const part = (schema: z.ZodType | undefined, value: unknown, where: string): unknown => {
    if (!schema) return undefined;
    // A POST without a body is an empty object to routes whose body fields are all optional.
    const given = where === "body" && (value === undefined || value === null) ? {} : value;
    return checkShape(schema, given, [where], problems).data;
  };
  const params = part(route.params, req.params, "path");
  const query = part(route.query, req.query ?? {}, "query");
  const body = part(route.body, req.body, "body");
  if (problems.size > 0) {
    const list: ApiProblem[] = problems.items.map((p) => {
      let at: Path = p.at === "key" && p.locate ? p.locate : p.path;
      // `missing required key "x"` is reported at the map holding it; point at the key itself.
      const missing = /^missing required key "([^"]+)"/.exec(p.message);
      if (missing?.[1] !== undefined) at = [...p.path, missing[1]];
      return { path: formatPath(at), message: p.message };
    });
    const message = list.map((p) => `${p.path}: ${p.message}`).join("\n");
    throw new HttpError(400, "BAD_REQUEST", message, list);
  }
  return { body, query, params };
}
