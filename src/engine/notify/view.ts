import type { NotificationRow } from "../../store/store.js";

/** A delivery as `baton show --json` and `GET /runs/:id/notifications` show it. */
export interface NotificationView {
  id: string;
  event: string;
  kind: "webhook" | "email";
  target: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  nextAttemptAt: string | null;
}

export function notificationView(n: NotificationRow): NotificationView {
  return {
    id: n.id,
    event: n.event,
    kind: n.kind,
    target: n.target,
    status: n.status,
    attempts: n.attempts,
    lastStatusCode: n.lastStatusCode,
    lastError: n.lastError,
    createdAt: new Date(n.createdAt).toISOString(),
    updatedAt: new Date(n.updatedAt).toISOString(),
    nextAttemptAt: n.nextAttemptAt === null ? null : new Date(n.nextAttemptAt).toISOString(),
  };
}
