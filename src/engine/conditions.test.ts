import { describe, expect, it } from "vitest";
import { conditionHolds, judgeNeeds, nodeOutcome } from "./conditions.js";

describe("node outcome", () => {
  it("is failed if any task failed, whatever else happened", () => {
    expect(nodeOutcome(["succeeded", "failed", "cancelled"])).toBe("failed");
  });
  it("is skipped only when every task was skipped", () => {
    expect(nodeOutcome(["skipped", "skipped"])).toBe("skipped");
    expect(nodeOutcome(["skipped", "succeeded"])).toBe("succeeded");
  });
  it("counts cached as success and an empty fan-out as success", () => {
    expect(nodeOutcome(["cached", "succeeded"])).toBe("succeeded");
    expect(nodeOutcome([])).toBe("succeeded");
  });
});

describe("needs conditions", () => {
  it("success holds only after success; skips propagate", () => {
    expect(conditionHolds("success", "succeeded")).toBe(true);
    expect(conditionHolds("success", "failed")).toBe(false);
    expect(conditionHolds("success", "skipped")).toBe(false);
  });
  it("failure holds only after failure", () => {
    expect(conditionHolds("failure", "failed")).toBe(true);
    expect(conditionHolds("failure", "succeeded")).toBe(false);
    expect(conditionHolds("failure", "skipped")).toBe(false);
  });
  it("always holds after anything but a cancellation, so skips do not propagate", () => {
    for (const o of ["succeeded", "failed", "skipped"] as const)
      expect(conditionHolds("always", o)).toBe(true);
    expect(conditionHolds("always", "cancelled")).toBe(false);
  });
  it("all edges must hold, and the reason names the edge that did not", () => {
    const outcomes = { a: "succeeded", b: "succeeded" } as const;
    const verdict = judgeNeeds(
      [
        { node: "a", condition: "success" },
        { node: "b", condition: "failure" },
      ],
      (n) => outcomes[n as "a" | "b"],
    );
    expect(verdict).toEqual({ run: false, reason: "needs b to end in failure, but it succeeded" });
  });
});
