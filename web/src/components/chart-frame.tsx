/** The frame every chart draws: grid lines with tick labels, the two axes, and their labels. */
import type { ReactNode } from "react";

export interface Tick {
  /** Where along the axis, from 0 to 1. */
  at: number;
  label: string;
}

export interface Margins {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export function ChartFrame({
  width,
  height,
  margins: M,
  xTicks,
  yTicks,
  xLabel,
  yLabel,
  xTickGap = 16,
  xTickMax = Number.POSITIVE_INFINITY,
}: {
  width: number;
  height: number;
  margins: Margins;
  xTicks: Tick[];
  yTicks: Tick[];
  xLabel: ReactNode;
  yLabel: ReactNode;
  /** Distance of the x tick labels below the plot area. */
  xTickGap?: number;
  /** Longer x tick labels are cut with "…". */
  xTickMax?: number;
}) {
  const iw = width - M.left - M.right;
  const ih = height - M.top - M.bottom;
  return (
    <>
      {yTicks.map((t) => (
        <g key={`y${t.label}`}>
          <line
            x1={M.left}
            x2={M.left + iw}
            y1={M.top + ih - t.at * ih}
            y2={M.top + ih - t.at * ih}
            className="chart-grid"
          />
          <text
            x={M.left - 8}
            y={M.top + ih - t.at * ih}
            className="chart-tick"
            textAnchor="end"
            dominantBaseline="middle"
          >
            {t.label}
          </text>
        </g>
      ))}
      {xTicks.map((t) => (
        <g key={`x${t.label}`}>
          <line
            x1={M.left + t.at * iw}
            x2={M.left + t.at * iw}
            y1={M.top}
            y2={M.top + ih}
            className="chart-grid"
          />
          <text x={M.left + t.at * iw} y={M.top + ih + xTickGap} className="chart-tick" textAnchor="middle">
            {t.label.length > xTickMax ? `${t.label.slice(0, xTickMax - 1)}…` : t.label}
          </text>
        </g>
      ))}
      <line x1={M.left} x2={M.left + iw} y1={M.top + ih} y2={M.top + ih} className="chart-axis" />
      <line x1={M.left} x2={M.left} y1={M.top} y2={M.top + ih} className="chart-axis" />
      <text x={M.left + iw / 2} y={height - 6} className="chart-label" textAnchor="middle">
        {xLabel}
      </text>
      <text
        x={14}
        y={M.top + ih / 2}
        className="chart-label"
        textAnchor="middle"
        transform={`rotate(-90 14 ${M.top + ih / 2})`}
      >
        {yLabel}
      </text>
    </>
  );
}
