/**
 * Remote agents in the SQLite store: table `agent_claims` (attempts of `executor: agent` pools,
 * open or held by an agent under a token and a lease) and `agents` (each agent's latest
 * heartbeat). Writes run inside SqliteStore's write queue (one IMMEDIATE transaction), so a claim
 * is a compare-and-set: two agents, even of two servers on one database, never get one attempt.
 */
import type Database from "better-sqlite3";
import type { AgentClaimRow, AgentClaimState, AgentRow, AgentTokenRow, NewAgentWork } from "./store.js";

type Row = Record<string, unknown>;

export function toAgentClaim(row: Row): AgentClaimRow {
  return {
    key: row.key as string,
    runId: row.run_id as string,
    taskId: row.task_id as string,
    attempt: row.attempt as number,
    pool: row.pool as string,
    work: row.work as string,
    createdAt: row.created_at as number,
    state: row.state as AgentClaimState,
    agent: (row.agent as string | null) ?? null,
    token: (row.token as string | null) ?? null,
    leaseUntil: (row.lease_until as number | null) ?? null,
    claimedAt: (row.claimed_at as number | null) ?? null,
    cancelRequested: Boolean(row.cancel_requested),
    result: (row.result as string | null) ?? null,
  };
}

export function toAgent(row: Row): AgentRow {
  return {
    name: row.name as string,
    host: row.host as string,
    pools: JSON.parse(row.pools as string) as string[],
    slots: row.slots as number,
    resources: JSON.parse(row.resources as string) as Record<string, string>,
    startedAt: row.started_at as number,
    seenAt: row.seen_at as number,
  };
}

export function insertAgentWork(db: Database.Database, w: NewAgentWork): void {
  db.prepare(
    `INSERT INTO agent_claims (key, run_id, task_id, attempt, pool, work, state, created_at)
     VALUES (?, ?, ?, ?, ?, ?, 'open', ?) ON CONFLICT (key) DO NOTHING`,
  ).run(w.key, w.runId, w.taskId, w.attempt, w.pool, w.work, w.createdAt);
}

export function claimWork(
  db: Database.Database,
  agent: string,
  pools: string[],
  token: string,
  now: number,
  leaseUntil: number,
): AgentClaimRow | undefined {
  if (pools.length === 0) return undefined;
  const marks = pools.map(() => "?").join(", ");
  const open = db
    .prepare(
      `SELECT key FROM agent_claims WHERE state = 'open' AND cancel_requested = 0 AND pool IN (${marks})
       ORDER BY created_at, key LIMIT 1`,
    )
    .get(...pools) as Row | undefined;
  if (!open) return undefined;
  db.prepare(
    `UPDATE agent_claims SET state = 'claimed', agent = ?, token = ?, lease_until = ?, claimed_at = ?
     WHERE key = ? AND state = 'open'`,
  ).run(agent, token, leaseUntil, now, open.key);
  return selectClaim(db, open.key as string);
}

export function selectClaim(db: Database.Database, key: string): AgentClaimRow | undefined {
  const row = db.prepare("SELECT * FROM agent_claims WHERE key = ?").get(key) as Row | undefined;
  return row ? toAgentClaim(row) : undefined;
}

export function selectClaimed(db: Database.Database): AgentClaimRow[] {
  const rows = db
    .prepare("SELECT * FROM agent_claims WHERE state = 'claimed' ORDER BY agent, claimed_at")
    .all() as Row[];
  return rows.map(toAgentClaim);
}

export function renewClaims(
  db: Database.Database,
  claims: Array<{ key: string; token: string }>,
  leaseUntil: number,
): AgentClaimRow[] {
  const renew = db.prepare(
    "UPDATE agent_claims SET lease_until = ? WHERE key = ? AND token = ? AND state = 'claimed'",
  );
  const rows: AgentClaimRow[] = [];
  for (const c of claims) {
    renew.run(leaseUntil, c.key, c.token);
    const row = selectClaim(db, c.key);
    if (row) rows.push(row);
  }
  return rows;
}

export function finishClaim(db: Database.Database, key: string, token: string, result: string): boolean {
  const { changes } = db
    .prepare(
      "UPDATE agent_claims SET state = 'done', result = ? WHERE key = ? AND token = ? AND state = 'claimed'",
    )
    .run(result, key, token);
  return changes === 1;
}

export function expireClaim(db: Database.Database, key: string, now: number): boolean {
  const { changes } = db
    .prepare("UPDATE agent_claims SET state = 'lost' WHERE key = ? AND state = 'claimed' AND lease_until < ?")
    .run(key, now);
  return changes === 1;
}

export function cancelClaim(db: Database.Database, key: string): AgentClaimRow | undefined {
  db.prepare("UPDATE agent_claims SET cancel_requested = 1 WHERE key = ?").run(key);
  db.prepare("UPDATE agent_claims SET state = 'cancelled' WHERE key = ? AND state = 'open'").run(key);
  return selectClaim(db, key);
}

export function upsertAgent(db: Database.Database, a: AgentRow): void {
  db.prepare(
    `INSERT INTO agents (name, host, pools, slots, resources, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET host = excluded.host, pools = excluded.pools, slots = excluded.slots,
       resources = excluded.resources, started_at = excluded.started_at, seen_at = excluded.seen_at`,
  ).run(a.name, a.host, JSON.stringify(a.pools), a.slots, JSON.stringify(a.resources), a.startedAt, a.seenAt);
}

export function selectAgents(db: Database.Database, since: number): AgentRow[] {
  const rows = db.prepare("SELECT * FROM agents WHERE seen_at >= ? ORDER BY name").all(since) as Row[];
  return rows.map(toAgent);
}

export function toAgentToken(row: Row): AgentTokenRow {
  return {
    id: row.id as string,
    name: row.name as string,
    pools: JSON.parse(row.pools as string) as string[],
    hash: row.hash as string,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null || row.last_used_at === undefined ? null : Number(row.last_used_at),
  };
}

export function insertToken(db: Database.Database, t: AgentTokenRow): void {
  db.prepare(
    "INSERT INTO agent_tokens (id, name, pools, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(t.id, t.name, JSON.stringify(t.pools), t.hash, t.createdAt, t.lastUsedAt);
}

export function selectTokens(db: Database.Database): AgentTokenRow[] {
  const rows = db.prepare("SELECT * FROM agent_tokens ORDER BY created_at, id").all() as Row[];
  return rows.map(toAgentToken);
}

export function selectToken(db: Database.Database, hash: string): AgentTokenRow | undefined {
  const row = db.prepare("SELECT * FROM agent_tokens WHERE hash = ?").get(hash) as Row | undefined;
  return row ? toAgentToken(row) : undefined;
}

export function touchToken(db: Database.Database, id: string, at: number): void {
  db.prepare("UPDATE agent_tokens SET last_used_at = ? WHERE id = ?").run(at, id);
}

export function deleteToken(db: Database.Database, id: string): boolean {
  return db.prepare("DELETE FROM agent_tokens WHERE id = ?").run(id).changes === 1;
}
