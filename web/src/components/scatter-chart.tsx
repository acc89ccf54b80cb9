/** One metric against one param (or another metric), as an SVG scatter plot. */
import type { TaskStatus } from "../api/types";
import { axisFor } from "../lib/compare";
import { formatValue } from "../lib/format";
import { ChartFrame } from "./chart-frame";

export interface Point {
  id: string;
  label: string;
  x: unknown;
  y: unknown;
  status: TaskStatus;
}

const W = 640;
const H = 300;
const M = { top: 16, right: 20, bottom: 44, left: 64 };

export function ScatterChart({
  points,
  xLabel,
  yLabel,
  bestId,
  onSelect,
}: {
  points: Point[];
  xLabel: string;
  yLabel: string;
  bestId?: string;
  onSelect?: (id: string) => void;
}) {
  const placed = points.filter((p) => typeof p.y === "number" && p.x !== undefined && p.x !== null);
  if (placed.length === 0) {
    return (
      <div className="chart-empty muted">
        No task has both {xLabel} and a numeric {yLabel} yet.
      </div>
    );
  }
  const xAxis = axisFor(placed.map((p) => p.x));
  const yAxis = axisFor(placed.map((p) => p.y));
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const px = (v: unknown) => M.left + (xAxis.position(v) ?? 0) * iw;
  const py = (v: unknown) => M.top + ih - (yAxis.position(v) ?? 0) * ih;
  const line =
    xAxis.kind !== "band"
      ? [...placed]
          .sort((a, b) => (a.x as number) - (b.x as number))
          .map((p, i) => `${i === 0 ? "M" : "L"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`)
          .join(" ")
      : "";
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${yLabel} against ${xLabel}`}>
      <title>{`${yLabel} against ${xLabel}`}</title>
      <ChartFrame
        width={W}
        height={H}
        margins={M}
        xTicks={xAxis.ticks}
        yTicks={yAxis.ticks}
        xLabel={`${xLabel}${xAxis.kind === "log" ? " (log scale)" : ""}`}
        yLabel={yLabel}
        xTickGap={18}
        xTickMax={14}
      />
      {line ? <path d={line} className="chart-line" /> : null}
      {placed.map((p) => (
        // biome-ignore lint/a11y/useKeyWithClickEvents: the table beside the chart offers the same choice by keyboard
        <circle
          key={p.id}
          cx={px(p.x)}
          cy={py(p.y)}
          r={p.id === bestId ? 7 : 5}
          className={`chart-point fill-${p.status}${p.id === bestId ? " chart-best" : ""}`}
          onClick={() => onSelect?.(p.id)}
        >
          <title>{`${p.label}\n${xLabel} = ${formatValue(p.x)}\n${yLabel} = ${formatValue(p.y)}`}</title>
        </circle>
      ))}
    </svg>
  );
}
