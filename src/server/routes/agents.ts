/**
 * Remote agents (`baton agent`, docs/scale-out.md "Remote agents"): heartbeats, claims by
 * long-poll, log chunks, results, output uploads by hash, and the list of agents.
 * Everything an agent holds is in the store, so any server on the database answers it.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { FastifyRequest } from "fastify";
import * as z from "zod";
import { type AgentResult, agentLeaseMs } from "../../agent/protocol.js";
import { hashFile } from "../../artifacts/hash.js";
import type { AgentClaimRow } from "../../store/store.js";
import { requirePools } from "../agent-auth.js";
import type { ServerContext } from "../context.js";
import { HttpError, conflict, notFound } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { ArtifactParamsSchema } from "../schemas.js";

/** A claim waits at most this long for work before answering "nothing". */
const MAX_CLAIM_WAIT_MS = 20_000;
const CLAIM_POLL_MS = 200;

const NameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a name of letters, digits, '.', '_' or '-'");

const HeldSchema = z.object({ key: z.string(), token: z.string() });

const HeartbeatSchema = z.object({
  name: NameSchema,
  host: z.string().max(255),
  pools: z.array(z.string()).min(1),
  slots: z.number().int().min(1),
  resources: z.record(z.string(), z.string()).default({}),
  startedAt: z.number().int(),
  running: z.array(HeldSchema).default([]),
});

const ClaimBodySchema = z.object({
  name: NameSchema,
  pools: z.array(z.string()).min(1),
  wait: z.number().int().min(0).max(MAX_CLAIM_WAIT_MS).default(MAX_CLAIM_WAIT_MS),
});

const KeyParamsSchema = z.object({ key: z.string().regex(/^[^:/]+:\d+$/, "expected TASK:ATTEMPT") });

const LogBodySchema = z.object({
  token: z.string(),
  offset: z.number().int().min(0),
  data: z.string().describe("The bytes, base64."),
});

const ResultBodySchema = z.object({
  token: z.string(),
  result: z.object({
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    reason: z.enum(["exited", "timeout", "cancelled", "setup"]),
    message: z.string().nullable(),
    endedAt: z.number(),
    metrics: z.record(z.string(), z.unknown()),
    series: z.array(z.unknown()).optional(),
    outputs: z.array(z.object({ path: z.string(), sha256: z.string(), size: z.number().int() })),
    error: z.string().optional(),
  }),
});

export const AgentSchema = z.object({
  name: z.string(),
  host: z.string(),
  pools: z.array(z.string()),
  slots: z.number().int(),
  inUse: z.number().int().describe("Attempts it holds now."),
  resources: z.record(z.string(), z.string()),
  startedAt: z.string(),
  lastHeartbeat: z.string(),
  connected: z.boolean().describe("Heard from within its lease."),
  tasks: z.array(z.object({ taskId: z.string(), runId: z.string(), attempt: z.number().int() })),
});

