import { describe, expect, it } from "vitest";
import { chartableSeries, hasSteps, linearAxis, nearestIndex, thin, toXY } from "./series";

const at = "2026-01-01T00:00:00.000Z";

describe("metric series for charts", () => {
  it("places points at their step, or at their index when they have none; non-numbers are left out", () => {
    expect(
      toXY([
        { step: 10, value: 0.9, at },
        { step: 20, value: "n/a", at },
        { step: 30, value: 0.7, at },
      ]),
    ).toEqual([
      { x: 10, y: 0.9 },
      { x: 30, y: 0.7 },
    ]);
    const plain = [
      { step: null, value: 3, at },
      { step: null, value: 2, at },
      { step: null, value: 1, at },
    ];
    expect(toXY(plain)).toEqual([
      { x: 0, y: 3 },
      { x: 1, y: 2 },
      { x: 2, y: 1 },
    ]);
    expect(hasSteps(plain)).toBe(false);
    expect(hasSteps([{ step: 0, value: 1, at }])).toBe(true);
  });

  it("charts series of two numeric points or more, whatever their names", () => {
    const series = {
      loss: [
        { step: 1, value: 0.9, at },
        { step: 2, value: 0.8, at },
      ],
      accuracy: [{ step: 2, value: 0.5, at }],
      phase: [
        { step: 1, value: "warmup", at },
        { step: 2, value: "main", at },
      ],
      constructor: [
        { step: 1, value: 1, at },
        { step: 2, value: 2, at },
      ],
    };
    expect(chartableSeries(series)).toEqual(["loss", "constructor"]);
    expect(chartableSeries(undefined)).toEqual([]);
  });

  it("thins a long series to about two points a bucket, keeping its first, last, lowest and highest", () => {
    const long = Array.from({ length: 100_000 }, (_, i) => ({ x: i, y: Math.sin(i / 1000) }));
    long[54_321] = { x: 54_321, y: -5 };
    const thinned = thin(long, 400);
    expect(thinned.length).toBeLessThanOrEqual(1600);
    expect(thinned[0]).toEqual(long[0]);
    expect(thinned[thinned.length - 1]).toEqual(long[long.length - 1]);
    expect(thinned).toContainEqual({ x: 54_321, y: -5 });
    // In order of x, as written.
    expect(thinned.every((p, i) => i === 0 || p.x > thinned[i - 1]!.x)).toBe(true);
    const short = long.slice(0, 10);
    expect(thin(short, 400)).toEqual(short);
  });

  it("maps values onto a linear axis with round ticks, and finds the nearest point", () => {
    const axis = linearAxis([0, 100], { pad: false });
    expect(axis.position(0)).toBe(0);
    expect(axis.position(50)).toBe(0.5);
    expect(axis.ticks.map((t) => t.label)).toEqual(["0", "20", "40", "60", "80", "100"]);
    const one = linearAxis([2]);
    expect(one.position(2)).toBeCloseTo(0.5);
    expect(
      nearestIndex(
        [
          { x: 1, y: 0 },
          { x: 5, y: 0 },
          { x: 9, y: 0 },
        ],
        6.5,
      ),
    ).toBe(1);
  });
});
