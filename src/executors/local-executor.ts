import fs from "node:fs";
import type { ContentStore } from "../artifacts/cas.js";
import type { Collected } from "../artifacts/collect.js";
import type { StateLayout } from "../engine/layout.js";
import { ensureBatonError } from "../errors.js";
import { formatMs } from "../util/format-ms.js";
import { commandSizeProblem } from "./arg-limit.js";
import type { AdoptRequest, Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";
import { readProcStat, readStartTime } from "./proc-stat.js";
import { shellArgv } from "./shell.js";
import { type SpawnRequest, Spawner } from "./spawner.js";
import { type LocalAttemptPaths, LocalWorkspace, folderEnv } from "./workspace.js";

export interface LocalExecutorOptions {
  /** Where attempts keep their files: the state folder (`.baton/`) of the engine on this machine. */
  layout: StateLayout;
  /** The content store outputs are collected into (one over `layout.cas` if not given). */
  cas?: ContentStore;
  /** Time between SIGTERM and SIGKILL when cancelling or timing out. Default 5 s (`BATON_KILL_GRACE_MS`). */
  killGraceMs?: number;
}

/** How long a task started ahead of its slot waits before it shows as queued (see LaunchRequest.go). */
const SHOW_SLOT_WAIT_MS = 1000;

/**
 * Runs each attempt as a `bash -eo pipefail -c` process (`/bin/sh -ec` for a command that needs
 * nothing of bash: shell.ts) on this machine, in its own session
 * (so it has its own process group, and outlives the engine if the engine is killed), with
 * stdout and stderr appended to the attempt's log file. The exit status is also written to the
 * attempt's status file by the shell itself, so it can be read after an engine restart. An
 * attempt's handle is `local:PID:START` (START: the kernel's start time of the process, which
 * tells a reused pid apart).
 */
export class LocalExecutor implements Executor {
  readonly name = "local";
  readonly workspace: LocalWorkspace;
  private readonly killGraceMs: number;
  private readonly live = new Set<TaskProcess>();
  /** The processes started here and not ended, by task: what a task started ahead follows. */
  private readonly byTask = new Map<string, LocalProcess>();
  private spawner: Spawner | undefined;

  constructor(options: LocalExecutorOptions) {
    this.workspace = new LocalWorkspace(options.layout, options.cas);
    this.killGraceMs = options.killGraceMs ?? (Number(process.env.BATON_KILL_GRACE_MS) || 5000);
  }

  warmUp(): void {
    this.spawner ??= new Spawner();
  }

  async launch(request: LaunchRequest): Promise<TaskProcess> {
    this.spawner ??= new Spawner();
    const paths = this.workspace.paths(request);
    let placed: string | undefined;
    if (request.files) {
      try {
        await this.workspace.prepare(request, request.files);
      } catch (err) {
        placed = ensureBatonError(err).message;
      }
    }
    const follows = request.after === undefined ? undefined : this.byTask.get(request.after)?.spawnId;
    const proc = new LocalProcess(
      request,
      paths,
      this.workspace,
      this.killGraceMs,
      this.spawner,
      placed,
      follows,
    );
    this.track(proc);
    this.byTask.set(request.taskId, proc);
    void proc.exited.then(() => {
      if (this.byTask.get(request.taskId) === proc) this.byTask.delete(request.taskId);
    });
    await proc.started;
    return proc;
  }

  async adopt(request: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }> {
    const { statusPath } = this.workspace.paths(request);
    const status = readStatusFile(statusPath);
    if (status !== undefined) return { ended: status };
    const lost = (message: string) => ({
      ended: { exitCode: null, signal: null, reason: "lost" as const, message, endedAt: Date.now() },
    });
    const recorded = parseLocalHandle(request.handle);
    if (request.handle !== null && recorded === undefined) {
      return lost(`the attempt's handle ${JSON.stringify(request.handle)} is not a process on this machine`);
    }
    const pid = findAttemptProcess(request, recorded);
    if (pid === undefined) {
      // Ended while it was looked for: its shell wrote the status on the way out.
      const late = readStatusFile(statusPath);
      if (late !== undefined) return { ended: late };
      return lost("the process is gone and left no exit status");
    }
    const proc = new AdoptedProcess(pid, request, statusPath, this.killGraceMs);
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

/**
 * What the two kinds of process share: a timeout and a cancel that send SIGTERM to the
 * process group and SIGKILL after the grace period, and one way to report the end.
 */
abstract class WatchedProcess implements TaskProcess {
  pid: number | null = null;
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

  get handle(): string | null {
    return this.pid === null ? null : localHandle(this.pid, this.pidStart);
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
    const pid = this.pid;
    if (pid === null) return; // not started yet: `started` checks `ending`
    signalGroup(pid, "SIGTERM");
    this.killTimer = setTimeout(() => signalGroup(pid, "SIGKILL"), this.killGraceMs);
  }

  /** Reports the end, worded by how it came about (timeout, cancel, or the process's own exit). */
  protected finish(
    exitCode: number | null,
    signal: string | null,
    fallback?: ExitResult,
    collected?: Collected | Promise<Collected>,
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
  /** Set while the process waits for its slot (`LaunchRequest.go`): starts it, or ends it if cancelled. */
  private waitingForSlot: (() => void) | undefined;
  /** After a restart, a process whose handle was not recorded is found by its environment (`findAttemptProcess`). */
  readonly findableWithoutHandle = process.platform === "linux";
  /** Its request to the spawner, once sent. */
  spawnId: number | undefined;

  /**
   * @param follows started ahead of its slot (`request.go`), the spawner's request of the task
   *   whose slot it gets (`request.after`): where the spawner can, it is held there and started
   *   the moment that one ends, without waiting for `go`.
   */
  constructor(
    request: LaunchRequest,
    paths: LocalAttemptPaths,
    workspace: LocalWorkspace,
    killGraceMs: number,
    spawner: Spawner,
    setupProblem: string | undefined,
    follows?: number,
  ) {
    super(request.timeoutMs, killGraceMs);
    this.started = new Promise((resolveStarted) => {
      if (setupProblem !== undefined) {
        this.fail(setupProblem);
        resolveStarted();
        return;
      }
      const env = { ...request.env, ...folderEnv(paths) };
      // The process sees this over the engine's environment (the helper's and the launchers').
      const [file, ...args] = shellArgv(request.command, env, "", spawner.baseEnv);
      // Said in words here rather than as a bare E2BIG from the spawn (a command resolved at launch).
      const tooBig = commandSizeProblem(args.at(-1)!, env, spawner.baseEnv);
      if (tooBig) {
        this.fail(`cannot start the task: ${tooBig}`);
        resolveStarted();
        return;
      }
      let launched = false;
      const start = (hold?: SpawnRequest["hold"]) => {
        if (launched) return;
        launched = true;
        this.waitingForSlot = undefined;
        // Cancelled while it waited for its slot: nothing to start.
        if (this.ending) {
          this.finish(null, null);
          resolveStarted();
          return;
        }
        this.spawnId = spawner.spawn(
          {
            file,
            args,
            cwd: request.cwd,
            env,
            logPath: paths.logPath,
            outputDir: paths.outputDir,
            // Each attempt starts from an empty output folder.
            freshOutput: request.attempt > 1,
            ...(request.makeSharedDir ? { sharedDir: paths.pipelineDir } : {}),
            collect: {
              outputDir: paths.outputDir,
              globs: request.outputs,
              casRoot: workspace.cas.root,
              metricsPath: paths.metricsPath,
              logPath: paths.logPath,
              ...(request.keepFailedOutputs ? { keepFailed: true } : {}),
            },
            ...(hold ? { hold } : {}),
          },
          {
            onStarted: (pid, pidStart) => {
              this.waitingForSlot = undefined;
              this.pid = pid;
              // Read by whoever started it, before it could be reaped: a task that ends at once has it too.
              this.pidStart = pidStart;
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
              // What the shell left behind in its group was killed where it was waited for (start-task.ts).
              this.finish(code, signal, undefined, collected);
            },
            onFailed: (message) => {
              this.fail(message);
              resolveStarted();
            },
            // Held, and cancelled before its slot came: it ends without a process.
            onDropped: () => {
              this.finish(null, null);
              resolveStarted();
            },
            onOrphaned: () => {
              // Its launcher died: watch the process by pid until it ends, then read its exit status.
              const poll = setInterval(() => {
                if (this.pid !== null && isRunning(this.pid, this.pidStart)) return;
                clearInterval(poll);
                this.finishFromStatusFile(paths.statusPath, "its launcher had died");
              }, 100);
            },
          },
        );
      };
      if (!request.go) {
        start();
        return;
      }
      // Ready now; started once its slot is free (see LaunchRequest.go), or ended at once by a
      // cancel meanwhile. A wait that lasts (the pool's tasks got longer) shows the task queued.
      const shown = setTimeout(
        () => request.onQueued?.(`waiting for a slot of pool ${request.pool?.name ?? "local"}`),
        SHOW_SLOT_WAIT_MS,
      );
      shown.unref();
      if (follows !== undefined && spawner.canHold(follows)) {
        // Held by the spawn helper, which starts it when the task before it ends (or at `go`).
        start({ after: follows, until: request.holdUntil ?? 0 });
        const id = this.spawnId;
        if (id === undefined) return;
        this.waitingForSlot = () => {
          clearTimeout(shown);
          spawner.drop(id);
        };
        void request.go.then(() => {
          clearTimeout(shown);
          request.onQueued?.(null);
          spawner.go(id);
        });
        return;
      }
      this.waitingForSlot = () => {
        clearTimeout(shown);
        start();
      };
      void request.go.then(() => {
        clearTimeout(shown);
        if (!launched) request.onQueued?.(null);
        start();
      });
    });
  }

  protected override stop(why: "timeout" | "cancelled"): void {
    super.stop(why);
    // Not started yet and waiting for its slot: it ends now, without a process.
    this.waitingForSlot?.();
  }
}

/**
 * A process this engine did not start (it cannot `wait` for it): polls until the process is
 * gone, then reads the exit status its shell wrote.
 */
class AdoptedProcess extends WatchedProcess {
  constructor(pid: number, request: AdoptRequest, statusPath: string, killGraceMs: number) {
    super(request.timeoutMs, killGraceMs);
    this.pid = pid;
    this.pidStart = readStartTime(pid);
    this.armTimeout(Date.now() - request.startedAt);
    const poll = setInterval(() => {
      if (isRunning(pid, this.pidStart)) return;
      clearInterval(poll);
      this.finishFromStatusFile(statusPath, "it was adopted after a restart");
    }, 100);
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
export function readStatusFile(file: string): ExitResult | undefined {
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

/** The handle of a local attempt: its shell's pid and the kernel's start time of it. */
export function localHandle(pid: number, pidStart: string | null): string {
  return `local:${pid}:${pidStart ?? ""}`;
}

/** The pid and start time in a handle made by {@link localHandle}, or undefined for another kind. */
export function parseLocalHandle(
  handle: string | null,
): { pid: number; pidStart: string | null } | undefined {
  const m = handle === null ? null : /^local:([1-9]\d*):(\d*)$/.exec(handle);
  if (!m) return undefined;
  return { pid: Number(m[1]), pidStart: m[2] === "" ? null : (m[2] as string) };
}

/**
 * The pid of an attempt's shell: the recorded one if it is still that process (same start
 * time), otherwise found by the `BATON_TASK_ID`/`BATON_ATTEMPT` in its environment — the
 * engine may have died between spawning the process and recording its handle.
 */
function findAttemptProcess(
  request: AdoptRequest,
  recorded: { pid: number; pidStart: string | null } | undefined,
): number | undefined {
  if (recorded && recorded.pidStart !== null && isRunning(recorded.pid, recorded.pidStart))
    return recorded.pid;
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
