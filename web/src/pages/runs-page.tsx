/** The runs list: newest first, filtered by pipeline and status, a page at a time (by cursor), live. */
import { useCallback, useEffect, useMemo, useState } from "react";
import { errorMessage, get } from "../api/client";
import { useEngineEvents } from "../api/events";
import { useNow, usePipelines, useTitle } from "../api/hooks";
import { RUN_STATUSES, type RunList, type RunSummary } from "../api/types";
import { CountsBar, CountsText, STATUS_LABEL, StatusBadge } from "../components/status";
import { durationBetween, formatDuration, formatRelative, formatTimestamp, shortId } from "../lib/format";
import { totalOf } from "../lib/tasks";
import { useCoalesced } from "../lib/throttle";
import { Link, navigate, useLocation, withQuery } from "../router";

export const PAGE_SIZE = 25;

/**
 * The cursor of the page before each page seen, by filters and cursor: "← Newer" goes back to
 * it, whether the page was reached by "Older →" or by the browser's back and forward buttons.
 * A page opened from a link or a reload has none, and "← Newest" goes to the first page.
 */
const newerCursor = new Map<string, string>();
const pageKey = (pipeline: string, status: string, before: string) => `${pipeline}|${status}|${before}`;

export function RunsPage() {
  const loc = useLocation();
  const pipeline = loc.query.get("pipeline") ?? "";
  const status = loc.query.get("status") ?? "";
  const before = loc.query.get("before") ?? "";
  const page = before ? Math.max(2, Math.floor(Number(loc.query.get("page") ?? "2")) || 2) : 1;
  const [data, setData] = useState<{ runs: RunSummary[]; next: string | null; key: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { pipelines } = usePipelines();
  useTitle("Runs");
  const key = pageKey(pipeline, status, before);

  const load = useCallback(async () => {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (pipeline) q.set("pipeline", pipeline);
    if (status) q.set("status", status);
    if (before) q.set("before", before);
    try {
      const body = await get<RunList>(`/runs?${q}`);
      setData({ runs: body.runs, next: body.nextCursor, key });
      setError(null);
    } catch (err) {
      setError(errorMessage(err));
    }
  }, [pipeline, status, before, key]);

  useEffect(() => {
    void load();
  }, [load]);

  const reloadSoon = useCoalesced(() => void load(), 400);
  const reloadLater = useCoalesced(() => void load(), 2000);
  useEngineEvents((m) => {
    if (m.type === "task") reloadLater();
    else reloadSoon();
  });

  const runs = data?.runs ?? [];
  const now = useNow(runs.some((r) => r.status === "running"));
  const pipelineNames = useMemo(() => {
    const names = new Set((pipelines ?? []).map((p) => p.name));
    for (const r of runs) names.add(r.pipeline);
    if (pipeline) names.add(pipeline);
    return [...names].sort();
  }, [pipelines, runs, pipeline]);

  const loading = data === null || data.key !== key;

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <p className="subtitle">Every pipeline run on this server, newest first. Updates live.</p>
        </div>
        <Link className="btn btn-primary" to="/launch">
          Launch a pipeline
        </Link>
      </div>

      <div className="toolbar">
        <label className="field-inline">
          <span>Pipeline</span>
          <select
            value={pipeline}
            aria-label="Filter by pipeline"
            onChange={(e) =>
              navigate(withQuery(loc, { pipeline: e.target.value, before: undefined, page: undefined }))
            }
          >
            <option value="">All pipelines</option>
            {pipelineNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <fieldset className="chips" aria-label="Filter by status">
          <button
            type="button"
            className={`chip ${status === "" ? "chip-on" : ""}`}
            onClick={() =>
              navigate(withQuery(loc, { status: undefined, before: undefined, page: undefined }))
            }
          >
            All
          </button>
          {RUN_STATUSES.map((s) => (
            <button
              type="button"
              key={s}
              className={`chip ${status === s ? "chip-on" : ""}`}
              onClick={() => navigate(withQuery(loc, { status: s, before: undefined, page: undefined }))}
            >
              <span className={`dot dot-${s}`} />
              {STATUS_LABEL[s]}
            </button>
          ))}
        </fieldset>
      </div>

      {error ? <div className="alert alert-error">{error}</div> : null}

      <div className="card table-card">
        <table className="table runs-table">
          <thead>
            <tr>
              <th style={{ width: 130 }}>Status</th>
              <th>Pipeline</th>
              <th style={{ width: 130 }}>Run</th>
              <th style={{ width: 140 }}>Started</th>
              <th style={{ width: 100 }}>Duration</th>
              <th style={{ width: "34%" }}>Tasks</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr
                key={r.id}
                className="row-link"
                data-run={r.id}
                onClick={() => navigate(`/runs/${r.id}`)}
                onKeyDown={(e) => {
                  if (e.key === "Enter") navigate(`/runs/${r.id}`);
                }}
              >
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  <Link to={`/runs/${r.id}`} className="strong-link" onClick={(e) => e.stopPropagation()}>
                    {r.pipeline}
                  </Link>
                  {r.parentRun ? <span className="tag">child run</span> : null}
                </td>
                <td className="mono muted" title={r.id}>
                  {shortId(r.id)}
                </td>
                <td title={formatTimestamp(r.createdAt)}>{formatRelative(r.createdAt, now)}</td>
                <td className="num">{formatDuration(durationBetween(r.createdAt, r.endedAt, now))}</td>
                <td>
                  <div className="tasks-cell">
                    <CountsBar counts={r.counts} />
                    <div className="tasks-cell-text">
                      <span className="muted">
                        {totalOf(r.counts)} task{totalOf(r.counts) === 1 ? "" : "s"}
                      </span>
                      <CountsText counts={r.counts} />
                    </div>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!loading && runs.length === 0 ? (
          <div className="empty">
            {pipeline || status ? (
              <p>No runs match these filters.</p>
            ) : (
              <>
                <p>No runs yet.</p>
                <Link className="btn btn-primary" to="/launch">
                  Launch your first pipeline
                </Link>
              </>
            )}
          </div>
        ) : null}
        {loading && runs.length === 0 && !error ? <div className="empty muted">Loading runs…</div> : null}
      </div>

      <div className="pager">
        <button
          type="button"
          className="btn"
          disabled={!before}
          onClick={() => {
            const newer = newerCursor.get(key);
            navigate(
              withQuery(loc, {
                before: newer || undefined,
                page: newer ? String(page - 1) : undefined,
              }),
            );
          }}
        >
          {before && !newerCursor.has(key) ? "← Newest" : "← Newer"}
        </button>
        <span className="muted">Page {page}</span>
        <button
          type="button"
          className="btn"
          disabled={loading || !data?.next}
          onClick={() => {
            if (!data?.next) return;
            newerCursor.set(pageKey(pipeline, status, data.next), before);
            navigate(withQuery(loc, { before: data.next, page: String(page + 1) }));
          }}
        >
          Older →
        </button>
      </div>
    </div>
  );
}
