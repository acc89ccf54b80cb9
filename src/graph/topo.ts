/**
 * Order and cycles of a pipeline graph (pure, linear time).
 *
 * Terminology
 * - A node "needs" another when it must wait for it (`needs:`); edges point from a node to
 *   what it needs. Needs naming no node of the graph are ignored here (the validator reports them).
 * - A wave is the set of nodes whose needs all lie in earlier waves: what could run side by side.
 */
import { BatonError } from "../errors.js";

/** The part of a node the graph functions read. */
export interface GraphNode {
  needs: ReadonlyArray<{ node: string }>;
}

/** Nodes by name, in file order (object insertion order). */
export type Graph = Readonly<Record<string, GraphNode>>;

/**
 * The graph as integers, in compressed rows: the needs of node `i` are
 * `targets[offsets[i]] .. targets[offsets[i + 1] - 1]` (unknown names dropped). Flat typed
 * arrays keep 100,000-node graphs cheap for the garbage collector.
 */
interface Indexed {
  names: string[];
  offsets: Int32Array;
  targets: Int32Array;
}

function index(nodes: Graph): Indexed {
  const names = Object.keys(nodes);
  const n = names.length;
  const at = new Map<string, number>();
  for (let i = 0; i < n; i++) at.set(names[i]!, i);
  const offsets = new Int32Array(n + 1);
  const found: number[] = [];
  for (let i = 0; i < n; i++) {
    const needs = nodes[names[i]!]!.needs;
    for (let k = 0; k < needs.length; k++) {
      const j = at.get(needs[k]!.node);
      if (j !== undefined) found.push(j);
    }
    offsets[i + 1] = found.length;
  }
  return { names, offsets, targets: Int32Array.from(found) };
}

/**
 * Orders nodes so that every node comes after all the nodes it needs. The order is stable:
 * nodes are emitted wave by wave, and within a wave in file order. A file written in
 * dependency order therefore keeps its order wherever nodes do not wait on each other.
 * Runs in O(nodes + needs).
 *
 * @throws BatonError `SPEC_INVALID` naming the cycle when the graph has one.
 */
export function topologicalOrder(nodes: Graph): string[] {
  const { names, offsets, targets } = index(nodes);
  const n = names.length;
  // Reverse rows: who needs node j.
  const waiting = new Int32Array(n);
  const depOffsets = new Int32Array(n + 1);
  for (let e = 0; e < targets.length; e++) depOffsets[targets[e]! + 1]!++;
  for (let i = 0; i < n; i++) {
    waiting[i] = offsets[i + 1]! - offsets[i]!;
    depOffsets[i + 1] = depOffsets[i + 1]! + depOffsets[i]!;
  }
  const fill = depOffsets.slice(0, n);
  const dependents = new Int32Array(targets.length);
  for (let i = 0; i < n; i++) {
    for (let e = offsets[i]!; e < offsets[i + 1]!; e++) dependents[fill[targets[e]!]!++] = i;
  }
  const wave = new Int32Array(n);
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < n; i++) if (waiting[i] === 0) queue[tail++] = i;
  for (let head = 0; head < tail; head++) {
    const u = queue[head]!;
    const next = wave[u]! + 1;
    for (let e = depOffsets[u]!; e < depOffsets[u + 1]!; e++) {
      const v = dependents[e]!;
      if (wave[v]! < next) wave[v] = next;
      waiting[v] = waiting[v]! - 1;
      if (waiting[v] === 0) queue[tail++] = v;
    }
  }
  if (tail < n) {
    const cycle = findCycle(nodes) ?? [];
    throw new BatonError("SPEC_INVALID", `cycle ${cycle.join(" -> ")}`, { context: { cycle } });
  }
  // Counting sort by wave keeps file order inside each wave.
  let waves = 0;
  for (let i = 0; i < n; i++) if (wave[i]! + 1 > waves) waves = wave[i]! + 1;
  const start = new Int32Array(waves + 1);
  for (let i = 0; i < n; i++) start[wave[i]! + 1] = start[wave[i]! + 1]! + 1;
  for (let w = 0; w < waves; w++) start[w + 1] = start[w + 1]! + start[w]!;
  const order: string[] = new Array(n);
  for (let i = 0; i < n; i++) order[start[wave[i]!]!++] = names[i]!;
  return order;
}

