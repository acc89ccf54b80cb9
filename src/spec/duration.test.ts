import { describe, expect, it } from "vitest";
import { parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1.5h", 5_400_000],
    ["1h 30m", 5_400_000],
    ["30", 30_000],
    [" 2h ", 7_200_000],
    ["0s", 0],
  ])("reads %j as %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it("reads a plain number as seconds", () => {
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.25)).toBe(250);
  });

  it.each(["", "2hours", "-5s", "1m1m", "s", "1h30", "ten seconds", "1w"])("rejects %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it("rejects negative and non-finite numbers", () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});
