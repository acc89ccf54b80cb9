/**
 * Metric series as an SVG line chart: one line per series (a task's loss curve, or the curves
 * of a sweep's tasks overlaid, with a legend). Hovering shows the nearest point of each line.
 */
import { useMemo, useRef, useState } from "react";
import { formatValue } from "../lib/format";
import { type XY, linearAxis, nearestIndex, thin } from "../lib/series";
import { ChartFrame } from "./chart-frame";

export interface Line {
  id: string;
  label: string;
  colour: string;
  points: XY[];
}

/** Points are drawn as dots up to this many in all (beyond, only the lines). */
const MAX_DOTS = 400;

const SIZES = {
  small: { W: 480, H: 170, M: { top: 10, right: 14, bottom: 34, left: 56 } },
  large: { W: 720, H: 300, M: { top: 16, right: 20, bottom: 44, left: 64 } },
};

export function LineChart({
  lines,
  xLabel,
  yLabel,
  size = "large",
  legend,
  onSelect,
}: {
  lines: Line[];
  xLabel: string;
  yLabel: string;
  size?: "small" | "large";
  /** A legend of the lines (by default when there are several). */
  legend?: boolean;
  /** Clicking a legend entry (an overlay's task). */
  onSelect?: (id: string) => void;
}) {
  const { W, H, M } = SIZES[size];
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const svgRef = useRef<SVGSVGElement>(null);
  const [hoverX, setHoverX] = useState<number | null>(null);
  const [focus, setFocus] = useState<string | null>(null);

  // Axes and thinned lines depend on the lines only, not on the pointer.
  const { drawn, xAxis, yAxis, total } = useMemo(() => {
    const drawn = lines.filter((l) => l.points.length > 0);
    const xs = drawn.flatMap((l) => l.points.map((p) => p.x));
    const ys = drawn.flatMap((l) => l.points.map((p) => p.y));
    return {
      drawn,
      xAxis: linearAxis(xs, { pad: false }),
      yAxis: linearAxis(ys),
      total: xs.length,
    };
  }, [lines]);
  const thinned = useMemo(() => drawn.map((l) => thin(l.points, iw)), [drawn, iw]);
  const px = (v: number) => M.left + (xAxis.position(v) ?? 0) * iw;
  const py = (v: number) => M.top + ih - (yAxis.position(v) ?? 0) * ih;
  const dots = total <= MAX_DOTS;
  const multi = legend ?? lines.length > 1;
  const name = `${yLabel} by ${xLabel}`;

  if (drawn.length === 0) {
    return <div className="chart-empty muted">No numeric values of {yLabel} yet.</div>;
  }

  // Hover: the point of each line nearest to the pointer's x (among the points drawn).
  const onMove = (e: React.MouseEvent) => {
    const box = svgRef.current?.getBoundingClientRect();
    if (!box || box.width === 0) return;
    setHoverX(((e.clientX - box.left) * W) / box.width);
  };
  const hovered =
    hoverX === null
      ? []
      : drawn.map((l, li) => {
          const points = thinned[li]!;
          const i = nearestIndex(
            points.map((p) => ({ x: px(p.x), y: 0 })),
            hoverX,
          );
          return { line: l, point: points[i]! };
        });
  const guide =
    hovered.length > 0
      ? hovered.reduce((a, b) =>
          Math.abs(px(b.point.x) - hoverX!) < Math.abs(px(a.point.x) - hoverX!) ? b : a,
        ).point.x
      : null;
  const readout = hovered.filter((h) => !multi || h.point.x === guide);

  return (
    <figure className={`line-chart-figure line-chart-${size}`}>
      <svg
        ref={svgRef}
        className="line-chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={name}
        onMouseMove={onMove}
        onMouseLeave={() => setHoverX(null)}
      >
        <title>{name}</title>
        <ChartFrame
          width={W}
          height={H}
          margins={M}
          xTicks={xAxis.ticks}
          yTicks={yAxis.ticks}
          xLabel={xLabel}
          yLabel={yLabel.length > 24 ? `${yLabel.slice(0, 23)}…` : yLabel}
        />
        {drawn.map((l, li) => (
          <g
            key={l.id}
            className={`series${focus !== null && focus !== l.id ? " series-dim" : ""}`}
            data-line={l.label}
          >
            <path
              className="series-line"
              stroke={l.colour}
              data-points={l.points.length}
              d={thinned[li]!.map(
                (p, i) => `${i === 0 ? "M" : "L"}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`,
              ).join(" ")}
            />
            {dots
              ? l.points.map((p, i) => (
                  <circle
                    // biome-ignore lint/suspicious/noArrayIndexKey: points are in the order written, steps may repeat
                    key={i}
                    className="series-point"
                    cx={px(p.x)}
                    cy={py(p.y)}
                    r={size === "small" ? 2.5 : 3}
                    fill={l.colour}
                  />
                ))
              : null}
          </g>
        ))}
        {guide !== null ? (
          <HoverBox
            x={px(guide)}
            top={M.top}
            bottom={M.top + ih}
            right={M.left + iw}
            title={`${xLabel} ${formatValue(guide)}`}
            rows={readout.map((h) => ({
              colour: h.line.colour,
              y: py(h.point.y),
              text: `${multi ? h.line.label : yLabel} = ${formatValue(h.point.y)}`,
            }))}
          />
        ) : null}
      </svg>
      {multi ? (
        <ul className="series-legend" aria-label="Lines">
          {lines.map((l) => (
            <li key={l.id}>
              <button
                type="button"
                className={`legend-item${l.points.length === 0 ? " muted" : ""}`}
                onMouseEnter={() => setFocus(l.id)}
                onMouseLeave={() => setFocus(null)}
                onFocus={() => setFocus(l.id)}
                onBlur={() => setFocus(null)}
                onClick={() => onSelect?.(l.id)}
                title={l.points.length === 0 ? `No numeric values of ${yLabel}` : undefined}
              >
                <span className="legend-swatch" style={{ background: l.colour }} />
                {l.label}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}

/** The hover readout: a guide at the x, a ring on each line's point, the values in a box. */
function HoverBox({
  x,
  top,
  bottom,
  right,
  title,
  rows,
}: {
  x: number;
  top: number;
  bottom: number;
  right: number;
  title: string;
  rows: Array<{ colour: string; y: number; text: string }>;
}) {
  const lineH = 15;
  const width = Math.max(title.length, ...rows.map((r) => r.text.length + 2)) * 6.6 + 16;
  const height = (rows.length + 1) * lineH + 8;
  const left = x + 10 + width > right ? x - 10 - width : x + 10;
  return (
    <g className="series-hover" data-testid="chart-hover" pointerEvents="none">
      <line x1={x} x2={x} y1={top} y2={bottom} className="series-guide" />
      {rows.map((r, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: one ring per line, in the lines' order
        <circle key={i} cx={x} cy={r.y} r={4.5} className="series-ring" stroke={r.colour} />
      ))}
      <rect x={left} y={top + 2} width={width} height={height} rx={4} className="series-hover-box" />
      <text x={left + 8} y={top + 2 + lineH} className="series-hover-title">
        {title}
      </text>
      {rows.map((r, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: one row per line, in the lines' order
        <text key={i} x={left + 8} y={top + 2 + lineH * (i + 2)} className="series-hover-text">
          <tspan fill={r.colour}>■ </tspan>
          {r.text}
        </text>
      ))}
    </g>
  );
}
