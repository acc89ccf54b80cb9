/**
 * Finding tasks on the server (`GET /api/v1/tasks?name=&pipeline=&label=&status=`) and reading a
 * task's metric series (`GET /api/v1/tasks/:id/metrics`), against a real `baton server`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, runBaton } from "../helpers/cli.js";
import { type Json, type Server, killStarted, startServer, waitFor, waitForRun } from "../helpers/server.js";

const PROJECT = `version: 1
pipelines:
  train:
    params:
      lr: { type: float, default: 0.1 }
    nodes:
      fit:
        run: |
          for i in 1 2 3; do echo "{\\"step\\": $i, \\"loss\\": $(( 10 - i ))}" >> "$BATON_METRICS"; done
          echo '{"accuracy": 0.9}' >> "$BATON_METRICS"
  other:
    nodes:
      fit:
        run: "true"
`;

let s: Server;

beforeAll(async () => {
  s = await startServer(makeProject({ "baton.yaml": PROJECT }));
}, 60_000);

afterAll(async () => {
  await s?.stop();
  killStarted();
});

async function submit(body: Json): Promise<string> {
  const res = await s.api("/api/v1/tasks", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.ids[0];
}

async function ended(id: string): Promise<Json> {
  return waitFor(
    `task ${id} to end`,
    async () => {
      const t = (await s.api(`/api/v1/tasks/${id}`)).body;
      return ["succeeded", "failed", "cancelled", "skipped", "cached"].includes(t.status) ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

const names = (res: { body: { tasks: Array<{ name: string }> } }) => res.body.tasks.map((t) => t.name);

describe("GET /api/v1/tasks filters", () => {
  it("finds tasks by name, label and status in the store, newest first, with their labels", async () => {
    const a = await submit({ name: "prep", command: "true", labels: { team: "vision", stage: "dev" } });
    await ended(a);
    const b = await submit({ name: "prep", command: "true", labels: { team: "nlp" } });
    await ended(b);
    const c = await submit({ name: "fit", command: "exit 3", labels: { team: "vision" } });
    await ended(c);

    const byName = await s.api("/api/v1/tasks?name=prep");
    expect(byName.status).toBe(200);
    expect(byName.body.tasks.map((t: Json) => t.id)).toEqual([b, a]);
    expect(byName.body.tasks[1].labels).toEqual({ team: "vision", stage: "dev" });

    const latest = await s.api("/api/v1/tasks?name=prep&limit=1");
    expect(latest.body.tasks.map((t: Json) => t.id)).toEqual([b]);

    const vision = await s.api("/api/v1/tasks?label=team%3Dvision");
    expect(vision.body.tasks.map((t: Json) => t.id)).toEqual([c, a]);
    // Every label must match; a bare key matches any value.
    const both = await s.api("/api/v1/tasks?label=team=vision&label=stage");
    expect(both.body.tasks.map((t: Json) => t.id)).toEqual([a]);
    const hasTeam = await s.api("/api/v1/tasks?label=team");
    expect(hasTeam.body.tasks.map((t: Json) => t.id)).toEqual([c, b, a]);
    expect((await s.api("/api/v1/tasks?label=team=audio")).body.tasks).toEqual([]);

    const failed = await s.api("/api/v1/tasks?label=team=vision&status=failed");
    expect(names(failed)).toEqual(["fit"]);
    expect((await s.api("/api/v1/tasks?name=nothing-like-it")).body.tasks).toEqual([]);
  }, 120_000);

  it("finds the tasks of a pipeline's runs, and `baton ls --json` shows labels too", async () => {
    const first = await s.api("/api/v1/runs", { pipeline: "train" });
    await waitForRun(s, first.body.run.id, undefined, { timeoutMs: 60_000 });
    const other = await s.api("/api/v1/runs", { pipeline: "other" });
    await waitForRun(s, other.body.run.id, undefined, { timeoutMs: 60_000 });

    const res = await s.api("/api/v1/tasks?pipeline=train&name=fit");
    expect(res.body.tasks.map((t: Json) => t.run)).toEqual([first.body.run.id]);
    expect(res.body.tasks[0].labels).toEqual({});
    const ls = await runBaton(["ls", first.body.run.id, "--json"], s.dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('"labels": {}');
  }, 120_000);

  it("refuses a malformed label filter with a 400 naming query.label", async () => {
    const res = await s.api("/api/v1/tasks?label=%3Dvision");
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain("label");
  });
});

describe("GET /api/v1/tasks/:id/metrics", () => {
  it("returns the last values and every point in order, with its step", async () => {
    const run = await s.api("/api/v1/runs", { pipeline: "train", params: { lr: 0.2 } });
    const detail = await waitForRun(s, run.body.run.id, undefined, { timeoutMs: 60_000 });
    const task = detail.tasks.find((t: Json) => t.name === "fit");
    const res = await s.api(`/api/v1/tasks/${task.id}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body.last).toEqual({ step: 3, loss: 7, accuracy: 0.9 });
    expect(res.body.series.loss.map((p: Json) => [p.step, p.value])).toEqual([
      [1, 9],
      [2, 8],
      [3, 7],
    ]);
    expect(res.body.series.accuracy).toEqual([{ step: null, value: 0.9, at: expect.any(String) }]);
    expect(Object.keys(res.body.series).sort()).toEqual(["accuracy", "loss"]);
    // What `metrics` shows stays the last values.
    expect((await s.api(`/api/v1/tasks/${task.id}`)).body.metrics).toEqual(res.body.last);

    // A cached rerun shows the series of the task whose result it reused.
    const again = await s.api("/api/v1/runs", { pipeline: "train", params: { lr: 0.2 } });
    const second = await waitForRun(s, again.body.run.id, undefined, { timeoutMs: 60_000 });
    const cached = second.tasks.find((t: Json) => t.name === "fit");
    expect(cached.status).toBe("cached");
    const fromCache = await s.api(`/api/v1/tasks/${cached.id}/metrics`);
    expect(fromCache.body.series.loss.map((p: Json) => p.value)).toEqual([9, 8, 7]);
  }, 120_000);

  it("is empty for a task that wrote no metrics, and 404 for an unknown task", async () => {
    const id = await submit({ name: "quiet", command: "true" });
    await ended(id);
    expect((await s.api(`/api/v1/tasks/${id}/metrics`)).body).toEqual({ task: id, last: {}, series: {} });
    const missing = await s.api("/api/v1/tasks/task_01ZZZZZZZZZZZZZZZZZZZZZZZZ/metrics");
    expect(missing.status).toBe(404);
  }, 60_000);
});
