// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CacheExplanation, RunSummary, TaskDetail, TaskView } from "../api/types";
import { byText, cleanup, click, flush, render } from "../test/render";
import { TaskPanel } from "./task-panel";

const RUN: RunSummary = {
  id: "01RUN2",
  pipeline: "train",
  status: "succeeded",
  params: { lr: 0.02 },
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
    cached: 1,
  },
};

const KEY = "bffe19c86d292bebaf031fbf45dfd347534d0c7ea5f0461e31f2e62dc1ab0a4f";

function view(status: TaskView["status"]): TaskView {
  return {
    id: "01TASKFIT2",
    run: RUN.id,
    name: "fit",
    node: "fit",
    parent: null,
    status,
    exitCode: status === "cached" ? 0 : status === "failed" ? 1 : 0,
    attempts: status === "cached" ? 0 : 1,
    cached: status === "cached",
    startedAt: "2026-01-01T00:00:01.000Z",
    endedAt: "2026-01-01T00:00:02.000Z",
    outputDir: "/p/.baton/runs/01RUN2/01TASKFIT2/output",
    outputs: [],
    metrics: {},
  };
}

function detail(status: TaskView["status"], cache: CacheExplanation | null): TaskDetail {
  return {
    ...view(status),
    pool: "local",
    command: 'echo "lr=$BATON_PARAM_LR" > "$BATON_OUTPUT_DIR/model.txt"',
    params: { lr: 0.02 },
    item: null,
    error: null,
    cacheKey: cache?.key ?? null,
    cache,
    createdAt: "2026-01-01T00:00:00.500Z",
    attemptsDetail: [],
  };
}

const PARTS: CacheExplanation["parts"] = {
  command: 'echo "lr=$BATON_PARAM_LR" > "$BATON_OUTPUT_DIR/model.txt"',
  params: { lr: 0.02 },
  env: {},
  inputs: { data: 2 },
  deps: ["train.py"],
  resources: {},
  outputs: [],
};

const ran = (over: Partial<CacheExplanation>): CacheExplanation => ({
  key: KEY,
  verdict: "first-run",
  hit: false,
  reusedFrom: null,
  reusedFromRun: null,
  parts: PARTS,
  previousTaskId: null,
  previousRunId: null,
  changes: [],
  ...over,
});

let served: TaskDetail;

