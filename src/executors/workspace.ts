/**
 * Where an executor's attempts keep their files: log, exit status, metrics, output folder,
 * inputs folder, the run's shared folder. The engine never builds those paths itself: it names
 * the attempt and describes the files, and the executor's workspace places, reads and collects
 * them where the task runs. `LocalWorkspace` is this machine's disk (the `.baton/` layout); a
 * remote executor (Slurm, an agent on another machine) implements the same interface over its
 * own file system or over HTTP.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { ContentStore } from "../artifacts/cas.js";
import { type Collected, collectAttempt } from "../artifacts/collect.js";
import { createInputLinks } from "../artifacts/inputs.js";
import { restoreOutputs } from "../artifacts/outputs.js";
import type { StateLayout } from "../engine/layout.js";
import { BatonError } from "../errors.js";

/** Names one task of a run, wherever it runs. */
export interface TaskRef {
  runId: string;
  taskId: string;
  /** The task's name (`BATON_TASK_NAME`). */
  name: string;
}

/** Names one attempt of a task (numbered from 1). */
export interface AttemptRef extends TaskRef {
  attempt: number;
}

/**
 * One file to place in an input's folder: by where it is (`source`, a path the executor can
 * reach: linked locally) or by its content (`sha256`, fetched from the content store). When both
 * are given, an executor picks what suits it.
 */
export interface InputFileSpec {
  /** Path below the input's folder (`model.pt`, `train/model.pt`): already free of clashes. */
  rel: string;
  source?: string;
  sha256?: string;
}

/** What to place in a task's folders before it runs, described rather than located. */
export interface PrepareRequest {
  /** Each input's files, laid out under `$BATON_INPUTS_DIR/NAME/` (replacing what was there). */
  inputs?: Array<{ name: string; files: InputFileSpec[] }>;
  /** A cached result's outputs, restored into the task's output folder by content. */
  restore?: Array<{ path: string; sha256: string }>;
}

/** The folders a task sees, as paths where it runs (`$BATON_OUTPUT_DIR` and friends). */
export interface TaskFolders {
  outputDir: string;
  inputsDir: string;
  /** `$BATON_PIPELINE_DIR`: shared by the tasks of a run. */
  pipelineDir: string;
}

/** A piece of an attempt's log. */
export interface LogChunk {
  data: Buffer;
  /** Where the next read starts. */
  offset: number;
}

export interface Workspace {
  /** Where a task's folders are, as the task sees them. */
  folders(task: TaskRef): TaskFolders;
  /** The folder variables an attempt's process gets (`BATON_OUTPUT_DIR` ... `BATON_STATUS_FILE`). */
  attemptEnv(attempt: AttemptRef): Record<string, string>;
  /** Where the attempt's log is, in words a user can follow (shown by `baton show`, the API). */
  logLocation(attempt: AttemptRef): string;
  /**
   * Places a task's input files and restores cached outputs into its output folder.
   * @throws BatonError `TASK_SETUP` when a file cannot be placed.
   */
  prepare(task: TaskRef, request: PrepareRequest): Promise<void>;
  /** Up to `maxBytes` of the attempt's log from `offset` (nothing when there is no log yet). */
  readLog(attempt: AttemptRef, offset: number, maxBytes?: number): Promise<LogChunk>;
  /**
   * Reads the attempt's metrics and, with `outputs` globs (after a success), records its output
   * files in the content store; for attempts the executor could not collect when they ended.
   */
  collect(attempt: AttemptRef, outputs: string[] | null): Promise<Collected>;
}

/** The files of one attempt on this machine. */
export interface LocalAttemptPaths extends TaskFolders {
  logPath: string;
  statusPath: string;
  metricsPath: string;
}

/** The local disk: `.baton/runs/RUN/TASK/` (docs/cli.md), and the content store beside it. */
export class LocalWorkspace implements Workspace {
  readonly cas: ContentStore;

  constructor(
    readonly layout: StateLayout,
    cas?: ContentStore,
  ) {
    this.cas = cas ?? new ContentStore(layout.cas);
  }

  folders(task: TaskRef): TaskFolders {
    return {
      outputDir: this.layout.outputDir(task.runId, task.taskId),
      inputsDir: this.layout.inputsDir(task.runId, task.taskId),
      pipelineDir: this.layout.pipelineDir(task.runId),
    };
  }

  paths(attempt: AttemptRef): LocalAttemptPaths {
    const { runId, taskId } = attempt;
    return {
      ...this.folders(attempt),
      logPath: this.layout.logPath(runId, taskId, attempt.attempt),
      statusPath: this.layout.statusPath(runId, taskId, attempt.attempt),
      metricsPath: this.layout.metricsPath(runId, taskId, attempt.attempt),
    };
  }

  attemptEnv(attempt: AttemptRef): Record<string, string> {
    return folderEnv(this.paths(attempt));
  }

  logLocation(attempt: AttemptRef): string {
    return this.layout.logPath(attempt.runId, attempt.taskId, attempt.attempt);
  }

  async prepare(task: TaskRef, request: PrepareRequest): Promise<void> {
    const { inputsDir, outputDir } = this.folders(task);
    for (const input of request.inputs ?? []) {
      const root = join(inputsDir, input.name);
      // Linked where they are (their targets untouched); files known only by content come from the store.
      const linked = input.files.filter((f) => f.source !== undefined);
      const rels = linked.map((f) => f.rel);
      await createInputLinks(
        { name: input.name, root, rels, links: rels.map((rel) => join(root, rel)) },
        linked.map((f) => ({ abs: f.source as string, rel: f.rel })),
      );
      for (const f of input.files) {
        if (f.source !== undefined) continue;
        if (f.sha256 === undefined) {
          throw new BatonError(
            "TASK_SETUP",
            `input "${input.name}": file ${f.rel} has neither a source nor a sha256`,
            {
              context: { input: input.name, path: f.rel },
            },
          );
        }
        await this.cas.restore(f.sha256, join(root, f.rel));
      }
    }
    if (request.restore && request.restore.length > 0) {
      await restoreOutputs(
        outputDir,
        request.restore.map((o) => ({ path: o.path, sha256: o.sha256, size: 0 })),
        this.cas,
      );
    }
  }

  async readLog(attempt: AttemptRef, offset: number, maxBytes = 1 << 20): Promise<LogChunk> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.logLocation(attempt), "r");
    } catch {
      return { data: Buffer.alloc(0), offset };
    }
    try {
      const buffer = Buffer.alloc(maxBytes);
      const { bytesRead } = await handle.read(buffer, 0, maxBytes, offset);
      return { data: buffer.subarray(0, bytesRead), offset: offset + bytesRead };
    } finally {
      await handle.close();
    }
  }

  collect(attempt: AttemptRef, outputs: string[] | null): Promise<Collected> {
    const p = this.paths(attempt);
    return collectAttempt(
      {
        outputDir: p.outputDir,
        globs: outputs,
        casRoot: this.cas.root,
        metricsPath: p.metricsPath,
        logPath: p.logPath,
      },
      this.cas,
    );
  }
}

/** The folder variables of an attempt whose paths are known (see {@link Workspace.attemptEnv}). */
export function folderEnv(p: LocalAttemptPaths): Record<string, string> {
  return {
    BATON_OUTPUT_DIR: p.outputDir,
    BATON_INPUTS_DIR: p.inputsDir,
    BATON_PIPELINE_DIR: p.pipelineDir,
    BATON_METRICS: p.metricsPath,
    BATON_STATUS_FILE: p.statusPath,
  };
}
