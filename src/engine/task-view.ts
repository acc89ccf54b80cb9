import type { AttemptRow, OutputRow, RunRow, TaskStatus, TaskViewRow } from "../store/store.js";
import { dict } from "../util/dict.js";
import { groupBy } from "../util/group-by.js";
import { joinUnder } from "../util/paths.js";

/** A task as `--json`, the API and the SDK show it (docs/cli.md). */
export interface TaskView {
  id: string;
  run: string;
  name: string;
  node: string | null;
  parent: string | null;
  /** As recorded, except a `running` task whose executor has not started it yet: `queued`. */
  status: TaskStatus;
  /** Why a queued task waits where its executor runs it (`pending in Slurm (Priority)`), or null. */
  queueReason: string | null;
  exitCode: number | null;
  attempts: number;
  cached: boolean;
  startedAt: string | null;
  endedAt: string | null;
  outputDir: string;
  /** Absolute paths of the recorded output files. */
  outputs: string[];
  metrics: Record<string, unknown>;
  /** `image:` of the task's node, or null. */
  image: string | null;
  /** The labels it was submitted with ({} for pipeline tasks). */
  labels: Record<string, string>;
  /** Gates: its approval, once its gate was reached (times ISO 8601). */
  approval: {
    state: "waiting" | "approved" | "rejected";
    message: string;
    requestedAt: string | null;
    by: string | null;
    at: string | null;
    comment: string | null;
  } | null;
}

export interface RunView {
  id: string;
  pipeline: string;
  status: RunRow["status"];
}

export function taskView(task: TaskViewRow, outputs: OutputRow[]): TaskView {
  return {
    id: task.id,
    run: task.runId,
    name: task.name,
    node: task.node,
    parent: task.parentId,
    status: shownStatus(task),
    queueReason: task.status === "running" ? task.queueReason : null,
    exitCode: task.exitCode,
    attempts: task.attempts,
    cached: task.cached,
    startedAt: iso(task.startedAt),
    endedAt: iso(task.endedAt),
    outputDir: task.outputDir,
    outputs: outputs.map((o) => joinUnder(task.outputDir, o.path)),
    metrics: task.metrics,
    image: task.image,
    labels: taskLabels(task),
    approval: task.approval
      ? { ...task.approval, requestedAt: iso(task.approval.requestedAt), at: iso(task.approval.at) }
      : null,
  };
}

/** The status users see: as recorded, but `queued` for a running task its executor has not started yet. */
export function shownStatus(task: Pick<TaskViewRow, "status" | "queueReason">): TaskStatus {
  return task.status === "running" && task.queueReason ? "queued" : task.status;
}

/** A submitted task's labels, as recorded with its submission. */
export function taskLabels(task: Pick<TaskViewRow, "submit">): Record<string, string> {
  const labels = task.submit?.labels;
  const out: Record<string, string> = dict();
  if (labels && typeof labels === "object") {
    for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** Views of many tasks with one outputs query. */
export function taskViews(tasks: TaskViewRow[], outputs: OutputRow[]): TaskView[] {
  const byTask = groupBy(outputs, (o) => o.taskId);
  return tasks.map((t) => taskView(t, byTask.get(t.id) ?? []));
}

/** An attempt as `show --json` and the API show it. */
export function attemptView(a: AttemptRow) {
  return {
    number: a.number,
    status: a.status,
    exitCode: a.exitCode,
    signal: a.signal,
    reason: a.reason,
    message: a.message,
    startedAt: iso(a.startedAt),
    endedAt: iso(a.endedAt),
    log: a.logPath,
    executor: executorOf(a.handle),
  };
}

/** Where an attempt runs, from its handle: `{ kind: "slurm", id: "12345" }`, `{ kind: "local", id: PID }`. */
export function executorOf(handle: string | null): { kind: string; id: string } | null {
  if (handle === null) return null;
  const colon = handle.indexOf(":");
  if (colon < 0) return { kind: "unknown", id: handle };
  const kind = handle.slice(0, colon);
  const rest = handle.slice(colon + 1);
  // A local handle is `local:PID:START`: the pid is what a user looks for.
  // An agent's is `agent:TASK:ATTEMPT@NAME` once claimed: the agent's name comes first.
  if (kind === "agent") {
    const at = rest.lastIndexOf("@");
    return { kind, id: at < 0 ? rest : `${rest.slice(at + 1)}/${rest.slice(0, at)}` };
  }
  return { kind, id: kind === "local" ? (rest.split(":")[0] ?? rest) : rest };
}

export function runView(run: RunRow): RunView {
  return { id: run.id, pipeline: run.pipeline, status: run.status };
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
