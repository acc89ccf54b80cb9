/**
 * Agents: the machines running tasks of `executor: agent` pools (`GET /agents`): name, host,
 * pools, slots in use, last heartbeat (gone ones marked) and the tasks each runs, linked.
 * Polls every few seconds (heartbeats are not events) and refreshes when a run starts or ends.
 */
import { useCallback, useEffect, useState } from "react";
import { errorMessage, get } from "../api/client";
import { useEngineEvents } from "../api/events";
import { useNow, useTitle } from "../api/hooks";
import type { AgentView } from "../api/types";
import { formatRelative, formatTimestamp, shortId } from "../lib/format";
import { useCoalesced } from "../lib/throttle";
import { Link } from "../router";

/** "3 s ago" for a heartbeat: seconds matter here. */
export function heartbeatAge(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s} s ago` : formatRelative(iso, now);
}

export function AgentsPage() {
  const [agents, setAgents] = useState<AgentView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setAgents((await get<{ agents: AgentView[] }>("/agents")).agents);
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, []);
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), 3_000);
    return () => window.clearInterval(timer);
  }, [load]);
  const reload = useCoalesced(() => void load(), 1000);
  useEngineEvents((m) => {
    if (m.type === "reconnected" || m.type === "run-ended" || m.type === "run-started") reload();
  });
  const now = useNow((agents?.length ?? 0) > 0, 1000);
  useTitle("Agents");

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Agents</h1>
          <p className="subtitle">
            Machines running tasks of <code>executor: agent</code> pools (<code>baton agent</code>), heard
            from in the last hour.
          </p>
        </div>
      </div>
      {error ? <div className="alert alert-error">{error}</div> : null}
      <div className="card table-card">
        <table className="table agents-table">
          <thead>
            <tr>
              <th>Agent</th>
              <th>Host</th>
              <th>Pools</th>
              <th style={{ width: 110 }}>Slots in use</th>
              <th style={{ width: 170 }}>Last heartbeat</th>
              <th>Tasks</th>
            </tr>
          </thead>
          <tbody>
            {(agents ?? []).map((a) => (
              <tr key={a.name} data-agent={a.name} className={a.connected ? "" : "muted"}>
                <td>
                  <strong>{a.name}</strong>
                  {a.connected ? null : <span className="badge"> gone</span>}
                </td>
                <td>{a.host}</td>
                <td>{a.pools.join(", ")}</td>
                <td>
                  {a.inUse} / {a.slots}
                </td>
                <td title={formatTimestamp(a.lastHeartbeat)}>{heartbeatAge(a.lastHeartbeat, now)}</td>
                <td>
                  {a.tasks.length === 0
                    ? "–"
                    : a.tasks.map((t) => (
                        <span key={`${t.taskId}:${t.attempt}`} className="agent-task">
                          <Link to={`/runs/${t.runId}?task=${encodeURIComponent(t.taskId)}`}>
                            {shortId(t.taskId)}
                          </Link>{" "}
                        </span>
                      ))}
                </td>
              </tr>
            ))}
            {agents && agents.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No agent has connected in the last hour. Start one with{" "}
                  <code>baton agent --server URL --pool NAME</code>.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </div>
  );
}
