/**
 * The Slurm executor: each attempt is one `sbatch` job. The job's script (written beside the
 * attempt's log, `attempt-N.sbatch`) exports the task's environment, enters its folder and runs
 * the command with the local executor's wrapper (`bash -eo pipefail -c`, the trap that writes
 * the exit status to `$BATON_STATUS_FILE`). Its files are the local workspace's: the Baton host
 * and the cluster's nodes must share that folder at the same path (docs/architecture.md).
 *
 * All live jobs are watched with one `squeue` call per poll. A job ends with the exit status its
 * shell wrote and with Slurm's word for how it ended: TIMEOUT, OUT_OF_MEMORY, NODE_FAIL,
 * PREEMPTED, a CANCELLED that Baton did not ask for... are said in the attempt's message. The
 * handle is `slurm:JOBID`, by which an engine started later adopts the job.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureWritableDir } from "../artifacts/fs-util.js";
import { ensureBatonError } from "../errors.js";
import { makeStateFile } from "../util/state-mode.js";
import type { AdoptRequest, Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";
import { readStatusFile, wrapCommand } from "./local-executor.js";
import type { LocalAttemptPaths, LocalWorkspace } from "./workspace.js";

export interface SlurmExecutorOptions {
  /** Where attempts keep their files: a folder the cluster's nodes see at the same path. */
  workspace: LocalWorkspace;
  /** Time between two `squeue` calls. Default 1 s (`BATON_SLURM_POLL_MS`). */
  pollMs?: number;
}

/** Job states after which a job does not run again. */
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "CANCELLED",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
  "SPECIAL_EXIT",
  "REVOKED",
]);

/** Polls a job may be missing from `squeue` (and leave no exit status) before it counts as lost. */
const MISSING_POLLS = 5;

export class SlurmExecutor implements Executor {
  readonly name = "slurm";
  readonly workspace: LocalWorkspace;
  private readonly pollMs: number;
  private readonly jobs = new Map<string, SlurmJob>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** Waiters for the end of the next poll that starts (adoptions, shutdown). */
  private waiters: Array<() => void> = [];

  constructor(options: SlurmExecutorOptions) {
    this.workspace = options.workspace;
    this.pollMs = options.pollMs ?? (Number(process.env.BATON_SLURM_POLL_MS) || 1000);
  }

  async launch(request: LaunchRequest): Promise<TaskProcess> {
    const paths = this.workspace.paths(request);
    let script: string;
    try {
      if (request.files) await this.workspace.prepare(request, request.files);
      script = this.prepareAttempt(request, paths);
    } catch (err) {
      return SlurmJob.notStarted(ensureBatonError(err).message);
    }
    const args = sbatchArgs(request, paths.logPath, script);
    let out: string;
    try {
      out = await run("sbatch", args);
    } catch (err) {
      return SlurmJob.notStarted(`sbatch refused the job: ${(err as Error).message}`);
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    const id = out.trim().split(";")[0] ?? "";
    if (!/^\d+$/.test(id)) return SlurmJob.notStarted(`sbatch printed no job id: ${JSON.stringify(out)}`);
    return this.watch(new SlurmJob(id, paths.statusPath));
  }

  async adopt(request: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }> {
    const id = /^slurm:(\d+)$/.exec(request.handle ?? "")?.[1];
    if (id === undefined) {
      return {
        ended: {
          exitCode: null,
          signal: null,
          reason: "lost",
          message: `the attempt's handle ${JSON.stringify(request.handle)} is not a Slurm job`,
          endedAt: Date.now(),
        },
      };
    }
    const job = this.watch(new SlurmJob(id, this.workspace.paths(request).statusPath));
    // Adoptions made together are asked about in one `squeue`.
    await this.nextPoll();
    const ended = job.result;
    return ended ? { ended } : job;
  }

  async shutdown(): Promise<void> {
    const live = [...this.jobs.values()];
    for (const job of live) job.cancel();
    // Wait (a while) for Slurm to say they ended, so that their ends are recorded.
    const deadline = Date.now() + 15_000;
    while (this.jobs.size > 0 && Date.now() < deadline) await this.nextPoll();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Makes the attempt's files on the engine's side before the job exists: the output folder
   * (emptied for a retry), the run's shared folder when asked, the log, status and metrics
   * files, and the job's script. Returns the script's path.
   */
  private prepareAttempt(request: LaunchRequest, paths: LocalAttemptPaths): string {
    if (request.makeSharedDir) ensureWritableDir(paths.pipelineDir, "run folder");
    if (request.attempt > 1) fs.rmSync(paths.outputDir, { recursive: true, force: true });
    ensureWritableDir(paths.outputDir);
    for (const file of [paths.logPath, paths.statusPath, paths.metricsPath]) makeStateFile(file);
    const script = path.join(path.dirname(paths.statusPath), `attempt-${request.attempt}.sbatch`);
    const env = { ...request.env, ...this.workspace.attemptEnv(request) };
    fs.writeFileSync(script, jobScript(request, env), { mode: 0o700 });
    return script;
  }

  private watch(job: SlurmJob): SlurmJob {
    this.jobs.set(job.id, job);
    job.onCancel = () => {
      run("scancel", [job.id]).catch(() => {
        // Already ended, or the controller is away: the next polls tell.
      });
    };
    void job.exited.then(() => this.jobs.delete(job.id));
    this.schedule();
    return job;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.jobs.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
  }

  /** Resolves once a poll that started after this call has ended. */
  private nextPoll(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      if (this.polling === undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
        void this.poll();
      }
    });
  }

