// @vitest-environment jsdom
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TaskView } from "../api/types";
import type { TaskMetrics } from "../lib/series";
import { groupByNode } from "../lib/tasks";
import { byText, cleanup, click, flush, render } from "../test/render";
import { CompareView } from "./compare-view";

const LRS = [0.1, 0.01];
const at = "2026-01-01T00:00:02.000Z";

function task(i: number, over: Partial<TaskView> = {}): TaskView {
  return {
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
    metrics: { accuracy: 0.9 - i / 10, loss: 0.2 + i / 10 },
    ...over,
  };
}

/** Task i's loss falls from 1 to 0.2 + i/10 in 5 steps; its accuracy rises in 3. */
function seriesOf(i: number): TaskMetrics {
  return {
    task: `T${i}`,
    last: {},
    series: {
      loss: [0, 1, 2, 3, 4].map((step) => ({ step, value: 1 - ((0.8 - i / 10) * step) / 4, at })),
      accuracy: [0, 1, 2].map((step) => ({ step: step * 2, value: 0.5 + step / 10 - i / 10, at })),
    },
  };
}

const asked: string[] = [];

beforeEach(() => {
  asked.length = 0;
  window.localStorage.setItem("baton.token", "secret");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      asked.push(url);
      const i = Number(/T(\d)/.exec(url)?.[1]);
      if (url.endsWith("/metrics")) return Response.json(seriesOf(i));
      return Response.json({ ...task(i), params: { lr: LRS[i] }, item: LRS[i] ?? null });
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function compare(tasks: TaskView[], onSelect = vi.fn()) {
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
  return container;
}

describe("compare: metric curves of the tasks overlaid", () => {
  it("draws one line per task for the chosen metric, with a legend naming the tasks", async () => {
    const onSelect = vi.fn();
    const container = await compare([task(0), task(1)], onSelect);
    const card = container.querySelector<HTMLElement>("[data-testid=compare-curves]")!;
    expect(card).not.toBeNull();
    const select = card.querySelector<HTMLSelectElement>('select[aria-label="Metric (curves)"]')!;
    // The scatter chart's metric (accuracy, the first) is shown first.
    expect([...select.options].map((o) => o.value)).toEqual(["loss", "accuracy"]);
    expect(select.value).toBe("accuracy");
    const lines = () =>
      [...card.querySelectorAll<SVGGElement>("g.series")].map((g) => ({
        task: g.getAttribute("data-line"),
        points: g.querySelector("path")!.getAttribute("data-points"),
        colour: g.querySelector("path")!.getAttribute("stroke"),
      }));
    expect(lines().map((l) => [l.task, l.points])).toEqual([
      ["train[0]", "3"],
      ["train[1]", "3"],
    ]);
    expect(new Set(lines().map((l) => l.colour)).size).toBe(2);
    expect(card.querySelector("svg")!.getAttribute("aria-label")).toBe("accuracy by step");

    await act(async () => {
      select.value = "loss";
      select.dispatchEvent(new Event("change", { bubbles: true }));
    });
    expect(lines().map((l) => [l.task, l.points])).toEqual([
      ["train[0]", "5"],
      ["train[1]", "5"],
    ]);
    const legend = [...card.querySelectorAll(".series-legend .legend-item")].map((b) => b.textContent);
    expect(legend).toEqual(["train[0]", "train[1]"]);
    // Lines and legend share colours.
    const swatches = [...card.querySelectorAll<HTMLElement>(".legend-swatch")].map((s) => s.style.background);
    expect(swatches).toHaveLength(2);
    expect(swatches[0]).not.toBe(swatches[1]);

    await click(byText(card, ".legend-item", "train[1]"));
    expect(onSelect).toHaveBeenCalledWith("T1");
  });

  it("asks only ended tasks for their series, and shows no curves when no task has two points", async () => {
    const container = await compare([task(0), task(1, { status: "running", metrics: {} })]);
    expect(asked).toContain("/api/v1/tasks/T0/metrics");
    expect(asked).not.toContain("/api/v1/tasks/T1/metrics");
    const card = container.querySelector("[data-testid=compare-curves]")!;
    expect([...card.querySelectorAll("g.series")].map((g) => g.getAttribute("data-line"))).toEqual([
      "train[0]",
    ]);
    cleanup();

    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) =>
        url.endsWith("/metrics")
          ? Response.json({ task: "T0", last: { loss: 1 }, series: { loss: [{ step: null, value: 1, at }] } })
          : Response.json({ ...task(0), params: { lr: 0.1 }, item: 0.1 }),
      ),
    );
    const none = await compare([task(0), task(1)]);
    expect(none.querySelector("[data-testid=compare-curves]")).toBeNull();
    // The rest of Compare is there as before.
    expect(none.querySelector("[data-testid=compare-table]")).not.toBeNull();
  });
});
