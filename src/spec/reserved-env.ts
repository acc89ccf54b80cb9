/**
 * Baton's own variables: what a task is told about itself and where its folders are. The engine
 * relies on them (the output folder it collects, the status file it reads, the task id a nested
 * `baton submit` names as parent), so a task's `env:` / `-e` can never set them.
 */
export const RESERVED_TASK_ENV = [
  "BATON_RUN_ID",
  "BATON_TASK_ID",
  "BATON_TASK_NAME",
  "BATON_OUTPUT_DIR",
  "BATON_INPUTS_DIR",
  "BATON_PIPELINE_DIR",
  "BATON_SHARD_ID",
  "BATON_TOTAL_SHARDS",
  "BATON_ATTEMPT",
  "BATON_METRICS",
  "BATON_STATUS_FILE",
  "BATON_URL",
  "BATON_TOKEN",
] as const;

const RESERVED = new Set<string>(RESERVED_TASK_ENV);

/** Whether `name` is one of Baton's own task variables (a `BATON_PARAM_*` included), which `env:` may not set. */
export function isReservedTaskEnv(name: string): boolean {
  return RESERVED.has(name) || name.startsWith("BATON_PARAM_");
}

/**
 * Why a user's variable `name` is refused, or undefined when it may be set. Other `BATON_*`
 * names (`BATON_PROGRESS`, `BATON_DEBUG`...) configure a `baton` command the task runs itself:
 * those are the user's to set.
 */
export function reservedTaskEnvProblem(name: string): string | undefined {
  if (name.startsWith("BATON_PARAM_"))
    return `${name} is set by Baton from the task's params: pass the value as a param instead of in env`;
  if (RESERVED.has(name))
    return `${name} is set by Baton for every task and cannot be overridden (reserved: ${RESERVED_TASK_ENV.join(", ")}, BATON_PARAM_*)`;
  return undefined;
}
