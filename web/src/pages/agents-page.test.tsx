// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AgentView } from "../api/types";
import { cleanup, flush, render } from "../test/render";
import { AgentsPage } from "./agents-page";

const RUN = "run_01JABCDEFGHJKMNPQRSTVWXYZ0";
const TASK = "task_01JABCDEFGHJKMNPQRSTVWXYZ1";
const NOW = Date.parse("2026-03-01T12:00:00.000Z");

const agent = (name: string, ageS: number, connected: boolean, tasks: AgentView["tasks"]): AgentView => ({
  name,
  host: `${name}.lab`,
  pools: ["gpu", "cpu"],
  slots: 4,
  inUse: tasks.length,
  resources: { gpu: "1" },
  startedAt: "2026-03-01T11:00:00.000Z",
  lastHeartbeat: new Date(NOW - ageS * 1000).toISOString(),
  connected,
  tasks,
});

beforeEach(() => {
  vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
  window.localStorage.setItem("baton.token", "t");
  window.history.replaceState(null, "", "/agents");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      if (url === "/api/v1/agents")
        return Response.json({
          agents: [
            agent("alpha", 3, true, [{ taskId: TASK, runId: RUN, attempt: 1 }]),
            agent("beta", 300, false, []),
          ],
        });
      return Response.json({ error: { code: "NOT_FOUND", message: "no such route" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe("agents page", () => {
  it("shows each agent's host, pools, slots in use, last heartbeat and tasks, marking gone ones", async () => {
    const { container } = await render(<AgentsPage />);
    await flush();
    const cells = (name: string) =>
      [...container.querySelectorAll(`tr[data-agent="${name}"] td`)].map((c) => c.textContent?.trim());
    expect(cells("alpha").slice(0, 5)).toEqual(["alpha", "alpha.lab", "gpu, cpu", "1 / 4", "3 s ago"]);
    const link = container.querySelector('tr[data-agent="alpha"] a');
    expect(link?.getAttribute("href")).toBe(`/runs/${RUN}?task=${TASK}`);
    expect(cells("beta")[0]).toBe("beta gone");
    expect(cells("beta").slice(3)).toEqual(["0 / 4", "5 min ago", "–"]);
  });
});
