/**
 * Remote agents (docs/scale-out.md "Remote agents"): a real `baton server` and two real `baton
 * agent` processes, each with its own --workdir in /tmp and no access to the server's `.baton/`
 * (they get only its URL and token). Covered: a fan-out spread over both agents, files passed
 * agent → server → agent, a nested `baton submit` from an agent's task, SIGKILL of an agent
 * mid-task (the task reruns on the other), cancel reaching the agent, and a server restart
 * mid-task (the agent keeps running and reports once the server is back).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ENV, project, startAgent, startRun, taskLog } from "../helpers/agents.js";
import { BATON_BIN, isAlive } from "../helpers/cli.js";
import { netnsHosts } from "../helpers/netns.js";
import { killStarted, sleep, startServer, track, waitFor, waitForRun } from "../helpers/server.js";

afterEach(() => killStarted());

describe("remote agents (loopback, separate work folders)", () => {
  it("waits queued with no agent, then spreads a fan-out over two agents, passing files through the server, and runs a nested submit", async () => {
    const dir = project(`      make:
        pool: gpu
        run: echo "made by $BATON_AGENT" > "$BATON_OUTPUT_DIR/data.txt"
      fan:
        pool: gpu
        needs: [make]
        foreach: [1, 2, 3, 4, 5, 6]
        inputs: { data: "\${{ needs.make.outputs['*.txt'] }}" }
        # Long enough that the second agent connects before the first could take all six.
        run: |
          sleep 3
          echo "item \${{ item }} read $(cat \${{ inputs.data }})"
          echo '{"n": \${{ item }}}' > "$BATON_METRICS"
      nested:
        pool: gpu
        run: ${process.execPath} ${BATON_BIN} submit --wait -n child echo nested-ok-from-$BATON_AGENT
`);
    const server = await startServer(dir, { env: ENV });
    const runId = await startRun(server);
    // No agent yet: the tasks wait, saying why.
    const queued = await waitForRun(server, runId, (d) =>
      d.tasks.some((t) => t.queueReason === "no agent of pool gpu is connected"),
    );
    expect(queued.run.status).toBe("running");

    const a = startAgent(server, "alpha");
    const b = startAgent(server, "beta");
    const done = await waitForRun(server, runId, undefined, { timeoutMs: 90_000 });
    expect(
      done.run.status,
      `${JSON.stringify(done.tasks.map((t) => [t.name, t.status, t.error]))}\n${a.stderr()}\n${b.stderr()}\n${server.stderr()}`,
    ).toBe("succeeded");

    const fans = done.tasks.filter((t) => t.name.startsWith("fan["));
    expect(fans).toHaveLength(6);
    const ranOn = new Set<string>();
    for (const fan of fans) {
      const detail = (await server.api(`/api/v1/tasks/${fan.id}`)).body;
      const executor = detail.attemptsDetail.at(-1).executor;
      expect(executor.kind).toBe("agent");
      ranOn.add(executor.id.split("/")[0]);
      // The upstream output, made on one agent, reached this one through the server.
      expect(await taskLog(server, fan.id)).toMatch(/^item \d read made by (alpha|beta)$/m);
      expect(detail.metrics).toEqual({ n: Number(detail.item) });
    }
    expect([...ranOn].sort()).toEqual(["alpha", "beta"]);

    // The producer's output is on the server, in its output folder and its content store.
    const make = done.tasks.find((t) => t.name === "make");
    const outputs: string[] = (await server.api(`/api/v1/tasks/${make.id}`)).body.outputs;
    expect(outputs.map((o) => path.basename(o))).toEqual(["data.txt"]);
    expect(fs.readFileSync(outputs[0]!, "utf8")).toMatch(/^made by (alpha|beta)\n$/);

    // The nested submit reached the server from the agent (BATON_URL is the agent's --server).
    const nested = done.tasks.find((t) => t.name === "nested");
    expect(await taskLog(server, nested.id)).toMatch(/nested-ok-from-(alpha|beta)/);

    const agents = (await server.api("/api/v1/agents")).body.agents;
    expect(agents.map((x: { name: string }) => x.name)).toEqual(["alpha", "beta"]);
    expect(agents[0]).toMatchObject({ pools: ["gpu"], slots: 3, connected: true });
    // Neither agent touched the server's state folder.
    expect(fs.readdirSync(a.workdir)).not.toContain(".baton");
  }, 150_000);

  it("an agent killed with SIGKILL mid-task loses its lease: the task reruns on the other agent and the run succeeds", async () => {
    const dir = project(`      slow:
        pool: gpu
        retries: { limit: 1, backoff: 1s }
        run: echo "start on $BATON_AGENT"; sleep 6; echo "end on $BATON_AGENT" > "$BATON_OUTPUT_DIR/end.txt"
`);
    const server = await startServer(dir, { env: ENV });
    const runId = await startRun(server);
    const a = startAgent(server, "alpha", 1);
    const running = await waitForRun(
      server,
      runId,
      (d) => d.tasks[0]?.status === "running" && d.tasks[0]?.queueReason === null,
    );
    const taskId = running.tasks[0].id as string;
    await waitFor("alpha to hold the task", async () =>
      (await server.api(`/api/v1/tasks/${taskId}`)).body.attemptsDetail[0]?.executor?.id?.startsWith(
        "alpha/",
      ),
    );
    a.child.kill("SIGKILL");
    startAgent(server, "beta", 1);
    const done = await waitForRun(server, runId, undefined, { timeoutMs: 60_000 });
    expect(done.run.status).toBe("succeeded");
    const detail = (await server.api(`/api/v1/tasks/${taskId}`)).body;
    expect(detail.attemptsDetail.map((x: { status: string }) => x.status)).toEqual(["failed", "succeeded"]);
    expect(detail.attemptsDetail[0]).toMatchObject({
      reason: "lost",
      message: "agent lost: alpha stopped answering",
    });
    expect(detail.attemptsDetail[1].executor.id).toMatch(/^beta\//);
    expect(fs.readFileSync(detail.outputs[0], "utf8")).toBe("end on beta\n");
  }, 120_000);

  it("cancel reaches the agent: the task's process is gone within a few seconds", async () => {
    const dir = project(`      long:
        pool: gpu
        run: echo "pid=$$"; exec sleep 120
`);
    const server = await startServer(dir, { env: ENV });
    const runId = await startRun(server);
    startAgent(server, "alpha", 1);
    const running = await waitForRun(
      server,
      runId,
      (d) => d.tasks[0]?.status === "running" && d.tasks[0]?.queueReason === null,
    );
    // The log streams from the agent while the task runs.
    const pid = Number(
      (
        await waitFor("the task's pid in its log", async () =>
          /pid=(\d+)/.exec(await taskLog(server, running.tasks[0].id)),
        )
      )[1],
    );
    expect(isAlive(pid)).toBe(true);
    const cancelled = await server.api(`/api/v1/runs/${runId}/cancel`, {});
    expect(cancelled.status).toBeLessThan(300);
    const t0 = Date.now();
    await waitFor("the task's process to be gone", () => !isAlive(pid), { timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(8_000);
    const done = await waitForRun(server, runId);
    expect(done.run.status).toBe("cancelled");
    expect(done.tasks[0].status).toBe("cancelled");
  }, 60_000);

  it("a server restart mid-task does not stop the agent's task: it reports once the server is back", async () => {
    const dir = project(`      steady:
        pool: gpu
        run: echo begun; sleep 5; echo "finished" > "$BATON_OUTPUT_DIR/out.txt"
`);
    let server = await startServer(dir, { env: ENV });
    const port = Number(new URL(server.url).port);
    const runId = await startRun(server);
    const agent = startAgent(server, "alpha", 1);
    const running = await waitForRun(
      server,
      runId,
      (d) => d.tasks[0]?.status === "running" && d.tasks[0]?.queueReason === null,
    );
    await waitFor("the task to start on the agent", async () =>
      /begun/.test(await taskLog(server, running.tasks[0].id)),
    );
    server.child.kill("SIGKILL");
    await server.exited;
    await sleep(1_000);
    server = await startServer(dir, { env: ENV, port });
    const done = await waitForRun(server, runId, undefined, { timeoutMs: 60_000 });
    expect(done.run.status, `${agent.stderr()}\n${server.stderr()}`).toBe("succeeded");
    const detail = (await server.api(`/api/v1/tasks/${running.tasks[0].id}`)).body;
    expect(detail.attemptsDetail).toHaveLength(1);
    expect(fs.readFileSync(detail.outputs[0], "utf8")).toBe("finished\n");
    expect(agent.child.exitCode).toBeNull();
  }, 120_000);
});

describe("remote agents in network namespaces (separate network stacks, as separate hosts)", () => {
  it("two agents in their own namespaces share a fan-out, reaching the server on the bridge addresses", async (ctx) => {
    const made = netnsHosts([1, 2]);
    if (typeof made === "string") {
      console.warn(`skipped: ${made}`);
      ctx.skip();
      return;
    }
    try {
      const dir = project(`      fan:
        pool: gpu
        foreach: [1, 2, 3, 4, 5, 6]
        run: sleep 1; echo "$BATON_AGENT" > "$BATON_OUTPUT_DIR/who.txt"
`);
      const server = await startServer(dir, {
        env: { ...ENV, BATON_ALLOW_REMOTE: "1" },
        args: ["--host", "0.0.0.0"],
      });
      const port = new URL(server.url).port;
      const runId = await startRun(server);
      for (const [i, host] of made.hosts.entries()) {
        const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `baton-agent-ns${i}-`));
        const child = track(
          spawn(
            "ip",
            [
              "netns",
              "exec",
              host.ns,
              process.execPath,
              BATON_BIN,
              "agent",
              "--server",
              `http://${host.serverAddress}:${port}`,
              "--pool",
              "gpu",
              "--slots",
              "3",
              "--name",
              `ns${i + 1}`,
              "--workdir",
              workdir,
            ],
            { cwd: workdir, env: { ...process.env, ...ENV, BATON_TOKEN: server.token }, stdio: "ignore" },
          ),
        );
        expect(child.pid).toBeDefined();
      }
      const done = await waitForRun(server, runId, undefined, { timeoutMs: 60_000 });
      expect(done.run.status).toBe("succeeded");
      const who = done.tasks.map((t) => fs.readFileSync(path.join(t.outputDir, "who.txt"), "utf8").trim());
      expect([...new Set(who)].sort()).toEqual(["ns1", "ns2"]);
    } finally {
      made.down();
    }
  }, 120_000);
});
