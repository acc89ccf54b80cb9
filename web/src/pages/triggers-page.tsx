/**
 * Triggers: what the server fires (`triggers:` of its pipelines, and those created over the
 * API): the schedule, the next fire time, the last run and its status, paused or not, with
 * Pause / Resume / Run now. Refreshes when a run ends (a trigger's last run may be it).
 */
import { useCallback, useEffect, useState } from "react";
import { errorMessage, get, post } from "../api/client";
import { useEngineEvents } from "../api/events";
import { useNow, useTitle } from "../api/hooks";
import type { RunStatus, TriggerView } from "../api/types";
import { StatusBadge } from "../components/status";
import { formatRelative, formatTimestamp, shortId } from "../lib/format";
import { useCoalesced } from "../lib/throttle";
import { Link, navigate } from "../router";

export function TriggersPage() {
  const [triggers, setTriggers] = useState<TriggerView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      setTriggers((await get<{ triggers: TriggerView[] }>("/triggers")).triggers);
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, []);
  useEffect(() => {
    void load();
    // Next fire times move on, and other servers fire too.
    const timer = window.setInterval(() => void load(), 10_000);
    return () => window.clearInterval(timer);
  }, [load]);
  const reload = useCoalesced(() => void load(), 1000);
  useEngineEvents((m) => {
    if (m.type === "reconnected" || m.type === "run-ended" || m.type === "run-started") reload();
  });
  const now = useNow((triggers?.length ?? 0) > 0, 30_000);
  useTitle("Triggers");

  const act = async (name: string, action: "pause" | "resume" | "fire") => {
    setBusy(`${name}:${action}`);
    try {
      const res = await post<{ run?: { id: string } }>(`/triggers/${encodeURIComponent(name)}/${action}`, {});
      if (action === "fire" && res.body.run) navigate(`/runs/${res.body.run.id}`);
      else await load();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Triggers</h1>
          <p className="subtitle">
            Runs started on a schedule (<code>cron:</code>), after another pipeline's run (<code>after:</code>
            ) or by a webhook (<code>webhook:</code>).
          </p>
        </div>
      </div>
      {error ? <div className="alert alert-error">{error}</div> : null}
      <div className="card table-card">
        <table className="table triggers-table">
          <thead>
            <tr>
              <th>Trigger</th>
              <th>Pipeline</th>
              <th>Schedule</th>
              <th style={{ width: 170 }}>Next fire</th>
              <th style={{ width: 220 }}>Last run</th>
              <th style={{ width: 90 }}>State</th>
              <th style={{ width: 190 }} />
            </tr>
          </thead>
          <tbody>
            {(triggers ?? []).map((t) => (
              <tr key={t.name} data-trigger={t.name}>
                <td className="strong" title={t.where}>
                  {t.name}
                </td>
                <td>
                  <Link to={`/runs?pipeline=${encodeURIComponent(t.pipeline)}`}>{t.pipeline}</Link>
                </td>
                <td>
                  <code>{t.schedule}</code>
                  {t.timezone ? <span className="muted"> {t.timezone}</span> : null}
                </td>
                <td title={formatTimestamp(t.nextFireAt)}>
                  {t.nextFireAt ? formatRelative(t.nextFireAt, now) : <span className="muted">-</span>}
                </td>
                <td title={t.lastOutcome?.message ?? undefined}>
                  {t.lastRun ? (
                    <span>
                      <Link to={`/runs/${t.lastRun.id}`} className="mono" title={t.lastRun.id}>
                        {shortId(t.lastRun.id)}
                      </Link>{" "}
                      <StatusBadge small status={t.lastRun.status as RunStatus} />
                    </span>
                  ) : (
                    <span className="muted">-</span>
                  )}
                  {t.lastOutcome && t.lastOutcome.outcome !== "started" ? (
                    <div className="muted small">last fire {t.lastOutcome.outcome}</div>
                  ) : null}
                </td>
                <td>{t.paused ? <span className="badge badge-sm">Paused</span> : "Active"}</td>
                <td className="actions">
                  {t.paused ? (
                    <button
                      type="button"
                      className="btn btn-sm"
                      disabled={busy !== null}
                      onClick={() => void act(t.name, "resume")}
                    >
                      Resume
                    </button>
                  ) : (
                    <button
                      type="button"
                      className="btn btn-sm"
                      disabled={busy !== null}
                      onClick={() => void act(t.name, "pause")}
                    >
                      Pause
                    </button>
                  )}{" "}
                  <button
                    type="button"
                    className="btn btn-primary btn-sm"
                    disabled={busy !== null}
                    onClick={() => void act(t.name, "fire")}
                  >
                    Run now
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {triggers && triggers.length === 0 ? (
          <div className="empty">
            <p>No triggers.</p>
            <p className="muted">
              Add <code>triggers: [{'{ cron: "0 9 * * MON" }'}]</code> to a pipeline of the server's
              baton.yaml.
            </p>
          </div>
        ) : null}
      </div>
    </div>
  );
}
