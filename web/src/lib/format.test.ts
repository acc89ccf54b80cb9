import { describe, expect, it } from "vitest";
import {
  durationBetween,
  formatBytes,
  formatDuration,
  formatRelative,
  formatShort,
  formatValue,
  shortId,
} from "./format";

describe("formatting", () => {
  it("writes durations at a useful precision", () => {
    expect(formatDuration(850)).toBe("850ms");
    expect(formatDuration(1234)).toBe("1.2s");
    expect(formatDuration(42_000)).toBe("42s");
    expect(formatDuration(245_000)).toBe("4m 05s");
    expect(formatDuration(7_380_000)).toBe("2h 03m");
    expect(formatDuration(null)).toBe("–");
  });

  it("measures open durations up to now", () => {
    const now = Date.parse("2026-01-01T00:01:00Z");
    expect(durationBetween("2026-01-01T00:00:00Z", null, now)).toBe(60_000);
    expect(durationBetween(null, null, now)).toBeNull();
  });

  it("says how long ago", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(formatRelative("2026-01-01T11:59:55Z", now)).toBe("just now");
    expect(formatRelative("2026-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(formatRelative("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
  });

  it("writes values and sizes", () => {
    expect(formatValue(0.123456789)).toBe("0.12346");
    expect(formatValue(0.00001)).toBe("1.000e-5");
    expect(formatValue([1, 2])).toBe("[1,2]");
    expect(formatValue("x")).toBe("x");
    expect(formatBytes(2048)).toBe("2.0 KB");
    expect(formatShort(Array.from({ length: 5000 }, (_, i) => i))).toBe("[0, 1, 2, … 5000 items]");
    expect(formatShort("a".repeat(100), 10)).toBe("aaaaaaaaa…");
  });
});

describe("shortId", () => {
  it("keeps the kind and the first random characters, which differ between ids of one millisecond", () => {
    const time = "01J9ZK3F9Q";
    const a = `task_${time}XK3F9QAAAAAAAAAA`;
    const b = `task_${time}7Z2M4NAAAAAAAAAA`;
    expect(shortId(a)).toBe("task_…XK3F9Q");
    expect(shortId(b)).toBe("task_…7Z2M4N");
    expect(shortId(`run_${time}ABCDEFAAAAAAAAAA`)).toBe("run_…ABCDEF");
  });

  it("shows the end of an older database's bare ULID, where its ids of one millisecond differ", () => {
    expect(shortId("01J9ZK3F9QWXYZ000000000001")).toBe("…000001");
    expect(shortId("01J9ZK3F9QWXYZ000000000002")).toBe("…000002");
    expect(shortId("run_01J9")).toBe("run_01J9");
  });
});
