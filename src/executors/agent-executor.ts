/**
 * The agent executor: attempts of pools with `executor: agent` run on remote agents (`baton
 * agent`), which connect out to the server and pull work over HTTP (docs/scale-out.md, "Remote
 * agents"). Everything lives in the store, so a server restart or a second server on the same
 * database loses nothing:
 *
 * - launch() records the attempt as claimable work for its pool (command, environment, input
 *   files by content hash) and returns at once with the handle `agent:TASK:ATTEMPT`; while no
 *   agent holds it the task shows as queued ("no agent of pool gpu is connected", "waiting for a
 *   free agent of pool gpu").
 * - An agent claims it (compare-and-set in the store, under a token and a lease it renews with
 *   its heartbeats), streams the log, uploads outputs by hash and reports the result; this
 *   executor polls the store, places the outputs in the task's output folder and ends the attempt.
 * - A claim whose lease runs out is marked `lost` (compare-and-set again: a result the agent
 *   sends later is refused), and the attempt ends `lost`: the engine retries it if it may.
 * - cancel() flags the claim; the agent learns it on its next heartbeat and kills the process.
 */
import fs from "node:fs";
import path from "node:path";
import { type AgentResult, type AgentWork, agentHandle, agentLeaseMs } from "../agent/protocol.js";
import { ensureWritableDir } from "../artifacts/fs-util.js";
import { restoreOutputs } from "../artifacts/outputs.js";
import { walkFiles } from "../artifacts/walk.js";
import { ensureBatonError } from "../errors.js";
import type { AgentClaimRow, Store } from "../store/store.js";
import { makeStateFile } from "../util/state-mode.js";
import type {
  AdoptRequest,
  AttemptRef,
  Executor,
  ExitResult,
  LaunchRequest,
  QueuedListener,
  TaskProcess,
} from "./executor.js";
import type { LocalWorkspace } from "./workspace.js";

export interface AgentExecutorOptions {
  store: Store;
  /** The server's disk: logs and output folders of agents' attempts are kept here, as for local ones. */
  workspace: LocalWorkspace;
  /** Claims last this long without a heartbeat (default {@link agentLeaseMs}). */
  leaseMs?: number;
  /** Time between two looks at the store. Default 250 ms. */
  pollMs?: number;
}

/** Folder variables the agent sets itself (its own folders), and what only makes sense on the server. */
const SERVER_ONLY_ENV = new Set([
  "BATON_OUTPUT_DIR",
  "BATON_INPUTS_DIR",
  "BATON_PIPELINE_DIR",
  "BATON_METRICS",
  "BATON_STATUS_FILE",
  "BATON_DATA",
]);

export class AgentExecutor implements Executor {
  readonly name = "agent";
  readonly workspace: LocalWorkspace;
  readonly leaseMs: number;
  private readonly store: Store;
  private readonly pollMs: number;
  private readonly watched = new Map<string, AgentAttempt>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(options: AgentExecutorOptions) {
    this.store = options.store;
    this.workspace = options.workspace;
    this.leaseMs = options.leaseMs ?? agentLeaseMs();
    this.pollMs = options.pollMs ?? 250;
  }

  async launch(request: LaunchRequest): Promise<TaskProcess> {
    if (request.go) await request.go;
    const key = claimKey(request);
    let work: AgentWork;
    try {
      const paths = this.workspace.paths(request);
      if (request.attempt > 1) fs.rmSync(paths.outputDir, { recursive: true, force: true });
      ensureWritableDir(paths.outputDir);
      makeStateFile(paths.logPath);
      if (request.files) await this.workspace.prepare(request, request.files);
      work = {
        runId: request.runId,
        taskId: request.taskId,
        name: request.name,
        attempt: request.attempt,
        command: request.command,
        env: Object.fromEntries(Object.entries(request.env).filter(([k]) => !SERVER_ONLY_ENV.has(k))),
        ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
        outputs: request.outputs,
        ...(request.keepFailedOutputs ? { keepFailedOutputs: true } : {}),
        inputs: await this.inputFiles(paths.inputsDir),
      };
      await this.store.offerAgentWork({
        key,
        runId: request.runId,
        taskId: request.taskId,
        attempt: request.attempt,
        pool: request.pool?.name ?? "local",
        work: JSON.stringify(work),
        createdAt: Date.now(),
      });
    } catch (err) {
      return AgentAttempt.notStarted(ensureBatonError(err).message);
    }
    return this.watch(new AgentAttempt(key, request, request.pool?.name ?? "local", request.onQueued));
  }

  async adopt(request: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }> {
    // `agent:TASK:ATTEMPT`, and `@NAME` once an agent claimed it.
    const key = /^agent:([^@]+)/.exec(request.handle ?? "")?.[1] ?? claimKey(request);
    const claim = await this.store.getAgentClaim(key);
    if (!claim) return { ended: lost("its work was never offered to agents") };
    const attempt = this.watch(new AgentAttempt(key, request, claim.pool, request.onQueued));
    await this.observe(attempt, claim);
    return attempt.result ? { ended: attempt.result } : attempt;
  }

