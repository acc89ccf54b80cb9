import { describe, expect, it } from "vitest";
import { newRunId, newTaskId, parseIdQuery } from "./ids.js";
import { ulid } from "./ulid.js";

describe("run and task ids", () => {
  it("carry their kind, and ids made in one millisecond differ within the first random characters", () => {
    const run = newRunId();
    const tasks = Array.from({ length: 200 }, () => newTaskId());
    expect(run).toMatch(/^run_[0-9A-HJKMNP-TV-Z]{26}$/);
    for (const t of tasks) expect(t).toMatch(/^task_[0-9A-HJKMNP-TV-Z]{26}$/);
    // The kind, the 10 time characters and 6 random ones (30 random bits) tell every id of
    // one run apart, however many were made in the same millisecond.
    const prefixes = new Set(tasks.map((t) => t.slice(0, "task_".length + 16)));
    expect(prefixes.size).toBe(tasks.length);
    expect(run.slice(4)).not.toBe(tasks[0]!.slice(5));
  });

  it("ULIDs of the same millisecond keep its time prefix but differ in their random part, not only at the end", () => {
    const now = Date.UTC(2024, 0, 1);
    const ids = Array.from({ length: 100 }, () => ulid(now));
    expect(new Set(ids.map((id) => id.slice(0, 10)))).toEqual(new Set([ids[0]!.slice(0, 10)]));
    expect(new Set(ids.map((id) => id.slice(0, 16))).size).toBe(ids.length);
  });

  it("ULIDs made many at a time (their randomness drawn in batches) never share a random part", () => {
    const now = Date.UTC(2024, 0, 1);
    const ids = Array.from({ length: 2000 }, () => ulid(now));
    expect(new Set(ids.map((id) => id.slice(10))).size).toBe(ids.length);
  });
});

describe("parseIdQuery", () => {
  it("reads a kind, the ULID part in any case, or a bare ULID of any kind", () => {
    expect(parseIdQuery("run_01j9zk")).toEqual({ ok: true, kinds: ["run"], ulid: "01J9ZK" });
    expect(parseIdQuery("TASK_01J9")).toEqual({ ok: true, kinds: ["task"], ulid: "01J9" });
    expect(parseIdQuery("01J9ZK3F")).toEqual({ ok: true, kinds: ["run", "task"], ulid: "01J9ZK3F" });
  });

  it("refuses prefixes shorter than 4 characters after the kind, naming the minimum", () => {
    for (const text of ["run_01J", "task_", "ru", "task", "01J"]) {
      const q = parseIdQuery(text);
      expect(q.ok).toBe(false);
      if (!q.ok) {
        expect(q.reason).toBe("short");
        expect(q.message).toContain(`"${text}" is too short`);
        expect(q.message).toContain("at least 4 characters");
      }
    }
  });

  it("says what an id looks like for text that can be none", () => {
    for (const text of ["job_01J9ZK", "run_01J9-ZK", "hello world", `run_${"0".repeat(27)}`]) {
      const q = parseIdQuery(text);
      expect(q).toMatchObject({ ok: false, reason: "invalid" });
      if (!q.ok) expect(q.message).toContain(`"${text}" is not an id`);
    }
  });
});
