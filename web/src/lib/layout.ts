/**
 * Automatic layered layout of a pipeline graph (dagre, left to right). Loaded with the graph
 * view only, so the runs list does not pay for it.
 */
import dagre from "@dagrejs/dagre";

export interface LayoutNode {
  id: string;
  width: number;
  height: number;
}

export interface LayoutEdge {
  source: string;
  target: string;
}

/**
 * Top-left corner of each node. Edges to unknown nodes are ignored. dagre keeps its graph in
 * plain objects keyed by node id, so it is given ids of its own (`n0`, `n1`...): a node named
 * `constructor`, `hasOwnProperty` or `__proto__` is laid out like any other.
 */
export function layoutGraph(nodes: LayoutNode[], edges: LayoutEdge[]): Map<string, { x: number; y: number }> {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 28, ranksep: 90, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  const key = new Map<string, string>();
  for (const n of nodes) {
    if (key.has(n.id)) continue;
    key.set(n.id, `n${key.size}`);
    g.setNode(key.get(n.id)!, { width: n.width, height: n.height });
  }
  for (const e of edges) {
    const source = key.get(e.source);
    const target = key.get(e.target);
    if (source !== undefined && target !== undefined) g.setEdge(source, target);
  }
  dagre.layout(g);
  const out = new Map<string, { x: number; y: number }>();
  for (const n of nodes) {
    const p = g.node(key.get(n.id)!) as { x: number; y: number } | undefined;
    out.set(n.id, p ? { x: p.x - n.width / 2, y: p.y - n.height / 2 } : { x: 0, y: 0 });
  }
  return out;
}
