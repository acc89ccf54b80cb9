import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import type { Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";

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
  private readonly live = new Set<LocalProcess>();

  constructor(options: LocalExecutorOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? (Number(process.env.BATON_KILL_GRACE_MS) || 5000);
  }

  launch(request: LaunchRequest): TaskProcess {
    const proc = new LocalProcess(request, this.killGraceMs);
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

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
export function readStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
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
