import type { TaskNodeSpec } from "../spec/types.js";
import { dict } from "../util/dict.js";

/** One task of a node: the node itself, or one `foreach` item / `matrix` combination. */
export interface TaskInstance {
  /** `train`, `train[0]`, `images[input=DL50.raw,config=base]`. */
  name: string;
  index: number;
  /** The `foreach` item, when the node has `foreach`. */
  item?: unknown;
  /** The combination, when the node has `matrix`. */
  matrix?: Record<string, unknown>;
}

/**
 * Resolves a `foreach:` or `matrix:` value to a list: literal lists pass through; templates are
 * evaluated by the caller (the engine at run time, `baton validate` with the pipeline params).
 * `field` names the key for messages (`foreach`, `matrix.input`).
 */
export type ListResolver = (value: unknown, field: string) => unknown[];

/** Expands a task node into its tasks (DESIGN §2 names). Pure; the resolver does any evaluation. */
export function expandNode(node: TaskNodeSpec, resolveList: ListResolver): TaskInstance[] {
  if (node.foreach !== undefined) {
    const items = resolveList(node.foreach, "foreach");
    return items.map((item, index) => ({ name: `${node.name}[${index}]`, index, item }));
  }
  if (node.matrix !== undefined) {
    const keys = Object.keys(node.matrix);
    const lists = keys.map((k) => resolveList(node.matrix![k], `matrix.${k}`));
    const combos = cartesian(lists);
    return combos.map((values, index) => {
      const matrix: Record<string, unknown> = dict();
      keys.forEach((k, i) => {
        matrix[k] = values[i];
      });
      const label = keys.map((k, i) => `${k}=${formatMatrixValue(values[i])}`).join(",");
      return { name: `${node.name}[${label}]`, index, matrix };
    });
  }
  return [{ name: node.name, index: 0 }];
}

/** All combinations, the first list varying slowest (as written in the file). */
function cartesian(lists: unknown[][]): unknown[][] {
  let combos: unknown[][] = [[]];
  for (const list of lists) {
    const next: unknown[][] = [];
    for (const combo of combos) for (const v of list) next.push([...combo, v]);
    combos = next;
  }
  return lists.length === 0 ? [] : combos;
}

function formatMatrixValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}