  /** One `squeue` for every watched job; ends those Slurm has ended. */
  private poll(): Promise<void> {
    if (this.polling) return this.polling;
    const waiters = this.waiters;
    this.waiters = [];
    this.polling = (async () => {
      const jobs = [...this.jobs.values()];
      if (jobs.length > 0) {
        const states = await queryJobs(jobs.map((j) => j.id));
        if (states !== undefined) for (const job of jobs) job.observe(states.get(job.id));
      }
    })()
      .catch(() => {})
      .finally(() => {
        this.polling = undefined;
        for (const w of waiters) w();
        // Waiters that came during this poll get one of their own.
        if (this.waiters.length > 0) void this.poll();
        else this.schedule();
      });
    return this.polling;
  }
}

/** What `squeue` says of one job. */
interface JobState {
  state: string;
  reason: string;
}

/**
 * The states of the given jobs (those Slurm still knows), from one `squeue` call; undefined when
 * Slurm could not be asked (its controller is away: ask again later).
 */
async function queryJobs(ids: string[]): Promise<Map<string, JobState> | undefined> {
  let out: string;
  try {
    out = await run("squeue", ["--noheader", "--states=all", `--jobs=${ids.join(",")}`, "--format=%i|%T|%r"]);
  } catch (err) {
    // One job id that Slurm has forgotten makes `squeue` fail (with several, it lists the rest).
    if (/Invalid job id/i.test((err as Error).message)) return new Map();
    return undefined;
  }
  const states = new Map<string, JobState>();
  for (const line of out.split("\n")) {
    const [id, state, reason] = line.trim().split("|");
    if (id && state) states.set(id, { state, reason: reason ?? "" });
  }
  return states;
}

/** One attempt as a Slurm job. */
class SlurmJob implements TaskProcess {
  readonly pid = null;
  readonly pidStart = null;
  readonly exited: Promise<ExitResult>;
  /** How it ended, once it has. */
  result: ExitResult | undefined;
  /** Sends `scancel` (set by the executor that watches the job). */
  onCancel: (() => void) | undefined;
  private resolveExit!: (r: ExitResult) => void;
  private cancelled = false;
  private missing = 0;

