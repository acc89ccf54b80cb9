/**
 * `baton agent`: a machine that runs tasks of one or more pools for a Baton server it connects
 * out to (docs/scale-out.md, "Remote agents"). It never listens: it claims attempts by long-poll,
 * renews their leases by heartbeat, runs each in folders of its own below `--workdir` with the
 * environment a local task gets (BATON_URL and BATON_TOKEN reaching the server, so `baton submit`
 * works inside), streams the log as it is written, fetches inputs by content hash (cached) and
 * uploads outputs by hash (what the server has is not sent again), then reports the result.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ContentStore } from "../artifacts/cas.js";
import { hashFile } from "../artifacts/hash.js";
import { readMetricsFile } from "../artifacts/metrics.js";
import { type OutputFile, collectOutputs } from "../artifacts/outputs.js";
import { shellArgv } from "../executors/shell.js";
import type { AgentResult, AgentWork } from "./protocol.js";

export interface AgentOptions {
  /** The server's base URL, as this machine reaches it. */
  server: string;
  token: string;
  name: string;
  pools: string[];
  slots: number;
  resources: Record<string, string>;
  /** Folders of the tasks, the input cache and the agent's content store. */
  workdir: string;
  log: (line: string) => void;
}

/** SIGTERM first, SIGKILL this long after. */
const KILL_GRACE_MS = 5_000;
const LOG_CHUNK = 256 * 1024;
const LOG_PUMP_MS = 300;
const RETRY_MS = 1_000;

interface Running {
  key: string;
  token: string;
  child: ChildProcess | undefined;
  /** Why it is being stopped: a user's cancel, or the claim went elsewhere (`stale`: report nothing). */
  stopping: "cancel" | "stale" | "timeout" | undefined;
}

export class Agent {
  private readonly running = new Map<string, Running>();
  private readonly startedAt = Date.now();
  private readonly cas: ContentStore;
  private stopped = false;
  private leaseMs = 15_000;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly idle: Array<() => void> = [];
  private warned = false;
  private readonly reaper = new Reaper();

  constructor(private readonly opts: AgentOptions) {
    this.cas = new ContentStore(path.join(opts.workdir, "cas"));
  }

  /** Runs until {@link stop}. */
  async run(): Promise<void> {
    await fs.mkdir(this.opts.workdir, { recursive: true });
    await this.heartbeat();
    this.scheduleHeartbeat();
    await Promise.all(Array.from({ length: this.opts.slots }, () => this.slot()));
  }

  /** Stops claiming and kills what runs (their leases run out and the server retries them elsewhere). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    for (const r of this.running.values()) killGroup(r.child, "SIGKILL");
    this.reaper.close();
    for (const wake of this.idle.splice(0)) wake();
  }

  private scheduleHeartbeat(): void {
    if (this.stopped) return;
    const every = Math.max(100, Math.min(1_000, this.leaseMs / 4));
    this.heartbeatTimer = setTimeout(() => {
      void this.heartbeat().finally(() => this.scheduleHeartbeat());
    }, every);
  }

  private async heartbeat(): Promise<void> {
    const running = [...this.running.values()].map((r) => ({ key: r.key, token: r.token }));
    try {
      const answer = (await this.post(
        "/agents/heartbeat",
        {
          name: this.opts.name,
          host: os.hostname(),
          pools: this.opts.pools,
          slots: this.opts.slots,
          resources: this.opts.resources,
          startedAt: this.startedAt,
          running,
          // A connection that died without a reset (a network cut) would hold this heartbeat, and
          // so every later one, past the lease: give up on it and send the next on a new one.
        },
        Math.max(500, this.leaseMs / 2),
      )) as { leaseMs: number; cancel: string[]; stale: string[] };
      if (this.warned) this.opts.log(`server ${this.opts.server} answers again`);
      this.warned = false;
      this.leaseMs = answer.leaseMs;
      for (const key of answer.cancel) this.stopAttempt(key, "cancel");
      for (const key of answer.stale) this.stopAttempt(key, "stale");
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (!this.warned && (status === 401 || status === 403))
        this.opts.log(
          `the server refuses this agent's token (${status}): ${(err as Error).message} (revoked, or not for these pools? trying again)`,
        );
      else if (!this.warned)
        this.opts.log(`cannot reach ${this.opts.server}: ${(err as Error).message} (trying again)`);
      this.warned = true;
    }
  }

  private stopAttempt(key: string, why: "cancel" | "stale"): void {
    const r = this.running.get(key);
    if (!r || r.stopping) return;
    r.stopping = why;
    this.opts.log(
      `${key}: ${why === "cancel" ? "cancelled" : "no longer ours (its lease ran out)"}: stopping it`,
    );
    killGroup(r.child, "SIGTERM");
    setTimeout(() => killGroup(r.child, "SIGKILL"), KILL_GRACE_MS).unref();
  }

  /** One slot: claims and runs attempts one after another. */
  private async slot(): Promise<void> {
    while (!this.stopped) {
      let claim: { key: string; token: string; leaseMs: number; work: AgentWork } | null;
      try {
        ({ claim } = (await this.post("/agents/claim", { name: this.opts.name, pools: this.opts.pools })) as {
          claim: typeof claim;
        });
      } catch {
        await this.sleep(RETRY_MS);
        continue;
      }
      if (!claim || this.stopped) continue;
      this.leaseMs = claim.leaseMs;
      const r: Running = { key: claim.key, token: claim.token, child: undefined, stopping: undefined };
      this.running.set(claim.key, r);
      try {
        await this.runAttempt(r, claim.work);
      } catch (err) {
        this.opts.log(`${claim.key}: ${(err as Error).message}`);
      } finally {
        this.running.delete(claim.key);
      }
    }
  }

