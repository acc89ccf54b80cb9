/**
 * Triggers in the PostgreSQL store, the same tables as sqlite-triggers.ts. A fire is claimed by
 * inserting its row (`ON CONFLICT DO NOTHING`): of several servers, exactly one inserts it.
 */
import type pg from "pg";
import { toTriggerFire, toTriggerState } from "./sqlite-triggers.js";
import type { TriggerFireRow, TriggerStateRow } from "./store.js";

type Db = Pick<pg.PoolClient, "query">;

export async function ensureTrigger(db: Db, name: string, createdAt: number): Promise<TriggerStateRow> {
  await db.query("INSERT INTO triggers (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [
    name,
    createdAt,
  ]);
  return toTriggerState((await db.query("SELECT * FROM triggers WHERE name = $1", [name])).rows[0]);
}

export async function selectTriggerStates(db: Db): Promise<TriggerStateRow[]> {
  return (await db.query('SELECT * FROM triggers ORDER BY name COLLATE "C"')).rows.map(toTriggerState);
}

export async function putTriggerDefinition(
  db: Db,
  name: string,
  definition: Record<string, unknown>,
  createdAt: number,
): Promise<void> {
  await db.query(
    `INSERT INTO triggers (name, definition, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET definition = excluded.definition`,
    [name, JSON.stringify(definition), createdAt],
  );
}

export async function deleteTrigger(db: Db, name: string): Promise<boolean> {
  await db.query("DELETE FROM trigger_fires WHERE trigger_name = $1", [name]);
  return ((await db.query("DELETE FROM triggers WHERE name = $1", [name])).rowCount ?? 0) > 0;
}

export async function setTriggerPaused(db: Db, name: string, paused: boolean, at: number): Promise<void> {
  await db.query("UPDATE triggers SET paused = $1 WHERE name = $2", [paused ? 1 : 0, name]);
  if (!paused) {
    await db.query(
      "UPDATE triggers SET last_slot_at = $1 WHERE name = $2 AND (last_slot_at IS NULL OR last_slot_at < $1)",
      [at, name],
    );
  }
}

export async function claimTriggerFire(db: Db, f: TriggerFireRow): Promise<boolean> {
  const inserted = await db.query(
    `INSERT INTO trigger_fires (trigger_name, slot, slot_at, at, outcome, run_id, message)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (trigger_name, slot) DO NOTHING`,
    [f.trigger, f.slot, f.slotAt, f.at, f.outcome, f.runId, f.message],
  );
  const claimed = (inserted.rowCount ?? 0) > 0;
  if (claimed && f.slotAt !== null) {
    await db.query(
      "UPDATE triggers SET last_slot_at = $1 WHERE name = $2 AND (last_slot_at IS NULL OR last_slot_at < $1)",
      [f.slotAt, f.trigger],
    );
  }
  return claimed;
}

export async function updateTriggerFire(
  db: Db,
  trigger: string,
  slot: string,
  from: string,
  to: Pick<TriggerFireRow, "outcome" | "runId" | "message">,
): Promise<boolean> {
  const changed = await db.query(
    "UPDATE trigger_fires SET outcome = $1, run_id = $2, message = $3 WHERE trigger_name = $4 AND slot = $5 AND outcome = $6",
    [to.outcome, to.runId, to.message, trigger, slot, from],
  );
  const ok = (changed.rowCount ?? 0) > 0;
  if (ok && to.runId !== null) {
    await db.query("UPDATE triggers SET last_run_id = $1 WHERE name = $2", [to.runId, trigger]);
  }
  return ok;
}

export async function selectTriggerFires(
  db: Db,
  trigger: string,
  limit: number,
  outcome?: string,
): Promise<TriggerFireRow[]> {
  const { rows } =
    outcome === undefined
      ? await db.query(
          'SELECT * FROM trigger_fires WHERE trigger_name = $1 ORDER BY at DESC, slot COLLATE "C" DESC LIMIT $2',
          [trigger, limit],
        )
      : await db.query(
          'SELECT * FROM trigger_fires WHERE trigger_name = $1 AND outcome = $2 ORDER BY at DESC, slot COLLATE "C" DESC LIMIT $3',
          [trigger, outcome, limit],
        );
  return rows.map(toTriggerFire);
}

export async function hasTriggerFire(db: Db, trigger: string, slot: string): Promise<boolean> {
  return (
    (await db.query("SELECT 1 FROM trigger_fires WHERE trigger_name = $1 AND slot = $2", [trigger, slot]))
      .rows.length > 0
  );
}
