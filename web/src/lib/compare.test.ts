import { describe, expect, it } from "vitest";
import {
  type CompareRow,
  axisFor,
  bestRow,
  columnsOf,
  defaultDirection,
  matrixParamsFromName,
  niceTicks,
  sortRows,
} from "./compare";

const row = (id: string, params: Record<string, unknown>, metrics: Record<string, unknown>): CompareRow => ({
  id,
  name: `train[${id}]`,
  status: "succeeded",
  params,
  metrics,
});

const rows = [
  row("0", { lr: 0.1, seed: 1 }, { accuracy: 0.81, loss: 0.4 }),
  row("1", { lr: 0.01, seed: 1 }, { accuracy: 0.93, loss: 0.2 }),
  row("2", { lr: 0.001, seed: 1 }, { accuracy: 0.9 }),
  row("3", { lr: 0.0001, seed: 1 }, {}),
];

describe("compare", () => {
  it("reads matrix params from task names", () => {
    expect(matrixParamsFromName("images[input=DL50.raw,config=base]")).toEqual({
      input: "DL50.raw",
      config: "base",
    });
    expect(matrixParamsFromName("sweep[lr=0.01,layers=3]")).toEqual({ lr: 0.01, layers: 3 });
    expect(matrixParamsFromName("train[3]")).toEqual({});
    expect(matrixParamsFromName("plain")).toEqual({});
  });

  it("puts params that vary first and finds the metrics", () => {
    expect(columnsOf(rows)).toEqual({ varying: ["lr"], constant: ["seed"], metrics: ["accuracy", "loss"] });
  });

  it("knows which metrics are better low", () => {
    expect(defaultDirection("val_loss")).toBe("min");
    expect(defaultDirection("error_rate")).toBe("min");
    expect(defaultDirection("accuracy")).toBe("max");
    expect(defaultDirection("f1")).toBe("max");
  });

  it("highlights the best value in either direction, ignoring tasks without it", () => {
    expect(bestRow(rows, "accuracy", "max")).toBe("1");
    expect(bestRow(rows, "loss", "min")).toBe("1");
    expect(bestRow(rows, "loss", "max")).toBe("0");
    expect(bestRow(rows, "missing", "max")).toBeUndefined();
  });

  it("sorts by a metric with missing values last in both directions", () => {
    const ids = (rs: CompareRow[]) => rs.map((r) => r.id);
    expect(ids(sortRows(rows, { kind: "metric", name: "accuracy" }, "desc"))).toEqual(["1", "2", "0", "3"]);
    expect(ids(sortRows(rows, { kind: "metric", name: "accuracy" }, "asc"))).toEqual(["0", "2", "1", "3"]);
    expect(ids(sortRows(rows, { kind: "param", name: "lr" }, "asc"))).toEqual(["3", "2", "1", "0"]);
  });

  it("sorts names naturally", () => {
    const named = ["t[10]", "t[2]", "t[1]"].map((name, i) => ({ ...row(String(i), {}, {}), name }));
    expect(sortRows(named, { kind: "name" }, "asc").map((r) => r.name)).toEqual(["t[1]", "t[2]", "t[10]"]);
  });

  it("uses a log axis for values spanning orders of magnitude, bands for text", () => {
    const log = axisFor([0.1, 0.01, 0.001]);
    expect(log.kind).toBe("log");
    expect(log.position(0.001)).toBe(0);
    expect(log.position(0.1)).toBe(1);
    expect(log.ticks.map((t) => t.label)).toEqual(["0.001", "0.01", "0.1"]);
    const lin = axisFor([1, 2, 3]);
    expect(lin.kind).toBe("linear");
    expect(lin.position(2)).toBeCloseTo(0.5);
    const band = axisFor(["b", "a"]);
    expect(band.kind).toBe("band");
    expect(band.ticks.map((t) => t.label)).toEqual(["a", "b"]);
    expect(band.position("a")).toBe(0.25);
  });

  it("picks round tick values", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.81, 0.93, 4)).toEqual([0.85, 0.9]);
  });
});
