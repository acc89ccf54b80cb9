// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RunSummary } from "../api/types";
import { byText, cleanup, click, flush, render } from "../test/render";
import { PAGE_SIZE, RunsPage } from "./runs-page";

/** 60 runs, newest first: run-59 ... run-00; every fifth one failed. */
const RUNS: RunSummary[] = Array.from({ length: 60 }, (_, i) => {
  const n = 59 - i;
  return {
    id: `01RUN${String(n).padStart(2, "0")}`,
    pipeline: n % 2 ? "odd" : "even",
    status: n % 5 === 0 ? "failed" : "succeeded",
    params: {},
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 0, 1, 0, n, 30)).toISOString(),
    parentRun: null,
    parentTask: null,
    specFile: null,
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
});

let asked: URLSearchParams[];

beforeEach(() => {
  asked = [];
  window.localStorage.setItem("baton.token", "secret");
  window.history.replaceState(null, "", "/");
  // A server that filters and pages as GET /runs does.
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url === "/api/v1/pipelines") return Response.json({ pipelines: [] });
      const [path, search] = url.split("?");
      if (path !== "/api/v1/runs") return Response.json({ error: { code: "NOT_FOUND" } }, { status: 404 });
      const q = new URLSearchParams(search);
      asked.push(q);
      const limit = Number(q.get("limit") ?? 50);
      let rows = RUNS.filter(
        (r) =>
          (!q.get("pipeline") || r.pipeline === q.get("pipeline")) &&
          (!q.get("status") || r.status === q.get("status")),
      );
      const before = q.get("before");
      if (before) rows = rows.filter((r) => r.id < before);
      const page = rows.slice(0, limit);
      return Response.json({ runs: page, nextCursor: rows.length > limit ? page.at(-1)!.id : null });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const shown = (c: HTMLElement) =>
  [...c.querySelectorAll("tr[data-run]")].map((r) => r.getAttribute("data-run"));
const ids = (from: number, to: number) =>
  Array.from({ length: from - to + 1 }, (_, i) => `01RUN${String(from - i).padStart(2, "0")}`);
const button = (c: HTMLElement, label: RegExp) => byText(c, ".pager button", label) as HTMLButtonElement;

describe("runs page", () => {
  // The pages seen are remembered for the whole page load: each test uses other cursors.
  it("pages with the server's cursor, older and back to newer, reaching every run once", async () => {
    const { container } = await render(<RunsPage />);
    await flush();
    expect(shown(container)).toEqual(ids(59, 35));
    expect(asked.at(-1)!.toString()).toBe(`limit=${PAGE_SIZE}`);
    expect(button(container, /Newer/).disabled).toBe(true);

    await click(button(container, /Older/));
    await flush();
    expect(window.location.search).toBe("?before=01RUN35&page=2");
    expect(shown(container)).toEqual(ids(34, 10));
    expect(container.querySelector(".pager")!.textContent).toContain("Page 2");

    await click(button(container, /Older/));
    await flush();
    expect(shown(container)).toEqual(ids(9, 0));
    expect(button(container, /Older/).disabled).toBe(true);

    await click(button(container, /Newer/));
    await flush();
    expect(window.location.search).toBe("?before=01RUN35&page=2");
    expect(shown(container)).toEqual(ids(34, 10));
    await click(button(container, /Newer/));
    await flush();
    expect(window.location.search).toBe("");
    expect(shown(container)).toEqual(ids(59, 35));
  });

  it("filters on the server, starting again from the newest page", async () => {
    window.history.replaceState(null, "", "/?before=01RUN20&page=3");
    const { container } = await render(<RunsPage />);
    await flush();
    expect(shown(container)).toEqual(ids(19, 0));
    expect(container.querySelector(".pager")!.textContent).toContain("Page 3");
    // Opened from a link: the page before it is not known, so "Newest" goes to the first page.
    await click(button(container, /Newest/));
    await flush();
    expect(window.location.search).toBe("");
    expect(shown(container)).toEqual(ids(59, 35));
    await click(button(container, /Older/));
    await flush();
    await click(byText(container, ".chips button", "Failed"));
    await flush();
    expect(window.location.search).toBe("?status=failed");
    expect(asked.at(-1)!.get("status")).toBe("failed");
    expect(asked.at(-1)!.get("before")).toBeNull();
    expect(shown(container)).toEqual([
      "01RUN55",
      "01RUN50",
      "01RUN45",
      "01RUN40",
      "01RUN35",
      "01RUN30",
      "01RUN25",
      "01RUN20",
      "01RUN15",
      "01RUN10",
      "01RUN05",
      "01RUN00",
    ]);
    expect(button(container, /Older/).disabled).toBe(true);
  });
});
