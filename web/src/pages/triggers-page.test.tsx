// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TriggerView } from "../api/types";
import { byText, cleanup, click, flush, render } from "../test/render";
import { TriggersPage } from "./triggers-page";

const RUN = "run_01JABCDEFGHJKMNPQRSTVWXYZ0";

const weekly = (paused: boolean): TriggerView => ({
  name: "weekly-retrain",
  pipeline: "train",
  kind: "cron",
  schedule: "0 9 * * MON",
  timezone: "Europe/Helsinki",
  overlap: "skip",
  catchup: "latest",
  paused,
  source: "file",
  where: "baton.yaml:12:7",
  nextFireAt: paused ? null : "2099-01-05T07:00:00.000Z",
  lastFireAt: "2026-01-05T07:00:00.000Z",
  lastRun: { id: RUN, status: "succeeded" },
  lastOutcome: { outcome: "started", message: null, at: "2026-01-05T07:00:00.000Z" },
});

let paused: boolean;
let posted: string[];

beforeEach(() => {
  paused = false;
  posted = [];
  window.localStorage.setItem("baton.token", "t");
  window.history.replaceState(null, "", "/triggers");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      if (init?.method === "POST") {
        posted.push(url);
        if (url.endsWith("/pause")) paused = true;
        if (url.endsWith("/resume")) paused = false;
        if (url.endsWith("/fire")) return Response.json({ run: { id: "run_new" } }, { status: 201 });
        return Response.json({ trigger: weekly(paused) });
      }
      if (url === "/api/v1/triggers") return Response.json({ triggers: [weekly(paused)] });
      return Response.json({ error: { code: "NOT_FOUND", message: "no such route" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("triggers page", () => {
  it("lists triggers with schedule, next fire, last run and state; pauses, resumes and runs them", async () => {
    const { container } = await render(<TriggersPage />);
    await flush();
    const row = () => container.querySelector('tr[data-trigger="weekly-retrain"]')!;
    const cells = [...row().querySelectorAll("td")].map((c) => c.textContent?.trim());
    expect(cells.slice(0, 3)).toEqual(["weekly-retrain", "train", "0 9 * * MON Europe/Helsinki"]);
    expect(cells[5]).toBe("Active");
    expect(row().querySelector(`a[href="/runs/${RUN}"]`)).not.toBeNull();
    expect(row().querySelector('[data-status="succeeded"]')).not.toBeNull();

    await click(byText(row(), "button", "Pause"));
    await flush();
    expect(posted).toEqual(["/api/v1/triggers/weekly-retrain/pause"]);
    expect(row().textContent).toContain("Paused");

    await click(byText(row(), "button", "Resume"));
    await flush();
    expect(posted.at(-1)).toBe("/api/v1/triggers/weekly-retrain/resume");

    await click(byText(row(), "button", "Run now"));
    await flush();
    expect(posted.at(-1)).toBe("/api/v1/triggers/weekly-retrain/fire");
    expect(window.location.pathname).toBe("/runs/run_new");
  });
});
