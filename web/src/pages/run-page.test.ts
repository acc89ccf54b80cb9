import { describe, expect, it } from "vitest";
import type { PipelineSummary, RunDetail, TaskView } from "../api/types";
import { applyTaskEvents, pipelineOfRun } from "./run-page";

const base: TaskView = {
  id: "T1",
  run: "R",
  name: "train[0]",
  node: "train",
  parent: null,
  status: "pending",
  exitCode: null,
  attempts: 0,
  cached: false,
  startedAt: null,
  endedAt: null,
  outputDir: "/tmp",
  outputs: [],
  metrics: {},
};

describe("live task events", () => {
  it("move a task through its statuses until the next fetch", () => {
    const ev = (status: TaskView["status"], extra = {}) =>
      new Map([
        ["T1", { type: "task" as const, runId: "R", taskId: "T1", name: "train[0]", status, ...extra }],
      ]);
    const running = applyTaskEvents([base], ev("running", { attempt: 1 }), "2026-01-01T00:00:00Z")[0]!;
    expect(running).toMatchObject({
      status: "running",
      attempts: 1,
      startedAt: "2026-01-01T00:00:00Z",
      endedAt: null,
    });
    const failed = applyTaskEvents([running], ev("failed", { exitCode: 2 }), "2026-01-01T00:00:05Z")[0]!;
    expect(failed).toMatchObject({ status: "failed", exitCode: 2, endedAt: "2026-01-01T00:00:05Z" });
    const retried = applyTaskEvents([failed], ev("running", { attempt: 2 }), "2026-01-01T00:01:00Z")[0]!;
    expect(retried).toMatchObject({
      attempts: 2,
      exitCode: null,
      startedAt: "2026-01-01T00:01:00Z",
      endedAt: null,
    });
  });

  it("leaves the list alone when no event names its tasks", () => {
    const tasks = [base];
    expect(applyTaskEvents(tasks, new Map(), "x")).toBe(tasks);
  });
});

describe("the pipeline of a run", () => {
  const pipeline = (name: string, file: string, nodes: string[]): PipelineSummary => ({
    name,
    source: "file",
    file,
    params: [],
    nodes: nodes.map((n) => ({ name: n, kind: "task", needs: [] })),
  });
  const detail = (specFile: string | null, nodes: string[]): RunDetail => ({
    run: {
      id: "R",
      pipeline: "p",
      status: "running",
      params: {},
      createdAt: null,
      endedAt: null,
      parentRun: null,
      parentTask: null,
      specFile,
      driven: true,
      counts: {
        pending: 0,
        waiting: 0,
        queued: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        cancelled: 0,
        skipped: 0,
        cached: 0,
      },
    },
    tasks: nodes.map((n, i) => ({ ...base, id: `T${i}`, node: n })),
    childRuns: [],
  });

  it("is the server's pipeline of the same file, or of the same name when the nodes fit", () => {
    const ps = [pipeline("p", "/a/baton.yaml", ["x", "y"])];
    expect(pipelineOfRun(detail("/a/baton.yaml", ["x"]), ps)).toBe(ps[0]);
    expect(pipelineOfRun(detail("/defs/1.json", ["x", "y"]), ps)).toBe(ps[0]);
    expect(pipelineOfRun(detail("/defs/1.json", ["x", "z"]), ps)).toBeUndefined();
    expect(pipelineOfRun(detail(null, []), ps)).toBeUndefined();
  });
});
