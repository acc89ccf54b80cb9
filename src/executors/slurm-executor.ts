/**
 * The Slurm executor: each attempt is one `sbatch` job. The job's script (written beside the
 * attempt's log, `attempt-N.sbatch`) exports the task's environment, enters its folder and runs
 * the command with the local executor's wrapper (`bash -eo pipefail -c`, the trap that writes
 * the exit status to `$BATON_STATUS_FILE`). Its files are the local workspace's: the Baton host
 * and the cluster's nodes must share that folder at the same path (docs/architecture.md).
 *
 * Attempts of one fan-out launched together (same `arrayGroup`, same job options) are submitted
 * as one job array: a dispatcher script runs the attempt's own script for `$SLURM_ARRAY_TASK_ID`,
 * and the element's output goes to the attempt's log through a link named after its index. An
 * array is at most the cluster's `MaxArraySize` long; a larger fan-out is several arrays.
 *
 * All live jobs are watched with one `squeue` call per poll. A pending job is reported as queued
 * with Slurm's reason (`Priority`, `Resources`...). A job ends with the exit status its shell wrote
 * and with Slurm's word for how it ended: TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, a
 * CANCELLED that Baton did not ask for... are said in the attempt's message. The handle is
 * `slurm:JOBID` (`slurm:JOBID_INDEX` in an array), by which an engine started later adopts the
 * job; every job also carries `--comment=baton:TASK:ATTEMPT` (written in `attempt-N.slurm` before
 * it is submitted), by which it is found when the engine died before recording its handle.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureWritableDir } from "../artifacts/fs-util.js";
import { ensureBatonError } from "../errors.js";
import { limiter } from "../util/map-limit.js";
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
import { readStatusFile } from "./local-executor.js";
import { shellArgv } from "./shell.js";
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

/** A launch waits this long for more of its fan-out before its array is submitted... */
const BATCH_QUIET_MS = 100;
/** ...and never longer than this after the first one. */
const BATCH_MAX_WAIT_MS = 1000;

/**
 * `sbatch` calls at once: a thousand at once only make slurmctld refuse or time out some, leaving
 * it unknown whether it took their jobs.
 */
const SBATCH_AT_ONCE = 4;

/** Slurm's default `MaxArraySize` (indexes 0 to 1000), used when the configuration cannot be read. */
const DEFAULT_MAX_ARRAY_SIZE = 1001;

/** An attempt whose files are ready, waiting to be submitted. */
interface ReadyAttempt {
  request: LaunchRequest;
  paths: LocalAttemptPaths;
  /** The attempt's own script. */
  script: string;
  /** Its sbatch options beyond name, output and folder (the same for a whole array). */
  options: string[];
  resolve: (job: TaskProcess) => void;
}

