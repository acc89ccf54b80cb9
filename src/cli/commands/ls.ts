import { iso, shownStatus, taskViews } from "../../engine/task-view.js";
import { BatonError } from "../../errors.js";
import { type RunRow, type Store, TASK_STATUSES, type TaskRow, type TaskStatus } from "../../store/store.js";
import { formatMs } from "../../util/format-ms.js";
import { groupBy } from "../../util/group-by.js";
import { plural } from "../../util/plural.js";
import { openExistingStore } from "../state.js";
import { cell, table } from "../table.js";

export interface LsOptions {
  file: string;
  /** `--db`: the state database (else BATON_DB, else `.baton/baton.db`). */
  db?: string;
  /** `--data`: the state folder (else BATON_DATA, else `.baton/`). */
  data?: string;
  tree?: boolean;
  status: string[];
  json?: boolean;
}

/** `baton ls`: the latest runs; `baton ls RUN`: that run's tasks (`--json`: the tasks array). */
export async function lsCommand(runId: string | undefined, opts: LsOptions): Promise<void> {
  for (const s of opts.status) {
    if (!(TASK_STATUSES as readonly string[]).includes(s)) {
      throw new BatonError("USAGE", `--status ${s}: expected one of ${TASK_STATUSES.join(", ")}`);
    }
  }
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    // `--tree` and `--json` show the tasks of a run: the latest one, unless one is named.
    if (runId === undefined && !opts.json && !opts.tree) {
      await printRuns(store);
      return;
    }
    const run = await pickRun(store, runId);
    const tasks = await store.listTasks({ run: run.id, status: opts.status as TaskStatus[] });
    if (opts.json) {
      const outputs = await store.listOutputs(tasks.map((t) => t.id));
      process.stdout.write(`${JSON.stringify(taskViews(tasks, outputs), null, 2)}\n`);
      return;
    }
    process.stdout.write(`run ${run.id} ${cell(run.pipeline)} ${run.status}\n`);
    const rows = opts.tree ? treeRows(tasks) : tasks.map((t) => ({ task: t, label: t.name }));
    process.stdout.write(
      table(
        ["TASK", "NAME", "STATUS", "EXIT", "TRIES", "DURATION"],
        rows.map(({ task: t, label }) => [
          t.id,
          label,
          shownStatus(t),
          t.exitCode === null ? "" : String(t.exitCode),
          String(t.attempts),
          duration(t.startedAt, t.endedAt),
        ]),
      ),
    );
  } finally {
    await store.close();
  }
}

async function pickRun(store: Store, runId: string | undefined): Promise<RunRow> {
  if (runId === undefined) {
    // The newest run started by a user: child runs of `pipeline:` nodes belong to their parent.
    const latest = (await store.listRuns({ limit: 50 })).find((r) => r.parentRunId === null);
    if (!latest) throw new BatonError("STORE_NOT_FOUND", "no runs yet");
    return latest;
  }
  const hit = await store.resolveId(runId);
  if (hit.kind === "run") return (await store.getRun(hit.id))!;
  const task = (await store.getTask(hit.id))!;
  return (await store.getRun(task.runId))!;
}

async function printRuns(store: Store): Promise<void> {
  const runs = await store.listRuns({ limit: 20 });
  if (runs.length === 0) {
    process.stdout.write("no runs yet\n");
    return;
  }
  const rows: string[][] = [];
  for (const run of runs) {
    const tasks = await store.listTasks({ run: run.id });
    const counts = new Map<string, number>();
    for (const t of tasks) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
    const summary = [...counts].map(([s, n]) => `${n} ${s}`).join(", ");
    rows.push([
      run.id,
      run.pipeline,
      run.status,
      iso(run.createdAt)!.slice(0, 19).replace("T", " "),
      duration(run.createdAt, run.endedAt),
      summary,
    ]);
  }
  process.stdout.write(table(["RUN", "PIPELINE", "STATUS", "STARTED", "DURATION", "TASKS"], rows));
}

/** Tasks ordered parent-first, with indentation and child counts. */
function treeRows(tasks: TaskRow[]): Array<{ task: TaskRow; label: string }> {
  const ids = new Set(tasks.map((t) => t.id));
  const children = groupBy(tasks, (t) => (t.parentId && ids.has(t.parentId) ? t.parentId : null));
  const out: Array<{ task: TaskRow; label: string }> = [];
  const walk = (parent: string | null, depth: number) => {
    for (const t of children.get(parent) ?? []) {
      const n = children.get(t.id)?.length ?? 0;
      out.push({
        task: t,
        label: `${"  ".repeat(depth)}${depth ? "└ " : ""}${t.name}${n ? ` (${plural(n, "child", "children")})` : ""}`,
      });
      walk(t.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function duration(start: number | null, end: number | null): string {
  if (start === null) return "";
  return formatMs((end ?? Date.now()) - start);
}
