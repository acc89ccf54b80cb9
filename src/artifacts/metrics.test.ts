import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readMetricsFile } from "./metrics.js";

function write(lines: string[]): { metrics: string; log: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-metrics-"));
  const metrics = path.join(dir, "m.jsonl");
  fs.writeFileSync(metrics, `${lines.join("\n")}\n`);
  return { metrics, log: path.join(dir, "log") };
}

describe("readMetricsFile", () => {
  it("keeps every object's metrics in order with its numeric step, and the last values as before", () => {
    const f = write([
      '{"step": 1, "loss": 0.9}',
      '{"step": 2, "loss": 0.5, "lr": 0.1}',
      "not json",
      '{"accuracy": 0.8, "step": "three"}',
    ]);
    const { metrics, series } = readMetricsFile(f.metrics, f.log);
    expect(metrics).toEqual({ step: "three", loss: 0.5, lr: 0.1, accuracy: 0.8 });
    expect(series.map((p) => [p.name, p.step, p.value])).toEqual([
      ["loss", 1, 0.9],
      ["loss", 2, 0.5],
      ["lr", 2, 0.1],
      ["accuracy", null, 0.8],
    ]);
    expect(fs.readFileSync(f.log, "utf8")).toContain("ignored line 3 of $BATON_METRICS");
  });

  it("has no points for a task that wrote no metrics file", () => {
    const { metrics, series } = readMetricsFile("/nonexistent/metrics.jsonl", "/nonexistent/log");
    expect(metrics).toEqual({});
    expect(series).toEqual([]);
  });
});
