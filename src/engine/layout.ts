import fs from "node:fs";
import path from "node:path";
import { BatonError } from "../errors.js";
import { stateModes } from "../util/state-mode.js";

/** `--data` as given, else BATON_DATA, else undefined (`.baton/` beside the project). */
export function dataFromEnv(data: string | undefined): string | undefined {
  return data || process.env.BATON_DATA || undefined;
}

/**
 * THE rule for where Baton's state folder is (docs/cli.md "State folder"): `data` (`--data`,
 * else BATON_DATA; relative to the current directory) when given, else `.baton/` beside the
 * project in `workdir`. It holds the database, `cas/`, `runs/`, the token and the server's
 * `pipelines/` and `definitions/`; what is about processes on this host stays in
 * {@link hostStateDir}.
 */
export function stateLayoutFor(workdir: string, data?: string): StateLayout {
  const dir = dataFromEnv(data);
  if (dir === undefined) return new StateLayout(path.join(path.resolve(workdir), ".baton"));
  return new StateLayout(path.resolve(dir), dir);
}

/**
 * The per-host folder of a project: always `.baton/` beside it, even with `--data`. It holds
 * what is about processes on THIS host, meaningless on another: `server.json` (the live server
 * of the folder, a pid checked here) and `engines/PID.json` (the API of an embedded engine).
 */
export function hostStateDir(workdir: string): string {
  return path.join(path.resolve(workdir), ".baton");
}

/** A name Baton made (a run or task id): one plain path segment, joined without normalising. */
const PLAIN_SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * `path.join(dir, name)` for a normalised `dir`: a plain id is appended as is (a fully cached
 * rerun of 10,000 tasks asks for each task's folders several times); anything else is joined.
 */
function below(dir: string, name: string): string {
  return PLAIN_SEGMENT.test(name) ? `${dir}${path.sep}${name}` : path.join(dir, name);
}

/**
 * Where Baton keeps things on disk (docs/cli.md): `.baton/` beside `baton.yaml` (or the
 * `--data` folder), holding `baton.db`, `cas/` and `runs/<run>/<task>/` (output, inputs, one
 * log per attempt). Made by {@link stateLayoutFor}.
 */
export class StateLayout {
  private readonly runsDir: string;

  /**
   * @param given the `--data`/BATON_DATA text this folder was chosen by, as the user wrote it
   *   (undefined: the default `.baton/`), for error messages.
   */
  constructor(
    readonly root: string,
    readonly given?: string,
  ) {
    this.runsDir = path.join(root, "runs");
  }

  /**
   * Creates a state folder chosen by `--data` (or BATON_DATA) and checks that it can be
   * written, before anything is started in it. The default `.baton/` is made as it is used.
   * @throws USAGE naming the folder, when it cannot be created or written.
   */
  prepare(): this {
    if (this.given === undefined) return this;
    try {
      // One level at a time from the nearest folder that exists: a recursive mkdir spins
      // forever under some pseudo file systems (`/proc/x`) instead of failing.
      const missing: string[] = [];
      for (let d = this.root; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d))
        missing.unshift(d);
      const mode = stateModes().dir;
      for (const d of missing) {
        fs.mkdirSync(d, { mode });
        if ((mode & ~process.umask()) !== mode) fs.chmodSync(d, mode);
      }
      if (!fs.statSync(this.root).isDirectory())
        throw Object.assign(new Error("not a folder"), { code: "ENOTDIR" });
      fs.accessSync(this.root, fs.constants.W_OK | fs.constants.X_OK);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why =
        code === "EEXIST" || code === "ENOTDIR"
          ? "a file is in the way"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : code === "EROFS"
              ? "read-only file system"
              : err instanceof Error
                ? err.message
                : String(err);
      throw new BatonError(
        "USAGE",
        `--data ${this.given}: cannot create or write the state folder ${this.root}: ${why}`,
        { context: { value: this.given } },
      );
    }
    return this;
  }

  get database(): string {
    return path.join(this.root, "baton.db");
  }
  get cas(): string {
    return path.join(this.root, "cas");
  }
  runDir(runId: string): string {
    return below(this.runsDir, runId);
  }
  /** `BATON_PIPELINE_DIR`: one folder shared by all tasks of a run. */
  pipelineDir(runId: string): string {
    return `${this.runDir(runId)}${path.sep}shared`;
  }
  taskDir(runId: string, taskId: string): string {
    return below(this.runDir(runId), taskId);
  }
  outputDir(runId: string, taskId: string): string {
    return `${this.taskDir(runId, taskId)}${path.sep}output`;
  }
  inputsDir(runId: string, taskId: string): string {
    return `${this.taskDir(runId, taskId)}${path.sep}inputs`;
  }
  logPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.log`);
  }
  statusPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.status`);
  }
  metricsPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.metrics.jsonl`);
  }
}
