// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunDetail, RunSummary, TaskView } from "../api/types";
import { FeedbackProvider } from "../components/feedback";
import { cleanup, flush, render } from "../test/render";
import { RunPage } from "./run-page";

const RUN: RunSummary = {
  id: "run_01JABCDEFGHJKMNPQRSTVWXYZ0",
  pipeline: "sweep",
  status: "failed",
  params: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  endedAt: "2026-01-01T00:00:01.000Z",
  parentRun: null,
  parentTask: null,
  specFile: null,
  error: 'planning failed: foreach of node "train" is not a list',
  driven: false,
  counts: {
    pending: 0,
    queued: 0,
    running: 0,
    waiting: 0,
    succeeded: 1,
    failed: 0,
    cancelled: 0,
    skipped: 0,
    cached: 0,
  },
};

const TASK: TaskView = {
  id: "task_01JABCDEFGHJKMNPQRSTVWXYZ1",
  run: RUN.id,
  name: "prep",
  node: null,
  parent: null,
  status: "succeeded",
  exitCode: 0,
  attempts: 1,
  cached: false,
  startedAt: "2026-01-01T00:00:00.100Z",
  endedAt: "2026-01-01T00:00:00.900Z",
  outputDir: "/p/out",
  outputs: [],
  metrics: {},
};

let run: RunSummary;

beforeEach(() => {
  run = RUN;
  window.localStorage.setItem("baton.token", "secret");
  window.history.replaceState(null, "", `/runs/${RUN.id}`);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url === "/api/v1/pipelines") return Response.json({ pipelines: [] });
      if (url === `/api/v1/runs/${RUN.id}`) {
        const detail: RunDetail = { run, tasks: [TASK], childRuns: [] };
        return Response.json(detail);
      }
      return Response.json({ error: { code: "NOT_FOUND", message: "no such route" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const page = () => (
  <FeedbackProvider>
    <RunPage id={RUN.id} />
  </FeedbackProvider>
);

describe("run view: why the run failed or stopped", () => {
  it("shows the run's error from the API", async () => {
    const { container } = await render(page());
    await flush();
    expect(container.querySelector("h1")!.textContent).toBe("sweep");
    const alert = container.querySelector('.run-head [role="alert"]');
    expect(alert?.textContent).toBe(
      'Why the run failed: planning failed: foreach of node "train" is not a list',
    );
  });

  it("says the run stopped when it was cancelled with a reason", async () => {
    run = { ...RUN, status: "cancelled", error: "stopped by node evaluate: metrics.accuracy < 0.8" };
    const { container } = await render(page());
    await flush();
    expect(container.querySelector('.run-head [role="alert"]')?.textContent).toBe(
      "Why the run stopped: stopped by node evaluate: metrics.accuracy < 0.8",
    );
  });

  it("shows nothing of the kind when the run has no error", async () => {
    run = { ...RUN, status: "succeeded", error: null };
    const { container } = await render(page());
    await flush();
    expect(container.querySelector("h1")!.textContent).toBe("sweep");
    expect(container.querySelector('.run-head [role="alert"]')).toBeNull();
  });
});