/**
 * Finds one cycle among needs, or `undefined` when there is none. The cycle is given as a
 * path along needs, starting at its node written first in the file and repeating it at the
 * end: `["a", "b", "a"]` means a needs b and b needs a. A node needing itself gives `["a", "a"]`.
 */
export function findCycle(nodes: Graph): string[] | undefined {
  return findCycles(nodes)[0];
}

/**
 * Finds one cycle per strongly connected component (so that every independent cycle can be
 * reported at once), ordered by where their first node is written. Same path shape as
 * {@link findCycle}. Runs in O(nodes + needs).
 */
export function findCycles(nodes: Graph): string[][] {
  const graph = index(nodes);
  const { names, offsets, targets } = graph;
  const { component, count } = stronglyConnected(graph);
  // Smallest member and size of each component, and whether a lone node needs itself.
  const first = new Int32Array(count).fill(-1);
  const size = new Int32Array(count);
  for (let v = 0; v < names.length; v++) {
    const c = component[v]!;
    if (first[c] === -1) first[c] = v;
    size[c] = size[c]! + 1;
  }
  const cycles: Array<{ first: number; path: string[] }> = [];
  for (let c = 0; c < count; c++) {
    const start = first[c]!;
    let cyclic = size[c]! > 1;
    for (let e = offsets[start]!; !cyclic && e < offsets[start + 1]!; e++) cyclic = targets[e] === start;
    if (!cyclic) continue;
    const path = shortestLoop(start, graph, (v) => component[v] === c);
    cycles.push({ first: start, path: path.map((i) => names[i]!) });
  }
  cycles.sort((a, b) => a.first - b.first);
  return cycles.map((c) => c.path);
}

/** Tarjan's algorithm, iterative so that deep graphs do not overflow the stack. */
function stronglyConnected({ names, offsets, targets }: Indexed): { component: Int32Array; count: number } {
  const n = names.length;
  const order = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const component = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  let stackSize = 0;
  const onStack = new Uint8Array(n);
  const callV = new Int32Array(n);
  const callNext = new Int32Array(n);
  let depth = 0;
  let counter = 0;
  let count = 0;
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue;
    order[root] = low[root] = counter++;
    stack[stackSize++] = root;
    onStack[root] = 1;
    callV[0] = root;
    callNext[0] = offsets[root]!;
    depth = 1;
    while (depth > 0) {
      const v = callV[depth - 1]!;
      const e = callNext[depth - 1]!;
      if (e < offsets[v + 1]!) {
        callNext[depth - 1] = e + 1;
        const w = targets[e]!;
        if (order[w] === -1) {
          order[w] = low[w] = counter++;
          stack[stackSize++] = w;
          onStack[w] = 1;
          callV[depth] = w;
          callNext[depth] = offsets[w]!;
          depth++;
        } else if (onStack[w]) {
          if (order[w]! < low[v]!) low[v] = order[w]!;
        }
        continue;
      }
      depth--;
      if (depth > 0) {
        const parent = callV[depth - 1]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
      if (low[v] === order[v]) {
        let w: number;
        do {
          w = stack[--stackSize]!;
          onStack[w] = 0;
          component[w] = count;
        } while (w !== v);
        count++;
      }
    }
  }
  return { component, count };
}

/** Shortest path from `start` back to itself, moving only through nodes `inside` accepts. */
function shortestLoop(
  start: number,
  { names, offsets, targets }: Indexed,
  inside: (v: number) => boolean,
): number[] {
  const parent = new Int32Array(names.length).fill(-1);
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head]!;
    for (let e = offsets[u]!; e < offsets[u + 1]!; e++) {
      const w = targets[e]!;
      if (!inside(w)) continue;
      if (w === start) {
        const back: number[] = [];
        for (let x = u; x !== start; x = parent[x]!) back.push(x);
        return [start, ...back.reverse(), start];
      }
      if (parent[w] === -1) {
        parent[w] = u;
        queue.push(w);
      }
    }
  }
  return [start, start];
}