beforeEach(() => {
  window.localStorage.setItem("baton.token", "secret");
  window.history.replaceState(null, "", `/runs/${RUN.id}?task=01TASKFIT2`);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url === `/api/v1/tasks/${served.id}`) return Response.json(served);
      if (url === `/api/v1/tasks/${served.id}/outputs`)
        return Response.json({ task: served.id, outputs: [] });
      return Response.json({ error: { code: "NOT_FOUND", message: "no" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

/** The task panel on its details tab, and its Cache section once the task is loaded. */
async function cacheSection(d: TaskDetail): Promise<HTMLElement> {
  served = d;
  const { container } = await render(
    <TaskPanel
      task={view(d.status)}
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
  await flush();
  const heading = byText(container, ".section h3", "Cache");
  if (!heading) throw new Error(`no Cache section in: ${container.textContent}`);
  return heading.closest(".section") as HTMLElement;
}

const lines = (section: HTMLElement) =>
  [...section.querySelectorAll(".cache-change")].map((li) => li.textContent?.replace(/\s+/g, " ").trim());

describe("task panel: the cache explanation", () => {
  it("a task that ran because its key changed: why it ran, one change a line, the previous task linked", async () => {
    const section = await cacheSection(
      detail(
        "succeeded",
        ran({
          verdict: "changed",
          previousTaskId: "01TASKFIT1",
          previousRunId: "01RUN1",
          changes: [
            {
              part: "command",
              name: null,
              before: "python train.py --epochs 2\n",
              after: "python train.py --epochs 3\n",
              text: "command: python train.py --epochs 2 -> python train.py --epochs 3",
            },
            { part: "param", name: "lr", before: "0.01", after: "0.02", text: "param lr: 0.01 -> 0.02" },
            { part: "env", name: "MODE", before: null, after: '"fast"', text: 'env MODE: added ("fast")' },
            {
              part: "input",
              name: "data/a.csv",
              before: "a".repeat(64),
              after: "b".repeat(64),
              text: "input data/a.csv: content changed",
            },
            {
              part: "input",
              name: "data/b.csv",
              before: null,
              after: "c".repeat(64),
              text: "input data/b.csv: new file",
            },
            {
              part: "dep",
              name: "train.py",
              before: "d".repeat(64),
              after: null,
              text: "dep train.py: no longer there",
            },
            {
              part: "upstream",
              name: null,
              before: null,
              after: null,
              text: "upstream output: content of 1 file(s) or folder(s) named in the command changed",
            },
          ],
        }),
      ),
    );
    expect(section.querySelector("h4")?.textContent).toBe("Why it ran");
    expect(section.textContent).toContain("Its cache key changed since task 01TASKFIT1 of run 01RUN1");
    expect(section.querySelector("a")?.getAttribute("href")).toBe(
      "/runs/01RUN1?task=01TASKFIT1&panel=overview",
    );
    expect(lines(section)).toEqual([
      expect.stringMatching(/^command text changed \(1 line\)/),
      "param lr 0.01 → 0.02",
      'env MODE added "fast"',
      "input data/a.csv content changed",
      "input data/b.csv new file",
      "dep train.py no longer there",
      "upstream content of 1 file(s) or folder(s) named in the command changed",
    ]);
    // The command's change is folded, and marks what differs.
    const command = section.querySelector('.cache-change[data-part="command"] details')!;
    expect(command.hasAttribute("open")).toBe(false);
    expect(command.querySelector(".change-before")?.textContent).toBe("python train.py --epochs 2");
    expect(command.querySelector(".change-before mark")?.textContent).toBe("2");
    expect(command.querySelector(".change-after mark")?.textContent).toBe("3");
    const param = section.querySelector('.cache-change[data-part="param"]')!;
    expect(param.querySelector(".change-before-value")?.textContent).toBe("0.01");
    expect(param.querySelector(".change-after-value")?.textContent).toBe("0.02");
    expect(param.getAttribute("title")).toBe("param lr: 0.01 -> 0.02");
    // The key, and what it was computed from.
    expect(section.querySelector(".cache-key")?.textContent).toBe(
      "Cache key bffe19c86d292beb · from the command, param lr, 2 input files, 1 dep",
    );
  });

  it("a command change alone is shown open, its unchanged lines left out", async () => {
    const before = "set -e\nprep --fast\ntrain --lr 0.1\necho done\n";
    const after = "set -e\nprep --fast\ntrain --lr 0.1 --seed 4\necho done\n";
    const section = await cacheSection(
      detail(
        "succeeded",
        ran({
          verdict: "changed",
          previousTaskId: "01TASKFIT1",
          previousRunId: "01RUN1",
          changes: [{ part: "command", name: null, before, after, text: "command: ..." }],
        }),
      ),
    );
    const command = section.querySelector(".cache-change details")!;
    expect(command.hasAttribute("open")).toBe(true);
    const rows = [...command.querySelectorAll(".change-diff > span")].map((r) => [
      r.className,
      r.textContent,
    ]);
    expect(rows).toEqual([
      ["change-same", "⋯ 2 unchanged lines"],
      ["change-before", "train --lr 0.1"],
      ["change-after", "train --lr 0.1 --seed 4"],
      ["change-same", "⋯ 1 unchanged line"],
    ]);
    expect(command.querySelector(".change-after mark")?.textContent).toBe(" --seed 4");
  });

  it("a cached task: whose result it reused, linked", async () => {
    const section = await cacheSection(
      detail("cached", {
        key: KEY,
        verdict: "reused",
        hit: true,
        reusedFrom: "01TASKFIT1",
        reusedFromRun: "01RUN1",
        parts: null,
        previousTaskId: null,
        previousRunId: null,
        changes: [],
      }),
    );
    expect(section.querySelector(".badge-cached")?.textContent).toBe("Reused");
    expect(section.textContent).toContain(
      "No process ran: outputs and metrics were reused from task 01TASKFIT1 of run 01RUN1, which ran with the same cache key.",
    );
    const link = section.querySelector("a")!;
    expect(link.getAttribute("href")).toBe("/runs/01RUN1?task=01TASKFIT1&panel=overview");
    expect(section.querySelector("h4")).toBeNull();
    // Following the link opens that task.
    await click(link);
    expect(window.location.pathname + window.location.search).toBe(
      "/runs/01RUN1?task=01TASKFIT1&panel=overview",
    );
  });

  it("the first run of a node, a rerun with the same key, and a task without a key", async () => {
    let section = await cacheSection(detail("succeeded", ran({ verdict: "first-run" })));
    expect(section.querySelector(".cache-why")?.textContent).toContain("First run of this node");
    expect(section.querySelectorAll(".cache-change")).toHaveLength(0);
    cleanup();

    section = await cacheSection(
      detail("failed", ran({ verdict: "same-key", previousTaskId: "01TASKFIT1", previousRunId: "01RUN1" })),
    );
    const why = section.querySelector(".cache-why")!.textContent;
    expect(why).toContain("Same cache key as task 01TASKFIT1");
    expect(why).toContain("--no-cache");
    expect(why).toContain("Failed tasks are never cached.");
    cleanup();

    section = await cacheSection(detail("succeeded", null));
    expect(section.textContent).toContain("No cache key");
  });
});

describe("task panel: approval (gates)", () => {
  it("a waiting task has Approve / Reject buttons; Approve posts the decision as `web`", async () => {
    const posted: Array<{ url: string; body: unknown }> = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init?: RequestInit) => {
        if (init?.method === "POST") {
          posted.push({ url, body: JSON.parse(String(init.body)) });
          return Response.json(served);
        }
        if (url === `/api/v1/tasks/${served.id}`) return Response.json(served);
        return Response.json({ task: served.id, outputs: [] });
      }),
    );
    vi.stubGlobal("prompt", () => "ship it");
    const waiting = {
      ...view("waiting"),
      approval: {
        state: "waiting" as const,
        message: "deploy?",
        requestedAt: "2026-01-01T00:00:01.000Z",
        by: null,
        at: null,
        comment: null,
      },
    };
    served = { ...detail("waiting", null), approval: waiting.approval };
    const { container } = await render(
      <TaskPanel
        task={waiting}
        run={{ ...RUN, status: "running" }}
        pipeline={undefined}
        tab="overview"
        onTabChange={() => {}}
        onClose={() => {}}
        canRetry
        onChanged={() => {}}
        now={Date.parse("2026-01-01T00:01:00.000Z")}
      />,
    );
    await flush();
    expect(container.querySelector("[data-testid=approval]")?.textContent).toContain(
      "waiting for approval: deploy?",
    );
    expect(byText(container, "button", "Reject")).toBeTruthy();
    await click(byText(container, "button", "Approve")!);
    await flush();
    expect(posted).toEqual([
      { url: `/api/v1/tasks/${served.id}/approve`, body: { by: "web", comment: "ship it" } },
    ]);
  });
});
