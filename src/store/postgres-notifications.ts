/** Notifications (`notify:` deliveries) in the PostgreSQL store: the table of sqlite-notifications.ts. */
import type pg from "pg";
import { notificationOf } from "./sqlite-notifications.js";
import type { NotificationRow, NotificationUpdate } from "./store.js";

type Db = Pick<pg.PoolClient, "query">;

export async function insertNotification(db: Db, n: NotificationRow): Promise<void> {
  await db.query(
    `INSERT INTO notifications (id, run_id, event, kind, target, status, attempts, last_status_code,
       last_error, created_at, updated_at, next_attempt_at, engine_id, request)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
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
    ],
  );
}

export async function changeNotification(db: Db, id: string, u: NotificationUpdate): Promise<void> {
  await db.query(
    `UPDATE notifications SET status = $1, attempts = $2, last_status_code = $3, last_error = $4,
       updated_at = $5, next_attempt_at = $6, request = CASE WHEN $1 = 'pending' THEN request ELSE NULL END
     WHERE id = $7`,
    [u.status, u.attempts, u.lastStatusCode, u.lastError, u.updatedAt, u.nextAttemptAt, id],
  );
}

export async function takeNotification(
  db: Db,
  id: string,
  from: string | null,
  to: string,
): Promise<boolean> {
  const r = await db.query(
    "UPDATE notifications SET engine_id = $1 WHERE id = $2 AND status = 'pending' AND engine_id IS NOT DISTINCT FROM $3",
    [to, id, from],
  );
  return r.rowCount === 1;
}

export async function selectNotifications(db: Db, runId: string): Promise<NotificationRow[]> {
  const { rows } = await db.query("SELECT * FROM notifications WHERE run_id = $1 ORDER BY created_at, id", [
    runId,
  ]);
  return rows.map(notificationOf);
}

export async function selectPendingNotifications(db: Db): Promise<NotificationRow[]> {
  const { rows } = await db.query(
    "SELECT * FROM notifications WHERE status = 'pending' ORDER BY created_at, id",
  );
  return rows.map(notificationOf);
}
