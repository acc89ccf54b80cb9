import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import type { AdoptRequest, Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";

export interface LocalExecutorOptions {
  /** Time between SIGTERM and SIGKILL when cancelling or timing out. Default 5 s (`BATON_KILL_GRACE_MS`). */
  killGraceMs?: number;
}

/**
 * Runs each attempt as a `bash -eo pipefail -c` process on this machine, in its own session
 * (so it has its own process group, and outlives the engine if the engine is killed), with
 * stdout and stderr appended to the attempt's log file. The exit status is also written to
 * `statusPath` by the shell itself, so it can be read after an engine restart.
 */
export class LocalExecutor implements Executor {
  readonly name = "local";
  private readonly killGraceMs: number;
  private readonly live = new Set<TaskProcess>();

  constructor(options: LocalExecutorOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? (Number(process.env.BATON_KILL_GRACE_MS) || 5000);
  }

  launch(request: LaunchRequest): TaskProcess {
    const proc = new LocalProcess(request, this.killGraceMs);
    this.live.add(proc);
    void proc.exited.then(() => this.live.delete(proc));
    return proc;
  }

  adopt(request: AdoptRequest): TaskProcess | { ended: ExitResult } {
    const status = readStatusFile(request.statusPath);
    if (status !== undefined) return { ended: status };
    const pid = findAttemptProcess(request);
    if (pid === undefined) {
      return {
        ended: {
          exitCode: null,
          signal: null,
          reason: "lost",
          message: "the process is gone and left no exit status",
          endedAt: Date.now(),
        },
      };
    }
    const proc = new AdoptedProcess(pid, request, this.killGraceMs);
    this.live.add(proc);
    void proc.exited.then(() => this.live.delete(proc));
    return proc;
  }

  async shutdown(): Promise<void> {
    const waiting = [...this.live].map((p) => {
      p.cancel();
      return p.exited;
    });
    await Promise.all(waiting);
  }
}

/** `bash -c` prologue: record the exit status on the way out, whatever ends the script. */
function wrapCommand(command: string): string {
  // On one line with the command so bash's own "line N" messages keep the user's numbering.
  return `trap 'echo $? > "$BATON_STATUS_FILE"' EXIT; ${command}`;
}

class LocalProcess implements TaskProcess {
  readonly pid: number;
  readonly pidStart: string | null;
  readonly exited: Promise<ExitResult>;
  private child: ChildProcess | undefined;
  private ending: "timeout" | "cancelled" | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly request: LaunchRequest,
    private readonly killGraceMs: number,
  ) {
    let logFd: number;
    try {
      logFd = fs.openSync(request.logPath, "a");
    } catch (err) {
      this.pid = 0;
      this.pidStart = null;
      this.exited = Promise.resolve(setupFailure(`cannot open log file ${request.logPath}: ${message(err)}`));
      return;
    }
    let resolveExit!: (r: ExitResult) => void;
    this.exited = new Promise((resolve) => {
      resolveExit = resolve;
    });
    try {
      this.child = spawn("bash", ["-eo", "pipefail", "-c", wrapCommand(request.command)], {
        cwd: request.cwd,
        env: { ...process.env, ...request.env, BATON_STATUS_FILE: request.statusPath },
        stdio: ["ignore", logFd, logFd],
        detached: true,
      });
    } catch (err) {
      fs.closeSync(logFd);
      this.pid = 0;
      this.pidStart = null;
      resolveExit(setupFailure(`cannot start bash: ${message(err)}`));
      return;
    }
    fs.closeSync(logFd);
    this.pid = this.child.pid ?? 0;
    this.pidStart = this.pid ? readStartTime(this.pid) : null;
    const finish = (r: ExitResult) => {
      if (this.done) return;
      this.done = true;
      clearTimeout(this.killTimer);
      clearTimeout(this.timeoutTimer);
      resolveExit(r);
    };
    this.child.on("error", (err) => finish(setupFailure(`cannot start bash: ${message(err)}`)));
    this.child.on("exit", (code, signal) => {
      // Whatever the shell left behind in its group goes with it.
      this.signalGroup("SIGKILL");
      const endedAt = Date.now();
      if (this.ending === "timeout") {
        finish({
          exitCode: code,
          signal,
          reason: "timeout",
          message: `timed out after ${formatMs(request.timeoutMs ?? 0)}`,
          endedAt,
        });
      } else if (this.ending === "cancelled") {
        finish({ exitCode: code, signal, reason: "cancelled", message: "cancelled", endedAt });
      } else {
        finish({
          exitCode: code,
          signal,
          reason: "exited",
          message: signal ? `killed by ${signal}` : null,
          endedAt,
        });
      }
    });
    if (request.timeoutMs !== undefined && request.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(() => this.stop("timeout"), request.timeoutMs);
    }
  }

  cancel(): void {
    this.stop("cancelled");
  }

  private stop(why: "timeout" | "cancelled"): void {
    if (this.done || !this.child || this.ending) return;
    this.ending = why;
    this.signalGroup("SIGTERM");
    this.killTimer = setTimeout(() => this.signalGroup("SIGKILL"), this.killGraceMs);
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (!this.pid) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}

function setupFailure(text: string): ExitResult {
  return { exitCode: null, signal: null, reason: "setup", message: text, endedAt: Date.now() };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What /proc/PID/stat says of a process: state, process group, start time (clock ticks since boot). */
function readProcStat(pid: number): { state: string; pgrp: number; startTime: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "?", pgrp: Number(fields[2]), startTime: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/** When the process started (field 22 of /proc/PID/stat), to tell a reused pid apart. */
export function readStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s % 60);
  if (m < 60) return rest ? `${m}m${rest}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}

/**
 * Watches a process this engine did not start (it cannot `wait` for it): polls until the
 * process is gone, then reads the exit status its shell wrote.
 */
class AdoptedProcess implements TaskProcess {
  readonly exited: Promise<ExitResult>;
  readonly pidStart: string | null;
  private ending: "timeout" | "cancelled" | undefined;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly request: AdoptRequest,
    private readonly killGraceMs: number,
  ) {
    this.pidStart = readStartTime(pid);
    this.exited = new Promise((resolve) => {
      const poll = setInterval(() => {
        if (request.timeoutMs && !this.ending && Date.now() - request.startedAt > request.timeoutMs)
          this.stop("timeout");
        if (isRunning(pid, this.pidStart)) return;
        clearInterval(poll);
        clearTimeout(this.killTimer);
        const status = readStatusFile(request.statusPath);
        const endedAt = Date.now();
        if (this.ending === "timeout") {
          resolve({
            exitCode: status?.exitCode ?? null,
            signal: null,
            reason: "timeout",
            message: `timed out after ${formatMs(request.timeoutMs ?? 0)}`,
            endedAt,
          });
        } else if (this.ending === "cancelled") {
          resolve({
            exitCode: status?.exitCode ?? null,
            signal: null,
            reason: "cancelled",
            message: "cancelled",
            endedAt,
          });
        } else {
          resolve(
            status ?? {
              exitCode: null,
              signal: null,
              reason: "lost",
              message: "the process ended without an exit status",
              endedAt,
            },
          );
        }
      }, 100);
    });
  }

  cancel(): void {
    this.stop("cancelled");
  }

  private stop(why: "timeout" | "cancelled"): void {
    if (this.ending) return;
    this.ending = why;
    signalGroup(this.pid, "SIGTERM");
    this.killTimer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), this.killGraceMs);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** The exit status the task's shell wrote on its way out, if it did. */
function readStatusFile(file: string): ExitResult | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
  const code = Number.parseInt(text, 10);
  if (!Number.isInteger(code)) return undefined;
  const endedAt = fs.statSync(file).mtimeMs;
  return { exitCode: code, signal: null, reason: "exited", message: null, endedAt: Math.round(endedAt) };
}

function isRunning(pid: number, pidStart: string | null): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== "Z" && (pidStart === null || stat.startTime === pidStart);
}

/**
 * The pid of an attempt's shell: the recorded one if it is still that process (same start
 * time), otherwise found by the `BATON_TASK_ID`/`BATON_ATTEMPT` in its environment — the
 * engine may have died between spawning the process and recording its pid.
 */
function findAttemptProcess(request: AdoptRequest): number | undefined {
  if (request.pid !== null && request.pidStart !== null && isRunning(request.pid, request.pidStart))
    return request.pid;
  const marker = `BATON_TASK_ID=${request.taskId}\0`;
  const attempt = `BATON_ATTEMPT=${request.attempt}\0`;
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      // The shell leads its own process group; its children share the environment, so pick the leader.
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "latin1");
      if (!environ.includes(marker) || !environ.includes(attempt)) continue;
      const stat = readProcStat(pid);
      if (stat && stat.state !== "Z" && stat.pgrp === pid) return pid;
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return undefined;
}
