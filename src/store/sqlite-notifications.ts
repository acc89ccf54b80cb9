/**
 * Notifications (`notify:` deliveries) in the SQLite store: table `notifications`. Writes are
 * called by SqliteStore inside its write queue.
 */
import type Database from "better-sqlite3";
import type { NotificationRow, NotificationUpdate } from "./store.js";

type Row = Record<string, unknown>;

export function insertNotification(db: Database.Database, n: NotificationRow): void {
  db.prepare(
    `INSERT INTO notifications (id, run_id, event, kind, target, status, attempts, last_status_code,
       last_error, created_at, updated_at, next_attempt_at, engine_id, request)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    n.id,
    n.runId,
    n.event,
    n.kind,
    n.target,
    n.status,
    n.attempts,
    n.lastStatusCode,
    n.lastError,
    n.createdAt,
    n.updatedAt,
    n.nextAttemptAt,
    n.engineId,
    n.request,
  );
}

export function changeNotification(db: Database.Database, id: string, u: NotificationUpdate): void {
  db.prepare(
    `UPDATE notifications SET status = ?, attempts = ?, last_status_code = ?, last_error = ?,
       updated_at = ?, next_attempt_at = ?, request = CASE WHEN ? = 'pending' THEN request ELSE NULL END
     WHERE id = ?`,
  ).run(u.status, u.attempts, u.lastStatusCode, u.lastError, u.updatedAt, u.nextAttemptAt, u.status, id);
}

export function takeNotification(
  db: Database.Database,
  id: string,
  from: string | null,
  to: string,
): boolean {
  return (
    db
      .prepare(
        "UPDATE notifications SET engine_id = ? WHERE id = ? AND status = 'pending' AND engine_id IS ?",
      )
      .run(to, id, from).changes === 1
  );
}

/** A run's deliveries in the order they were recorded (ids made in one millisecond do not sort: util/ulid.ts). */
export function selectNotifications(db: Database.Database, runId: string): NotificationRow[] {
  return (
    db.prepare("SELECT * FROM notifications WHERE run_id = ? ORDER BY created_at, rowid").all(runId) as Row[]
  ).map(notificationOf);
}

export function selectPendingNotifications(db: Database.Database): NotificationRow[] {
  return (
    db
      .prepare("SELECT * FROM notifications WHERE status = 'pending' ORDER BY created_at, rowid")
      .all() as Row[]
  ).map(notificationOf);
}

/** A row of `notifications` (either dialect) as the port's shape. */
export function notificationOf(r: Row): NotificationRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: r.id as string,
    runId: r.run_id as string,
    event: r.event as string,
    kind: r.kind as NotificationRow["kind"],
    target: r.target as string,
    status: r.status as NotificationRow["status"],
    attempts: Number(r.attempts),
    lastStatusCode: num(r.last_status_code),
    lastError: (r.last_error as string | null) ?? null,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    nextAttemptAt: num(r.next_attempt_at),
    engineId: (r.engine_id as string | null) ?? null,
    request: (r.request as string | null) ?? null,
  };
}
