/**
 * Triggers in the SQLite store: tables `triggers` (state) and `trigger_fires` (one row per
 * trigger and slot: inserting it is the claim). Writes run inside SqliteStore's write queue.
 */
import type Database from "better-sqlite3";
import type { TriggerFireRow, TriggerStateRow } from "./store.js";

type Row = Record<string, unknown>;

export function toTriggerState(r: Row): TriggerStateRow {
  return {
    name: r.name as string,
    definition:
      r.definition === null ? null : (JSON.parse(r.definition as string) as Record<string, unknown>),
    paused: Boolean(r.paused),
    createdAt: Number(r.created_at),
    lastSlotAt: r.last_slot_at === null ? null : Number(r.last_slot_at),
    lastRunId: (r.last_run_id as string | null) ?? null,
  };
}

export function toTriggerFire(r: Row): TriggerFireRow {
  return {
    trigger: r.trigger_name as string,
    slot: r.slot as string,
    slotAt: r.slot_at === null ? null : Number(r.slot_at),
    at: Number(r.at),
    outcome: r.outcome as TriggerFireRow["outcome"],
    runId: (r.run_id as string | null) ?? null,
    message: (r.message as string | null) ?? null,
  };
}

export function ensureTrigger(db: Database.Database, name: string, createdAt: number): TriggerStateRow {
  db.prepare("INSERT INTO triggers (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING").run(
    name,
    createdAt,
  );
  return toTriggerState(db.prepare("SELECT * FROM triggers WHERE name = ?").get(name) as Row);
}

export function selectTriggerStates(db: Database.Database): TriggerStateRow[] {
  return (db.prepare("SELECT * FROM triggers ORDER BY name").all() as Row[]).map(toTriggerState);
}

export function putTriggerDefinition(
  db: Database.Database,
  name: string,
  definition: Record<string, unknown>,
  createdAt: number,
): void {
  db.prepare(
    `INSERT INTO triggers (name, definition, created_at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET definition = excluded.definition`,
  ).run(name, JSON.stringify(definition), createdAt);
}

export function deleteTrigger(db: Database.Database, name: string): boolean {
  db.prepare("DELETE FROM trigger_fires WHERE trigger_name = ?").run(name);
  return db.prepare("DELETE FROM triggers WHERE name = ?").run(name).changes > 0;
}

export function setTriggerPaused(db: Database.Database, name: string, paused: boolean, at: number): void {
  db.prepare("UPDATE triggers SET paused = ? WHERE name = ?").run(paused ? 1 : 0, name);
  if (!paused) {
    db.prepare(
      "UPDATE triggers SET last_slot_at = ? WHERE name = ? AND (last_slot_at IS NULL OR last_slot_at < ?)",
    ).run(at, name, at);
  }
}

export function claimTriggerFire(db: Database.Database, f: TriggerFireRow): boolean {
  const inserted = db
    .prepare(
      `INSERT INTO trigger_fires (trigger_name, slot, slot_at, at, outcome, run_id, message)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trigger_name, slot) DO NOTHING`,
    )
    .run(f.trigger, f.slot, f.slotAt, f.at, f.outcome, f.runId, f.message).changes;
  if (inserted > 0 && f.slotAt !== null) {
    db.prepare(
      "UPDATE triggers SET last_slot_at = ? WHERE name = ? AND (last_slot_at IS NULL OR last_slot_at < ?)",
    ).run(f.slotAt, f.trigger, f.slotAt);
  }
  return inserted > 0;
}

export function updateTriggerFire(
  db: Database.Database,
  trigger: string,
  slot: string,
  from: string,
  to: Pick<TriggerFireRow, "outcome" | "runId" | "message">,
): boolean {
  const changed = db
    .prepare(
      "UPDATE trigger_fires SET outcome = ?, run_id = ?, message = ? WHERE trigger_name = ? AND slot = ? AND outcome = ?",
    )
    .run(to.outcome, to.runId, to.message, trigger, slot, from).changes;
  if (changed > 0 && to.runId !== null) {
    db.prepare("UPDATE triggers SET last_run_id = ? WHERE name = ?").run(to.runId, trigger);
  }
  return changed > 0;
}

export function selectTriggerFires(
  db: Database.Database,
  trigger: string,
  limit: number,
  outcome?: string,
): TriggerFireRow[] {
  const rows =
    outcome === undefined
      ? db
          .prepare("SELECT * FROM trigger_fires WHERE trigger_name = ? ORDER BY at DESC, slot DESC LIMIT ?")
          .all(trigger, limit)
      : db
          .prepare(
            "SELECT * FROM trigger_fires WHERE trigger_name = ? AND outcome = ? ORDER BY at DESC, slot DESC LIMIT ?",
          )
          .all(trigger, outcome, limit);
  return (rows as Row[]).map(toTriggerFire);
}

export function hasTriggerFire(db: Database.Database, trigger: string, slot: string): boolean {
  return (
    db.prepare("SELECT 1 FROM trigger_fires WHERE trigger_name = ? AND slot = ?").get(trigger, slot) !==
    undefined
  );
}