/** Attempts of one fan-out launched together, to be submitted as one array. */
interface Batch {
  items: ReadyAttempt[];
  firstAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class SlurmExecutor implements Executor {
  readonly name = "slurm";
  readonly workspace: LocalWorkspace;
  private readonly pollMs: number;
  private readonly jobs = new Map<string, SlurmJob>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** Waiters for the end of the next poll that starts (adoptions, shutdown). */
  private waiters: Array<() => void> = [];
  private readonly batches = new Map<string, Batch>();
  private maxArray: Promise<number> | undefined;
  private readonly sbatchSlot = limiter(SBATCH_AT_ONCE);

  constructor(options: SlurmExecutorOptions) {
    this.workspace = options.workspace;
    this.pollMs = options.pollMs ?? (Number(process.env.BATON_SLURM_POLL_MS) || 1000);
  }

  async launch(request: LaunchRequest): Promise<TaskProcess> {
    if (request.go) await request.go;
    const paths = this.workspace.paths(request);
    let script: string;
    try {
      if (request.files) await this.workspace.prepare(request, request.files);
      script = this.prepareAttempt(request, paths);
    } catch (err) {
      return SlurmJob.notStarted(ensureBatonError(err).message);
    }
    const options = jobOptions(request);
    if (request.arrayGroup === undefined || request.pool?.slurm?.arrays === false)
      return this.submitOne(request, paths, script, options);
    const key = `${request.arrayGroup}\0${JSON.stringify(options)}`;
    return new Promise((resolve) => this.enqueue(key, { request, paths, script, options, resolve }));
  }

  async adopt(request: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }> {
    const paths = this.workspace.paths(request);
    let id = /^slurm:(\d+(?:_\d+)?)$/.exec(request.handle ?? "")?.[1];
    if (request.handle === null) {
      // The engine died between `sbatch` and recording the job: find it by its comment.
      const found = await findUnrecorded(markerPath(paths.statusPath, request.attempt));
      if (found === undefined) {
        const status = readStatusFile(paths.statusPath);
        if (status) return { ended: status };
        return { ended: lostResult("no Slurm job of this attempt was found") };
      }
      id = found;
    }
    if (id === undefined)
      return {
        ended: lostResult(`the attempt's handle ${JSON.stringify(request.handle)} is not a Slurm job`),
      };
    const job = this.watch(new SlurmJob(id, paths.statusPath, request.onQueued));
    // Adoptions made together are asked about in one `squeue`.
    await this.nextPoll();
    const ended = job.result;
    return ended ? { ended } : job;
  }

  /** Submits one attempt as one job. */
  private async submitOne(
    request: LaunchRequest,
    paths: LocalAttemptPaths,
    script: string,
    options: string[],
  ): Promise<TaskProcess> {
    const comment = jobComment(request);
    writeMarker(paths.statusPath, request.attempt, { comment });
    const args = [
      ...jobPlace(request.name, paths.logPath, request.cwd),
      ...options,
      `--comment=${comment}`,
      script,
    ];
    const id = await this.submit(args, comment);
    if (typeof id !== "string") return id;
    return this.watch(new SlurmJob(id, paths.statusPath, request.onQueued));
  }

  /** Holds an attempt for its fan-out's array, submitted once no more came for a moment. */
  private enqueue(key: string, item: ReadyAttempt): void {
    let batch = this.batches.get(key);
    if (!batch) {
      batch = { items: [], firstAt: Date.now(), timer: undefined };
      this.batches.set(key, batch);
    }
    batch.items.push(item);
    clearTimeout(batch.timer);
    const wait = Math.max(0, Math.min(BATCH_QUIET_MS, batch.firstAt + BATCH_MAX_WAIT_MS - Date.now()));
    const due = batch;
    batch.timer = setTimeout(() => {
      if (this.batches.get(key) === due) this.batches.delete(key);
      void this.submitBatch(due.items);
    }, wait);
  }

  /** Submits held attempts: arrays of at most `MaxArraySize`, a lone attempt as a plain job. */
  private async submitBatch(items: ReadyAttempt[]): Promise<void> {
    const max = await this.maxArraySize();
    for (let start = 0; start < items.length; start += max) {
      const chunk = items.slice(start, start + max);
      const [first] = chunk;
      if (chunk.length === 1 && first) {
        first.resolve(await this.submitOne(first.request, first.paths, first.script, first.options));
        continue;
      }
      try {
        const jobs = await this.submitArray(chunk);
        chunk.forEach((item, i) => item.resolve(jobs[i]!));
      } catch (err) {
        for (const item of chunk) item.resolve(SlurmJob.notStarted(ensureBatonError(err).message));
      }
    }
  }

  /**
   * Submits attempts as one job array. Its folder (`runs/RUN/slurm/TASK-N/`, named after the first
   * attempt) holds the dispatcher script and, for each index, a link to that attempt's log, which
   * Slurm appends the element's output to (`--output=DIR/%a.log`).
   */
  private async submitArray(chunk: ReadyAttempt[]): Promise<TaskProcess[]> {
    const first = chunk[0]!;
    const dir = path.join(
      path.dirname(path.dirname(first.paths.statusPath)),
      "slurm",
      `${first.request.taskId}-${first.request.attempt}`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
    ensureWritableDir(dir, "job array folder");
    const cases: string[] = [];
    const comment = jobComment(first.request);
    chunk.forEach((item, index) => {
      fs.symlinkSync(item.paths.logPath, path.join(dir, `${index}.log`));
      writeMarker(item.paths.statusPath, item.request.attempt, { comment, index });
      cases.push(`  ${index}) exec /bin/bash ${quote(item.script)} ;;`);
    });
    const dispatcher = path.join(dir, "array.sbatch");
    fs.writeFileSync(
      dispatcher,
      [
        "#!/bin/bash",
        `# Baton: job array of ${chunk.length} attempts of run ${first.request.runId}`,
        'case "$SLURM_ARRAY_TASK_ID" in',
        ...cases,
        "esac",
        'echo "baton: no attempt for array index $SLURM_ARRAY_TASK_ID" >&2',
        "exit 1",
        "",
      ].join("\n"),
      { mode: 0o700 },
    );
    const args = [
      ...jobPlace(arrayName(first.request.name), path.join(dir, "%a.log"), first.request.cwd),
      `--array=0-${chunk.length - 1}`,
      ...first.options,
      `--comment=${comment}`,
      dispatcher,
    ];
    const id = await this.submit(args, comment);
    if (typeof id !== "string") return chunk.map(() => id);
    return chunk.map((item, index) =>
      this.watch(new SlurmJob(`${id}_${index}`, item.paths.statusPath, item.request.onQueued)),
    );
  }

  /**
   * Runs `sbatch` (a few at once): the job id, or the attempt that could not start and why. When
   * `sbatch` failed or printed no id (it timed out, was killed...), the job is looked for by its
   * comment before the attempt is given up: Slurm may have taken it.
   */
  private submit(args: string[], comment: string): Promise<string | SlurmJob> {
    return this.sbatchSlot(async () => {
      let problem: string;
      try {
        const out = await run("sbatch", args, 300_000);
        // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
        const id = out.trim().split(";")[0] ?? "";
        if (/^\d+$/.test(id)) return id;
        problem = `sbatch printed no job id: ${JSON.stringify(out)}`;
      } catch (err) {
        problem = `sbatch refused the job: ${(err as Error).message}`;
      }
      // Even a refusal may have been a timeout after Slurm took the job: one `squeue` tells.
      return (await findJobByComment(comment)) ?? SlurmJob.notStarted(problem);
    });
  }

  /**
   * The most attempts in one array: the cluster's `MaxArraySize` (read once; an array's indexes
   * are below it), or less when `BATON_SLURM_MAX_ARRAY_SIZE` says so (a site whose QOS or submit
   * plugin allows smaller arrays).
   */
  private maxArraySize(): Promise<number> {
    const cap = Number(process.env.BATON_SLURM_MAX_ARRAY_SIZE) || Number.POSITIVE_INFINITY;
    this.maxArray ??= run("scontrol", ["show", "config"]).then(
      (out) => Math.max(1, Math.min(cap, maxArraySizeOf(out))),
      () => Math.max(1, Math.min(cap, DEFAULT_MAX_ARRAY_SIZE)),
    );
    return this.maxArray;
  }

  async shutdown(): Promise<void> {
    // Attempts held for an array that is not submitted yet never start.
    for (const batch of this.batches.values()) {
      clearTimeout(batch.timer);
      for (const item of batch.items)
        item.resolve(SlurmJob.notStarted("the engine stopped before its job was submitted"));
    }
    this.batches.clear();
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
    // `--array`: one line per element of an array (`123_4`), pending ones too.
    out = await run("squeue", [
      "--noheader",
      "--array",
      "--states=all",
      `--jobs=${ids.join(",")}`,
      "--format=%i|%T|%r",
    ]);
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
    private readonly onQueued?: QueuedListener,
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
    else if (seen.state === "PENDING")
      this.onQueued?.(
        seen.reason && seen.reason !== "None" ? `pending in Slurm (${seen.reason})` : "pending in Slurm",
      );
    else this.onQueued?.(null);
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

/** Where a job runs and writes: its name, its output (the attempt's log) and its folder. */
export function jobPlace(name: string, logPath: string, cwd: string): string[] {
  // In Slurm's file name patterns `%` introduces a field: `%%` is a literal one. `%a` (an array
  // index) is the only field Baton writes itself: keep it.
  const log = logPath.replaceAll("%", "%%").replace(/%%a\.log$/, "%a.log");
  return [
    "--parsable",
    `--job-name=${name}`,
    `--output=${log}`,
    `--error=${log}`,
    "--open-mode=append",
    `--chdir=${cwd}`,
  ];
}

/** sbatch options of an attempt beyond its place: pool options, resources, time limit. */
export function jobOptions(request: LaunchRequest): string[] {
  const args: string[] = [];
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
  args.push(...(slurm.extra ?? []));
  return args;
}

/** `sbatch` arguments for a lone attempt: its place, its options, the script. */
export function sbatchArgs(request: LaunchRequest, logPath: string, script: string): string[] {
  return [...jobPlace(request.name, logPath, request.cwd), ...jobOptions(request), script];
}

/** An array's job name: the fan-out's node (`train` for `train[3]`). */
function arrayName(taskName: string): string {
  return taskName.replace(/\[.*\]$/, "") || taskName;
}

/** `MaxArraySize` from `scontrol show config` (Slurm's default when it is not there). */
export function maxArraySizeOf(config: string): number {
  return Number(/^MaxArraySize\s*=\s*(\d+)/m.exec(config)?.[1]) || DEFAULT_MAX_ARRAY_SIZE;
}

/** Where an attempt's job is described before it is submitted (`attempt-N.slurm`). */
function markerPath(statusPath: string, attempt: number): string {
  return path.join(path.dirname(statusPath), `attempt-${attempt}.slurm`);
}

/** The comment a job carries: `baton:TASK:ATTEMPT` of its attempt (of an array's first one). */
function jobComment(attempt: AttemptRef): string {
  return `baton:${attempt.taskId}:${attempt.attempt}`;
}

/** Writes, before `sbatch`, the comment the attempt's job will carry and its index in its array. */
function writeMarker(statusPath: string, attempt: number, job: { comment: string; index?: number }): void {
  fs.writeFileSync(markerPath(statusPath, attempt), `${JSON.stringify(job)}\n`);
}

/**
 * The job id of an attempt whose handle was not recorded, from the comment its marker names;
 * undefined when it has no marker (never submitted) or Slurm knows no such job.
 */
async function findUnrecorded(marker: string): Promise<string | undefined> {
  let wanted: { comment: string; index?: number };
  try {
    wanted = JSON.parse(fs.readFileSync(marker, "utf8"));
  } catch {
    return undefined;
  }
  const ids = await jobsWithComment(wanted.comment);
  return ids.find((id) => (wanted.index === undefined ? /^\d+$/.test(id) : id.endsWith(`_${wanted.index}`)));
}

/** The job (an array: its job id) that carries this comment, if Slurm knows one. */
async function findJobByComment(comment: string): Promise<string | undefined> {
  return (await jobsWithComment(comment))[0]?.split("_")[0];
}

/** This user's jobs and array elements (`123`, `124_5`) that carry this comment. */
async function jobsWithComment(comment: string): Promise<string[]> {
  let out: string;
  try {
    out = await run("squeue", ["--noheader", "--me", "--array", "--states=all", "--format=%i|%k"]);
  } catch {
    return [];
  }
  const ids: string[] = [];
  for (const line of out.split("\n")) {
    const bar = line.lastIndexOf("|");
    if (bar > 0 && line.slice(bar + 1).trim() === comment) ids.push(line.slice(0, bar).trim());
  }
  return ids;
}

function lostResult(message: string): ExitResult {
  return { exitCode: null, signal: null, reason: "lost", message, endedAt: Date.now() };
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
    `exec ${shellArgv(request.command, { ...process.env, ...env })
      .map(quote)
      .join(" ")}`,
    "",
  );
  return lines.join("\n");
}

/** A word for bash, in single quotes. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Runs a Slurm command; rejects with its stderr (or how it could not start). */
function run(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error((stderr || err.message).trim()));
        else resolve(stdout);
      },
    );
  });
}
