/**
 * `/agent-tokens`: per-agent tokens (`baton agent token create|ls|rm`, docs/scale-out.md "Agent
 * tokens"). Only the server's token manages them; a token is shown once, when it is created.
 */
import { randomBytes } from "node:crypto";
import * as z from "zod";
import { hashAgentToken, newAgentToken } from "../agent-auth.js";
import type { ServerContext } from "../context.js";
import { notFound } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";

const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a name of letters, digits, '.', '_' or '-'");

const CreateBodySchema = z.object({
  pools: z.array(NameSchema).min(1).describe("The pools an agent with this token may serve."),
  name: NameSchema.optional().describe("A name to know it by (default: its id)."),
});

const IdParamsSchema = z.object({
  id: z.string().regex(/^at_[0-9a-f]{12}$/, "expected an id like at_0123456789ab"),
});

export const AgentTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  pools: z.array(z.string()),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function agentTokenRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "POST",
      path: "/agent-tokens",
      tag: "agents",
      summary: "Issue a per-agent token (baton agent token create)",
      description:
        "The token (`token`) is in this answer only: the server keeps its sha256. It is accepted on the agent routes for its pools only. Needs the server's token.",
      body: CreateBodySchema,
      responses: {
        201: {
          description: "The new token.",
          schema: AgentTokenSchema.extend({ token: z.string() }),
        },
      },
      async handle({ body, reply }) {
        const id = `at_${randomBytes(6).toString("hex")}`;
        const token = newAgentToken();
        const row = {
          id,
          name: body.name ?? id,
          pools: [...new Set(body.pools)],
          hash: hashAgentToken(token),
          createdAt: Date.now(),
          lastUsedAt: null,
        };
        await ctx.store.createAgentToken(row);
        reply.code(201);
        return {
          id,
          name: row.name,
          pools: row.pools,
          createdAt: iso(row.createdAt),
          lastUsedAt: null,
          token,
        };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/agent-tokens",
      tag: "agents",
      summary: "List the per-agent tokens (never the tokens themselves)",
      responses: {
        200: { description: "The tokens.", schema: z.object({ tokens: z.array(AgentTokenSchema) }) },
      },
      async handle() {
        const rows = await ctx.store.listAgentTokens();
        return {
          tokens: rows.map((t) => ({
            id: t.id,
            name: t.name,
            pools: t.pools,
            createdAt: iso(t.createdAt),
            lastUsedAt: iso(t.lastUsedAt),
          })),
        };
      },
    }),

    defineRoute({
      method: "DELETE",
      path: "/agent-tokens/:id",
      tag: "agents",
      summary: "Revoke a per-agent token",
      description: "The next request with it is refused (401); agents using it stop getting work.",
      params: IdParamsSchema,
      responses: {
        200: { description: "Revoked.", schema: z.object({ revoked: z.string() }) },
        404: { description: "No such token." },
      },
      async handle({ params }) {
        if (!(await ctx.store.deleteAgentToken(params.id))) throw notFound(`no agent token ${params.id}`);
        return { revoked: params.id };
      },
    }),
  ];
}
