import { setTimeout as sleep } from "node:timers/promises";
import type { Store, TaskRow } from "../../store/store.js";
import { isTerminal } from "../../store/store.js";
import { openExistingStore } from "../context.js";
import { copyLogFrom } from "../log-tail.js";
import { logSink, safeLine } from "../terminal.js";

/** `baton logs ID`: prints the latest attempt's log; `-f` keeps printing until the task ends. */
export async function logsCommand(
  id: string,
  opts: { file: string; follow?: boolean; raw?: boolean },
): Promise<void> {
  const store = openExistingStore(opts.file);
  try {
    const hit = await store.resolveId(id);
    if (hit.kind === "task") {
      await printTaskLog(store, (await store.getTask(hit.id))!, opts.follow ?? false, false, opts.raw);
      return;
    }
    for (const task of await store.listTasks({ run: hit.id }))
      await printTaskLog(store, task, opts.follow ?? false, true, opts.raw);
  } finally {
    await store.close();
  }
}

/**
 * Prints a task's latest log; with `follow`, across attempts (`--- attempt N ---`) until the task
 * ends. On a terminal, control characters are shown escaped unless `raw` (see terminal.ts).
 */
export async function printTaskLog(
  store: Store,
  task: TaskRow,
  follow: boolean,
  header: boolean,
  raw = false,
): Promise<void> {
  const sink = logSink(process.stdout, raw);
  try {
    await copyTaskLog(store, task, follow, header, sink);
  } finally {
    sink.end();
  }
}

async function copyTaskLog(
  store: Store,
  task: TaskRow,
  follow: boolean,
  header: boolean,
  sink: ReturnType<typeof logSink>,
): Promise<void> {
  let attempts = await store.listAttempts(task.id);
  if (header) process.stdout.write(`==> ${safeLine(task.name)} (${task.id}) ${task.status} <==\n`);
  let attempt = attempts.at(-1);
  let offset = 0;
  for (;;) {
    if (attempt) offset = copyLogFrom(attempt.logPath, offset, sink);
    if (!follow) return;
    const current = (await store.getTask(task.id))!;
    attempts = await store.listAttempts(task.id);
    const latest = attempts.at(-1);
    if (latest && latest.number !== attempt?.number) {
      // A retry (not the first attempt starting): the rest of the old log, then a separator, as the server does.
      if (attempt) {
        copyLogFrom(attempt.logPath, offset, sink);
        process.stdout.write(`--- attempt ${latest.number} ---\n`);
      }
      attempt = latest;
      offset = 0;
      continue;
    }
    if (isTerminal(current.status)) {
      if (attempt) copyLogFrom(attempt.logPath, offset, sink);
      return;
    }
    await sleep(200);
  }
}
