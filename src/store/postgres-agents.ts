/**
 * Remote agents in the PostgreSQL store, the same tables as sqlite-agents.ts. A claim takes the
 * oldest open attempt with `FOR UPDATE SKIP LOCKED` inside the store's write transaction, so two
 * agents (of two servers on one database) never get the same attempt.
 */
import type pg from "pg";
import { toAgent, toAgentClaim, toAgentToken } from "./sqlite-agents.js";
import type { AgentClaimRow, AgentRow, AgentTokenRow, NewAgentWork } from "./store.js";

type Db = Pick<pg.PoolClient, "query">;

export async function insertAgentWork(db: Db, w: NewAgentWork): Promise<void> {
  await db.query(
    `INSERT INTO agent_claims (key, run_id, task_id, attempt, pool, work, state, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) ON CONFLICT (key) DO NOTHING`,
    [w.key, w.runId, w.taskId, w.attempt, w.pool, w.work, w.createdAt],
  );
}

export async function claimWork(
  db: Db,
  agent: string,
  pools: string[],
  token: string,
  now: number,
  leaseUntil: number,
): Promise<AgentClaimRow | undefined> {
  if (pools.length === 0) return undefined;
  const { rows } = await db.query(
    `UPDATE agent_claims SET state = 'claimed', agent = $1, token = $2, lease_until = $3, claimed_at = $4
     WHERE key = (SELECT key FROM agent_claims
                  WHERE state = 'open' AND cancel_requested = 0 AND pool = ANY($5::text[])
                  ORDER BY created_at, key LIMIT 1 FOR UPDATE SKIP LOCKED)
       AND state = 'open'
     RETURNING *`,
    [agent, token, leaseUntil, now, pools],
  );
  return rows[0] ? toAgentClaim(rows[0]) : undefined;
}

export async function selectClaim(db: Db, key: string): Promise<AgentClaimRow | undefined> {
  const { rows } = await db.query("SELECT * FROM agent_claims WHERE key = $1", [key]);
  return rows[0] ? toAgentClaim(rows[0]) : undefined;
}

export async function selectClaimed(db: Db): Promise<AgentClaimRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM agent_claims WHERE state = 'claimed' ORDER BY agent COLLATE "C", claimed_at`,
  );
  return rows.map(toAgentClaim);
}

export async function renewClaims(
  db: Db,
  claims: Array<{ key: string; token: string }>,
  leaseUntil: number,
): Promise<AgentClaimRow[]> {
  const rows: AgentClaimRow[] = [];
  for (const c of claims) {
    await db.query(
      "UPDATE agent_claims SET lease_until = $1 WHERE key = $2 AND token = $3 AND state = 'claimed'",
      [leaseUntil, c.key, c.token],
    );
    const row = await selectClaim(db, c.key);
    if (row) rows.push(row);
  }
  return rows;
}

export async function finishClaim(db: Db, key: string, token: string, result: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE agent_claims SET state = 'done', result = $1 WHERE key = $2 AND token = $3 AND state = 'claimed'",
    [result, key, token],
  );
  return rowCount === 1;
}

export async function expireClaim(db: Db, key: string, now: number): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE agent_claims SET state = 'lost' WHERE key = $1 AND state = 'claimed' AND lease_until < $2",
    [key, now],
  );
  return rowCount === 1;
}

export async function cancelClaim(db: Db, key: string): Promise<AgentClaimRow | undefined> {
  await db.query("UPDATE agent_claims SET cancel_requested = 1 WHERE key = $1", [key]);
  await db.query("UPDATE agent_claims SET state = 'cancelled' WHERE key = $1 AND state = 'open'", [key]);
  return selectClaim(db, key);
}

export async function upsertAgent(db: Db, a: AgentRow): Promise<void> {
  await db.query(
    `INSERT INTO agents (name, host, pools, slots, resources, started_at, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (name) DO UPDATE SET host = excluded.host, pools = excluded.pools, slots = excluded.slots,
       resources = excluded.resources, started_at = excluded.started_at, seen_at = excluded.seen_at`,
    [a.name, a.host, JSON.stringify(a.pools), a.slots, JSON.stringify(a.resources), a.startedAt, a.seenAt],
  );
}

export async function selectAgents(db: Db, since: number): Promise<AgentRow[]> {
  const { rows } = await db.query('SELECT * FROM agents WHERE seen_at >= $1 ORDER BY name COLLATE "C"', [
    since,
  ]);
  return rows.map(toAgent);
}

export async function insertToken(db: Db, t: AgentTokenRow): Promise<void> {
  await db.query(
    "INSERT INTO agent_tokens (id, name, pools, hash, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
    [t.id, t.name, JSON.stringify(t.pools), t.hash, t.createdAt, t.lastUsedAt],
  );
}

export async function selectTokens(db: Db): Promise<AgentTokenRow[]> {
  const { rows } = await db.query('SELECT * FROM agent_tokens ORDER BY created_at, id COLLATE "C"');
  return rows.map(toAgentToken);
}

export async function selectToken(db: Db, hash: string): Promise<AgentTokenRow | undefined> {
  const { rows } = await db.query("SELECT * FROM agent_tokens WHERE hash = $1", [hash]);
  return rows[0] ? toAgentToken(rows[0]) : undefined;
}

export async function touchToken(db: Db, id: string, at: number): Promise<void> {
  await db.query("UPDATE agent_tokens SET last_used_at = $1 WHERE id = $2", [at, id]);
}

export async function deleteToken(db: Db, id: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM agent_tokens WHERE id = $1", [id]);
  return rowCount === 1;
}
