// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TaskStatus, TaskView } from "../api/types";
import { byText, cleanup, click, render } from "../test/render";
import { TaskTreeView } from "./task-tree";

afterEach(cleanup);

function task(id: string, name: string, status: TaskStatus, parent: string | null): TaskView {
  return {
    id,
    run: "R",
    name,
    node: null,
    parent,
    status,
    exitCode: null,
    attempts: 1,
    cached: false,
    startedAt: null,
    endedAt: null,
    outputDir: "/tmp",
    outputs: [],
    metrics: {},
  };
}

const TASKS = [
  task("A", "pipeline.sh", "running", null),
  task("B", "shard[0]", "succeeded", "A"),
  task("C", "shard[1]", "failed", "A"),
  task("D", "post", "running", "B"),
];

describe("task tree", () => {
  it("shows children counted by status and opens a task on demand", async () => {
    const onSelect = vi.fn();
    const { container } = await render(
      <TaskTreeView tasks={TASKS} selectedId={null} onSelect={onSelect} now={0} />,
    );
    const names = () => [...container.querySelectorAll(".tree-row")].map((r) => r.getAttribute("data-task"));
    // Small trees open their first level.
    expect(names()).toEqual(["pipeline.sh", "shard[0]", "shard[1]"]);
    const root = container.querySelector('[data-task="pipeline.sh"]')!;
    expect(root.textContent).toContain("2 children, 3 below");
    expect(root.querySelector(".count-failed")?.textContent).toBe("1");

    await click(container.querySelector('[aria-label="Expand shard[0]"]'));
    expect(names()).toEqual(["pipeline.sh", "shard[0]", "post", "shard[1]"]);

    await click(byText(container, "button", "Collapse all"));
    expect(names()).toEqual(["pipeline.sh"]);

    await click(container.querySelector('[data-task="pipeline.sh"] .tree-main'));
    expect(onSelect).toHaveBeenCalledWith("A");
  });
});
