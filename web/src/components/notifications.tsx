/** The run page's notifications: each delivery of the run's `notify:` entries and how it went. */
import { useEffect, useState } from "react";
import { get } from "../api/client";
import type { NotificationView } from "../api/types";

/** Fetched again when `status` changes, and every 2 s while a delivery is pending. */
export function RunNotifications({ runId, status }: { runId: string; status: string }) {
  const [rows, setRows] = useState<NotificationView[]>([]);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: status and tick are reasons to fetch again
  useEffect(() => {
    let live = true;
    get<{ notifications: NotificationView[] }>(`/runs/${encodeURIComponent(runId)}/notifications`)
      .then((r) => {
        if (live) setRows(r.notifications);
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [runId, status, tick]);
  // Each answer with a pending delivery asks again 2 s later.
  useEffect(() => {
    if (!rows.some((r) => r.status === "pending")) return;
    const timer = setTimeout(() => setTick((t) => t + 1), 2000);
    return () => clearTimeout(timer);
  }, [rows]);
  if (rows.length === 0) return null;
  return (
    <details className="run-notifications">
      <summary>
        Notifications: {rows.filter((r) => r.status === "delivered").length} of {rows.length} delivered
        {rows.some((r) => r.status === "failed") ? ", some failed" : ""}
      </summary>
      <table className="notifications-table">
        <thead>
          <tr>
            <th>Event</th>
            <th>To</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Code</th>
            <th>Last error</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((n) => (
            <tr key={n.id} data-status={n.status}>
              <td>{n.event}</td>
              <td>
                <code>{n.target}</code>
              </td>
              <td className={`notification-${n.status}`}>{n.status}</td>
              <td>{n.attempts}</td>
              <td>{n.lastStatusCode ?? ""}</td>
              <td>{n.lastError ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
