/**
 * Gates in the run planner: what `on-error:` and `actions:` make of a task's start and end
 * (docs/pipeline-file.md, "On error, actions, approval"). Pure decisions; the run controller
 * acts on them through the store's transitions.
 */
import { evaluateValue } from "../spec/expressions.js";
import type { ActionSpec, ActionThen, ActionWhen, OnError, RetrySpec, TaskNodeSpec } from "../spec/types.js";
import type { TaskStatus } from "../store/store.js";

/** The `on-error:` of a node (pipeline nodes: `stop-next`). */
export function onErrorOf(spec: { kind: string; onError?: OnError }): OnError {
  return spec.kind === "task" ? (spec.onError ?? "stop-next") : "stop-next";
}

/** `on-error: retry` retries a failed task once more when it has no `retries` of its own. */
export function effectiveRetries(spec: TaskNodeSpec): RetrySpec {
  if (onErrorOf(spec) === "retry" && spec.retries.limit === 0) return { ...spec.retries, limit: 1 };
  return spec.retries;
}

/** How a task's status counts for its node's outcome and the run's: `continue` turns failed into succeeded. */
export function countedStatus(onError: OnError, status: TaskStatus): TaskStatus {
  return onError === "continue" && status === "failed" ? "succeeded" : status;
}

/** Whether a failed task of the node stops every other unfinished task of the run. */
export function stopsAllOnFailure(onError: OnError): boolean {
  return onError === "stop-all" || onError === "retry";
}

/** What the actions due at `when` ask for, with the words saying why. */
export interface ActionVerdict {
  todo: Set<ActionThen>;
  /** `stopped by node evaluate: metrics.accuracy < 0.8`. */
  reason: string;
}

/**
 * The actions of a node due at `when` whose every `if` holds in `context` (params, metrics...
 * of the task). An `if` that cannot be evaluated (a metric not written) does not hold.
 */
export function dueActions(
  actions: ActionSpec[] | undefined,
  when: ActionWhen,
  node: string,
  context: Record<string, unknown>,
): ActionVerdict | undefined {
  let verdict: ActionVerdict | undefined;
  for (const action of actions ?? []) {
    if (!action.when.includes(when)) continue;
    const holds = action.if.every((cond) => {
      try {
        return Boolean(evaluateValue(cond, context));
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    const why = action.if.length > 0 ? action.if.map(bare).join(" and ") : when;
    verdict ??= { todo: new Set(), reason: `stopped by node ${node}: ${why}` };
    for (const t of action.then) verdict.todo.add(t);
  }
  return verdict;
}

/** `${{ metrics.a < 1 }}` as `metrics.a < 1`. */
function bare(template: string): string {
  const m = /^\$\{\{\s*([\s\S]*?)\s*\}\}$/.exec(template.trim());
  return m ? m[1]! : template;
}
