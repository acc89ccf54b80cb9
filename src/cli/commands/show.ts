import path from "node:path";
import { explainCache } from "../../engine/cache-explanation.js";
import { notificationView } from "../../engine/notify/view.js";
import { attemptView, iso, runView, shownStatus, taskView, taskViews } from "../../engine/task-view.js";
import type { Store, TaskRow } from "../../store/store.js";
import { openExistingStore } from "../state.js";
import { table } from "../table.js";
import { safeLine, safeText } from "../terminal.js";
import { duration } from "./ls.js";

/** `baton show ID`: a task's command, params, attempts, outputs and metrics, or a run's summary. */
export async function showCommand(
  id: string,
  opts: { file: string; db?: string; data?: string; json?: boolean },
): Promise<void> {
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    const hit = await store.resolveId(id);
    if (hit.kind === "run") await showRun(store, hit.id, opts.json);
    else await showTask(store, hit.id, opts.json);
  } finally {
    await store.close();
  }
}

async function showRun(store: Store, id: string, json?: boolean): Promise<void> {
  const run = (await store.getRun(id))!;
  const tasks = await store.listTasks({ run: id });
  const notifications = await store.listNotifications(id);
  if (json) {
    const outputs = await store.listOutputs(tasks.map((t) => t.id));
    process.stdout.write(
      `${JSON.stringify({ run: { ...runView(run), params: run.params, createdAt: iso(run.createdAt), endedAt: iso(run.endedAt), parentTask: run.parentTaskId, error: run.error, trigger: run.options.trigger ?? null }, tasks: taskViews(tasks, outputs), notifications: notifications.map(notificationView) }, null, 2)}\n`,
    );
    return;
  }
  const out = [
    `run       ${run.id}`,
    `pipeline  ${run.pipeline}`,
    `status    ${run.status}`,
    `started   ${iso(run.createdAt)}`,
    `duration  ${duration(run.createdAt, run.endedAt)}`,
    `params    ${JSON.stringify(run.params)}`,
    ...(run.options.trigger !== undefined ? [`trigger   ${run.options.trigger}`] : []),
    `workdir   ${run.workdir}`,
    ...(run.error ? [`error     ${run.error}`] : []),
    "",
  ];
  process.stdout.write(safeText(out.join("\n")));
  process.stdout.write(
    table(
      ["TASK", "NAME", "STATUS", "EXIT"],
      tasks.map((t) => [t.id, t.name, statusText(t), t.exitCode === null ? "" : String(t.exitCode)]),
    ),
  );
  if (notifications.length > 0) {
    process.stdout.write("\nnotifications\n");
    process.stdout.write(
      table(
        ["EVENT", "TARGET", "STATUS", "ATTEMPTS", "CODE", "ERROR"],
        notifications.map((n) => [
          n.event,
          safeLine(n.target),
          n.status,
          String(n.attempts),
          n.lastStatusCode === null ? "" : String(n.lastStatusCode),
          safeLine(n.lastError ?? ""),
        ]),
      ),
    );
  }
}

