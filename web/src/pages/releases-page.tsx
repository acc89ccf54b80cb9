/**
 * Releases: what `release:` nodes (Valohai's deployment nodes) kept. The list shows each
 * release's latest version and the run that made it; a release's page shows its versions,
 * newest first, with their files to download (links carry the token, as downloads cannot send
 * a header). Both refresh when a task ends, since a release node's task makes a version.
 */
import { useCallback, useEffect, useState } from "react";
import { ApiError, errorMessage, get, withToken } from "../api/client";
import { useEngineEvents } from "../api/events";
import { useNow, useTitle } from "../api/hooks";
import type { ReleaseDetail, ReleaseSummary, ReleaseVersion } from "../api/types";
import { formatBytes, formatRelative, formatTimestamp, shortId } from "../lib/format";
import { isTerminal } from "../lib/tasks";
import { useCoalesced } from "../lib/throttle";
import { Link } from "../router";

/** Where a release's page lives (names may hold spaces and brackets, never `/`). */
export const releasePath = (name: string) => `/releases/${encodeURIComponent(name)}`;

/** The run view with the task that made a version selected. */
const taskPath = (run: string, task: string) => `/runs/${run}?task=${encodeURIComponent(task)}`;

/** Fetches `path`, and again (coalesced) whenever a task or run ends. */
function useLive<T>(path: string): { data: T | null; error: { message: string; status: number } | null } {
  const [state, setState] = useState<{
    data: T | null;
    error: { message: string; status: number } | null;
  }>({ data: null, error: null });
  const load = useCallback(async () => {
    try {
      const data = await get<T>(path);
      setState({ data, error: null });
    } catch (err) {
      setState((s) => ({
        data: s.data,
        error: { message: errorMessage(err), status: err instanceof ApiError ? err.status : 0 },
      }));
    }
  }, [path]);
  useEffect(() => {
    setState({ data: null, error: null });
    void load();
  }, [load]);
  const reload = useCoalesced(() => void load(), 1000);
  useEngineEvents((m) => {
    if (m.type === "reconnected" || m.type === "run-ended" || (m.type === "task" && isTerminal(m.status)))
      reload();
  });
  return state;
}

function MadeBy({ run, task }: { run: string; task: string }) {
  return (
    <span className="release-made-by">
      <Link to={`/runs/${run}`} className="mono" title={run}>
        {shortId(run)}
      </Link>{" "}
      <span className="muted">·</span>{" "}
      <Link to={taskPath(run, task)} className="mono" title={task}>
        {shortId(task)}
      </Link>
    </span>
  );
}

export function ReleasesPage() {
  const { data, error } = useLive<{ releases: ReleaseSummary[] }>("/releases");
  const releases = data?.releases ?? [];
  const now = useNow(releases.length > 0, 30_000);
  useTitle("Releases");
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Releases</h1>
          <p className="subtitle">
            Files kept by <code>release:</code> nodes, a new version each time one runs. Updates live.
          </p>
        </div>
      </div>
      {error ? <div className="alert alert-error">{error.message}</div> : null}
      <div className="card table-card">
        <table className="table releases-table">
          <thead>
            <tr>
              <th>Release</th>
              <th style={{ width: 140 }}>Latest version</th>
              <th style={{ width: 170 }}>Created</th>
              <th style={{ width: 300 }}>Made by</th>
            </tr>
          </thead>
          <tbody>
            {releases.map((r) => (
              <tr key={r.name} data-release={r.name}>
                <td>
                  <Link to={releasePath(r.name)} className="strong-link">
                    {r.name}
                  </Link>
                </td>
                <td>
                  v{r.latestVersion}{" "}
                  <span className="muted">
                    ({r.versions} version{r.versions === 1 ? "" : "s"})
                  </span>
                </td>
                <td title={formatTimestamp(r.createdAt)}>{formatRelative(r.createdAt, now)}</td>
                <td>
                  <MadeBy run={r.run} task={r.task} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && releases.length === 0 ? (
          <div className="empty">
            <p>No releases yet.</p>
            <p className="muted">
              A node with <code>release: {"{ name, files }"}</code> keeps its files here when it runs.
            </p>
          </div>
        ) : null}
        {!data && !error ? <div className="empty muted">Loading releases…</div> : null}
      </div>
    </div>
  );
}

export function ReleasePage({ name }: { name: string }) {
  const { data, error } = useLive<ReleaseDetail>(`/releases/${encodeURIComponent(name)}`);
  const now = useNow(data !== null, 30_000);
  useTitle(`Release ${name}`);
  const crumbs = (
    <div className="crumbs">
      <Link to="/releases">Releases</Link> / {name}
    </div>
  );
  if (error && !data) {
    return (
      <div className="page">
        {crumbs}
        <div className="alert alert-error">
          {error.status === 404 ? `There is no release "${name}".` : error.message}
        </div>
      </div>
    );
  }
  if (!data) {
    return (
      <div className="page">
        {crumbs}
        <div className="loading">Loading release…</div>
      </div>
    );
  }
  return (
    <div className="page">
      {crumbs}
      <div className="page-head">
        <div>
          <h1>{data.name}</h1>
          <p className="subtitle">
            {data.versions.length} version{data.versions.length === 1 ? "" : "s"}, newest first.
          </p>
        </div>
      </div>
      {error ? <div className="alert alert-error">{error.message}</div> : null}
      {data.versions.map((v, i) => (
        <VersionCard key={v.version} version={v} latest={i === 0} now={now} />
      ))}
    </div>
  );
}

function VersionCard({ version: v, latest, now }: { version: ReleaseVersion; latest: boolean; now: number }) {
  return (
    <section className="card release-version" data-version={v.version} aria-label={`Version ${v.version}`}>
      <div className="release-version-head">
        <h2>
          Version {v.version}
          {latest ? <span className="tag">latest</span> : null}
        </h2>
        <span title={formatTimestamp(v.createdAt)}>
          <span className="muted">Created</span> {formatRelative(v.createdAt, now)}
        </span>
        <span>
          <span className="muted">Made by</span> <MadeBy run={v.run} task={v.task} />
        </span>
      </div>
      <table className="table table-compact release-files">
        <thead>
          <tr>
            <th>File</th>
            <th className="num" style={{ width: 110 }}>
              Size
            </th>
            <th style={{ width: 150 }}>sha256</th>
          </tr>
        </thead>
        <tbody>
          {v.files.map((f) => (
            <tr key={f.path} data-file={f.path}>
              <td>
                <a href={withToken(f.url)} className="mono" title={`Download ${f.path}`}>
                  {f.path}
                </a>
              </td>
              <td className="num">{formatBytes(f.size)}</td>
              <td className="mono muted" title={f.sha256}>
                {f.sha256.slice(0, 12)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