  private async runAttempt(r: Running, work: AgentWork): Promise<void> {
    const base = path.join(this.opts.workdir, "runs", work.runId, work.taskId);
    const dirs = {
      output: path.join(base, "output"),
      inputs: path.join(base, "inputs"),
      work: path.join(base, "work"),
      attempt: path.join(base, `attempt-${work.attempt}`),
      pipeline: path.join(this.opts.workdir, "runs", work.runId, "pipeline"),
    };
    await fs.rm(dirs.output, { recursive: true, force: true });
    await fs.rm(dirs.inputs, { recursive: true, force: true });
    for (const d of Object.values(dirs)) await fs.mkdir(d, { recursive: true });
    const logPath = path.join(dirs.attempt, "log");
    const statusPath = path.join(dirs.attempt, "status");
    const metricsPath = path.join(dirs.attempt, "metrics.jsonl");
    await fs.writeFile(logPath, "");
    this.opts.log(`${r.key}: ${work.name} (run ${work.runId}, attempt ${work.attempt})`);

    let setupError: string | undefined;
    try {
      for (const input of work.inputs) await this.placeInput(input, dirs.inputs);
    } catch (err) {
      setupError = `cannot fetch inputs: ${(err as Error).message}`;
    }

    const pump = new LogPump(logPath, (offset, data) => this.sendLog(r, offset, data));
    let end: Omit<AgentResult, "metrics" | "outputs">;
    if (setupError) {
      end = { exitCode: null, signal: null, reason: "setup", message: setupError, endedAt: Date.now() };
    } else {
      // The agent's own state folder is not the task's business.
      const { BATON_DATA: _data, ...own } = process.env;
      const env: Record<string, string> = {
        ...(own as Record<string, string>),
        ...work.env,
        BATON_URL: this.opts.server,
        BATON_TOKEN: this.opts.token,
        BATON_OUTPUT_DIR: dirs.output,
        BATON_INPUTS_DIR: dirs.inputs,
        BATON_PIPELINE_DIR: dirs.pipeline,
        BATON_METRICS: metricsPath,
        BATON_STATUS_FILE: statusPath,
        BATON_AGENT: this.opts.name,
      };
      end = await this.spawnAttempt(r, work, env, logPath, dirs.work, pump);
    }
    await pump.stop();
    if (r.stopping === "stale") return;

    const { metrics, series } = readMetricsFile(metricsPath, logPath);
    let outputs: OutputFile[] = [];
    let error: string | undefined;
    const succeeded = end.reason === "exited" && end.exitCode === 0;
    if (succeeded || (work.keepFailedOutputs && end.reason === "exited")) {
      try {
        outputs = await collectOutputs(dirs.output, work.outputs, this.cas);
        for (const o of outputs) await this.upload(o, path.join(dirs.output, o.path));
      } catch (err) {
        outputs = [];
        error = (err as Error).message;
      }
    }
    const result: AgentResult = { ...end, metrics, series, outputs, ...(error ? { error } : {}) };
    await this.report(r, result);
  }

