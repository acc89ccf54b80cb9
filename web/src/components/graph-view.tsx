/**
 * The run's DAG: one box per pipeline node, laid out in layers, coloured by status. A fanned-out
 * node is one box with its tasks counted by status; it expands on demand into a scrollable
 * (virtualised) list of its tasks. This module and its libraries are loaded lazily.
 */
import "@xyflow/react/dist/style.css";
import {
  Background,
  Controls,
  type Edge,
  Handle,
  MarkerType,
  type Node,
  type NodeProps,
  Position,
  ReactFlow,
  useReactFlow,
  useStore,
} from "@xyflow/react";
import { memo, useEffect, useMemo, useRef } from "react";
import type { ChildRun, TaskStatus, TaskView } from "../api/types";
import { durationBetween, formatDuration } from "../lib/format";
import { layoutGraph } from "../lib/layout";
import type { NodeGroup } from "../lib/tasks";
import { Link } from "../router";
import { CountsBar, CountsText, STATUS_LABEL, StatusBadge, StatusDot } from "./status";
import { VirtualList } from "./virtual-list";

export interface GraphViewProps {
  groups: NodeGroup[];
  /** Whether `needs` come from the pipeline's definition (else: boxes without edges). */
  hasEdges: boolean;
  childRuns: ChildRun[];
  expanded: ReadonlySet<string>;
  onToggle: (node: string) => void;
  selectedTaskId: string | null;
  onSelectTask: (id: string) => void;
  onCompare: (node: string) => void;
  now: number;
  /** Changes when the space around the graph changes (the task panel opens): the graph refits. */
  fitKey: string;
}

interface StageData extends Record<string, unknown> {
  group: NodeGroup;
  expanded: boolean;
  childRun: ChildRun | undefined;
  selectedTaskId: string | null;
  onToggle: (node: string) => void;
  onSelectTask: (id: string) => void;
  onCompare: (node: string) => void;
  now: number;
}

type StageNode = Node<StageData, "stage">;

const WIDTH = 264;
const ROW = 28;
const MAX_ROWS = 9;

function isFanned(g: NodeGroup): boolean {
  return g.fanout !== null || g.tasks.length > 1;
}

function heightOf(g: NodeGroup, expanded: boolean): number {
  const base = isFanned(g) ? 118 : 96;
  if (!expanded || !isFanned(g)) return base;
  return base + Math.min(g.tasks.length, MAX_ROWS) * ROW + 10;
}

const EDGE_COLOUR: Record<string, string> = {
  success: "#94a3b8",
  failure: "#ef4444",
  always: "#64748b",
};

export default function GraphView(props: GraphViewProps) {
  const { groups, hasEdges, expanded } = props;
  const marked = useRef(false);

  // The layout depends on which nodes exist and how tall they are, not on statuses.
  const shapeKey = groups
    .map((g) => `${g.node}:${heightOf(g, expanded.has(g.node))}:${g.needs.map((n) => n.node).join("+")}`)
    .join("|");
  // biome-ignore lint/correctness/useExhaustiveDependencies: shapeKey stands for the groups' shape
  const positions = useMemo(
    () =>
      layoutGraph(
        groups.map((g) => ({ id: g.node, width: WIDTH, height: heightOf(g, expanded.has(g.node)) })),
        hasEdges ? groups.flatMap((g) => g.needs.map((n) => ({ source: n.node, target: g.node }))) : [],
      ),
    [shapeKey, hasEdges],
  );

  const nodes: StageNode[] = useMemo(
    () =>
      groups.map((g) => ({
        id: g.node,
        type: "stage",
        position: positions.get(g.node) ?? { x: 0, y: 0 },
        width: WIDTH,
        height: heightOf(g, expanded.has(g.node)),
        draggable: false,
        selectable: false,
        data: {
          group: g,
          expanded: expanded.has(g.node),
          childRun: props.childRuns.find((c) => g.tasks.some((t) => t.id === c.parentTask)),
          selectedTaskId: props.selectedTaskId,
          onToggle: props.onToggle,
          onSelectTask: props.onSelectTask,
          onCompare: props.onCompare,
          now: props.now,
        },
      })),
    [
      groups,
      positions,
      expanded,
      props.childRuns,
      props.selectedTaskId,
      props.onToggle,
      props.onSelectTask,
      props.onCompare,
      props.now,
    ],
  );

  const edges: Edge[] = useMemo(() => {
    if (!hasEdges) return [];
    const status = new Map(groups.map((g) => [g.node, g.status]));
    return groups.flatMap((g) =>
      g.needs
        .filter((n) => status.has(n.node))
        .map((n) => {
          const colour = EDGE_COLOUR[n.condition] ?? "#94a3b8";
          return {
            id: `${n.node}->${g.node}`,
            source: n.node,
            target: g.node,
            type: "smoothstep",
            animated: g.status === "running" || g.status === "queued",
            label: n.condition === "success" ? undefined : `on ${n.condition}`,
            labelStyle: { fill: colour, fontSize: 11, fontWeight: 600 },
            labelBgStyle: { fill: "#f8fafc" },
            style: {
              stroke: colour,
              strokeWidth: 1.6,
              strokeDasharray: n.condition === "success" ? undefined : "5 4",
            },
            markerEnd: { type: MarkerType.ArrowClosed, color: colour, width: 16, height: 16 },
          } satisfies Edge;
        }),
    );
  }, [groups, hasEdges]);

  useEffect(() => {
    if (marked.current || nodes.length === 0) return;
    marked.current = true;
    requestAnimationFrame(() => performance.mark("baton:graph-rendered"));
  }, [nodes.length]);

  return (
    <div className="graph" data-testid="graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={NODE_TYPES}
        fitView
        fitViewOptions={{ padding: 0.15, maxZoom: 1.1 }}
        minZoom={0.1}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        // Nodes that can neither be dragged nor selected get no pointer events unless clicks are handled.
        onNodeClick={ignore}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={20} size={1} color="#dfe3ea" />
        <Controls showInteractive={false} position="bottom-right" />
        <AutoFit fitKey={`${props.fitKey}|${[...expanded].sort().join(",")}`} />
      </ReactFlow>
      <div className="graph-legend" aria-hidden="true">
        {(
          [
            "succeeded",
            "cached",
            "running",
            "queued",
            "pending",
            "failed",
            "cancelled",
            "skipped",
          ] as TaskStatus[]
        ).map((s) => (
          <span key={s}>
            <StatusDot status={s} />
            {STATUS_LABEL[s]}
          </span>
        ))}
      </div>
    </div>
  );
}

