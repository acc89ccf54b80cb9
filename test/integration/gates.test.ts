/**
 * Gates (on-error, actions, approval) with real processes: the built CLI, real SQLite, a real
 * server on 127.0.0.1.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { collect, isAlive, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";
import { type Server, killStarted, startServer, waitFor, waitForRun } from "../helpers/server.js";

afterEach(() => killStarted());

const byName = (tasks: Array<{ name: string; status: string }>) =>
  Object.fromEntries(tasks.map((t) => [t.name, t.status]));

describe("on-error", () => {
  it("stop-all: a failure cancels a sibling still running, and its process is killed", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    on-error: stop-all
    nodes:
      slow:
        run: echo $$ > slow.pid; exec sleep 60
      bad:
        run: while [ ! -s slow.pid ]; do sleep 0.1; done; exit 1
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.json.run.status).toBe("failed");
    expect(byName(r.json.tasks)).toEqual({ slow: "cancelled", bad: "failed" });
    const pid = Number(fs.readFileSync(path.join(dir, "slow.pid"), "utf8"));
    await waitFor("the cancelled task's process to be gone", () => !isAlive(pid), { timeoutMs: 15_000 });
    const shown = await runBaton(["show", r.json.run.id], dir);
    expect(shown.stdout).toContain("error     stopped: bad failed");
  }, 60_000);

  it("stop-next (the default): the sibling goes on, the dependent is skipped, the run fails", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      other: { run: sleep 1 }
      bad: { run: exit 1 }
      after: { needs: bad, run: echo after }
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(byName(r.json.tasks)).toEqual({ other: "succeeded", bad: "failed", after: "skipped" });
  }, 60_000);

  it("continue: the dependent runs and sees the failed task's outputs; the run succeeds", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      bad:
        run: echo partial > $BATON_OUTPUT_DIR/part.txt; exit 1
        on-error: continue
      after:
        needs: bad
        run: cat \${{ needs.bad.outputs['*.txt'] }} > seen.txt
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(0);
    expect(r.json.run.status).toBe("succeeded");
    expect(byName(r.json.tasks)).toEqual({ bad: "failed", after: "succeeded" });
    expect(fs.readFileSync(path.join(dir, "seen.txt"), "utf8")).toBe("partial\n");
  }, 60_000);

  it("retry: a failed task gets one more attempt when retries is 0", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      flaky:
        run: echo try >> tries.log; test -f marker || { touch marker; exit 1; }
        on-error: retry
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(0);
    expect(r.byName("flaky").attempts).toBe(2);
    expect(fs.readFileSync(path.join(dir, "tries.log"), "utf8")).toBe("try\ntry\n");
  }, 60_000);
});

describe("actions", () => {
  it("stop-pipeline on a metric: the run ends cancelled with the reason", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      evaluate:
        run: "echo '{\\"accuracy\\": 0.5}' >> $BATON_METRICS"
        actions:
          - when: node-complete
            if: metrics.accuracy < 0.8
            then: stop-pipeline
      deploy:
        needs: evaluate
        run: touch deployed
`,
    });
    const r = await runJson([], dir);
    expect(r.code).not.toBe(0);
    expect(r.json.run.status).toBe("cancelled");
    expect(byName(r.json.tasks)).toEqual({ evaluate: "succeeded", deploy: "cancelled" });
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(false);
    expect(r.stderr).toContain("cancelled in");
    expect(r.stderr).toContain("stopped by node evaluate: metrics.accuracy < 0.8");
    const shown = await runBaton(["show", r.json.run.id], dir);
    expect(shown.stdout).toContain("error     stopped by node evaluate: metrics.accuracy < 0.8");
  }, 60_000);

  it("a metric that passes lets the run go on", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      evaluate:
        run: "echo '{\\"accuracy\\": 0.9}' >> $BATON_METRICS"
        actions: [{ when: node-complete, if: metrics.accuracy < 0.8, then: stop-pipeline }]
      deploy: { needs: evaluate, run: touch deployed }
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(true);
  }, 60_000);
});

describe("approval", () => {
  const gated = `version: 1
pipelines:
  p:
    nodes:
      build: { run: echo built }
      deploy:
        needs: build
        approval: "deploy to prod?"
        run: touch deployed
      notify: { needs: deploy, run: touch notified }
`;
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function startGated(dir: string, s: Server) {
    const started = await s.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "p" });
    expect(started.status).toBe(201);
    const runId = started.body.run.id;
    const detail = await waitForRun(s, runId, (d) => d.tasks.some((t) => t.status === "waiting"), {
      what: "deploy to wait for approval",
    });
    const deploy = detail.tasks.find((t) => t.name === "deploy");
    expect(deploy.approval).toMatchObject({ state: "waiting", message: "deploy to prod?", by: null });
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(false);
    return { runId, taskId: deploy.id as string };
  }

  it("waits until `baton approve` (against a server); the decision is recorded and shown", async () => {
    const dir = makeProject({ "baton.yaml": gated });
    server = await startServer(dir);
    const { runId, taskId } = await startGated(dir, server);
    const waiting = await runBaton(["show", taskId], dir);
    expect(waiting.stdout).toContain("status    waiting");
    expect(waiting.stdout).toContain(
      `approval  waiting for approval: deploy to prod? (baton approve ${taskId}`,
    );
    const ls = await runBaton(["ls"], dir);
    expect(ls.stdout).toContain("1 waiting");

    const approved = await runBaton(["approve", taskId, "--comment", "ship it"], dir, { USER: "alice" });
    expect(approved.stderr).toBe("");
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`approved task ${taskId} deploy`);
    const done = await waitForRun(server, runId);
    expect(done.run.status).toBe("succeeded");
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "notified"))).toBe(true);
    const shown = await runBaton(["show", taskId, "--json"], dir);
    expect(JSON.parse(shown.stdout).approval).toMatchObject({
      state: "approved",
      by: "cli:alice",
      comment: "ship it",
    });
    expect((await runBaton(["show", taskId], dir)).stdout).toMatch(
      /approval {2}approved by cli:alice at \S+: ship it/,
    );

    // Not waiting any more: 409 with a clear message, and exit 2 from the CLI.
    const again = await server.api(`/api/v1/tasks/${taskId}/approve`, {});
    expect(again.status).toBe(409);
    expect(JSON.stringify(again.body)).toContain("is not waiting for approval (it is succeeded)");
    const cliAgain = await runBaton(["reject", taskId], dir);
    expect(cliAgain.code).not.toBe(0);
    expect(cliAgain.stderr).toContain("is not waiting for approval");
  }, 90_000);

  it("reject through the API: the task fails with who and why, its dependents are skipped", async () => {
    const dir = makeProject({ "baton.yaml": gated });
    server = await startServer(dir);
    const { runId, taskId } = await startGated(dir, server);
    const rejected = await server.api(`/api/v1/tasks/${taskId}/reject`, { comment: "not today" });
    expect(rejected.status).toBe(200);
    expect(rejected.body.approval).toMatchObject({ state: "rejected", by: "api", comment: "not today" });
    const done = await waitForRun(server, runId);
    expect(done.run.status).toBe("failed");
    expect(byName(done.tasks)).toEqual({ build: "succeeded", deploy: "failed", notify: "skipped" });
    const detail = await server.api(`/api/v1/tasks/${taskId}`);
    expect(detail.body.error).toBe("rejected by api: not today");
    expect(detail.body.approval).toMatchObject({ state: "rejected", by: "api", comment: "not today" });
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(false);
  }, 90_000);

  it("a waiting task is still waiting, and approvable, after the server is killed and restarted", async () => {
    const dir = makeProject({ "baton.yaml": gated });
    server = await startServer(dir);
    const { runId, taskId } = await startGated(dir, server);
    server.child.kill("SIGKILL");
    await server.exited;
    server = await startServer(dir);
    const detail = await waitForRun(
      server,
      runId,
      (d) => d.run.status === "running" && d.tasks.some((t) => t.status === "waiting"),
    );
    expect(detail.tasks.find((t) => t.id === taskId).status).toBe("waiting");
    const approved = await server.api(`/api/v1/tasks/${taskId}/approve`, { comment: "after restart" });
    expect(approved.status).toBe(200);
    const done = await waitForRun(server, runId);
    expect(done.run.status).toBe("succeeded");
    expect(fs.existsSync(path.join(dir, "deployed"))).toBe(true);
  }, 120_000);

  it("`baton run` keeps waiting, shows how to approve, and `baton approve` from another process lets it go on", async () => {
    const dir = makeProject({ "baton.yaml": gated });
    const child = startBaton(["run"], dir);
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    const done = collect(child);
    const taskId = await waitFor(
      "the run to show how to approve",
      () => /baton approve (task_\w+)/.exec(stderr)?.[1],
    );
    expect(stderr).toContain("deploy waiting: waiting for approval: deploy to prod?");
    const approved = await runBaton(["approve", taskId], dir);
    expect(approved.code).toBe(0);
    const end = await done;
    expect(end.code).toBe(0);
    expect(fs.existsSync(path.join(dir, "notified"))).toBe(true);
  }, 90_000);
});