  private spawnAttempt(
    r: Running,
    work: AgentWork,
    env: Record<string, string>,
    logPath: string,
    cwd: string,
    pump: LogPump,
  ): Promise<Omit<AgentResult, "metrics" | "outputs">> {
    return new Promise((resolve) => {
      const out = createWriteStream(logPath, { flags: "a" });
      out.once("open", (fd) => {
        // The command waits on fd 3 until its process group is known to the reaper, so that an
        // agent killed at any moment leaves no task behind (EOF there: the agent died first).
        const [file, ...args] = shellArgv(work.command, env, "read -r _ <&3 || exit 1; exec 3<&-; ");
        const child = spawn(file, args, {
          cwd,
          env,
          detached: true,
          stdio: ["ignore", fd, fd, "pipe"],
        });
        r.child = child;
        const pgid = child.pid;
        if (pgid !== undefined) this.reaper.watch(pgid);
        const gate = child.stdio[3] as Writable | null;
        gate?.on("error", () => {});
        gate?.end("go\n");
        pump.start();
        let timer: NodeJS.Timeout | undefined;
        if (work.timeoutMs !== undefined && work.timeoutMs > 0) {
          timer = setTimeout(() => {
            r.stopping ??= "timeout";
            killGroup(child, "SIGTERM");
            setTimeout(() => killGroup(child, "SIGKILL"), KILL_GRACE_MS).unref();
          }, work.timeoutMs);
        }
        if (r.stopping) killGroup(child, "SIGTERM");
        const finish = (code: number | null, signal: NodeJS.Signals | null, message: string | null) => {
          clearTimeout(timer);
          if (pgid !== undefined) this.reaper.forget(pgid);
          out.close();
          const endedAt = Date.now();
          if (r.stopping === "cancel")
            resolve({ exitCode: code, signal, reason: "cancelled", message: "cancelled", endedAt });
          else if (r.stopping === "timeout")
            resolve({
              exitCode: code,
              signal,
              reason: "timeout",
              message: `timed out after ${Math.round((work.timeoutMs ?? 0) / 1000)}s`,
              endedAt,
            });
          else resolve({ exitCode: code, signal, reason: message ? "setup" : "exited", message, endedAt });
        };
        child.once("error", (err) => finish(null, null, `cannot start bash: ${err.message}`));
        child.once("exit", (code, signal) => finish(code, signal, null));
      });
    });
  }

  /** Places one input file, from the cache or downloaded into it first. */
  private async placeInput(input: { path: string; sha256: string }, inputsDir: string): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw new Error(`bad sha256 for ${input.path}`);
    const rel = path.normalize(input.path);
    if (rel.startsWith("..") || path.isAbsolute(rel))
      throw new Error(`input path ${input.path} leaves its folder`);
    const cached = path.join(this.opts.workdir, "cache", input.sha256.slice(0, 2), input.sha256);
    if (!(await exists(cached))) {
      await fs.mkdir(path.dirname(cached), { recursive: true });
      const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      const res = await this.fetch("GET", `/artifacts/${input.sha256}`);
      if (!res.ok || !res.body) throw new Error(`GET /artifacts/${input.sha256}: ${res.status}`);
      await pipeline(Readable.fromWeb(res.body as never), createWriteStream(tmp));
      const { sha256 } = await hashFile(tmp);
      if (sha256 !== input.sha256) {
        await fs.rm(tmp, { force: true });
        throw new Error(`${input.path}: downloaded content has sha256 ${sha256}, not ${input.sha256}`);
      }
      await fs.rename(tmp, cached);
    }
    const dest = path.join(inputsDir, rel);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.copyFile(cached, dest, fs.constants.COPYFILE_FICLONE);
  }

  /** Sends an output unless the server has it already. */
  private async upload(o: OutputFile, file: string): Promise<void> {
    const head = await this.fetch("HEAD", `/artifacts/${o.sha256}`);
    if (head.ok) return;
    const res = await this.fetch("PUT", `/artifacts/${o.sha256}`, {
      body: Readable.toWeb(createReadStream(file)) as never,
      headers: { "content-type": "application/octet-stream", "content-length": String(o.size) },
      duplex: "half",
    } as RequestInit);
    if (!res.ok) throw new Error(`upload of ${o.path} refused: ${res.status} ${await res.text()}`);
  }

  private async sendLog(r: Running, offset: number, data: Buffer): Promise<number> {
    const res = await this.fetch("POST", `/agents/attempts/${encodeURIComponent(r.key)}/log`, {
      body: JSON.stringify({ token: r.token, offset, data: data.toString("base64") }),
      headers: { "content-type": "application/json" },
    });
    const body = (await res.json().catch(() => ({}))) as { size?: number };
    if (res.status === 409 && typeof body.size === "number") return body.size;
    // The claim is gone (its lease ran out): nothing more of this log will be taken.
    if (res.status === 409 || res.status === 404) throw new ClaimGone(`log: ${res.status}`);
    if (!res.ok) throw new Error(`log: ${res.status}`);
    return body.size ?? offset + data.length;
  }

  /** Reports the result until the server takes it (or says it is no longer ours). */
  private async report(r: Running, result: AgentResult): Promise<void> {
    for (;;) {
      try {
        const res = await this.fetch("POST", `/agents/attempts/${encodeURIComponent(r.key)}/result`, {
          body: JSON.stringify({ token: r.token, result }),
          headers: { "content-type": "application/json" },
        });
        if (res.ok) {
          this.opts.log(
            `${r.key}: reported (${result.reason}${result.exitCode !== null ? ` ${result.exitCode}` : ""})`,
          );
          return;
        }
        if (res.status === 409 || res.status === 404) {
          this.opts.log(`${r.key}: result refused, the attempt is no longer ours: ${await res.text()}`);
          return;
        }
        this.opts.log(`${r.key}: result refused (${res.status}): ${await res.text()}; trying again`);
      } catch {
        // The server is away (restarting): try again.
      }
      if (this.stopped) return;
      await this.sleep(RETRY_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        const i = self.idle.indexOf(done);
        if (i >= 0) self.idle.splice(i, 1);
        resolve();
      }
      this.idle.push(done);
    });
  }

  private async post(route: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    const res = await this.fetch("POST", route, {
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
      ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
    });
    if (!res.ok)
      throw Object.assign(new Error(`${route}: ${res.status} ${await res.text()}`), { status: res.status });
    return res.json();
  }

  private fetch(method: string, route: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${this.opts.server}/api/v1${route}`, {
      ...init,
      method,
      headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.opts.token}` },
    });
  }
}

