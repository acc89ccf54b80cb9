/**
 * What the server and its remote agents say to each other over HTTP (docs/scale-out.md,
 * "Remote agents"). Shared by the server's agent executor and routes and by `baton agent`.
 */
import type { MetricSeriesPoint } from "../artifacts/metrics.js";
import type { OutputFile } from "../artifacts/outputs.js";

/** An attempt as an agent receives it: all it needs to run it, with no path of the server's. */
export interface AgentWork {
  runId: string;
  taskId: string;
  name: string;
  attempt: number;
  command: string;
  /** The task's variables (the agent sets the folder variables, BATON_URL and BATON_TOKEN itself). */
  env: Record<string, string>;
  timeoutMs?: number;
  /** `outputs:` globs to keep after a success (empty: everything). */
  outputs: string[];
  keepFailedOutputs?: boolean;
  /** Files to place below `$BATON_INPUTS_DIR`, fetched by content from `GET /api/v1/artifacts/SHA256`. */
  inputs: Array<{ path: string; sha256: string }>;
}

/** How an attempt ended on its agent, with its metrics and its outputs (already uploaded). */
export interface AgentResult {
  exitCode: number | null;
  signal: string | null;
  reason: "exited" | "timeout" | "cancelled" | "setup";
  message: string | null;
  endedAt: number;
  metrics: Record<string, unknown>;
  series?: MetricSeriesPoint[];
  outputs: OutputFile[];
  /** Why the outputs could not be recorded, if they could not. */
  error?: string;
}

/** The handle of an attempt handed to agents: `agent:TASK:ATTEMPT`. */
export function agentHandle(key: string): string {
  return `agent:${key}`;
}

/** How long a claim lasts without a heartbeat: `BATON_AGENT_LEASE_MS`, default 15 s. */
export function agentLeaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.BATON_AGENT_LEASE_MS);
  return Number.isFinite(value) && value >= 200 ? value : 15_000;
}
