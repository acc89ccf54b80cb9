/**
 * Bounded fan-outs: a `matrix:` or `foreach:` that would make more tasks than the limits is
 * refused before anything is stored (CLI exit 2, API 4xx, located), a fan-out only known at run
 * time fails its node, a run that cannot be planned or resumed ends failed for good, and a large
 * allowed fan-out leaves the server answering while it is planned. Real processes throughout:
 * the built CLI, `baton server` on 127.0.0.1, SQLite.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeProject, runBaton } from "../helpers/cli.js";
import { killStarted, sleep, startServer, waitFor, waitForRun } from "../helpers/server.js";

const TEN = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";

/** Pipeline `p`, node `n`: a matrix of seven lists of ten values, 10,000,000 tasks. */
const HUGE_YAML = `version: 1
pipelines:
  p:
    nodes:
      n:
        matrix:
${Array.from({ length: 7 }, (_, i) => `          k${i}: ${TEN}`).join("\n")}
        run: "true"
`;

const HUGE_DEFINITION = {
  version: 1,
  pipelines: {
    p: {
      nodes: {
        n: {
          matrix: Object.fromEntries(
            Array.from({ length: 7 }, (_, i) => [`k${i}`, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]),
          ),
          run: "true",
        },
      },
    },
  },
};

const NODE_MESSAGE =
  "10,000,000 tasks (10 x 10 x 10 x 10 x 10 x 10 x 10) exceeds the limit of 100,000 tasks per node (BATON_MAX_TASKS_PER_NODE)";

afterEach(killStarted);