const StageNodeView = memo(function StageNodeView({ data }: NodeProps<StageNode>) {
  const { group: g, expanded, now } = data;
  const fanned = isFanned(g);
  const single: TaskView | undefined = fanned ? undefined : g.tasks[0];
  const selected = g.tasks.some((t) => t.id === data.selectedTaskId);
  const duration = durationBetween(g.startedAt, g.endedAt, now);
  const open = () => {
    if (single) data.onSelectTask(single.id);
    else if (fanned) data.onToggle(g.node);
  };
  return (
    <div
      className={`stage stage-${g.status}${selected ? " stage-selected" : ""}${single ? " stage-clickable" : ""}`}
      data-node={g.node}
      data-status={g.status}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button"
        className="stage-head"
        onClick={open}
        title={single ? "Open this task" : undefined}
      >
        <span className="stage-title">{g.node}</span>
        {fanned ? (
          <span
            className="tag"
            title={g.fanout === "matrix" ? "matrix" : g.fanout === "foreach" ? "foreach" : ""}
          >
            {g.fanout === "matrix" ? "matrix" : g.fanout === "foreach" ? "foreach" : "tasks"} ×{" "}
            {g.tasks.length}
          </span>
        ) : g.kind === "pipeline" ? (
          <span className="tag">pipeline</span>
        ) : null}
      </button>
      <div className="stage-line">
        <StatusBadge small status={g.status} />
        <span className="stage-meta">
          {g.tasks.length === 0
            ? "not started"
            : single
              ? [
                  single.exitCode !== null ? `exit ${single.exitCode}` : null,
                  single.attempts > 1 ? `attempt ${single.attempts}` : null,
                  duration !== null ? formatDuration(duration) : null,
                ]
                  .filter(Boolean)
                  .join(" · ")
              : duration !== null
                ? formatDuration(duration)
                : ""}
        </span>
      </div>
      {fanned ? (
        <>
          <CountsBar counts={g.counts} height={7} />
          <div className="stage-counts">
            <CountsText counts={g.counts} />
          </div>
          <div className="stage-actions">
            <button type="button" className="link-button nodrag" onClick={() => data.onToggle(g.node)}>
              {expanded ? "Hide tasks ▴" : `Show ${g.tasks.length} tasks ▾`}
            </button>
            <button type="button" className="link-button nodrag" onClick={() => data.onCompare(g.node)}>
              Compare
            </button>
          </div>
        </>
      ) : null}
      {data.childRun ? (
        <Link className="stage-child nodrag" to={`/runs/${data.childRun.id}`}>
          Child run: {data.childRun.pipeline} →
        </Link>
      ) : null}
      {expanded && fanned ? (
        <div
          className="stage-list nowheel nodrag nopan"
          style={{ height: Math.min(g.tasks.length, MAX_ROWS) * ROW }}
        >
          <VirtualList
            count={g.tasks.length}
            rowHeight={ROW}
            initialHeight={Math.min(g.tasks.length, MAX_ROWS) * ROW}
            label={`Tasks of ${g.node}`}
            renderRow={(i) => {
              const t = g.tasks[i]!;
              return (
                <button
                  type="button"
                  key={t.id}
                  className={`stage-row${t.id === data.selectedTaskId ? " stage-row-selected" : ""}`}
                  style={{ height: ROW }}
                  onClick={() => data.onSelectTask(t.id)}
                  data-task={t.name}
                >
                  <StatusDot status={t.status} />
                  <span className="stage-row-name">{t.name}</span>
                  <span className="stage-row-meta">
                    {formatDuration(durationBetween(t.startedAt, t.endedAt, now))}
                  </span>
                </button>
              );
            }}
          />
        </div>
      ) : null}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const NODE_TYPES = { stage: StageNodeView };

/** Fits the graph into view again when `fitKey` changes or the graph's box is resized. */
function AutoFit({ fitKey }: { fitKey: string }) {
  const flow = useReactFlow();
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  const first = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: fitKey and the box's size are the triggers
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const id = window.setTimeout(() => void flow.fitView({ padding: 0.15, maxZoom: 1.1, duration: 200 }), 20);
    return () => window.clearTimeout(id);
  }, [fitKey, width, height, flow]);
  return null;
}

function ignore(): void {}
