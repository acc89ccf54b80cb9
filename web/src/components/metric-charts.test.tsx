// @vitest-environment jsdom
import { act } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunSummary, TaskDetail, TaskView } from "../api/types";
import type { TaskMetrics } from "../lib/series";
import { byText, cleanup, flush, render } from "../test/render";
import { TaskPanel } from "./task-panel";

const RUN: RunSummary = {
  id: "01RUN",
  pipeline: "train",
  status: "succeeded",
  params: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  endedAt: "2026-01-01T00:00:05.000Z",
  parentRun: null,
  parentTask: null,
  specFile: "/p/baton.yaml",
  driven: false,
  counts: {
    pending: 0,
    waiting: 0,
    queued: 0,
    running: 0,
    succeeded: 1,
    failed: 0,
    cancelled: 0,
    skipped: 0,
    cached: 0,
  },
};

const VIEW: TaskView = {
  id: "01TASKFIT",
  run: RUN.id,
  name: "fit",
  node: "fit",
  parent: null,
  status: "succeeded",
  exitCode: 0,
  attempts: 1,
  cached: false,
  startedAt: "2026-01-01T00:00:01.000Z",
  endedAt: "2026-01-01T00:00:02.000Z",
  outputDir: "/p/out",
  outputs: [],
  metrics: { loss: 0.1, accuracy: 0.9, phase: "done" },
};

const DETAIL: TaskDetail = {
  ...VIEW,
  pool: "local",
  command: "python3 train.py",
  params: {},
  item: null,
  error: null,
  cacheKey: null,
  cache: null,
  createdAt: "2026-01-01T00:00:00.500Z",
  attemptsDetail: [],
};

const at = "2026-01-01T00:00:02.000Z";
const LOSS = [1, 0.7, 0.5, 0.35, 0.25, 0.2, 0.16, 0.13, 0.11, 0.1];

let metrics: TaskMetrics;

beforeEach(() => {
  window.localStorage.setItem("baton.token", "secret");
  metrics = {
    task: VIEW.id,
    last: { step: 9, loss: 0.1, accuracy: 0.9, phase: "done" },
    series: {
      loss: LOSS.map((value, step) => ({ step, value, at })),
      // One point: its value is in the table, no chart for it.
      accuracy: [{ step: 9, value: 0.9, at }],
      // Not numbers: no chart.
      phase: [
        { step: 0, value: "warmup", at },
        { step: 9, value: "done", at },
      ],
    },
  };
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url === `/api/v1/tasks/${VIEW.id}`) return Response.json(DETAIL);
      if (url === `/api/v1/tasks/${VIEW.id}/metrics`) return Response.json(metrics);
      if (url === `/api/v1/tasks/${VIEW.id}/outputs`) return Response.json({ task: VIEW.id, outputs: [] });
      return Response.json({ error: { code: "NOT_FOUND", message: "no" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function metricsSection(): Promise<HTMLElement> {
  const { container } = await render(
    <TaskPanel
      task={VIEW}
      run={RUN}
      pipeline={undefined}
      tab="overview"
      onTabChange={() => {}}
      onClose={() => {}}
      canRetry
      onChanged={() => {}}
      now={Date.parse("2026-01-01T00:01:00.000Z")}
    />,
  );
  await flush(10);
  const heading = byText(container, ".section h3", "Metrics");
  if (!heading) throw new Error(`no Metrics section in: ${container.textContent}`);
  return heading.closest(".section") as HTMLElement;
}

describe("task panel: metric series as line charts", () => {
  it("draws one chart per numeric metric with two points or more, a point per value at its step", async () => {
    const section = await metricsSection();
    const charts = [...section.querySelectorAll<HTMLElement>(".metric-chart")];
    expect(charts.map((c) => c.dataset.metric)).toEqual(["loss"]);
    const loss = charts[0]!;
    expect(loss.textContent).toContain("10 points · last 0.1");
    expect(loss.querySelectorAll("circle.series-point")).toHaveLength(10);
    expect(loss.querySelector("path.series-line")!.getAttribute("data-points")).toBe("10");
    expect(loss.querySelector("svg")!.getAttribute("aria-label")).toBe("loss by step");
    // Falling: each point is drawn lower than the one before (SVG's y grows downwards).
    const ys = [...loss.querySelectorAll("circle.series-point")].map((c) => Number(c.getAttribute("cy")));
    expect(ys.every((y, i) => i === 0 || y > ys[i - 1]!)).toBe(true);
    // The last values stay in the table above.
    expect(section.querySelector("table.kv")!.textContent).toContain("accuracy");
  });

  it("shows the value of the point under the pointer", async () => {
    const section = await metricsSection();
    const svg = section.querySelector<SVGSVGElement>(".metric-chart svg")!;
    // jsdom lays nothing out: the chart is as wide as its viewBox (480), at the page's left.
    svg.getBoundingClientRect = () => ({ left: 0, top: 0, width: 480, height: 170 }) as DOMRect;
    const circles = [...svg.querySelectorAll("circle.series-point")];
    const third = Number(circles[3]!.getAttribute("cx"));
    await act(async () => {
      svg.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: third + 2, clientY: 50 }));
    });
    const hover = section.querySelector("[data-testid=chart-hover]");
    expect(hover?.textContent).toContain("step 3");
    expect(hover?.textContent).toContain("loss = 0.35");
    await act(async () => {
      svg.dispatchEvent(new MouseEvent("mouseout", { bubbles: true, relatedTarget: document.body }));
    });
    expect(section.querySelector("[data-testid=chart-hover]")).toBeNull();
  });

  it("without steps, places the points at their index; without series, draws nothing", async () => {
    metrics.series.loss = LOSS.slice(0, 4).map((value) => ({ step: null, value, at }));
    let section = await metricsSection();
    expect(section.querySelector(".metric-chart svg")!.getAttribute("aria-label")).toBe("loss by index");
    expect(section.querySelectorAll("circle.series-point")).toHaveLength(4);
    cleanup();

    metrics = { task: VIEW.id, last: {}, series: {} };
    section = await metricsSection();
    expect(section.querySelector("[data-testid=metric-charts]")).toBeNull();
    expect(section.textContent).toContain("loss");
  });

  it("draws a long series as a line without dots", async () => {
    metrics.series.loss = Array.from({ length: 5000 }, (_, step) => ({ step, value: 1 / (step + 1), at }));
    const section = await metricsSection();
    const chart = section.querySelector(".metric-chart")!;
    expect(chart.textContent).toContain("5000 points");
    expect(chart.querySelectorAll("circle.series-point")).toHaveLength(0);
    expect(chart.querySelector("path.series-line")!.getAttribute("data-points")).toBe("5000");
    const segments = chart.querySelector("path.series-line")!.getAttribute("d")!.split("L").length;
    expect(segments).toBeLessThan(5000);
  });
});