  constructor(
    readonly id: string,
    private readonly statusPath: string,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** A job that could not be submitted. */
  static notStarted(message: string): SlurmJob {
    const job = new SlurmJob("", "");
    job.end({ exitCode: null, signal: null, reason: "setup", message, endedAt: Date.now() });
    return job;
  }

  get handle(): string | null {
    return this.id === "" ? null : `slurm:${this.id}`;
  }

  cancel(): void {
    if (this.result || this.cancelled) return;
    this.cancelled = true;
    this.onCancel?.();
  }

  /** What the latest poll says of the job (undefined: Slurm no longer knows it). */
  observe(seen: JobState | undefined): void {
    if (this.result) return;
    const status = readStatusFile(this.statusPath);
    if (seen === undefined) {
      // Forgotten by Slurm (MinJobAge passed): its exit status says how it ended.
      if (status) this.end(status);
      else if (++this.missing >= MISSING_POLLS) {
        this.end({
          exitCode: null,
          signal: null,
          reason: "lost",
          message: `Slurm no longer knows job ${this.id} and it left no exit status`,
          endedAt: Date.now(),
        });
      }
      return;
    }
    this.missing = 0;
    if (ENDED.has(seen.state)) this.end(endOfJob(seen, status, this.cancelled));
  }

  private end(result: ExitResult): void {
    if (this.result) return;
    this.result = result;
    this.resolveExit(result);
  }
}

/** How an ended job's attempt ended: its exit status, in the light of Slurm's state. */
function endOfJob(seen: JobState, status: ExitResult | undefined, cancelledHere: boolean): ExitResult {
  const endedAt = status?.endedAt ?? Date.now();
  const exitCode = status?.exitCode ?? null;
  const why = seen.reason && seen.reason !== "None" ? ` (${seen.reason})` : "";
  switch (seen.state) {
    case "COMPLETED":
      // Slurm saw the script exit 0; the shell's own word is the same unless the file is not seen yet.
      return { exitCode: exitCode ?? 0, signal: null, reason: "exited", message: null, endedAt };
    case "FAILED":
      if (exitCode !== null) return { exitCode, signal: null, reason: "exited", message: null, endedAt };
      return { exitCode: null, signal: null, reason: "exited", message: `Slurm: FAILED${why}`, endedAt };
    case "CANCELLED":
      if (cancelledHere)
        return { exitCode, signal: null, reason: "cancelled", message: "cancelled", endedAt };
      return {
        exitCode: null,
        signal: null,
        reason: "exited",
        message: "Slurm: CANCELLED (scancel outside Baton, or by an administrator)",
        endedAt,
      };
    case "TIMEOUT":
      return {
        exitCode,
        signal: null,
        reason: "timeout",
        message: "Slurm: TIMEOUT (time limit reached)",
        endedAt,
      };
    default:
      // OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE...: failed, whatever the shell said.
      return {
        exitCode: exitCode === 0 ? null : exitCode,
        signal: null,
        reason: "exited",
        message: `Slurm: ${seen.state}${why}`,
        endedAt,
      };
  }
}

/** `sbatch` arguments for an attempt: name, log, pool options, resources, time limit, the script. */
export function sbatchArgs(request: LaunchRequest, logPath: string, script: string): string[] {
  // In Slurm's file name patterns `%` introduces a field: `%%` is a literal one.
  const log = logPath.replaceAll("%", "%%");
  const args = [
    "--parsable",
    `--job-name=${request.name}`,
    `--output=${log}`,
    `--error=${log}`,
    "--open-mode=append",
    `--chdir=${request.cwd}`,
  ];
  const slurm = request.pool?.slurm ?? {};
  if (slurm.partition) args.push(`--partition=${slurm.partition}`);
  if (slurm.account) args.push(`--account=${slurm.account}`);
  if (slurm.qos) args.push(`--qos=${slurm.qos}`);
  const resources = request.pool?.resources ?? {};
  const cpus = resources.cpus;
  if (cpus !== undefined && cpus > 0) args.push(`--cpus-per-task=${Math.ceil(cpus)}`);
  const memory = resources.memory;
  if (memory !== undefined && memory > 0) args.push(`--mem=${Math.ceil(memory)}M`);
  const gpu = resources.gpu;
  if (gpu !== undefined && gpu > 0) args.push(`--gres=gpu:${Math.ceil(gpu)}`);
  // Slurm counts time limits in whole minutes.
  if (request.timeoutMs !== undefined && request.timeoutMs > 0)
    args.push(`--time=${Math.ceil(request.timeoutMs / 60_000)}`);
  args.push(...(slurm.extra ?? []), script);
  return args;
}

/** The job's script: the task's environment, its folder, and the command in the shared wrapper. */
export function jobScript(request: LaunchRequest, env: Record<string, string>): string {
  const lines = [
    "#!/bin/bash",
    `# Baton: task ${request.name} (${request.taskId}), attempt ${request.attempt} of run ${request.runId}`,
  ];
  for (const [name, value] of Object.entries(env)) {
    // A name the shell cannot export is not passed (the local executor's processes get it).
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) lines.push(`export ${name}=${quote(value)}`);
  }
  lines.push(
    `cd -- ${quote(request.cwd)} || { echo 1 > "$BATON_STATUS_FILE"; exit 1; }`,
    `exec /bin/bash -eo pipefail -c ${quote(wrapCommand(request.command))}`,
    "",
  );
  return lines.join("\n");
}

/** A word for bash, in single quotes. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Runs a Slurm command; rejects with its stderr (or how it could not start). */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error((stderr || err.message).trim()));
        else resolve(stdout);
      },
    );
  });
}
