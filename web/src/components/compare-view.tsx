/**
 * Compare tasks: for a fanned-out node (or the whole run), a sortable table of params and
 * metrics, the best value of each metric highlighted, and a chart of one metric against one
 * param. Params come from matrix task names at once and from each task's detail as it loads.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { get } from "../api/client";
import type { TaskDetail, TaskView } from "../api/types";
import {
  type CompareRow,
  type Direction,
  type SortKey,
  bestRow,
  columnsOf,
  defaultDirection,
  matrixParamsFromName,
  sortRows,
} from "../lib/compare";
import { formatValue } from "../lib/format";
import { ownValue } from "../lib/params";
import type { NodeGroup } from "../lib/tasks";
import { CompareCurves } from "./compare-curves";
import { ScatterChart } from "./scatter-chart";
import { StatusBadge } from "./status";

/** Details fetched for at most this many tasks (one request each, until the API lists params). */
const MAX_DETAILS = 400;
const MAX_ROWS = 1000;

type Params = { params: Record<string, unknown>; item: unknown };

export function CompareView({
  tasks,
  groups,
  node,
  onNodeChange,
  onSelectTask,
  selectedId,
}: {
  tasks: TaskView[];
  groups: NodeGroup[];
  /** "" for every task of the run. */
  node: string;
  onNodeChange: (node: string) => void;
  onSelectTask: (id: string) => void;
  selectedId: string | null;
}) {
  const scope = useMemo(() => (node ? tasks.filter((t) => t.node === node) : tasks), [tasks, node]);
  const cache = useRef(new Map<string, Params>());
  const [loaded, setLoaded] = useState(0);
  const [showConstant, setShowConstant] = useState(false);
  const [sort, setSort] = useState<{ key: SortKey; dir: "asc" | "desc" } | null>(null);
  const [directions, setDirections] = useState<Record<string, Direction>>({});
  const [xName, setXName] = useState("");
  const [yName, setYName] = useState("");

  // Load the params of the tasks in scope, a few requests at a time.
  useEffect(() => {
    let active = true;
    const todo = scope
      .slice(0, MAX_DETAILS)
      .filter((t) => !cache.current.has(t.id) && t.status !== "pending")
      .map((t) => t.id);
    let next = 0;
    const worker = async () => {
      while (active && next < todo.length) {
        const id = todo[next++]!;
        try {
          const d = await get<TaskDetail>(`/tasks/${id}`);
          cache.current.set(id, { params: d.params, item: d.item });
        } catch {
          cache.current.set(id, { params: {}, item: null });
        }
        if (active) setLoaded((n) => n + 1);
      }
    };
    void Promise.all(Array.from({ length: Math.min(6, todo.length) }, worker));
    return () => {
      active = false;
    };
  }, [scope]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `loaded` says when the cache grew
  const rows: CompareRow[] = useMemo(
    () =>
      scope.slice(0, MAX_ROWS).map((t) => {
        const got = cache.current.get(t.id);
        const params: Record<string, unknown> = { ...matrixParamsFromName(t.name), ...(got?.params ?? {}) };
        if (Object.keys(params).length === 0 && got && got.item !== null && got.item !== undefined) {
          params.item = got.item;
        }
        return { id: t.id, name: t.name, status: t.status, params, metrics: t.metrics };
      }),
    [scope, loaded],
  );
  const columns = useMemo(() => columnsOf(rows), [rows]);
  const paramCols = showConstant ? [...columns.varying, ...columns.constant] : columns.varying;
  const numericMetrics = columns.metrics.filter((m) => rows.some((r) => typeof r.metrics[m] === "number"));
  const dirOf = (m: string) => ownValue(directions, m) ?? defaultDirection(m);
  const best = useMemo(() => {
    const out = new Map<string, string | undefined>();
    for (const m of columns.metrics)
      out.set(m, bestRow(rows, m, ownValue(directions, m) ?? defaultDirection(m)));
    return out;
  }, [rows, columns.metrics, directions]);

  const y = numericMetrics.includes(yName) ? yName : (numericMetrics[0] ?? "");
  const xOptions = [...columns.varying, ...columns.constant, ...numericMetrics.filter((m) => m !== y)];
  const x = xOptions.includes(xName) ? xName : (columns.varying[0] ?? xOptions[0] ?? "");
  const xIsParam = columns.varying.includes(x) || columns.constant.includes(x);

  const sorted = useMemo(() => {
    if (sort) return sortRows(rows, sort.key, sort.dir);
    // By default, best first on the charted metric.
    if (!y) return rows;
    const best = ownValue(directions, y) ?? defaultDirection(y);
    return sortRows(rows, { kind: "metric", name: y }, best === "max" ? "desc" : "asc");
  }, [rows, sort, y, directions]);

  const sortBy = (key: SortKey) =>
    setSort((s) =>
      s && JSON.stringify(s.key) === JSON.stringify(key)
        ? { key, dir: s.dir === "asc" ? "desc" : "asc" }
        : { key, dir: key.kind === "metric" && dirOf(key.name) === "max" ? "desc" : "asc" },
    );
  const arrow = (key: SortKey) =>
    sort && JSON.stringify(sort.key) === JSON.stringify(key) ? (sort.dir === "asc" ? " ↑" : " ↓") : "";

  const fanned = groups.filter((g) => g.tasks.length > 1);
  const pendingDetails =
    Math.min(scope.length, MAX_DETAILS) -
    scope.slice(0, MAX_DETAILS).filter((t) => cache.current.has(t.id) || t.status === "pending").length;

  return (
    <div className="compare">
      <div className="toolbar toolbar-tight">
        <label className="field-inline">
          <span>Compare</span>
          <select value={node} aria-label="Node to compare" onChange={(e) => onNodeChange(e.target.value)}>
            {fanned.map((g) => (
              <option key={g.node} value={g.node}>
                {g.node} ({g.tasks.length} tasks)
              </option>
            ))}
            <option value="">All tasks of the run ({tasks.length})</option>
            {groups
              .filter((g) => g.tasks.length === 1)
              .map((g) => (
                <option key={g.node} value={g.node}>
                  {g.node}
                </option>
              ))}
          </select>
        </label>
        {columns.constant.length > 0 ? (
          <label className="toggle">
            <input
              type="checkbox"
              checked={showConstant}
              onChange={(e) => setShowConstant(e.target.checked)}
            />
            Show params that are the same everywhere ({columns.constant.length})
          </label>
        ) : null}
        <span className="spacer" />
        {pendingDetails > 0 ? (
          <span className="muted small">Loading params… {pendingDetails} left</span>
        ) : null}
      </div>

      {numericMetrics.length > 0 && x ? (
        <div className="card chart-card">
          <div className="chart-controls">
            <label className="field-inline">
              <span>Metric</span>
              <select value={y} aria-label="Metric (y axis)" onChange={(e) => setYName(e.target.value)}>
                {numericMetrics.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            </label>
            <span className="muted">against</span>
            <label className="field-inline">
              <span>{xIsParam ? "Param" : "Metric"}</span>
              <select value={x} aria-label="Param (x axis)" onChange={(e) => setXName(e.target.value)}>
                {xOptions.map((p) => (
                  <option key={p} value={p}>
                    {p}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <ScatterChart
            points={rows.map((r) => ({
              id: r.id,
              label: r.name,
              x: xIsParam ? r.params[x] : r.metrics[x],
              y: r.metrics[y],
              status: r.status,
            }))}
            xLabel={x}
            yLabel={y}
            bestId={best.get(y)}
            onSelect={onSelectTask}
          />
        </div>
      ) : null}

      <CompareCurves tasks={scope} preferred={y} onSelectTask={onSelectTask} />

      <div className="card table-card table-scroll">
        <table className="table compare-table" data-testid="compare-table">
          <thead>
            <tr>
              <th>
                <button type="button" className="th-button" onClick={() => sortBy({ kind: "name" })}>
                  Task{arrow({ kind: "name" })}
                </button>
              </th>
              <th>
                <button type="button" className="th-button" onClick={() => sortBy({ kind: "status" })}>
                  Status{arrow({ kind: "status" })}
                </button>
              </th>
              {paramCols.map((p) => (
                <th key={`p-${p}`} className="th-param">
                  <button
                    type="button"
                    className="th-button"
                    onClick={() => sortBy({ kind: "param", name: p })}
                  >
                    {p}
                    {arrow({ kind: "param", name: p })}
                  </button>
                </th>
              ))}
              {columns.metrics.map((m) => (
                <th key={`m-${m}`} className="th-metric num">
                  <button
                    type="button"
                    className="th-button"
                    onClick={() => sortBy({ kind: "metric", name: m })}
                  >
                    {m}
                    {arrow({ kind: "metric", name: m })}
                  </button>
                  <button
                    type="button"
                    className="dir-button"
                    title={`Best is the ${dirOf(m) === "max" ? "highest" : "lowest"}: click to flip`}
                    onClick={() => setDirections((d) => ({ ...d, [m]: dirOf(m) === "max" ? "min" : "max" }))}
                  >
                    {dirOf(m) === "max" ? "best ▲" : "best ▼"}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr
                key={r.id}
                className={`row-link${r.id === selectedId ? " row-selected" : ""}${y && best.get(y) === r.id ? " row-best" : ""}`}
                onClick={() => onSelectTask(r.id)}
                onKeyDown={(e) => {
                  if (e.key === "Enter") onSelectTask(r.id);
                }}
                data-task={r.name}
              >
                <td className="cell-name">{r.name}</td>
                <td>
                  <StatusBadge small status={r.status} />
                </td>
                {paramCols.map((p) => (
                  <td key={`p-${p}`} className="mono">
                    {formatValue(r.params[p])}
                  </td>
                ))}
                {columns.metrics.map((m) => {
                  const isBest = best.get(m) === r.id;
                  return (
                    <td
                      key={`m-${m}`}
                      className={`num mono${isBest ? " cell-best" : ""}`}
                      title={isBest ? "Best" : undefined}
                    >
                      {isBest ? "★ " : ""}
                      {formatValue(r.metrics[m])}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <div className="empty muted">No tasks here yet.</div> : null}
        {columns.metrics.length === 0 && rows.length > 0 ? (
          <div className="empty muted small">
            No metrics yet. Tasks record them by appending JSON lines to <code>$BATON_METRICS</code>, like{" "}
            <code>{'{"accuracy": 0.93}'}</code>.
          </div>
        ) : null}
        {scope.length > MAX_ROWS ? (
          <div className="empty muted small">
            Showing the first {MAX_ROWS} of {scope.length} tasks.
          </div>
        ) : null}
      </div>
    </div>
  );
}
