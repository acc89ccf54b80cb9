import fs from "node:fs";
import { dict } from "../util/dict.js";

/** `$BATON_METRICS`: one JSON object per line, later keys win. A bad line is noted in the log. */
export function readMetrics(metricsPath: string, logPath: string): Record<string, unknown> {
  // Most tasks write no metrics: check first rather than pay for an exception.
  if (!fs.existsSync(metricsPath)) return {};
  let text: string;
  try {
    text = fs.readFileSync(metricsPath, "utf8");
  } catch {
    return {};
  }
  // No prototype: a metric may be called `__proto__` or `constructor` like any other.
  const metrics: Record<string, unknown> = dict();
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("not a JSON object");
      Object.assign(metrics, value);
    } catch (err) {
      fs.appendFileSync(
        logPath,
        `baton: ignored line ${i + 1} of $BATON_METRICS: ${(err as Error).message}\n`,
      );
    }
  }
  return metrics;
}
