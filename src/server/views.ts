/**
 * Looking up runs and tasks named in URLs, and the JSON shapes the API answers with. Tasks are
 * shown as `taskView` (the `--json` shape of docs/cli.md) so that the CLI, the SDK and the API agree.
 */
import { explainCache } from "../engine/cache-explanation.js";
import { attemptView, iso, taskView } from "../engine/task-view.js";
import { BatonError } from "../errors.js";
import {
  type RunRow,
  type Store,
  TASK_STATUSES,
  type TaskRow,
  type TaskStatus,
  rootRun,
} from "../store/store.js";
import type { ServerContext } from "./context.js";
import { notFound } from "./http-errors.js";
import type { RunSummary, TaskDetail } from "./schemas.js";

/** Ids are `run_`/`task_` and a ULID, or bare ULIDs, or prefixes: anything else never reaches the store. */
const ID_TEXT = /^[0-9A-Za-z_]{1,40}$/;

/**
 * The run or task with this id (or unique prefix, see `Store.resolveId`), of the kind the route
 * serves. An id of the other kind is a 404 that points at the right route.
 * @throws 404 (also for a too-short prefix), or 409 for an ambiguous one (listing candidates).
 */
async function resolveKind(store: Store, id: string, kind: "run" | "task"): Promise<string> {
  if (!ID_TEXT.test(id)) throw notFound(`no ${kind} "${id}"`);
  try {
    return (await store.resolveId(id, kind)).id;
  } catch (err) {
    if (!(err instanceof BatonError) || err.code !== "STORE_NOT_FOUND") throw err;
    const other = kind === "run" ? "task" : "run";
    const hit = await store.resolveId(id, other).catch(() => undefined);
    if (hit) throw notFound(`${id} is a ${other}, not a ${kind}: see /api/v1/${other}s/${hit.id}`);
    throw err;
  }
}

/** The run with this id (or unique prefix). @throws 404, or 409 for an ambiguous prefix. */
export async function findRun(store: Store, id: string): Promise<RunRow> {
  const run = await store.getRun(await resolveKind(store, id, "run"));
  if (!run) throw notFound(`no run "${id}"`);
  return run;
}

/** The task with this id (or unique prefix). @throws 404, or 409 for an ambiguous prefix. */
export async function findTask(store: Store, id: string): Promise<TaskRow> {
  const task = await store.getTask(await resolveKind(store, id, "task"));
  if (!task) throw notFound(`no task "${id}"`);
  return task;
}

/** Tasks by status, every status present. */
export function countByStatus(tasks: Pick<TaskRow, "status">[]): Record<TaskStatus, number> {
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for (const t of tasks) counts[t.status]++;
  return counts;
}

/** A run as `GET /runs` lists it. */
export async function runSummary(ctx: ServerContext, run: RunRow, tasks?: TaskRow[]): Promise<RunSummary> {
  const root = run.parentRunId ? await rootRun(ctx.store, run) : run;
  return {
    id: run.id,
    pipeline: run.pipeline,
    status: run.status,
    params: run.params,
    createdAt: iso(run.createdAt),
    endedAt: iso(run.endedAt),
    parentRun: run.parentRunId,
    parentTask: run.parentTaskId,
    specFile: run.specFile,
    error: run.error,
    trigger: run.options.trigger ?? null,
    // A pipeline run this server tracks, or a tree of submitted tasks its engine drives.
    driven:
      ctx.runs.get(root.id) !== undefined || (root.status === "running" && root.engineId === ctx.engine.id),
    // Counted by the database when the tasks are not at hand: a run may have 100,000.
    counts: tasks ? countByStatus(tasks) : { ...countByStatus([]), ...(await ctx.store.countTasks(run.id)) },
  };
}

/** A task with everything `baton show --json` shows, and where to read its logs. */
export async function taskDetail(store: Store, task: TaskRow): Promise<TaskDetail> {
  const outputs = await store.listOutputs([task.id]);
  const attempts = await store.listAttempts(task.id);
  return {
    ...taskView(task, outputs),
    pool: task.pool,
    command: task.command,
    params: task.params,
    item: task.item ?? null,
    error: task.error,
    cacheKey: task.cacheKey,
    cache: (await explainCache(store, task)) ?? null,
    createdAt: iso(task.createdAt),
    attemptsDetail: attempts.map((a) => ({
      ...attemptView(a),
      logUrl: `/api/v1/tasks/${task.id}/log?attempt=${a.number}`,
    })),
  };
}
