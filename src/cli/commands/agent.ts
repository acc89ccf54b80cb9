import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Agent } from "../../agent/agent.js";
import { ApiClient, findEndpoint } from "../../client/api-client.js";
import { BatonError } from "../../errors.js";
import { EXIT, claimSignals } from "../exit.js";
import { table } from "../table.js";

export interface AgentCommandOptions {
  server?: string;
  pool: string[];
  slots: string;
  name?: string;
  resources?: string;
  workdir: string;
  tokenFile?: string;
}

/** `baton agent`: runs the pools' tasks for the server until SIGINT/SIGTERM. */
export async function agentCommand(opts: AgentCommandOptions): Promise<void> {
  if (opts.server === undefined)
    throw new BatonError("USAGE", "required option '--server <url>' not specified");
  if (opts.pool.length === 0) throw new BatonError("USAGE", "required option '--pool <name>' not specified");
  const server = opts.server.replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(server))
    throw new BatonError("USAGE", `--server ${opts.server}: expected http(s)://HOST:PORT`);
  const slots = Number(opts.slots);
  if (!Number.isInteger(slots) || slots < 1 || slots > 1024)
    throw new BatonError("USAGE", `--slots ${opts.slots}: expected a whole number from 1 to 1024`);
  const name = opts.name ?? os.hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new BatonError("USAGE", `--name ${name}: expected letters, digits, '.', '_' or '-' (at most 63)`);
  let token = process.env.BATON_TOKEN ?? "";
  if (opts.tokenFile !== undefined) {
    try {
      token = fs.readFileSync(opts.tokenFile, "utf8").trim();
    } catch (err) {
      throw new BatonError("USAGE", `--token-file ${opts.tokenFile}: ${(err as Error).message}`);
    }
  }
  if (token === "") throw new BatonError("USAGE", "no token: set BATON_TOKEN or pass --token-file FILE");
  const resources: Record<string, string> = {};
  for (const part of (opts.resources ?? "").split(",").filter((p) => p.trim() !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new BatonError("USAGE", `--resources: "${part}" is not NAME=VALUE (gpu=1,mem=64G)`);
    resources[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const log = (line: string) => process.stderr.write(`baton agent ${name}: ${line}\n`);
  const agent = new Agent({
    server,
    token,
    name,
    pools: opts.pool,
    slots,
    resources,
    workdir: path.resolve(opts.workdir),
    log,
  });
  claimSignals();
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping (running tasks are killed; the server retries them elsewhere)`);
    agent.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  log(`serving pools ${opts.pool.join(", ")} of ${server} with ${slots} slot${slots === 1 ? "" : "s"}`);
  await agent.run();
  process.exitCode = EXIT.ok;
}

interface AgentView {
  name: string;
  host: string;
  pools: string[];
  slots: number;
  inUse: number;
  lastHeartbeat: string;
  connected: boolean;
  tasks: Array<{ taskId: string; runId: string; attempt: number }>;
}

/** `baton agents`: the server's agents. */
export async function agentsCommand(opts: { server?: string; json?: boolean }): Promise<void> {
  const endpoint = opts.server
    ? { url: opts.server.replace(/\/+$/, ""), token: process.env.BATON_TOKEN ?? "" }
    : findEndpoint(process.cwd());
  if (!endpoint)
    throw new BatonError(
      "USAGE",
      "no server: give --server URL (or set BATON_URL), or start `baton server` here",
    );
  const { agents } = await new ApiClient(endpoint).get<{ agents: AgentView[] }>("/agents");
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(agents, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    table(
      ["AGENT", "HOST", "POOLS", "SLOTS", "IN USE", "LAST HEARTBEAT", "TASKS"],
      agents.map((a) => [
        a.connected ? a.name : `${a.name} (gone)`,
        a.host,
        a.pools.join(","),
        String(a.slots),
        String(a.inUse),
        a.lastHeartbeat,
        a.tasks.map((t) => t.taskId).join(",") || "-",
      ]),
    ),
  );
}
