import fs from "node:fs";
import type { Collected } from "../artifacts/collect.js";
import { commandSizeProblem } from "./arg-limit.js";
import type { AdoptRequest, Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";
import { Spawner } from "./spawner.js";

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
  private spawner: Spawner | undefined;

  constructor(options: LocalExecutorOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? (Number(process.env.BATON_KILL_GRACE_MS) || 5000);
  }

  warmUp(): void {
    this.spawner ??= new Spawner();
  }

  async launch(request: LaunchRequest): Promise<TaskProcess> {
    this.spawner ??= new Spawner();
    const proc = new LocalProcess(request, this.killGraceMs, this.spawner);
    this.track(proc);
    await proc.started;
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
    this.track(proc);
    return proc;
  }

  async shutdown(): Promise<void> {
    await Promise.all(
      [...this.live].map((p) => {
        p.cancel();
        return p.exited;
      }),
    );
    await this.spawner?.close();
    this.spawner = undefined;
  }

  private track(proc: TaskProcess): void {
    this.live.add(proc);
    void proc.exited.then(() => this.live.delete(proc));
  }
}

/** `bash -c` prologue: record the exit status on the way out, whatever ends the script. */
function wrapCommand(command: string): string {
  // On one line with the command so bash's own "line N" messages keep the user's numbering.
  return `trap 'echo $? > "$BATON_STATUS_FILE"' EXIT; ${command}`;
}

/**
 * What the two kinds of process share: a timeout and a cancel that send SIGTERM to the
 * process group and SIGKILL after the grace period, and one way to report the end.
 */
abstract class WatchedProcess implements TaskProcess {
  pid = 0;
  pidStart: string | null = null;
  readonly exited: Promise<ExitResult>;
  protected ending: "timeout" | "cancelled" | undefined;
  private resolveExit!: (r: ExitResult) => void;
  private killTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    protected readonly timeoutMs: number | undefined,
    private readonly killGraceMs: number,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  cancel(): void {
    this.stop("cancelled");
  }

  /** Arms the timeout; `elapsedMs` is how long the attempt has already run. */
  protected armTimeout(elapsedMs = 0): void {
    if (this.timeoutMs === undefined || this.timeoutMs <= 0) return;
    this.timeoutTimer = setTimeout(() => this.stop("timeout"), Math.max(0, this.timeoutMs - elapsedMs));
  }

  protected stop(why: "timeout" | "cancelled"): void {
    if (this.done || this.ending) return;
    this.ending = why;
    if (!this.pid) return; // not started yet: `started` checks `ending`
    signalGroup(this.pid, "SIGTERM");
    this.killTimer = setTimeout(() => signalGroup(this.pid, "SIGKILL"), this.killGraceMs);
  }

  /** Reports the end, worded by how it came about (timeout, cancel, or the process's own exit). */
  protected finish(
    exitCode: number | null,
    signal: string | null,
    fallback?: ExitResult,
    collected?: Collected,
  ): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.killTimer);
    clearTimeout(this.timeoutTimer);
    const endedAt = Date.now();
    if (this.ending === "timeout") {
      const message = `timed out after ${formatMs(this.timeoutMs ?? 0)}`;
      this.resolveExit({ exitCode, signal, reason: "timeout", message, endedAt, collected });
    } else if (this.ending === "cancelled") {
      this.resolveExit({ exitCode, signal, reason: "cancelled", message: "cancelled", endedAt, collected });
    } else {
      const message = signal ? `killed by ${signal}` : null;
      this.resolveExit(fallback ?? { exitCode, signal, reason: "exited", message, endedAt, collected });
    }
  }

  /** For a process found gone: its exit status file says how it ended, or it was lost. */
  protected finishFromStatusFile(statusPath: string, why: string): void {
    const status = readStatusFile(statusPath);
    this.finish(
      status?.exitCode ?? null,
      null,
      status ?? {
        exitCode: null,
        signal: null,
        reason: "lost",
        message: `the process ended without an exit status (${why})`,
        endedAt: Date.now(),
      },
    );
  }

  protected fail(message: string): void {
    if (this.done) return;
    this.done = true;
    this.resolveExit({ exitCode: null, signal: null, reason: "setup", message, endedAt: Date.now() });
  }
}

/** A process this engine starts, through the launcher processes. */
class LocalProcess extends WatchedProcess {
  readonly started: Promise<void>;

  constructor(request: LaunchRequest, killGraceMs: number, spawner: Spawner) {
    super(request.timeoutMs, killGraceMs);
    this.started = new Promise((resolveStarted) => {
      // Said in words here rather than as a bare E2BIG from the spawn (a command resolved at launch).
      const tooBig = commandSizeProblem(wrapCommand(request.command), { ...process.env, ...request.env });
      if (tooBig) {
        this.fail(`cannot start the task: ${tooBig}`);
        resolveStarted();
        return;
      }
      spawner.spawn(
        {
          args: ["-eo", "pipefail", "-c", wrapCommand(request.command)],
          cwd: request.cwd,
          env: { ...request.env, BATON_STATUS_FILE: request.statusPath },
          logPath: request.logPath,
          outputDir: request.outputDir,
          sharedDir: request.sharedDir,
          collect: request.collect,
        },
        {
          onStarted: (pid) => {
            this.pid = pid;
            this.pidStart = readStartTime(pid);
            this.armTimeout();
            // A cancel that came while the process was starting takes effect now.
            if (this.ending) {
              const why = this.ending;
              this.ending = undefined;
              this.stop(why);
            }
            resolveStarted();
          },
          onExited: (code, signal, collected) => {
            // Whatever the shell left behind in its group goes with it.
            signalGroup(this.pid, "SIGKILL");
            this.finish(code, signal, undefined, collected);
          },
          onFailed: (message) => {
            this.fail(message);
            resolveStarted();
          },
          onOrphaned: () => {
            // Its launcher died: watch the process by pid until it ends, then read its exit status.
            const poll = setInterval(() => {
              if (isRunning(this.pid, this.pidStart)) return;
              clearInterval(poll);
              this.finishFromStatusFile(request.statusPath, "its launcher had died");
            }, 100);
          },
        },
      );
    });
  }
}

/**
 * A process this engine did not start (it cannot `wait` for it): polls until the process is
 * gone, then reads the exit status its shell wrote.
 */
class AdoptedProcess extends WatchedProcess {
  constructor(pid: number, request: AdoptRequest, killGraceMs: number) {
    super(request.timeoutMs, killGraceMs);
    this.pid = pid;
    this.pidStart = readStartTime(pid);
    this.armTimeout(Date.now() - request.startedAt);
    const poll = setInterval(() => {
      if (isRunning(pid, this.pidStart)) return;
      clearInterval(poll);
      this.finishFromStatusFile(request.statusPath, "it was adopted after a restart");
    }, 100);
  }
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
function readStartTime(pid: number): string | null {
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
