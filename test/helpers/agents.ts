/**
 * Real `baton agent` processes for the remote-agent tests (docs/scale-out.md "Remote agents"):
 * each with its own --workdir in /tmp and no access to the server's `.baton/` (only its URL and
 * token), optionally inside a network namespace (test/helpers/netns.ts) as on another host.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { BATON_BIN, makeProject, startBaton } from "./cli.js";
import { type Server, track } from "./server.js";

/** Short leases, so that a killed agent's task is retried within seconds. */
export const LEASE_MS = 2_000;
export const ENV = { BATON_AGENT_LEASE_MS: String(LEASE_MS) };

/** A project whose pool `gpu` runs on agents, with the pipeline `main` made of `nodes`. */
export const project = (nodes: string) =>
  makeProject({
    "baton.yaml": `version: 1
pools:
  gpu: { executor: agent, slots: 16 }
pipelines:
  main:
    nodes:
${nodes}`,
  });

export interface AgentProc {
  name: string;
  child: ChildProcess;
  workdir: string;
  stderr(): string;
}

export interface AgentOptions {
  url?: string;
  /** Runs the agent in this network namespace (`ip netns exec NS`). */
  netns?: string;
}

export function startAgent(server: Server, name: string, slots = 3, options: AgentOptions = {}): AgentProc {
  const url = options.url ?? server.url;
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `baton-agent-${name}-`));
  const args = [
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
  ];
  const env = { ...ENV, BATON_TOKEN: server.token };
  // Its own folder, not the project's: it sees nothing of the server's `.baton/`.
  const child = track(
    options.netns
      ? spawn("ip", ["netns", "exec", options.netns, process.execPath, BATON_BIN, ...args], {
          cwd: workdir,
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
        })
      : startBaton(args, workdir, env),
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  child.stdout?.on("data", () => {});
  return { name, child, workdir, stderr: () => stderr };
}

export async function startRun(server: Server): Promise<string> {
  const res = await server.api("/api/v1/runs", { pipeline: "main" });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.run.id as string;
}

export async function taskLog(server: Server, id: string): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/tasks/${id}/log`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  return res.text();
}
