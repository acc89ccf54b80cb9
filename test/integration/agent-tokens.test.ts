/**
 * Per-agent tokens (docs/scale-out.md "Agent tokens"): a real `baton server`, tokens made with
 * `baton agent token create`, and a real `baton agent` using one (BATON_TOKEN) from its own
 * folder. The token opens the agent routes of its pools only, nested submits still work, and
 * `baton agent token rm` locks the agent out at its next request.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton, startBaton } from "../helpers/cli.js";
import {
  type Endpoint,
  api,
  killStarted,
  startServer,
  track,
  waitFor,
  waitForRun,
} from "../helpers/server.js";

const ENV = { BATON_AGENT_LEASE_MS: "2000" };

afterEach(() => killStarted());

describe("per-agent tokens", () => {
  it("an agent with its own token runs its pool's tasks (nested submit too), cannot use the rest of the API, and is locked out once the token is removed", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pools:
  gpu: { executor: agent, slots: 4 }
  cpu: { executor: agent, slots: 4 }
pipelines:
  main:
    nodes:
      work:
        pool: gpu
        run: |
          echo "ran on $BATON_AGENT"
          ${process.execPath} ${BATON_BIN} submit --wait -n child echo nested-ok
`,
    });
    const server = await startServer(dir, { env: ENV });
    const cli = (args: string[]) =>
      runBaton(["agent", "token", ...args], dir, { BATON_URL: server.url, BATON_TOKEN: server.token });

    const created = await cli(["create", "--pool", "gpu", "--name", "lab"]);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^baton_at_[A-Za-z0-9_-]{40,}$/);
    expect(created.stderr).toMatch(/agent token at_[0-9a-f]{12} \(lab\) for pool gpu; it is shown only now/);
    const asAgent: Endpoint = { url: server.url, token };

    // Not the rest of the API, not another pool, not token management.
    expect((await api(asAgent, "/api/v1/runs")).status).toBe(403);
    expect((await api(asAgent, "/api/v1/agent-tokens")).status).toBe(403);
    const otherPool = await api(asAgent, "/api/v1/agents/claim", { name: "x", pools: ["cpu"], wait: 0 });
    expect(otherPool.status).toBe(403);
    const id = /at_[0-9a-f]{12}/.exec(created.stderr)?.[0];
    expect(otherPool.body.error.message).toBe(`agent token ${id} is for pool gpu, not cpu`);
    expect(
      (
        await api({ url: server.url, token: `${token}x` }, "/api/v1/agents/claim", {
          name: "x",
          pools: ["gpu"],
          wait: 0,
        })
      ).status,
    ).toBe(401);

    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-agent-tok-"));
    const agent = track(
      startBaton(
        ["agent", "--server", server.url, "--pool", "gpu", "--name", "alpha", "--workdir", workdir],
        workdir,
        {
          ...ENV,
          BATON_TOKEN: token,
        },
      ),
    );
    let agentErr = "";
    agent.stderr?.on("data", (d) => {
      agentErr += d;
    });
    agent.stdout?.on("data", () => {});

    const started = await server.api("/api/v1/runs", { pipeline: "main" });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const done = await waitForRun(server, started.body.run.id, undefined, { timeoutMs: 60_000 });
    const work = done.tasks.find((t) => t.name === "work");
    const log = await (
      await fetch(`${server.url}/api/v1/tasks/${work.id}/log`, {
        headers: { authorization: `Bearer ${server.token}` },
      })
    ).text();
    expect(done.run.status, `${log}\n${agentErr}\n${server.stderr()}`).toBe("succeeded");
    expect(log).toContain("ran on alpha");
    expect(log).toContain("nested-ok");

    // ls: id, name, pools, created, last used; never the token.
    const ls = await cli(["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).not.toContain(token);
    const listed = JSON.parse(ls.stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: "lab", pools: ["gpu"] });
    expect(listed[0].lastUsedAt).not.toBeNull();
    const table = await cli(["ls"]);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+POOLS\s+CREATED\s+LAST USED$/m);
    expect(table.stdout).toContain(listed[0].id);

    // rm: the agent's next heartbeat or claim is refused, and it says so.
    const rm = await cli(["rm", listed[0].id]);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stderr).toContain(`agent token ${listed[0].id} revoked`);
    expect((await api(asAgent, "/api/v1/agents/claim", { name: "x", pools: ["gpu"], wait: 0 })).status).toBe(
      401,
    );
    await waitFor("the agent to report the refused token", () =>
      /the server refuses this agent's token \(401\)/.test(agentErr),
    );
    const again = await cli(["rm", listed[0].id]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`no agent token ${listed[0].id}`);
    expect(JSON.parse((await cli(["ls", "--json"])).stdout)).toEqual([]);
  }, 120_000);
});
