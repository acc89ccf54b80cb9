import { isReservedTaskEnv } from "../spec/reserved-env.js";
import type { StateLayout } from "./layout.js";
import { paramEnvName, paramEnvValue } from "./task-context.js";

export interface TaskEnvInput {
  /**
   * Where the task's folders are on this machine: adds the folder variables (`BATON_OUTPUT_DIR`
   * ...). Without it they are left to the executor, which knows where the task runs.
   */
  layout?: StateLayout;
  runId: string;
  task: { id: string; name: string; outputDir?: string };
  /** The task's own params (not its run's): each becomes `BATON_PARAM_<NAME>`. */
  params: Record<string, unknown>;
  /** The task's `env:` (pipeline file) or `-e` / `env` (submission), already evaluated. */
  userEnv: Record<string, string>;
  /**
   * What the engine adds for every task (`Engine.taskEnv`): `BATON_URL`, `BATON_TOKEN` of its API,
   * which always win, and any other variable, which the task's own `env:` may override.
   */
  engineEnv: Record<string, string>;
  /** For one of `-N` copies. */
  shard?: { id: number; total: number } | undefined;
  /** The attempt about to start: adds `BATON_ATTEMPT` (and, with `layout`, `BATON_METRICS`, `BATON_STATUS_FILE`). */
  attempt?: number;
}

/**
 * The environment a task's process gets on top of the engine's own (docs/pipeline-file.md,
 * "What a task sees"), the same for a pipeline task, a submitted task and a nested one. In
 * order: the engine's extra variables, the user's, the params, then Baton's own. A reserved name
 * among the user's (refused at validation and at submission, but perhaps in an older record) is
 * dropped, so Baton's variables always win.
 */
export function buildTaskEnv(input: TaskEnvInput): Record<string, string> {
  const { layout, runId, task } = input;
  const env: Record<string, string> = Object.create(null);
  for (const [name, value] of Object.entries(input.engineEnv))
    if (!isReservedTaskEnv(name)) env[name] = value;
  for (const [name, value] of Object.entries(input.userEnv)) if (!isReservedTaskEnv(name)) env[name] = value;
  for (const [name, value] of Object.entries(input.params)) env[paramEnvName(name)] = paramEnvValue(value);
  for (const name of ["BATON_URL", "BATON_TOKEN"]) {
    const value = input.engineEnv[name];
    if (value !== undefined) env[name] = value;
  }
  env.BATON_RUN_ID = runId;
  env.BATON_TASK_ID = task.id;
  env.BATON_TASK_NAME = task.name;
  if (layout) {
    env.BATON_OUTPUT_DIR = task.outputDir ?? layout.outputDir(runId, task.id);
    env.BATON_INPUTS_DIR = layout.inputsDir(runId, task.id);
    env.BATON_PIPELINE_DIR = layout.pipelineDir(runId);
  }
  if (input.shard) {
    env.BATON_SHARD_ID = String(input.shard.id);
    env.BATON_TOTAL_SHARDS = String(input.shard.total);
  }
  if (input.attempt !== undefined) {
    env.BATON_ATTEMPT = String(input.attempt);
    if (layout) {
      env.BATON_METRICS = layout.metricsPath(runId, task.id, input.attempt);
      env.BATON_STATUS_FILE = layout.statusPath(runId, task.id, input.attempt);
    }
  }
  return { ...env };
}
