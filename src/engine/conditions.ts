import type { NeedCondition, NeedSpec } from "../spec/types.js";
import type { TaskStatus } from "../store/store.js";

/** How a node ended, seen from the nodes that need it (`needs.X.status`). */
export type NodeOutcome = "succeeded" | "failed" | "skipped" | "cancelled";

/**
 * The outcome of a finished node from its tasks' statuses: failed if any task failed, else
 * cancelled if any was cancelled, else skipped if every task was skipped, else succeeded
 * (cached counts as succeeded). A node with no tasks (an empty `foreach`) succeeded.
 */
export function nodeOutcome(statuses: Iterable<TaskStatus>): NodeOutcome {
  let any = false;
  let allSkipped = true;
  let cancelled = false;
  for (const s of statuses) {
    any = true;
    if (s === "failed") return "failed";
    if (s === "cancelled") cancelled = true;
    if (s !== "skipped") allSkipped = false;
  }
  if (cancelled) return "cancelled";
  return any && allSkipped ? "skipped" : "succeeded";
}

/** Whether one `needs` edge lets its node run, given how the needed node ended. */
export function conditionHolds(condition: NeedCondition, outcome: NodeOutcome): boolean {
  switch (condition) {
    case "success":
      return outcome === "succeeded";
    case "failure":
      return outcome === "failed";
    case "always":
      // Runs after anything but a cancellation: skips do not propagate through `always`.
      return outcome !== "cancelled";
  }
}

export type NeedsVerdict = { run: true } | { run: false; reason: string };

/**
 * Decides, once every needed node has ended, whether a node runs or is skipped.
 * All edges must hold (Velda's `--after-success A --after-fail B` means both).
 */
export function judgeNeeds(needs: NeedSpec[], outcomeOf: (node: string) => NodeOutcome): NeedsVerdict {
  for (const need of needs) {
    const outcome = outcomeOf(need.node);
    if (!conditionHolds(need.condition, outcome)) {
      return {
        run: false,
        reason: `needs ${need.node} to end in ${describe(need.condition)}, but it ${outcome}`,
      };
    }
  }
  return { run: true };
}

function describe(condition: NeedCondition): string {
  return condition === "success" ? "success" : condition === "failure" ? "failure" : "any state";
}
