/**
 * How the UI groups a run's tasks: by pipeline node for the graph (a fanned-out node is one
 * group), by parent for submitted task trees (Velda style), and counted by status.
 */
import type { Counts, PipelineNode, TaskStatus, TaskView } from "../api/types";

export function emptyCounts(): Counts {
  return {
    pending: 0,
    waiting: 0,
    queued: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    cancelled: 0,
    skipped: 0,
    cached: 0,
  };
}

export function countStatuses(tasks: Iterable<Pick<TaskView, "status">>): Counts {
  const counts = emptyCounts();
  for (const t of tasks) counts[t.status]++;
  return counts;
}

export function totalOf(counts: Counts): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v;
  return n;
}

/** Whether a task has ended (its status will not change unless it is retried). */
export function isTerminal(status: TaskStatus): boolean {
  return status !== "pending" && status !== "queued" && status !== "running" && status !== "waiting";
}

/**
 * The one status that sums up a group of tasks: work in progress first, then failure, then
 * what is left to do, then how it ended.
 */
export function groupStatus(counts: Counts): TaskStatus {
  const total = totalOf(counts);
  if (total === 0) return "pending";
  if (counts.running > 0) return "running";
  if (counts.queued > 0) return "queued";
  if (counts.failed > 0) return "failed";
  if (counts.pending > 0) return "pending";
  if (counts.cancelled > 0) return "cancelled";
  if (counts.cached === total) return "cached";
  if (counts.succeeded + counts.cached > 0) return "succeeded";
  return "skipped";
}

/** The tasks of one pipeline node. */
export interface NodeGroup {
  node: string;
  tasks: TaskView[];
  counts: Counts;
  status: TaskStatus;
  /** Declared as foreach/matrix, or has more than one task. */
  fanout: "foreach" | "matrix" | "tasks" | null;
  kind: "task" | "pipeline";
  needs: PipelineNode["needs"];
  /** Earliest start and latest end of its tasks (ISO), for the duration shown. */
  startedAt: string | null;
  endedAt: string | null;
}

/**
 * Groups tasks by node, in the pipeline's node order when it is known (nodes without tasks
 * yet included), then any other nodes in order of first appearance. Tasks without a node
 * (submitted tasks, children of pipeline tasks) are left out: the tree shows them.
 */
export function groupByNode(tasks: TaskView[], nodes: PipelineNode[] | undefined): NodeGroup[] {
  const byNode = new Map<string, TaskView[]>();
  for (const node of nodes ?? []) byNode.set(node.name, []);
  for (const t of tasks) {
    if (t.node === null) continue;
    let list = byNode.get(t.node);
    if (!list) {
      list = [];
      byNode.set(t.node, list);
    }
    list.push(t);
  }
  const declared = new Map((nodes ?? []).map((n) => [n.name, n]));
  return [...byNode.entries()].map(([node, list]) => {
    const counts = countStatuses(list);
    const decl = declared.get(node);
    let startedAt: string | null = null;
    let endedAt: string | null = null;
    let allEnded = list.length > 0;
    for (const t of list) {
      if (t.startedAt && (startedAt === null || t.startedAt < startedAt)) startedAt = t.startedAt;
      if (t.endedAt) {
        if (endedAt === null || t.endedAt > endedAt) endedAt = t.endedAt;
      } else allEnded = false;
    }
    return {
      node,
      tasks: list,
      counts,
      status: groupStatus(counts),
      fanout: decl?.fanout ?? (list.length > 1 ? "tasks" : null),
      kind: decl?.kind ?? "task",
      needs: decl?.needs ?? [],
      startedAt,
      endedAt: allEnded ? endedAt : null,
    };
  });
}

/** A row of the collapsible task tree. */
export interface TreeRow {
  task: TaskView;
  depth: number;
  /** Direct children. */
  childCount: number;
  /** Every task below, by status. */
  descendants: Counts;
  expanded: boolean;
}

export interface TaskTree {
  roots: TaskView[];
  children: Map<string, TaskView[]>;
  descendants: Map<string, Counts>;
}

/** Children by parent; roots are tasks whose parent is not in the list. */
export function buildTree(tasks: TaskView[]): TaskTree {
  const ids = new Set(tasks.map((t) => t.id));
  const children = new Map<string, TaskView[]>();
  const roots: TaskView[] = [];
  for (const t of tasks) {
    if (t.parent !== null && ids.has(t.parent)) {
      let list = children.get(t.parent);
      if (!list) {
        list = [];
        children.set(t.parent, list);
      }
      list.push(t);
    } else roots.push(t);
  }
  const descendants = new Map<string, Counts>();
  // Iterative post-order: trees of thousands of tasks must not overflow the stack.
  const stack: Array<{ task: TaskView; visited: boolean }> = roots.map((task) => ({ task, visited: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    const kids = children.get(top.task.id) ?? [];
    if (!top.visited) {
      stack.push({ task: top.task, visited: true });
      for (const k of kids) stack.push({ task: k, visited: false });
      continue;
    }
    const counts = emptyCounts();
    for (const k of kids) {
      counts[k.status]++;
      const below = descendants.get(k.id);
      if (below) for (const s of Object.keys(below) as TaskStatus[]) counts[s] += below[s];
    }
    descendants.set(top.task.id, counts);
  }
  return { roots, children, descendants };
}

/** The visible rows of the tree, depth first, with `expanded` tasks opened. */
export function flattenTree(tree: TaskTree, expanded: ReadonlySet<string>): TreeRow[] {
  const rows: TreeRow[] = [];
  const stack: Array<{ task: TaskView; depth: number }> = [];
  for (let i = tree.roots.length - 1; i >= 0; i--) stack.push({ task: tree.roots[i]!, depth: 0 });
  while (stack.length > 0) {
    const { task, depth } = stack.pop()!;
    const kids = tree.children.get(task.id) ?? [];
    const open = kids.length > 0 && expanded.has(task.id);
    rows.push({
      task,
      depth,
      childCount: kids.length,
      descendants: tree.descendants.get(task.id) ?? emptyCounts(),
      expanded: open,
    });
    if (open) for (let i = kids.length - 1; i >= 0; i--) stack.push({ task: kids[i]!, depth: depth + 1 });
  }
  return rows;
}

/** Whether a run's tasks form a tree worth showing (some task has a parent in the run). */
export function hasTree(tasks: TaskView[]): boolean {
  const ids = new Set(tasks.map((t) => t.id));
  return tasks.some((t) => t.parent !== null && ids.has(t.parent));
}

/** Nodes downstream of `node` (itself included), following needs. */
export function downstreamOf(node: string, nodes: PipelineNode[]): Set<string> {
  const out = new Set([node]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const n of nodes) {
      if (!out.has(n.name) && n.needs.some((need) => out.has(need.node))) {
        out.add(n.name);
        grew = true;
      }
    }
  }
  return out;
}
