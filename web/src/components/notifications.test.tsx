// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { NotificationView } from "../api/types";
import { cleanup, flush, render } from "../test/render";
import { RunNotifications } from "./notifications";

const RUN = "run_01JABCDEFGHJKMNPQRSTVWXYZ0";
const row = (over: Partial<NotificationView>): NotificationView => ({
  id: "ntf_1",
  event: "failure",
  kind: "webhook",
  target: "https://hooks.example.com/baton",
  status: "delivered",
  attempts: 2,
  lastStatusCode: 200,
  lastError: "HTTP 500: boom",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:01.000Z",
  nextAttemptAt: null,
  ...over,
});

let answer: NotificationView[];
let asked: string[];
beforeEach(() => {
  asked = [];
  window.localStorage.setItem("baton.token", "t");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      asked.push(url);
      return Response.json({ notifications: answer });
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("run notifications", () => {
  it("lists each delivery with its status, attempts, code and last error", async () => {
    answer = [
      row({}),
      row({
        id: "ntf_2",
        kind: "email",
        target: "a@example.com",
        status: "failed",
        attempts: 0,
        lastStatusCode: null,
        lastError: "no SMTP server configured",
      }),
    ];
    const { container } = await render(<RunNotifications runId={RUN} status="failed" />);
    await flush();
    expect(asked).toEqual([`/api/v1/runs/${RUN}/notifications`]);
    expect(container.querySelector("summary")?.textContent).toBe(
      "Notifications: 1 of 2 delivered, some failed",
    );
    const cells = [...container.querySelectorAll("tbody tr")].map((tr) =>
      [...tr.querySelectorAll("td")].map((td) => td.textContent),
    );
    expect(cells).toEqual([
      ["failure", "https://hooks.example.com/baton", "delivered", "2", "200", "HTTP 500: boom"],
      ["failure", "a@example.com", "failed", "0", "", "no SMTP server configured"],
    ]);
  });

  it("shows nothing for a run without notifications", async () => {
    answer = [];
    const { container } = await render(<RunNotifications runId={RUN} status="succeeded" />);
    await flush();
    expect(container.textContent).toBe("");
  });
});
