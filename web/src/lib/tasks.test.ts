import { describe, expect, it } from "vitest";
import type { PipelineNode, TaskStatus, TaskView } from "../api/types";
import {
  buildTree,
  countStatuses,
  downstreamOf,
  flattenTree,
  groupByNode,
  groupStatus,
  hasTree,
} from "./tasks";

let n = 0;
function task(name: string, status: TaskStatus, extra: Partial<TaskView> = {}): TaskView {
  n++;
  return {
    id: `T${String(n).padStart(4, "0")}`,
    run: "R1",
    name,
    node: name.replace(/\[.*$/, ""),
    parent: null,
    status,
    exitCode: null,
    attempts: 1,
    cached: false,
    startedAt: null,
    endedAt: null,
    outputDir: "/tmp",
    outputs: [],
    metrics: {},
    ...extra,
  };
}

const NODES: PipelineNode[] = [
  { name: "prep", kind: "task", needs: [] },
  { name: "train", kind: "task", needs: [{ node: "prep", condition: "success" }], fanout: "foreach" },
  { name: "eval", kind: "task", needs: [{ node: "train", condition: "success" }] },
  { name: "alert", kind: "task", needs: [{ node: "train", condition: "failure" }] },
];

describe("grouping tasks by node", () => {
  it("makes one group per node, fanned-out nodes counted by status, in the pipeline's order", () => {
    const tasks = [
      task("train[0]", "succeeded"),
      task("prep", "succeeded"),
      task("train[1]", "failed"),
      task("train[2]", "running"),
    ];
    const groups = groupByNode(tasks, NODES);
    expect(groups.map((g) => g.node)).toEqual(["prep", "train", "eval", "alert"]);
    const train = groups[1]!;
    expect(train.tasks).toHaveLength(3);
    expect(train.counts).toMatchObject({ succeeded: 1, failed: 1, running: 1 });
    expect(train.status).toBe("running");
    expect(train.fanout).toBe("foreach");
    expect(groups[2]!.tasks).toHaveLength(0);
    expect(groups[2]!.status).toBe("pending");
  });

  it("groups nodes it was not told about, and leaves out tasks without a node", () => {
    const groups = groupByNode([task("a", "succeeded"), task("sub", "running", { node: null })], undefined);
    expect(groups.map((g) => g.node)).toEqual(["a"]);
  });

  it("sums a group up: work in progress, then failure, then what is left", () => {
    const c = (s: TaskStatus[]) => countStatuses(s.map((x) => ({ status: x })));
    expect(groupStatus(c(["failed", "running"]))).toBe("running");
    expect(groupStatus(c(["failed", "pending"]))).toBe("failed");
    expect(groupStatus(c(["succeeded", "cached"]))).toBe("succeeded");
    expect(groupStatus(c(["cached", "cached"]))).toBe("cached");
    expect(groupStatus(c(["skipped"]))).toBe("skipped");
    expect(groupStatus(c(["succeeded", "cancelled"]))).toBe("cancelled");
  });

  it("spans a group's time from its first start to its last end, open while a task runs", () => {
    const [g] = groupByNode(
      [
        task("x[0]", "succeeded", {
          node: "x",
          startedAt: "2026-01-01T00:00:02Z",
          endedAt: "2026-01-01T00:00:05Z",
        }),
        task("x[1]", "running", { node: "x", startedAt: "2026-01-01T00:00:01Z" }),
      ],
      undefined,
    );
    expect(g!.startedAt).toBe("2026-01-01T00:00:01Z");
    expect(g!.endedAt).toBeNull();
  });

  it("finds what is downstream of a node", () => {
    expect([...downstreamOf("train", NODES)].sort()).toEqual(["alert", "eval", "train"]);
  });
});

describe("task trees", () => {
  const root = task("build", "running", { node: null });
  const a = task("a", "succeeded", { node: null, parent: root.id });
  const b = task("b", "failed", { node: null, parent: root.id });
  const a1 = task("a1", "running", { node: null, parent: a.id });
  const lone = task("lone", "queued", { node: null });
  const tasks = [root, a, b, a1, lone];

  it("counts every task below each task by status", () => {
    const tree = buildTree(tasks);
    expect(tree.roots.map((t) => t.name)).toEqual(["build", "lone"]);
    expect(tree.descendants.get(root.id)).toMatchObject({ succeeded: 1, failed: 1, running: 1 });
    expect(tree.descendants.get(a.id)).toMatchObject({ running: 1 });
    expect(hasTree(tasks)).toBe(true);
    expect(hasTree([lone])).toBe(false);
  });

  it("shows only the children of opened tasks, depth first", () => {
    const tree = buildTree(tasks);
    expect(flattenTree(tree, new Set()).map((r) => r.task.name)).toEqual(["build", "lone"]);
    const rows = flattenTree(tree, new Set([root.id, a.id]));
    expect(rows.map((r) => `${r.depth}:${r.task.name}`)).toEqual(["0:build", "1:a", "2:a1", "1:b", "0:lone"]);
    expect(rows[0]).toMatchObject({ childCount: 2, expanded: true });
  });

  it("handles deep trees without recursion", () => {
    const chain: TaskView[] = [task("t0", "running", { node: null })];
    for (let i = 1; i < 20_000; i++)
      chain.push(task(`t${i}`, "running", { node: null, parent: chain[i - 1]!.id }));
    const tree = buildTree(chain);
    expect(tree.descendants.get(chain[0]!.id)!.running).toBe(19_999);
  });
});
