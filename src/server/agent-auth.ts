/**
 * Per-agent tokens (`baton agent token create`, docs/scale-out.md "Agent tokens"). The server's
 * token opens the whole API; an agent token opens only what an agent needs (heartbeat, claim,
 * its attempts' log and result, artifacts by hash) for the pools it was issued for, plus nested
 * submits (`POST /tasks` with the `parentTaskId` of a task an agent of those pools runs now, and
 * `GET /tasks/ID[/log]` of such children, for `baton submit --wait`).
 *
 * Only the token's sha256 is stored. A request's token is hashed and the hash looked up, so the
 * time taken depends on the hash of what was sent, never on how much of a real token it matches.
 */
import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AgentTokenRow, Store } from "../store/store.js";
import { requestToken, tokenMatches } from "./auth.js";
import { HttpError } from "./http-errors.js";

/** `METHOD /url` of the routes an agent token opens (HEAD is fastify's twin of the GET). */
const AGENT_ROUTES = new Set([
  "POST /api/v1/agents/heartbeat",
  "POST /api/v1/agents/claim",
  "POST /api/v1/agents/attempts/:key/log",
  "POST /api/v1/agents/attempts/:key/result",
  "GET /api/v1/artifacts/:sha256",
  "HEAD /api/v1/artifacts/:sha256",
  "PUT /api/v1/artifacts/:sha256",
]);
const NESTED_SUBMIT = "POST /api/v1/tasks";
/** What `baton submit --wait` reads of the tasks it submitted. */
const NESTED_READ = new Set([
  "GET /api/v1/tasks/:id",
  "HEAD /api/v1/tasks/:id",
  "GET /api/v1/tasks/:id/log",
  "HEAD /api/v1/tasks/:id/log",
]);

/** "Last used" is written at most this often per token (heartbeats come every second). */
const TOUCH_EVERY_MS = 10_000;

const granted = new WeakMap<FastifyRequest, AgentTokenRow>();

/** A new token: what the user is shown once. */
export function newAgentToken(): string {
  return `baton_at_${randomBytes(32).toString("base64url")}`;
}

export function hashAgentToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The agent token a request was let in with; undefined: the server's token (or no auth). */
export function agentTokenOf(req: FastifyRequest): AgentTokenRow | undefined {
  return granted.get(req);
}

function unauthorized(): HttpError {
  return new HttpError(
    401,
    "UNAUTHORIZED",
    "missing or wrong token: send Authorization: Bearer <token> (or ?token=<token>); the token is in .baton/token beside the server's baton.yaml",
  );
}

/**
 * Lets the request in with the server's token, or with an agent token on the routes it opens.
 * Throws 401 (no such token, or revoked) or 403 (an agent token elsewhere).
 */
export async function checkRequestToken(
  req: FastifyRequest,
  serverToken: string,
  store: Store,
): Promise<void> {
  const given = requestToken(req);
  if (tokenMatches(given, serverToken)) return;
  const row = given === undefined ? undefined : await store.findAgentToken(hashAgentToken(given));
  if (!row) throw unauthorized();
  const route = `${req.method} ${req.routeOptions.url ?? ""}`;
  if (!AGENT_ROUTES.has(route) && route !== NESTED_SUBMIT && !NESTED_READ.has(route))
    throw new HttpError(
      403,
      "FORBIDDEN",
      `agent token ${row.id} is accepted only on the agent routes (heartbeat, claim, attempts, artifacts) and for nested submits, not on ${req.method} ${req.url.split("?")[0]}`,
    );
  granted.set(req, row);
  const now = Date.now();
  if (row.lastUsedAt === null || now - row.lastUsedAt >= TOUCH_EVERY_MS)
    await store.touchAgentToken(row.id, now).catch(() => {});
}

/** Refuses (403) an agent token not issued for every one of `pools`. */
export function requirePools(req: FastifyRequest, pools: readonly string[]): void {
  const row = granted.get(req);
  if (!row) return;
  const other = pools.filter((p) => !row.pools.includes(p));
  if (other.length > 0)
    throw new HttpError(
      403,
      "FORBIDDEN",
      `agent token ${row.id} is for pool${row.pools.length === 1 ? "" : "s"} ${row.pools.join(", ")}, not ${other.join(", ")}`,
    );
}

/**
 * Nested submits under an agent token: only children of a task that an agent of the token's
 * pools holds now, and reading those children (runs as a preHandler, once the body is parsed).
 */
export async function checkNestedSubmit(req: FastifyRequest, store: Store): Promise<void> {
  const row = granted.get(req);
  if (!row) return;
  const route = `${req.method} ${req.routeOptions.url}`;
  let parent: unknown;
  if (route === NESTED_SUBMIT) parent = (req.body as { parentTaskId?: unknown } | undefined)?.parentTaskId;
  else if (NESTED_READ.has(route)) {
    const id = (req.params as { id?: string }).id;
    const task = id === undefined ? undefined : await store.getTask(id);
    parent = task?.parentId ?? (task ? (await store.getRun(task.runId))?.parentTaskId : undefined);
  } else return;
  const held =
    typeof parent === "string" &&
    (await store.listClaimedAgentWork()).some((c) => c.taskId === parent && row.pools.includes(c.pool));
  if (!held)
    throw new HttpError(
      403,
      "FORBIDDEN",
      `agent token ${row.id} may submit and read only children (parentTaskId) of a task an agent of pool${row.pools.length === 1 ? "" : "s"} ${row.pools.join(", ")} runs now`,
    );
}
