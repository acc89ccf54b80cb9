/** `/healthz` (no token) and `/openapi.json`. */
import * as z from "zod";
import { buildOpenApi } from "../openapi.js";
import { type ApiRoute, defineRoute } from "../route.js";

export const BATON_VERSION = "0.1.0";

/** @param routes the whole table, which the OpenAPI document describes (itself included). */
export function metaRoutes(routes: () => readonly ApiRoute[]): ApiRoute[] {
  let document: unknown;
  return [
    defineRoute({
      method: "GET",
      path: "/healthz",
      absolute: true,
      auth: false,
      tag: "meta",
      summary: "Liveness check (no token needed)",
      responses: {
        200: {
          description: "The server is up.",
          schema: z.object({ ok: z.literal(true), version: z.string() }),
        },
      },
      async handle() {
        return { ok: true, version: BATON_VERSION };
      },
    }),
    defineRoute({
      method: "GET",
      path: "/openapi.json",
      tag: "meta",
      summary: "This API, as an OpenAPI 3.1 document",
      responses: { 200: { description: "The document." } },
      async handle() {
        document ??= buildOpenApi(routes(), BATON_VERSION);
        return document;
      },
    }),
  ];
}
