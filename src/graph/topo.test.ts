import { describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { type Graph, findCycle, findCycles, topologicalOrder } from "./topo.js";

/** `{ b: ["a"] }` -> b needs a. */
function graph(spec: Record<string, string[]>): Graph {
  return Object.fromEntries(
    Object.entries(spec).map(([name, needs]) => [name, { needs: needs.map((node) => ({ node })) }]),
  );
}

describe("topologicalOrder", () => {
  it("puts every node after what it needs", () => {
    const order = topologicalOrder(graph({ evaluate: ["train"], train: ["prep"], prep: [] }));
    expect(order).toEqual(["prep", "train", "evaluate"]);
  });

  it("emits wave by wave, keeping file order inside a wave", () => {
    const order = topologicalOrder(graph({ c: ["b"], a: [], b: [], d: ["a"], e: [] }));
    expect(order).toEqual(["a", "b", "e", "c", "d"]);
  });

  it("keeps a file already in dependency order when nodes do not wait on each other", () => {
    expect(topologicalOrder(graph({ a: [], b: [], c: [] }))).toEqual(["a", "b", "c"]);
  });

  it("places a node after its deepest need", () => {
    expect(topologicalOrder(graph({ join: ["a", "c"], a: [], b: ["a"], c: ["b"] }))).toEqual([
      "a",
      "b",
      "c",
      "join",
    ]);
  });

  it("ignores needs naming unknown nodes and repeated needs", () => {
    expect(topologicalOrder(graph({ b: ["a", "a", "ghost"], a: [] }))).toEqual(["a", "b"]);
  });

  it("throws SPEC_INVALID naming the cycle", () => {
    const err = (() => {
      try {
        topologicalOrder(graph({ a: ["b"], b: ["a"], c: [] }));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe("SPEC_INVALID");
    expect((err as BatonError).message).toBe("cycle a -> b -> a");
  });

  it("orders 100,000 nodes in linear time", () => {
    const n = 100_000;
    const big: Record<string, { needs: { node: string }[] }> = {};
    for (let i = 0; i < n; i++) {
      const needs = i === 0 ? [] : [{ node: `n${i - 1}` }, ...(i > 10 ? [{ node: `n${i - 10}` }] : [])];
      big[`n${i}`] = { needs };
    }
    const started = performance.now();
    const order = topologicalOrder(big);
    expect(findCycle(big)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(3000);
    expect(order).toHaveLength(n);
    expect(order[0]).toBe("n0");
    expect(order[n - 1]).toBe(`n${n - 1}`);
  });
});

describe("findCycle", () => {
  it("returns undefined for a DAG", () => {
    expect(findCycle(graph({ a: [], b: ["a"], c: ["a", "b"] }))).toBeUndefined();
  });

  it("returns the path along needs, from the node written first, closed", () => {
    expect(findCycle(graph({ x: [], b: ["c"], a: ["b"], c: ["a"] }))).toEqual(["b", "c", "a", "b"]);
  });

  it("reports a node needing itself", () => {
    expect(findCycle(graph({ a: ["a"] }))).toEqual(["a", "a"]);
  });

  it("finds the shortest way around", () => {
    // a -> b -> a is shorter than a -> c -> d -> a.
    expect(findCycle(graph({ a: ["c", "b"], b: ["a"], c: ["d"], d: ["a"] }))).toEqual(["a", "b", "a"]);
  });

  it("handles a 100,000-node cycle without overflowing the stack", () => {
    const n = 100_000;
    const big: Record<string, { needs: { node: string }[] }> = {};
    for (let i = 0; i < n; i++) big[`n${i}`] = { needs: [{ node: `n${(i + 1) % n}` }] };
    const cycle = findCycle(big)!;
    expect(cycle).toHaveLength(n + 1);
    expect(cycle[0]).toBe("n0");
    expect(cycle[1]).toBe("n1");
    expect(cycle[n]).toBe("n0");
  });
});

describe("findCycles", () => {
  it("gives one cycle per independent loop, in file order", () => {
    const cycles = findCycles(graph({ a: ["b"], b: ["a"], c: [], d: ["e"], e: ["d"], f: ["f"] }));
    expect(cycles).toEqual([
      ["a", "b", "a"],
      ["d", "e", "d"],
      ["f", "f"],
    ]);
  });
});
