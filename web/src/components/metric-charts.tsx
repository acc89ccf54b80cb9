/**
 * A task's metric series (`GET /tasks/:id/metrics`), one small line chart per numeric metric
 * that has two points or more: a training loss curve, x = step (or the point's index).
 */
import { useEffect, useState } from "react";
import { get } from "../api/client";
import { formatValue } from "../lib/format";
import { type TaskMetrics, chartableSeries, colourOf, hasSteps, toXY } from "../lib/series";
import { LineChart } from "./line-chart";

export function MetricCharts({ taskId, refreshKey }: { taskId: string; refreshKey: string }) {
  const [body, setBody] = useState<TaskMetrics | null>(null);

  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch when the task's status or attempts change
  useEffect(() => {
    let active = true;
    get<TaskMetrics>(`/tasks/${encodeURIComponent(taskId)}/metrics`).then(
      (b) => active && setBody(b),
      // The last values are shown beside: without the series there is just no chart.
      () => active && setBody(null),
    );
    return () => {
      active = false;
    };
  }, [taskId, refreshKey]);

  if (!body || body.task !== taskId) return null;
  const names = chartableSeries(body.series);
  if (names.length === 0) return null;
  return (
    <div className="metric-charts" data-testid="metric-charts">
      {names.map((name) => {
        const series = body.series[name]!;
        const points = toXY(series);
        return (
          <div key={name} className="metric-chart" data-metric={name}>
            <div className="metric-chart-head">
              <span className="metric-chart-name">{name}</span>
              <span className="muted small">
                {points.length} points · last {formatValue(points[points.length - 1]!.y)}
              </span>
            </div>
            <LineChart
              size="small"
              lines={[{ id: name, label: name, colour: colourOf(0), points }]}
              xLabel={hasSteps(series) ? "step" : "index"}
              yLabel={name}
            />
          </div>
        );
      })}
    </div>
  );
}
