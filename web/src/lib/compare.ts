/**
 * The compare view's logic: one row per task with its params and metrics, columns that are
 * worth showing, sorting, the best value of each metric, and the scales of the chart.
 */
import type { TaskStatus } from "../api/types";

export interface CompareRow {
  id: string;
  name: string;
  status: TaskStatus;
  params: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

/** `images[input=DL50.raw,config=base]` -> `{input: "DL50.raw", config: "base"}`; `{}` for others. */
export function matrixParamsFromName(name: string): Record<string, unknown> {
  const m = /\[(.*)\]$/.exec(name);
  if (!m || !m[1]!.includes("=")) return {};
  const out: Record<string, unknown> = {};
  for (const pair of m[1]!.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) return {};
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    const n = Number(raw);
    out[key] = raw !== "" && Number.isFinite(n) && /^[-+]?[\d.e+-]+$/i.test(raw) ? n : raw;
  }
  return out;
}

export type Direction = "max" | "min";

/** Losses, errors and times are better low; everything else better high. */
export function defaultDirection(metric: string): Direction {
  return /loss|err|rmse|mse|mae|latency|time|duration|seconds|perplexity|wer|cer|regret|cost/i.test(metric)
    ? "min"
    : "max";
}

export interface Columns {
  /** Params whose value differs between rows, then those that are the same everywhere. */
  varying: string[];
  constant: string[];
  metrics: string[];
}

function key(v: unknown): string {
  return JSON.stringify(v ?? null);
}

export function columnsOf(rows: CompareRow[]): Columns {
  const params = new Map<string, Set<string>>();
  const metrics = new Set<string>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(r.params)) {
      let s = params.get(k);
      if (!s) {
        s = new Set();
        params.set(k, s);
      }
      s.add(key(v));
    }
    for (const k of Object.keys(r.metrics)) metrics.add(k);
  }
  const varying: string[] = [];
  const constant: string[] = [];
  for (const [k, values] of params) {
    const missing = rows.some((r) => !(k in r.params));
    (values.size > 1 || missing ? varying : constant).push(k);
  }
  return { varying: varying.sort(), constant: constant.sort(), metrics: [...metrics].sort() };
}

export type SortKey = { kind: "name" | "status" } | { kind: "param" | "metric"; name: string };

function cellValue(row: CompareRow, k: SortKey): unknown {
  switch (k.kind) {
    case "name":
      return row.name;
    case "status":
      return row.status;
    case "param":
      return row.params[k.name];
    case "metric":
      return row.metrics[k.name];
  }
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** Numbers before text, text naturally (`t[2]` before `t[10]`), missing values last. */
export function compareValues(a: unknown, b: unknown): number {
  const am = a === undefined || a === null;
  const bm = b === undefined || b === null;
  if (am || bm) return am === bm ? 0 : am ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return collator.compare(typeof a === "string" ? a : key(a), typeof b === "string" ? b : key(b));
}

/** Rows sorted by `k`; missing values stay last in both directions. */
export function sortRows(rows: CompareRow[], k: SortKey, dir: "asc" | "desc"): CompareRow[] {
  return [...rows].sort((x, y) => {
    const a = cellValue(x, k);
    const b = cellValue(y, k);
    const am = a === undefined || a === null;
    const bm = b === undefined || b === null;
    if (am || bm) return am === bm ? 0 : am ? 1 : -1;
    const c = compareValues(a, b);
    return dir === "asc" ? c : -c;
  });
}

/** Id of the row with the best numeric value of `metric`, if any row has one. */
export function bestRow(rows: CompareRow[], metric: string, direction: Direction): string | undefined {
  let best: CompareRow | undefined;
  let bestValue = 0;
  for (const r of rows) {
    const v = r.metrics[metric];
    if (typeof v !== "number" || !Number.isFinite(v)) continue;
    if (best === undefined || (direction === "max" ? v > bestValue : v < bestValue)) {
      best = r;
      bestValue = v;
    }
  }
  return best?.id;
}

// Chart ----------------------------------------------------------------------------------

export interface Axis {
  kind: "linear" | "log" | "band";
  /** Maps a value to [0, 1] (undefined when it cannot be placed). */
  position(v: unknown): number | undefined;
  ticks: Array<{ at: number; label: string }>;
}

/** About `count` round numbers covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const span = max - min;
  const step0 = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(step0));
  const norm = step0 / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

function tickLabel(v: number): string {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return v.toExponential(0);
  return String(Number(v.toPrecision(6)));
}

/**
 * The axis for these values: numbers on a linear scale, or a log scale when they are all
 * positive and span two orders of magnitude or more (learning rates); anything else as bands.
 */
export function axisFor(values: unknown[]): Axis {
  const present = values.filter((v) => v !== undefined && v !== null);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    const nums = present as number[];
    let min = Math.min(...nums);
    let max = Math.max(...nums);
    if (min > 0 && max / min >= 100) {
      const lo = Math.floor(Math.log10(min));
      const hi = Math.ceil(Math.log10(max));
      const ticks: Array<{ at: number; label: string }> = [];
      for (let e = lo; e <= hi; e++) ticks.push({ at: (e - lo) / (hi - lo), label: tickLabel(10 ** e) });
      return {
        kind: "log",
        position: (v) => (typeof v === "number" && v > 0 ? (Math.log10(v) - lo) / (hi - lo) : undefined),
        ticks,
      };
    }
    if (min === max) {
      const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
      min -= pad;
      max += pad;
    } else {
      const pad = (max - min) * 0.05;
      min -= pad;
      max += pad;
    }
    const lo = min;
    const hi = max;
    return {
      kind: "linear",
      position: (v) => (typeof v === "number" ? (v - lo) / (hi - lo) : undefined),
      ticks: niceTicks(lo, hi).map((t) => ({ at: (t - lo) / (hi - lo), label: tickLabel(t) })),
    };
  }
  const labels = [...new Set(present.map((v) => (typeof v === "string" ? v : key(v))))].sort(
    collator.compare,
  );
  const index = new Map(labels.map((l, i) => [l, i]));
  const n = labels.length;
  return {
    kind: "band",
    position: (v) => {
      if (v === undefined || v === null) return undefined;
      const i = index.get(typeof v === "string" ? v : key(v));
      return i === undefined ? undefined : (i + 0.5) / n;
    },
    ticks: labels.map((l, i) => ({ at: (i + 0.5) / n, label: l })),
  };
}