/** The server no longer holds the attempt under this agent's claim (409 or 404 without a size). */
class ClaimGone extends Error {}

/** Sends an attempt's log to the server as it grows, from where the server has it. */
class LogPump {
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;

  constructor(
    private readonly file: string,
    private readonly send: (offset: number, data: Buffer) => Promise<number>,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.busy ??= this.drain()
        .catch((err) => {
          if (err instanceof ClaimGone) clearInterval(this.timer);
        })
        .finally(() => {
          this.busy = undefined;
        });
    }, LOG_PUMP_MS);
  }

  /** Sends what is left, then stops (best effort: a server away for long loses the tail). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
    for (let tries = 0; tries < 30; tries++) {
      try {
        await this.drain();
        return;
      } catch (err) {
        // Refused for good: waiting would only keep the slot busy.
        if (err instanceof ClaimGone) return;
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  private async drain(): Promise<void> {
    const handle = await fs.open(this.file, "r");
    try {
      for (;;) {
        const buffer = Buffer.alloc(LOG_CHUNK);
        const { bytesRead } = await handle.read(buffer, 0, LOG_CHUNK, this.offset);
        if (bytesRead === 0) return;
        const next = await this.send(this.offset, buffer.subarray(0, bytesRead));
        // The server may have more or less than we thought (it restarted, a chunk was lost): go on from there.
        this.offset = next;
      }
    } finally {
      await handle.close();
    }
  }
}

/**
 * Kills the process groups of the agent's tasks when the agent dies without doing so itself
 * (SIGKILL, the OOM killer): a shell holding the read end of a pipe from the agent, told which
 * groups run; when the pipe closes (the agent is gone) it SIGKILLs those left. Without it a
 * killed agent's tasks would run on, finishing next to their reruns on other agents.
 */
class Reaper {
  private readonly child: ChildProcess | undefined;

  constructor() {
    try {
      this.child = spawn("/bin/bash", ["-c", REAPER_SCRIPT], {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
      });
      this.child.on("error", () => {});
      this.child.stdin?.on("error", () => {});
      this.child.unref();
      (this.child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    } catch {
      this.child = undefined;
    }
  }

  watch(pgid: number): void {
    this.child?.stdin?.write(`+ ${pgid}\n`);
  }

  forget(pgid: number): void {
    this.child?.stdin?.write(`- ${pgid}\n`);
  }

  close(): void {
    this.child?.stdin?.end();
  }
}

const REAPER_SCRIPT = `declare -A g
while read -r op id; do if [ "$op" = + ]; then g[$id]=1; else unset "g[$id]"; fi; done
for id in "\${!g[@]}"; do kill -KILL -- "-$id" 2>/dev/null; done`;

function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