describe("fan-out limits on the command line", () => {
  it("baton validate and baton run refuse a 7 x 10 matrix at once, located, exit 2", async () => {
    const dir = makeProject({ "baton.yaml": HUGE_YAML });
    for (const args of [["validate"], ["run"]]) {
      const started = Date.now();
      const result = await runBaton(args, dir);
      const took = Date.now() - started;
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain(`baton.yaml:6:9 pipelines.p.nodes.n.matrix: ${NODE_MESSAGE}`);
      expect(result.stderr).toContain("baton.yaml:3:3 pipelines.p: a run makes 10,000,000 tasks");
      // Refused, not expanded (that took a minute and 4.5 GB): well under a few seconds.
      expect(took).toBeLessThan(10_000);
    }
    expect(fs.existsSync(path.join(dir, ".baton", "runs"))).toBe(false);
  });

  it("takes the limits from the environment, and checks params given at launch", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    params: { xs: { type: list, default: [1, 2, 3] } }
    nodes:
      a:
        foreach: \${{ params.xs }}
        run: "true"
`,
    });
    const env = { BATON_MAX_TASKS_PER_NODE: "5" };
    expect((await runBaton(["validate"], dir, env)).code).toBe(0);
    const refused = await runBaton(["run", "-p", "xs=[1,2,3,4,5,6]"], dir, env);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /baton\.yaml:6:7 pipelines\.p\.nodes\.a\.foreach: 6 tasks \(6 from params\.xs\) exceeds the limit of 5 tasks per node \(BATON_MAX_TASKS_PER_NODE\)/,
    );
    const ls = await runBaton(["ls", "--json"], dir);
    expect(ls.stdout + ls.stderr).not.toContain('"name": "a[');

    const lower = await runBaton(["validate"], dir, { BATON_MAX_TASKS_PER_NODE: "2" });
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain(
      "pipelines.p.nodes.a.foreach: 3 tasks (3 from params.xs) exceeds the limit of 2",
    );
    const bad = await runBaton(["validate"], dir, { BATON_MAX_TASKS_PER_RUN: "many" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("BATON_MAX_TASKS_PER_RUN=many: expected a whole number of tasks");
  });
});

describe("fan-out limits on the server", () => {
  it("answers 400 with the JSON path to a 10,000,000-task definition, stores nothing, stays up", async () => {
    const dir = makeProject({});
    const s = await startServer(dir);
    const started = Date.now();
    const refused = await s.api("/api/v1/runs", { definition: HUGE_DEFINITION });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("SPEC_INVALID");
    expect(refused.body.error.problems).toContainEqual(
      expect.objectContaining({ path: "body.definition.pipelines.p.nodes.n.matrix", message: NODE_MESSAGE }),
    );
    const registered = await s.api("/api/v1/pipelines", { name: "p", definition: HUGE_DEFINITION });
    expect(registered.status).toBe(400);
    expect(registered.body.error.problems[0].path).toMatch(/^body\.definition\.pipelines\.p/);

    expect((await s.api("/api/v1/runs")).body.runs).toEqual([]);
    expect((await s.api("/api/v1/pipelines")).body.pipelines ?? []).not.toContainEqual(
      expect.objectContaining({ name: "p" }),
    );
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    await s.stop();
  });

  it("refuses params that make a registered pipeline too big, with --max-tasks-per-node", async () => {
    const dir = makeProject({});
    const s = await startServer(dir, { args: ["--max-tasks-per-node", "4"] });
    const definition = {
      version: 1,
      pipelines: {
        q: {
          params: { xs: { type: "list", default: [1, 2] } },
          nodes: { a: { foreach: "${{ params.xs }}", run: "true" } },
        },
      },
    };
    expect((await s.api("/api/v1/pipelines", { name: "q", definition })).status).toBe(201);
    const refused = await s.api("/api/v1/runs", { pipeline: "q", params: { xs: [1, 2, 3, 4, 5] } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("TOO_MANY_TASKS");
    expect(refused.body.error.problems[0]).toMatchObject({
      path: "pipelines.q.nodes.a.foreach",
      message: "5 tasks (5 from params.xs) exceeds the limit of 4 tasks per node (BATON_MAX_TASKS_PER_NODE)",
    });
    expect((await s.api("/api/v1/runs")).body.runs).toEqual([]);
    await s.stop();
  });

  it("fails a run whose fan-out, known only at run time, is over the limit; it stays failed after a restart", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  d:
    nodes:
      gen:
        run: for i in $(seq 1 20); do touch "$BATON_OUTPUT_DIR/f$i.txt"; done
      each:
        needs: [gen]
        foreach: \${{ needs.gen.outputs['*.txt'] }}
        run: echo \${{ item }}
`,
    });
    const env = { BATON_MAX_TASKS_PER_NODE: "10" };
    let s = await startServer(dir, { env });
    const started = await s.api("/api/v1/runs", { pipeline: "d" });
    expect(started.status).toBe(201);
    const id = started.body.run.id as string;
    expect(
      (await waitForRun(s, id, (d) => d.run.status !== "running", { timeoutMs: 60_000 })).run.status,
    ).toBe("failed");
    const detail = await s.api(`/api/v1/runs/${id}`);
    const each = detail.body.tasks.find((t: { name: string }) => t.name === "each");
    expect(each.status).toBe("failed");
    const task = await s.api(`/api/v1/tasks/${each.id}`);
    expect(task.body.error).toMatch(
      /baton\.yaml:7:7 pipelines\.d\.nodes\.each\.foreach: 20 tasks exceeds the limit of 10 tasks per node \(BATON_MAX_TASKS_PER_NODE\)/,
    );
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    await s.stop();

    s = await startServer(dir, { env });
    await sleep(500);
    expect(s.stderr()).not.toContain("resumed run");
    const after = (await s.api("/api/v1/runs")).body.runs.find((r: { id: string }) => r.id === id);
    expect(after.status).toBe("failed");
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    await s.stop();
  });

  it("fails a run that cannot be resumed, with the reason, and does not try it again at the next start", async () => {
    const yaml = (node: string) => `version: 1
pipelines:
  nap:
    nodes:
      ${node}:
        run: sleep 3
`;
    const dir = makeProject({ "baton.yaml": yaml("long") });
    let s = await startServer(dir);
    const id = (await s.api("/api/v1/runs", { pipeline: "nap" })).body.run.id as string;
    await waitFor(
      "the task to run",
      async () => {
        const { body } = await s.api(`/api/v1/runs/${id}`);
        return body.tasks.some((t: { status: string }) => t.status === "running") ? true : undefined;
      },
      { timeoutMs: 60_000 },
    );
    s.child.kill("SIGKILL"); // the engine dies: the run is left `running`
    await s.exited;
    // The file changed meanwhile: the run's node is gone, so it cannot be resumed.
    fs.writeFileSync(path.join(dir, "baton.yaml"), yaml("renamed"));

    s = await startServer(dir);
    const failed = await waitFor(
      "the run to be failed",
      async () => {
        const run = (await s.api("/api/v1/runs")).body.runs.find((r: { id: string }) => r.id === id);
        return run.status === "failed" ? run : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(failed.error).toMatch(/^cannot resume: .*node "long", which is no longer in pipeline "nap"/);
    expect(s.stderr()).toContain(`cannot resume run ${id}`);
    await s.stop();

    s = await startServer(dir);
    await sleep(1_000);
    expect(s.stderr()).not.toContain("cannot resume");
    const again = (await s.api("/api/v1/runs")).body.runs.find((r: { id: string }) => r.id === id);
    expect(again).toMatchObject({ status: "failed", error: failed.error });
    const show = await runBaton(["show", id], dir);
    expect(show.stdout).toContain(`error     ${failed.error}`);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    await s.stop();
  });

  it("keeps answering /healthz while it plans 100,000 tasks", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  big:
    nodes:
      t:
        matrix:
          a: [${Array.from({ length: 100 }, (_, i) => i).join(", ")}]
          b: [${Array.from({ length: 1000 }, (_, i) => i).join(", ")}]
        run: "true"
`,
    });
    const s = await startServer(dir);
    let polling = true;
    let worst = 0;
    let answers = 0;
    const poll = (async () => {
      let last = performance.now();
      while (polling) {
        const res = await fetch(`${s.url}/healthz`);
        await res.arrayBuffer();
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
        answers++;
      }
    })();
    const started = await s.api("/api/v1/runs", { pipeline: "big" });
    expect(started.status).toBe(201);
    // Planned: every task recorded. Then a while of preparing and queueing them.
    expect(Object.values(started.body.run.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(
      100_000,
    );
    await sleep(3_000);
    polling = false;
    await poll;
    // Generous on a loaded 2-core machine: planning in one go blocked it for seconds.
    expect(worst, `longest wait for /healthz (${answers} answers)`).toBeLessThan(1_000);
    expect(answers).toBeGreaterThan(10);
    s.child.kill("SIGKILL");
    await s.exited;
  }, 120_000);
});
