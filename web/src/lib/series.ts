/**
 * Metric series (`GET /tasks/:id/metrics`) made ready for line charts: numeric points only,
 * x = the point's `step` (or its index in the series when it has none), a linear axis, and
 * long series thinned to what a chart can show.
 */
import { type Axis, niceTicks } from "./compare";

/** One value a task appended to `$BATON_METRICS`, as the API returns it. */
export interface SeriesPoint {
  step: number | null;
  value: unknown;
  at: string;
}

/** `GET /tasks/:id/metrics`. */
export interface TaskMetrics {
  task: string;
  last: Record<string, unknown>;
  series: Record<string, SeriesPoint[]>;
}

export interface XY {
  x: number;
  y: number;
}

/** A series as chart points: numeric values only, x = step, or the point's index without one. */
export function toXY(points: readonly SeriesPoint[]): XY[] {
  const out: XY[] = [];
  points.forEach((p, i) => {
    if (typeof p.value !== "number" || !Number.isFinite(p.value)) return;
    const x = typeof p.step === "number" && Number.isFinite(p.step) ? p.step : i;
    out.push({ x, y: p.value });
  });
  return out;
}

/** Whether any point of the series has a step (the x axis says "step"; else "index"). */
export function hasSteps(points: readonly SeriesPoint[]): boolean {
  return points.some((p) => typeof p.step === "number");
}

/** The names of the series worth a line: at least `min` numeric points, in the API's order. */
export function chartableSeries(series: Record<string, SeriesPoint[]> | undefined, min = 2): string[] {
  if (!series || typeof series !== "object") return [];
  return Object.keys(series).filter((name) => {
    const points = series[name];
    return Array.isArray(points) && toXY(points).length >= min;
  });
}

function tickLabel(v: number): string {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

/** A linear axis over these numbers (padded by 5%, or ±10% around a single value). */
export function linearAxis(values: readonly number[], { pad = true } = {}): Axis {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (min === max) {
    const d = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= d;
    max += d;
  } else if (pad) {
    const d = (max - min) * 0.05;
    min -= d;
    max += d;
  }
  const lo = min;
  const hi = max;
  return {
    kind: "linear",
    position: (v) => (typeof v === "number" ? (v - lo) / (hi - lo) : undefined),
    ticks: niceTicks(lo, hi, 4).map((t) => ({ at: (t - lo) / (hi - lo), label: tickLabel(t) })),
  };
}

/**
 * At most about `2 * buckets` points that draw the same line: per bucket of x, the first, the
 * lowest, the highest and the last point, in their order. Short series come back as they are.
 */
export function thin(points: readonly XY[], buckets: number): XY[] {
  if (points.length <= buckets * 2) return [...points];
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (p.x < lo) lo = p.x;
    if (p.x > hi) hi = p.x;
  }
  const span = hi - lo || 1;
  const out: XY[] = [];
  let bucket = -1;
  let picked: number[] = [];
  const flushBucket = () => {
    for (const i of [...new Set(picked)].sort((a, b) => a - b)) out.push(points[i]!);
  };
  let first = 0;
  let minI = 0;
  let maxI = 0;
  points.forEach((p, i) => {
    const b = Math.min(buckets - 1, Math.floor(((p.x - lo) / span) * buckets));
    if (b !== bucket) {
      if (bucket >= 0) {
        picked = [first, minI, maxI, i - 1];
        flushBucket();
      }
      bucket = b;
      first = i;
      minI = i;
      maxI = i;
      return;
    }
    if (p.y < points[minI]!.y) minI = i;
    if (p.y > points[maxI]!.y) maxI = i;
  });
  picked = [first, minI, maxI, points.length - 1];
  flushBucket();
  return out;
}

/** The index of the point whose x is nearest to `x` (the first of equals); -1 for none. */
export function nearestIndex(points: readonly XY[], x: number): number {
  let best = -1;
  let dist = Number.POSITIVE_INFINITY;
  points.forEach((p, i) => {
    const d = Math.abs(p.x - x);
    if (d < dist) {
      dist = d;
      best = i;
    }
  });
  return best;
}

/** Colours of the lines of an overlay, in order (they repeat after ten). */
export const LINE_COLOURS = [
  "#2f5bd3",
  "#e8590c",
  "#2b8a3e",
  "#c92a2a",
  "#7048e8",
  "#0c8599",
  "#d6336c",
  "#8d6e63",
  "#f59f00",
  "#495057",
];

export const colourOf = (i: number) => LINE_COLOURS[i % LINE_COLOURS.length]!;
