import { describe, expect, it } from "vitest";
import { HOSTILE_NAMES } from "../../../test/fixtures/hostile-names";
import { layoutGraph } from "./layout";

const box = (id: string) => ({ id, width: 100, height: 40 });

describe("layoutGraph", () => {
  it("lays out nodes named like members of JavaScript objects, left to right by their edges", () => {
    const names = [...HOSTILE_NAMES];
    const edges = names.slice(1).map((target, i) => ({ source: names[i]!, target }));
    const at = layoutGraph(names.map(box), edges);
    expect([...at.keys()]).toEqual(names);
    const xs = names.map((n) => at.get(n)!.x);
    for (let i = 1; i < xs.length; i++) expect(xs[i]).toBeGreaterThan(xs[i - 1]!);
  });

  it("places siblings in one column and ignores edges to unknown nodes", () => {
    const at = layoutGraph(
      [box("constructor"), box("toString"), box("valueOf")],
      [
        { source: "constructor", target: "toString" },
        { source: "constructor", target: "valueOf" },
        { source: "hasOwnProperty", target: "valueOf" },
      ],
    );
    expect(at.get("toString")!.x).toBe(at.get("valueOf")!.x);
    expect(at.get("toString")!.y).not.toBe(at.get("valueOf")!.y);
    expect(at.get("constructor")!.x).toBeLessThan(at.get("toString")!.x);
    expect(at.has("hasOwnProperty")).toBe(false);
  });
});