async function showTask(store: Store, id: string, json?: boolean): Promise<void> {
  const task = (await store.getTask(id))!;
  const outputs = await store.listOutputs([id]);
  const attempts = await store.listAttempts(id);
  if (json) {
    const view = {
      ...taskView(task, outputs),
      pool: task.pool,
      command: task.command,
      params: task.params,
      item: task.item ?? null,
      error: task.error,
      cacheKey: task.cacheKey,
      cacheParts: task.cacheParts,
      cache: (await explainCache(store, task)) ?? null,
      attemptsDetail: attempts.map(attemptView),
    };
    process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
    return;
  }
  const lines = [
    `task      ${task.id}  ${safeLine(task.name)}`,
    `run       ${task.runId}`,
    `status    ${statusText(task)}${task.exitCode !== null ? ` (exit ${task.exitCode})` : ""}${task.error ? `: ${task.error}` : ""}`,
    ...approvalLines(task),
    `pool      ${task.pool}`,
    ...(task.image !== null ? [`image     ${task.image} (not used by the local executor)`] : []),
    `command   ${indent(task.command ?? "(not resolved yet)")}`,
    `params    ${JSON.stringify(task.params)}`,
  ];
  if (task.item !== undefined) lines.push(`item      ${JSON.stringify(task.item)}`);
  lines.push(`output    ${task.outputDir}`);
  for (const o of outputs) lines.push(`  ${o.path}  ${o.size} B  sha256:${o.sha256.slice(0, 12)}`);
  const metrics = Object.entries(task.metrics);
  if (metrics.length) {
    lines.push("metrics");
    for (const [k, v] of metrics) lines.push(`  ${k} = ${JSON.stringify(v)}`);
  }
  lines.push(...(await cacheLines(store, task)));
  lines.push("attempts");
  for (const a of attempts) {
    const how =
      a.reason === "exited" || a.reason === null
        ? a.exitCode !== null
          ? `exit ${a.exitCode}`
          : a.status
        : `${a.reason}${a.message ? `: ${a.message}` : ""}`;
    // Said by the executor beyond an exit code (Slurm: `Slurm: OUT_OF_MEMORY`).
    const said = a.reason === "exited" && a.message ? ` (${a.message})` : "";
    // A batch system's job is worth showing (`slurm:12345`); a local pid is not.
    const where = a.handle?.startsWith("slurm:") ? `  ${a.handle}` : "";
    lines.push(
      `  #${a.number} ${a.status} ${how}${said} ${duration(a.startedAt, a.endedAt)}${where}  log ${path.relative(process.cwd(), a.logPath)}`,
    );
  }
  process.stdout.write(`${safeText(lines.join("\n"))}\n`);
}

/** The status a user sees, with why a task its executor has not started yet waits. */
function statusText(task: TaskRow): string {
  const status = shownStatus(task);
  return status !== task.status ? `${status} (${task.queueReason})` : status;
}

/** The cache key's parts, and why the task ran although an earlier run of it exists. */
async function cacheLines(store: Store, task: TaskRow): Promise<string[]> {
  const cache = await explainCache(store, task);
  if (!cache) return [];
  const lines = [`cache     key ${cache.key.slice(0, 16)}${cache.hit ? " (result reused)" : ""}`];
  const parts = cache.parts;
  if (parts) {
    lines.push(`  command  ${indent(parts.command, 11)}`);
    if (Object.keys(parts.params).length) lines.push(`  params   ${JSON.stringify(parts.params)}`);
    for (const [name, count] of Object.entries(parts.inputs)) lines.push(`  input ${name}: ${count} file(s)`);
    for (const dep of parts.deps) lines.push(`  dep      ${dep}`);
    for (const file of parts.files) lines.push(`  file     ${file}`);
  }
  if (cache.verdict === "same-key") {
    lines.push(
      `why it ran: same key as task ${cache.previousTaskId}, but caching was off or its result was not reusable`,
    );
  } else if (cache.verdict === "changed") {
    lines.push(`why it ran: changed since task ${cache.previousTaskId} (run ${cache.previousRunId}):`);
    for (const c of cache.changes) lines.push(`  ${c.text}`);
  }
  return lines;
}

/** Multi-line text aligned under its label. */
function indent(text: string, by = 10): string {
  return text.trimEnd().replaceAll("\n", `\n${" ".repeat(by)}`);
}

/** Gates: the task's approval, waiting (and how to decide) or decided (who, when, comment). */
function approvalLines(task: TaskRow): string[] {
  const a = task.approval;
  if (!a) return [];
  const message = a.message ? `: ${safeLine(a.message)}` : "";
  if (a.state === "waiting") {
    return [`approval  waiting for approval${message} (baton approve ${task.id} / baton reject ${task.id})`];
  }
  const comment = a.comment ? `: ${safeLine(a.comment)}` : "";
  return [`approval  ${a.state} by ${safeLine(a.by ?? "?")} at ${iso(a.at)}${comment}`];
}
