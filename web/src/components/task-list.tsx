/** Every task of a run in one virtualised table, filtered by status, node and name. */
import { useMemo, useState } from "react";
import { TASK_STATUSES, type TaskStatus, type TaskView } from "../api/types";
import { durationBetween, formatDuration, formatRelative, formatTimestamp } from "../lib/format";
import { countStatuses } from "../lib/tasks";
import { STATUS_LABEL, StatusBadge } from "./status";
import { VirtualList } from "./virtual-list";

const ROW = 38;

export function TaskList({
  tasks,
  selectedId,
  onSelect,
  now,
}: {
  tasks: TaskView[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  now: number;
}) {
  const [status, setStatus] = useState<TaskStatus | "">("");
  const [node, setNode] = useState("");
  const [query, setQuery] = useState("");
  const counts = useMemo(() => countStatuses(tasks), [tasks]);
  const nodes = useMemo(
    () => [...new Set(tasks.map((t) => t.node).filter((n): n is string => n !== null))],
    [tasks],
  );
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return tasks.filter(
      (t) =>
        (status === "" || t.status === status) &&
        (node === "" || t.node === node) &&
        (q === "" || t.name.toLowerCase().includes(q) || t.id.toLowerCase().startsWith(q)),
    );
  }, [tasks, status, node, query]);

  return (
    <div className="task-list">
      <div className="toolbar toolbar-tight">
        <input
          className="search"
          type="search"
          placeholder="Filter by name or id…"
          value={query}
          aria-label="Filter tasks by name"
          onChange={(e) => setQuery(e.target.value)}
        />
        {nodes.length > 1 ? (
          <select value={node} aria-label="Filter by node" onChange={(e) => setNode(e.target.value)}>
            <option value="">All nodes</option>
            {nodes.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        ) : null}
        <fieldset className="chips" aria-label="Filter by status">
          <button
            type="button"
            className={`chip ${status === "" ? "chip-on" : ""}`}
            onClick={() => setStatus("")}
          >
            All <span className="chip-count">{tasks.length}</span>
          </button>
          {TASK_STATUSES.filter((s) => counts[s] > 0).map((s) => (
            <button
              type="button"
              key={s}
              className={`chip ${status === s ? "chip-on" : ""}`}
              onClick={() => setStatus(status === s ? "" : s)}
            >
              <span className={`dot dot-${s}`} />
              {STATUS_LABEL[s]} <span className="chip-count">{counts[s]}</span>
            </button>
          ))}
        </fieldset>
      </div>
      <div className="card grid-table">
        <div className="grid-row grid-head tasks-grid">
          <span>Status</span>
          <span>Task</span>
          <span>Node</span>
          <span className="num">Tries</span>
          <span className="num">Exit</span>
          <span>Started</span>
          <span className="num">Duration</span>
        </div>
        {shown.length === 0 ? (
          <div className="empty muted">No tasks match.</div>
        ) : (
          <VirtualList
            className="grid-body"
            count={shown.length}
            rowHeight={ROW}
            label="Tasks"
            renderRow={(i) => {
              const t = shown[i]!;
              return (
                <button
                  type="button"
                  key={t.id}
                  className={`grid-row tasks-grid row-button${t.id === selectedId ? " row-selected" : ""}`}
                  style={{ height: ROW }}
                  onClick={() => onSelect(t.id)}
                  data-task={t.name}
                >
                  <span>
                    <StatusBadge small status={t.status} />
                  </span>
                  <span className="cell-name">{t.name}</span>
                  <span className="muted ellipsis">{t.node ?? "—"}</span>
                  <span className="num">{t.attempts}</span>
                  <span className={`num ${t.exitCode !== null && t.exitCode !== 0 ? "text-failed" : ""}`}>
                    {t.exitCode ?? "—"}
                  </span>
                  <span className="muted" title={formatTimestamp(t.startedAt)}>
                    {formatRelative(t.startedAt, now)}
                  </span>
                  <span className="num">{formatDuration(durationBetween(t.startedAt, t.endedAt, now))}</span>
                </button>
              );
            }}
          />
        )}
      </div>
      {shown.length !== tasks.length ? (
        <p className="muted small">
          Showing {shown.length} of {tasks.length} tasks.
        </p>
      ) : null}
    </div>
  );
}
