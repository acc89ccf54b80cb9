/**
 * Remote agents (docs/scale-out.md "Remote agents"): a real `baton server` and two real `baton
 * agent` processes, each with its own --workdir in /tmp and no access to the server's `.baton/`
 * (they get only its URL and token). Covered: a fan-out spread over both agents, files passed
 * agent → server → agent, a nested `baton submit` from an agent's task, SIGKILL of an agent
 * mid-task (the task reruns on the other), cancel reaching the agent, and a server restart
 * mid-task (the agent keeps running and reports once the server is back).
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BATON_BIN, isAlive, makeProject, startBaton } from "../helpers/cli.js";
import {
  type Server,
  killStarted,
  sleep,
  startServer,
  track,
  waitFor,
  waitForRun,
} from "../helpers/server.js";

/** Short leases, so that a killed agent's task is retried within seconds. */
const LEASE_MS = 2_000;
const ENV = { BATON_AGENT_LEASE_MS: String(LEASE_MS) };

afterEach(() => killStarted());

const project = (nodes: string) =>
  makeProject({
    "baton.yaml": `version: 1
pools:
  gpu: { executor: agent, slots: 16 }
pipelines:
  main:
    nodes:
${nodes}`,
  });

interface AgentProc {
  child: ChildProcess;
  workdir: string;
  stderr(): string;
}

function startAgent(server: Server, name: string, slots = 3, url = server.url): AgentProc {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `baton-agent-${name}-`));
  // Its own folder, not the project's: it sees nothing of the server's `.baton/`.
  const child = track(
    startBaton(
      [
        "agent",
        "--server",
        url,
        "--pool",
        "gpu",
        "--slots",
        String(slots),
        "--name",
        name,
        "--workdir",
        workdir,
      ],
      workdir,
      { ...ENV, BATON_TOKEN: server.token },
    ),
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  child.stdout?.on("data", () => {});
  return { child, workdir, stderr: () => stderr };
}

async function startRun(server: Server): Promise<string> {
  const res = await server.api("/api/v1/runs", { pipeline: "main" });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.run.id as string;
}

async function taskLog(server: Server, id: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/tasks/${id}/log`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  return res.text();
}

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
        run: |
          sleep 1
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
});
