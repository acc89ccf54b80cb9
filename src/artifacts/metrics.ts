import fs from "node:fs";
import { dict } from "../util/dict.js";
import { tightenFile } from "../util/state-mode.js";

/** One metric of one object appended to `$BATON_METRICS` (see `MetricPoint` in store/store.ts). */
export interface MetricSeriesPoint {
  name: string;
  step: number | null;
  value: unknown;
  at: number;
}

/** At most this many points are kept of one attempt; the rest are noted in the log. */
export const MAX_METRIC_POINTS = 100_000;

/**
 * `$BATON_METRICS`: one JSON object per line, later keys win; a bad line is noted in the log.
 * Read whole: the last value of each metric, and every object's metrics as
 * points in the order written (`step` is the object's own `step` key when it is a number; it is
 * not a point itself). `at` is now: the file is read when the attempt ends.
 */
export function readMetricsFile(
  metricsPath: string,
  logPath: string,
): { metrics: Record<string, unknown>; series: MetricSeriesPoint[] } {
  // No prototype: a metric may be called `__proto__` or `constructor` like any other.
  const metrics: Record<string, unknown> = dict();
  const series: MetricSeriesPoint[] = [];
  // Most tasks write no metrics (the file is missing): one stat says so, rather than an exception
  // or an open and a read.
  let stat = fs.lstatSync(metricsPath, { throwIfNoEntry: false });
  if (!stat) return { metrics, series };
  // The task made the file with its own umask: it loses what the state mode does not give (a
  // link the task put there is read through, and what it points to left as it is).
  if (stat.isSymbolicLink()) stat = fs.statSync(metricsPath, { throwIfNoEntry: false });
  else {
    try {
      tightenFile(metricsPath, stat.mode);
    } catch {
      // Removed meanwhile by what the task left running, or not ours: read as it is.
    }
  }
  if (!stat?.size) return { metrics, series };
  let text: string;
  try {
    text = fs.readFileSync(metricsPath, "utf8");
  } catch {
    return { metrics, series };
  }
  const at = Date.now();
  let dropped = 0;
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
      Object.assign(metrics, value);
      const record = value as Record<string, unknown>;
      const step = typeof record.step === "number" && Number.isFinite(record.step) ? record.step : null;
      for (const [name, v] of Object.entries(record)) {
        if (name === "step") continue;
        if (series.length < MAX_METRIC_POINTS) series.push({ name, step, value: v, at });
        else dropped++;
      }
    } catch (err) {
      fs.appendFileSync(
        logPath,
        `baton: ignored line ${i + 1} of $BATON_METRICS: ${(err as Error).message}\n`,
      );
    }
  }
  if (dropped > 0) {
    fs.appendFileSync(
      logPath,
      `baton: kept the first ${MAX_METRIC_POINTS} metric points of $BATON_METRICS, not the ${dropped} after them\n`,
    );
  }
  return { metrics, series };
}
