/** `/pools`: the pools submissions may name, with slots in use and tasks waiting (`baton pools`). */
import * as z from "zod";
import type { ServerContext } from "../context.js";
import { type ApiRoute, defineRoute } from "../route.js";

export const PoolSchema = z.object({
  name: z.string(),
  executor: z.string().describe("What runs the pool's tasks (`local`: processes on the server's machine)."),
  slots: z.number().int(),
  inUse: z.number().int().describe("Slots taken by running tasks."),
  queued: z.number().int().describe("Tasks waiting for a slot."),
  declared: z
    .boolean()
    .describe("False for a pool still used by tasks but no longer in the server's pipeline file."),
});

/**
 * Makes the engine's pools those of the server's pipeline file as it is now (read again when it
 * changed). A file edited into an invalid state leaves the last good pools in force.
 */
export function refreshPools(ctx: ServerContext): void {
  let project: ReturnType<typeof ctx.catalog.server.current>;
  try {
    project = ctx.catalog.server.current();
  } catch {
    return;
  }
  if (project && project.pools !== ctx.engine.tree.poolSpecs()) ctx.engine.setPools(project.pools);
}

export function poolRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/pools",
      tag: "pools",
      summary: "List the pools (baton pools)",
      description:
        "The pools tasks may be submitted to, from the server's pipeline file as it is now, with their slots in use and queued tasks.",
      responses: {
        200: { description: "The pools.", schema: z.object({ pools: z.array(PoolSchema) }) },
      },
      async handle() {
        refreshPools(ctx);
        return { pools: (await ctx.engine.poolUsage()).map((p) => ({ ...p, executor: "local" })) };
      },
    }),
  ];
}
