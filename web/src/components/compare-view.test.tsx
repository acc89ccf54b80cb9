// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TaskView } from "../api/types";
import { groupByNode } from "../lib/tasks";
import { byText, cleanup, click, flush, render } from "../test/render";
import { CompareView } from "./compare-view";

const LRS = [0.1, 0.01, 0.001];
const ACC = [0.81, 0.93, 0.9];

const tasks: TaskView[] = LRS.map((lr, i) => ({
  id: `T${i}`,
  run: "R",
  name: `train[${i}]`,
  node: "train",
  parent: null,
  status: "succeeded",
  exitCode: 0,
  attempts: 1,
  cached: false,
  startedAt: null,
  endedAt: null,
  outputDir: "/tmp",
  outputs: [],
  metrics: { accuracy: ACC[i], loss: 1 - ACC[i]! },
}));

beforeEach(() => {
  window.localStorage.setItem("baton.token", "secret");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      const i = Number(/T(\d)/.exec(url)?.[1]);
      return Response.json({ ...tasks[i], params: { lr: LRS[i], seed: 7 }, item: LRS[i] });
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("compare view", () => {
  it("tabulates params and metrics, best first, the best of each metric highlighted", async () => {
    const onSelect = vi.fn();
    const { container } = await render(
      <CompareView
        tasks={tasks}
        groups={groupByNode(tasks, undefined)}
        node="train"
        onNodeChange={() => {}}
        onSelectTask={onSelect}
        selectedId={null}
      />,
    );
    await flush(20);
    const table = container.querySelector("[data-testid=compare-table]")!;
    const headers = [...table.querySelectorAll("th .th-button")].map((b) => b.textContent);
    // seed is the same everywhere: hidden until asked for.
    expect(headers).toEqual(["Task", "Status", "lr", "accuracy", "loss"]);
    const order = () => [...table.querySelectorAll("tbody tr")].map((r) => r.getAttribute("data-task"));
    expect(order()).toEqual(["train[1]", "train[2]", "train[0]"]);
    const best = [...table.querySelectorAll(".cell-best")].map((c) => c.textContent);
    expect(best).toEqual(["★ 0.93", "★ 0.07"]);

    await click(byText(table, "th .th-button", "lr"));
    expect(order()).toEqual(["train[2]", "train[1]", "train[0]"]);
    await click(byText(table, "th .th-button", /^lr/));
    expect(order()).toEqual(["train[0]", "train[1]", "train[2]"]);

    // The chart: accuracy against lr, on a log scale, one point per task.
    expect(container.querySelectorAll("circle.chart-point")).toHaveLength(3);
    expect(container.querySelector(".chart")!.textContent).toContain("lr (log scale)");

    await click(table.querySelector('tr[data-task="train[2]"]'));
    expect(onSelect).toHaveBeenCalledWith("T2");
  });

  it("treats metrics named like members of JavaScript objects like any other: higher is best", async () => {
    const named = tasks.map((t, i) => ({ ...t, metrics: { constructor: ACC[i], valueOf: ACC[i] } }));
    const { container } = await render(
      <CompareView
        tasks={named}
        groups={groupByNode(named, undefined)}
        node="train"
        onNodeChange={() => {}}
        onSelectTask={() => {}}
        selectedId={null}
      />,
    );
    await flush(20);
    const table = container.querySelector("[data-testid=compare-table]")!;
    const order = () => [...table.querySelectorAll("tbody tr")].map((r) => r.getAttribute("data-task"));
    expect(order()).toEqual(["train[1]", "train[2]", "train[0]"]);
    const best = [...table.querySelectorAll(".cell-best")].map((c) => c.textContent);
    expect(best).toEqual(["★ 0.93", "★ 0.93"]);
  });
});
