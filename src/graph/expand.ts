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

/**
 * A node's fan-out with its lists resolved but not expanded: `count` tasks, each made on demand
 * by `instance(i)` (so that a caller can check the count first, and make them in chunks).
 */
export interface Fanout {
  count: number;
  /** Length of each list: one for `foreach`, one per matrix key, none for a plain node. */
  factors: number[];
  /** The `i`-th task, in the order {@link expandNode} lists them. */
  instance(index: number): TaskInstance;
}

/** Resolves a task node's `foreach`/`matrix` lists and counts its tasks, without making them. */
export function planFanout(node: TaskNodeSpec, resolveList: ListResolver): Fanout {
  if (node.foreach !== undefined) {
    const items = resolveList(node.foreach, "foreach");
    return {
      count: items.length,
      factors: [items.length],
      instance: (index) => ({ name: `${node.name}[${index}]`, index, item: items[index] }),
    };
  }
  if (node.matrix !== undefined) {
    const keys = Object.keys(node.matrix);
    const lists = keys.map((k) => resolveList(node.matrix![k], `matrix.${k}`));
    const factors = lists.map((l) => l.length);
    const count = lists.length === 0 ? 0 : factors.reduce((a, b) => a * b, 1);
    return {
      count,
      factors,
      instance: (index) => {
        // Mixed radix, the first list varying slowest (as written in the file).
        const values = new Array<unknown>(lists.length);
        let rest = index;
        for (let i = lists.length - 1; i >= 0; i--) {
          const list = lists[i]!;
          values[i] = list[rest % list.length];
          rest = Math.floor(rest / list.length);
        }
        const matrix: Record<string, unknown> = dict();
        keys.forEach((k, i) => {
          matrix[k] = values[i];
        });
        const label = keys.map((k, i) => `${k}=${formatMatrixValue(values[i])}`).join(",");
        return { name: `${node.name}[${label}]`, index, matrix };
      },
    };
  }
  return { count: 1, factors: [], instance: (index) => ({ name: node.name, index }) };
}

/** The tasks of a fan-out in chunks of `size`, in order: the caller may yield between chunks. */
export function* instanceChunks(fanout: Fanout, size: number): Generator<TaskInstance[]> {
  for (let start = 0; start < fanout.count; start += size) {
    const end = Math.min(fanout.count, start + size);
    const chunk: TaskInstance[] = [];
    for (let i = start; i < end; i++) chunk.push(fanout.instance(i));
    yield chunk;
  }
}

/** Expands a task node into its tasks. Pure; the resolver does any evaluation. Check the count first ({@link planFanout}). */
export function expandNode(node: TaskNodeSpec, resolveList: ListResolver): TaskInstance[] {
  const fanout = planFanout(node, resolveList);
  const out: TaskInstance[] = [];
  for (let i = 0; i < fanout.count; i++) out.push(fanout.instance(i));
  return out;
}

function formatMatrixValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}
