import { describe, expect, it } from "vitest";
import { PoolQueue } from "./pool-queue.js";

describe("pool queue", () => {
  it("hands out the highest priority first, then first come first served", () => {
    const q = new PoolQueue<string>(1);
    q.push("a", 0);
    q.push("b", 5);
    q.push("c", 0);
    q.push("d", 5);
    q.push("e", 9);
    expect([q.pop(), q.pop(), q.pop(), q.pop(), q.pop(), q.pop()]).toEqual([
      "e",
      "b",
      "d",
      "a",
      "c",
      undefined,
    ]);
  });
  it("removes queued entries and keeps the order of the rest", () => {
    const q = new PoolQueue<number>(1);
    for (let i = 0; i < 100; i++) q.push(i, i % 3);
    const removed = q.remove((v) => v % 2 === 0);
    expect(removed).toHaveLength(50);
    const out: number[] = [];
    for (let v = q.pop(); v !== undefined; v = q.pop()) out.push(v);
    expect(out).toEqual([...out].sort((a, b) => (b % 3) - (a % 3) || a - b));
    expect(out).toHaveLength(50);
  });
});
