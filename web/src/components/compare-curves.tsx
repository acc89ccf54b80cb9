/**
 * Compare: one metric's series of the compared tasks (a sweep's tasks) overlaid, one line per
 * task with a legend. Series come from `GET /tasks/:id/metrics` of each ended task.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { get } from "../api/client";
import type { TaskView } from "../api/types";
import { type SeriesPoint, type TaskMetrics, chartableSeries, colourOf, hasSteps, toXY } from "../lib/series";
import { isTerminal } from "../lib/tasks";
import { type Line, LineChart } from "./line-chart";

/** Lines drawn at most (one request each). */
export const MAX_CURVES = 50;

type Loaded = { key: string; series: Record<string, SeriesPoint[]> };

const keyOf = (t: TaskView) => `${t.status}/${t.attempts}`;

export function CompareCurves({
  tasks,
  preferred,
  onSelectTask,
}: {
  tasks: TaskView[];
  /** The metric to show first, when it has series (the compare chart's). */
  preferred: string;
  onSelectTask: (id: string) => void;
}) {
  const shown = useMemo(
    () => tasks.filter((t) => isTerminal(t.status) && t.status !== "skipped").slice(0, MAX_CURVES),
    [tasks],
  );
  const cache = useRef(new Map<string, Loaded>());
  const [loaded, setLoaded] = useState(0);
  const [chosen, setChosen] = useState("");

  // Load the series of the ended tasks, a few requests at a time; again when a task ran again.
  useEffect(() => {
    let active = true;
    const todo = shown.filter((t) => cache.current.get(t.id)?.key !== keyOf(t));
    let next = 0;
    const worker = async () => {
      while (active && next < todo.length) {
        const t = todo[next++]!;
        let series: Record<string, SeriesPoint[]> = {};
        try {
          const body = await get<TaskMetrics>(`/tasks/${encodeURIComponent(t.id)}/metrics`);
          if (body && typeof body.series === "object" && body.series !== null) series = body.series;
        } catch {
          // No series for this task: it has no line.
        }
        cache.current.set(t.id, { key: keyOf(t), series });
        if (active) setLoaded((n) => n + 1);
      }
    };
    void Promise.all(Array.from({ length: Math.min(4, todo.length) }, worker));
    return () => {
      active = false;
    };
  }, [shown]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `loaded` says when the cache grew
  const metrics = useMemo(() => {
    const names = new Set<string>();
    for (const t of shown) for (const m of chartableSeries(cache.current.get(t.id)?.series)) names.add(m);
    return [...names];
  }, [shown, loaded]);

  if (metrics.length === 0) return null;
  const metric = metrics.includes(chosen) ? chosen : metrics.includes(preferred) ? preferred : metrics[0]!;
  let steps = false;
  const lines: Line[] = [];
  shown.forEach((t, i) => {
    const series = cache.current.get(t.id)?.series[metric];
    if (!Array.isArray(series)) return;
    const points = toXY(series);
    if (points.length === 0) return;
    if (hasSteps(series)) steps = true;
    lines.push({ id: t.id, label: t.name, colour: colourOf(i), points });
  });
  const ended = tasks.filter((t) => isTerminal(t.status) && t.status !== "skipped").length;

  return (
    <div className="card chart-card" data-testid="compare-curves">
      <div className="chart-controls">
        <strong>Curves</strong>
        <label className="field-inline">
          <span>Metric</span>
          <select value={metric} aria-label="Metric (curves)" onChange={(e) => setChosen(e.target.value)}>
            {metrics.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <span className="muted small">
          one line per task, by {steps ? "step" : "index"}
          {ended > MAX_CURVES ? ` · the first ${MAX_CURVES} of ${ended} ended tasks` : ""}
        </span>
      </div>
      <LineChart
        lines={lines}
        xLabel={steps ? "step" : "index"}
        yLabel={metric}
        legend
        onSelect={onSelectTask}
      />
    </div>
  );
}