export function agentRoutes(ctx: ServerContext): ApiRoute[] {
  const leaseMs = agentLeaseMs();
  const claimOf = async (req: FastifyRequest, key: string, token: string): Promise<AgentClaimRow> => {
    const claim = await ctx.store.getAgentClaim(key);
    if (!claim) throw notFound(`no attempt ${key} was handed to agents`);
    requirePools(req, [claim.pool]);
    if (claim.state !== "claimed" || claim.token !== token)
      throw conflict(`attempt ${key} is no longer held under this claim (${claim.state}): stop it`);
    return claim;
  };
  return [
    defineRoute({
      method: "GET",
      path: "/agents",
      tag: "agents",
      summary: "List the agents (baton agents)",
      description:
        "Agents heard from in the last hour: their pools, slots, last heartbeat and the attempts they run.",
      responses: { 200: { description: "The agents.", schema: z.object({ agents: z.array(AgentSchema) }) } },
      async handle() {
        const now = Date.now();
        const [agents, claimed] = await Promise.all([
          ctx.store.listAgents(now - 3_600_000),
          ctx.store.listClaimedAgentWork(),
        ]);
        return {
          agents: agents.map((a) => {
            const tasks = claimed
              .filter((c) => c.agent === a.name)
              .map((c) => ({ taskId: c.taskId, runId: c.runId, attempt: c.attempt }));
            return {
              name: a.name,
              host: a.host,
              pools: a.pools,
              slots: a.slots,
              inUse: tasks.length,
              resources: a.resources,
              startedAt: new Date(a.startedAt).toISOString(),
              lastHeartbeat: new Date(a.seenAt).toISOString(),
              connected: a.seenAt >= now - leaseMs,
              tasks,
            };
          }),
        };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/agents/heartbeat",
      tag: "agents",
      summary: "An agent says it is alive and what it runs",
      description:
        "Records the agent and renews the leases of the attempts it holds. Answers which of them to stop: `cancel` (cancelled by a user) and `stale` (no longer its own: its lease ran out and the attempt went elsewhere).",
      body: HeartbeatSchema,
      responses: {
        200: {
          description: "What to stop.",
          schema: z.object({ leaseMs: z.number(), cancel: z.array(z.string()), stale: z.array(z.string()) }),
        },
      },
      async handle({ body, req }) {
        requirePools(req, body.pools);
        const now = Date.now();
        await ctx.store.recordAgent({
          name: body.name,
          host: body.host,
          pools: body.pools,
          slots: body.slots,
          resources: body.resources,
          startedAt: body.startedAt,
          seenAt: now,
        });
        const rows = await ctx.store.renewAgentClaims(body.running, now + leaseMs);
        const cancel: string[] = [];
        const stale: string[] = [];
        for (const held of body.running) {
          const row = rows.find((r) => r.key === held.key);
          if (!row || row.state !== "claimed" || row.token !== held.token) stale.push(held.key);
          else if (row.cancelRequested) cancel.push(held.key);
        }
        return { leaseMs, cancel, stale };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/agents/claim",
      tag: "agents",
      summary: "An agent asks for an attempt to run (long-poll)",
      description: `Hands the agent the oldest waiting attempt of one of its pools, under a claim token and a lease it renews by heartbeats; waits up to \`wait\` ms (at most ${MAX_CLAIM_WAIT_MS / 1000} s) for one. \`claim\` is null when none came.`,
      body: ClaimBodySchema,
      responses: {
        200: {
          description: "The claim, or null.",
          schema: z.object({
            claim: z
              .object({ key: z.string(), token: z.string(), leaseMs: z.number(), work: z.unknown() })
              .nullable(),
          }),
        },
      },
      async handle({ body, req, reply }) {
        requirePools(req, body.pools);
        const until = Date.now() + body.wait;
        let gone = false;
        // The response's close before it was sent: the agent went away (the request's own close
        // only says its body was read).
        reply.raw.once("close", () => {
          gone = true;
        });
        for (;;) {
          if (gone) return { claim: null };
          const now = Date.now();
          const token = randomBytes(18).toString("base64url");
          const claim = await ctx.store.claimAgentWork(body.name, body.pools, token, now, now + leaseMs);
          if (claim) {
            await ctx.store
              .setAttemptHandle(claim.taskId, claim.attempt, {
                handle: `agent:${claim.key}@${body.name}`,
                pid: null,
                pidStart: null,
              })
              .catch(() => {});
            return { claim: { key: claim.key, token, leaseMs, work: JSON.parse(claim.work) } };
          }
          if (gone || now >= until) return { claim: null };
          await new Promise((r) => setTimeout(r, Math.min(CLAIM_POLL_MS, until - now)));
        }
      },
    }),

    defineRoute({
      method: "POST",
      path: "/agents/attempts/:key/log",
      tag: "agents",
      summary: "An agent appends to an attempt's log",
      description:
        "Appends `data` at `offset` of the attempt's log. An offset other than the log's size is refused with 409 and the size (`expected`), from which the agent sends again.",
      params: KeyParamsSchema,
      body: LogBodySchema,
      responses: {
        200: { description: "Appended.", schema: z.object({ size: z.number() }) },
        409: { description: "Wrong offset, or the claim is no longer this agent's." },
      },
      async handle({ params, body, req, reply }) {
        const claim = await claimOf(req, params.key, body.token);
        const logPath = ctx.engine.executor.workspace.logLocation({
          runId: claim.runId,
          taskId: claim.taskId,
          name: "",
          attempt: claim.attempt,
        });
        const size = await stat(logPath).then(
          (s) => s.size,
          () => 0,
        );
        if (body.offset !== size) {
          reply.code(409);
          return {
            size,
            error: { code: "CONFLICT", message: `the log has ${size} bytes, not ${body.offset}` },
          };
        }
        await mkdir(path.dirname(logPath), { recursive: true });
        const handle = await open(logPath, "a");
        try {
          const data = Buffer.from(body.data, "base64");
          await handle.write(data);
          return { size: size + data.length };
        } finally {
          await handle.close();
        }
      },
    }),

    defineRoute({
      method: "POST",
      path: "/agents/attempts/:key/result",
      tag: "agents",
      summary: "An agent reports how an attempt ended",
      description:
        "Accepted only under the attempt's current claim (409 otherwise: the lease ran out and the result is ignored). Its outputs must be in the content store already (`PUT /artifacts/SHA256`).",
      params: KeyParamsSchema,
      body: ResultBodySchema,
      responses: {
        200: { description: "Recorded.", schema: z.object({ accepted: z.boolean() }) },
        400: { description: "An output is not in the content store." },
        409: { description: "The claim is no longer this agent's." },
      },
      async handle({ params, body, req }) {
        await claimOf(req, params.key, body.token);
        for (const o of body.result.outputs) {
          if (!/^[0-9a-f]{64}$/.test(o.sha256) || !(await ctx.engine.cas.has(o.sha256)))
            throw new HttpError(
              400,
              "BAD_REQUEST",
              `output ${o.path}: ${o.sha256} is not in the content store: upload it first`,
            );
        }
        const result = body.result as AgentResult;
        if (!(await ctx.store.finishAgentClaim(params.key, body.token, JSON.stringify(result))))
          throw conflict(`attempt ${params.key} is no longer held under this claim`);
        return { accepted: true };
      },
    }),

    defineRoute({
      method: "PUT",
      path: "/artifacts/:sha256",
      tag: "artifacts",
      summary: "Upload a file into the content store by its hash",
      description:
        "The body (application/octet-stream) is stored if its sha256 is the one named; a file already there need not be sent (`HEAD /artifacts/SHA256` says so).",
      params: ArtifactParamsSchema,
      responses: {
        201: { description: "Stored.", schema: z.object({ sha256: z.string(), size: z.number() }) },
        400: { description: "The content's hash is not the one named." },
      },
      async handle({ params, req, reply }) {
        const body = req.body as Readable | undefined;
        const dir = path.join(ctx.engine.layout.root, "tmp");
        await mkdir(dir, { recursive: true });
        const tmp = path.join(dir, `upload-${randomBytes(8).toString("hex")}`);
        try {
          if (body && typeof body.pipe === "function") await pipeline(body, createWriteStream(tmp));
          else await open(tmp, "w").then((h) => h.close());
          const { sha256 } = await hashFile(tmp);
          if (sha256 !== params.sha256)
            throw new HttpError(
              400,
              "BAD_REQUEST",
              `the content's sha256 is ${sha256}, not ${params.sha256}`,
            );
          const stored = await ctx.engine.cas.put(tmp, { followLinks: false });
          reply.code(201);
          return stored;
        } finally {
          await rm(tmp, { force: true });
        }
      },
    }),
  ];
}
