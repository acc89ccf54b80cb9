/**
 * `compat: valohai` — what a task written for Valohai expects, on top of Baton's own:
 * - the environment valohai-utils reads: `VH_OUTPUTS_DIR` (= `$BATON_OUTPUT_DIR`),
 *   `VH_INPUTS_DIR` (= `$BATON_INPUTS_DIR`, one folder per input), `VH_CONFIG_DIR`,
 *   `VH_REPOSITORY_DIR` (the project folder, where the task runs) and `VH_JOB_ID` (the task id;
 *   valohai-utils takes its presence to mean "running in Valohai" and then trusts the variables);
 * - `VH_CONFIG_DIR/parameters.json` (`{ "NAME": value }`) and `VH_CONFIG_DIR/inputs.json`
 *   (`{ "NAME": { "files": [{ "name", "path", "uri", "size", "checksums" }] } }`), the files
 *   valohai-utils loads its parameters and inputs from;
 * - Valohai metadata: a JSON object printed alone on a line of the task's log (stdout and
 *   stderr share it) is recorded as metrics, later keys winning.
 */
import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AttemptRef, TaskRef } from "../executors/executor.js";
import { dict } from "../util/dict.js";
import type { Engine } from "./engine.js";

/** Where a task's Valohai config files go: beside its inputs and output folders. */
export function valohaiConfigDir(engine: Engine, task: TaskRef): string {
  return path.join(engine.layout.taskDir(task.runId, task.taskId), "valohai-config");
}

/** The `VH_*` variables of a task (see the module comment). */
export function valohaiEnv(engine: Engine, task: TaskRef, cwd: string): Record<string, string> {
  const folders = engine.executor.workspace.folders(task);
  return {
    VH_OUTPUTS_DIR: folders.outputDir,
    VH_INPUTS_DIR: folders.inputsDir,
    VH_CONFIG_DIR: valohaiConfigDir(engine, task),
    VH_REPOSITORY_DIR: path.resolve(cwd),
    VH_JOB_ID: task.taskId,
  };
}

/** One file of an input, as the task will see it. */
export interface ValohaiInputFile {
  /** Absolute path of the file in the task's inputs folder. */
  path: string;
  /** Where it came from: its URL, or its path on this machine. */
  uri: string;
  sha256?: string | undefined;
}

/** Writes `parameters.json` and `inputs.json` into the task's `VH_CONFIG_DIR`. */
export async function writeValohaiConfig(
  engine: Engine,
  task: TaskRef,
  params: Record<string, unknown>,
  inputs: Record<string, ValohaiInputFile[]>,
): Promise<void> {
  const dir = valohaiConfigDir(engine, task);
  await mkdir(dir, { recursive: true });
  const inputsJson: Record<string, { files: unknown[] }> = dict();
  for (const [name, files] of Object.entries(inputs)) {
    inputsJson[name] = {
      files: await Promise.all(
        files.map(async (f) => ({
          name: path.basename(f.path),
          path: f.path,
          uri: f.uri,
          size: await stat(f.path).then(
            (st) => st.size,
            () => null,
          ),
          checksums: f.sha256 ? { sha256: f.sha256 } : {},
        })),
      ),
    };
  }
  await writeFile(path.join(dir, "parameters.json"), `${JSON.stringify(params, null, 2)}\n`);
  await writeFile(path.join(dir, "inputs.json"), `${JSON.stringify(inputsJson, null, 2)}\n`);
}

/** Reading the log stops after this much (a task printing gigabytes gets its first metrics). */
const MAX_LOG_SCAN = 256 * 1024 * 1024;

/** Metrics printed as JSON objects alone on a line of an attempt's log, in order (later keys win). */
export async function readValohaiMetadata(
  engine: Engine,
  attempt: AttemptRef,
): Promise<Record<string, unknown>> {
  const metrics: Record<string, unknown> = dict();
  const decoder = new TextDecoder();
  let offset = 0;
  let rest = "";
  const take = (line: string) => {
    const t = line.trim();
    if (!t.startsWith("{") || !t.endsWith("}")) return;
    try {
      const value = JSON.parse(t) as unknown;
      if (value && typeof value === "object" && !Array.isArray(value)) Object.assign(metrics, value);
    } catch {
      // an ordinary line that happens to look like an object
    }
  };
  while (offset < MAX_LOG_SCAN) {
    const chunk = await engine.executor.workspace.readLog(attempt, offset);
    if (chunk.data.length === 0) break;
    offset = chunk.offset;
    const lines = (rest + decoder.decode(chunk.data, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) take(line);
  }
  take(rest + decoder.decode());
  return metrics;
}