  async shutdown(): Promise<void> {
    // Agents' attempts outlive this engine: their claims stay in the store for the next one.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  /** The files placed in the task's inputs folder, by path below it and content hash. */
  private async inputFiles(inputsDir: string): Promise<AgentWork["inputs"]> {
    if (!fs.existsSync(inputsDir)) return [];
    const rels = await walkFiles(inputsDir, { followDirLinks: true });
    const files: AgentWork["inputs"] = [];
    for (const rel of rels.sort()) {
      const { sha256 } = await this.workspace.cas.put(path.join(inputsDir, rel), { followLinks: true });
      files.push({ path: rel.split(path.sep).join("/"), sha256 });
    }
    return files;
  }

  private watch(attempt: AgentAttempt): AgentAttempt {
    this.watched.set(attempt.key, attempt);
    attempt.onCancel = () => {
      void this.store
        .cancelAgentClaim(attempt.key)
        .then((row) => row && this.observe(attempt, row))
        .catch(() => {});
    };
    void attempt.exited.then(() => {
      if (this.watched.get(attempt.key) === attempt) this.watched.delete(attempt.key);
    });
    this.schedule();
    return attempt;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.watched.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = Date.now();
      const agents = await this.store.listAgents(now - this.leaseMs);
      const connected = new Set(agents.flatMap((a) => a.pools));
      for (const attempt of [...this.watched.values()]) {
        const claim = await this.store.getAgentClaim(attempt.key);
        if (claim) await this.observe(attempt, claim, connected);
      }
    } catch {
      // The store is away for a moment: look again at the next poll.
    } finally {
      this.polling = false;
      this.schedule();
    }
  }

  /** What the store says of an attempt's claim, acted upon. */
  private async observe(attempt: AgentAttempt, claim: AgentClaimRow, connected?: Set<string>): Promise<void> {
    if (attempt.result) return;
    const now = Date.now();
    switch (claim.state) {
      case "open":
        if (connected)
          attempt.queued(
            connected.has(claim.pool)
              ? `waiting for a free agent of pool ${claim.pool}`
              : `no agent of pool ${claim.pool} is connected`,
          );
        return;
      case "claimed":
        attempt.agent = claim.agent;
        attempt.queued(null);
        // A lease is only declared lost once this engine has watched it for a whole lease: after
        // a server restart, agents get that long to reconnect and renew.
        if (
          claim.leaseUntil !== null &&
          claim.leaseUntil < now &&
          now - attempt.watchedSince > this.leaseMs &&
          (await this.store.expireAgentClaim(claim.key, now))
        ) {
          attempt.end(lostEnd(claim, attempt.cancelRequested));
        }
        return;
      case "lost":
        attempt.end(lostEnd(claim, attempt.cancelRequested));
        return;
      case "cancelled":
        attempt.end({
          exitCode: null,
          signal: null,
          reason: "cancelled",
          message: "cancelled",
          endedAt: now,
        });
        return;
      case "done":
        attempt.end(await this.reported(attempt.ref, claim));
        return;
    }
  }

  /** An agent's report as the attempt's end: its outputs placed in the task's output folder. */
  private async reported(ref: AttemptRef, claim: AgentClaimRow): Promise<ExitResult> {
    const result = JSON.parse(claim.result ?? "{}") as AgentResult;
    const end: ExitResult = {
      exitCode: result.exitCode,
      signal: result.signal,
      reason: result.reason,
      message: result.message,
      endedAt: result.endedAt,
    };
    const { outputDir } = this.workspace.folders(ref);
    try {
      await restoreOutputs(outputDir, result.outputs, this.workspace.cas);
    } catch (err) {
      return {
        ...end,
        collected: { metrics: result.metrics, outputs: [], error: ensureBatonError(err).message },
      };
    }
    return {
      ...end,
      collected: result.error
        ? { metrics: result.metrics, outputs: [], error: result.error, ...seriesOf(result) }
        : { metrics: result.metrics, outputs: result.outputs, ...seriesOf(result) },
    };
  }
}

/** One attempt handed to agents. */
class AgentAttempt implements TaskProcess {
  readonly pid = null;
  readonly pidStart = null;
  readonly exited: Promise<ExitResult>;
  readonly watchedSince = Date.now();
  result: ExitResult | undefined;
  /** The agent that holds it, once one does. */
  agent: string | null = null;
  cancelRequested = false;
  onCancel: (() => void) | undefined;
  private resolveExit!: (r: ExitResult) => void;
  private shown: string | null | undefined;

  constructor(
    readonly key: string,
    readonly ref: AttemptRef,
    readonly pool: string,
    private readonly onQueued?: QueuedListener,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  static notStarted(message: string): AgentAttempt {
    const attempt = new AgentAttempt("", { runId: "", taskId: "", name: "", attempt: 0 }, "");
    attempt.end({ exitCode: null, signal: null, reason: "setup", message, endedAt: Date.now() });
    return attempt;
  }

  get handle(): string | null {
    return this.key === "" ? null : agentHandle(this.key);
  }

  cancel(): void {
    if (this.result || this.cancelRequested) return;
    this.cancelRequested = true;
    this.onCancel?.();
  }

  queued(reason: string | null): void {
    if (reason === this.shown) return;
    this.shown = reason;
    this.onQueued?.(reason);
  }

  end(result: ExitResult): void {
    if (this.result) return;
    this.result = result;
    this.resolveExit(result);
  }
}

function claimKey(attempt: AttemptRef): string {
  return `${attempt.taskId}:${attempt.attempt}`;
}

function lostEnd(claim: AgentClaimRow, cancelled: boolean): ExitResult {
  if (cancelled || claim.cancelRequested)
    return { exitCode: null, signal: null, reason: "cancelled", message: "cancelled", endedAt: Date.now() };
  return lost(`agent lost: ${claim.agent ?? "its agent"} stopped answering`);
}

function lost(message: string): ExitResult {
  return { exitCode: null, signal: null, reason: "lost", message, endedAt: Date.now() };
}

function seriesOf(result: AgentResult): { series?: AgentResult["series"] } {
  return result.series ? { series: result.series } : {};
}
