import { setTimeout as sleep } from "node:timers/promises";
import { BatonError } from "../../errors.js";
import type { Store, TaskRow } from "../../store/store.js";
import { isTerminal } from "../../store/store.js";
import { copyLogFrom } from "../log-tail.js";
import { openExistingStore } from "../state.js";
import { logSink, safeLine } from "../terminal.js";

/**
 * `baton logs ID`: prints the latest attempt's log; `-f` keeps printing until the task ends.
 * `-f` is --follow here (as in `tail -f`): `baton logs RUN -f FILE` says to use `--file FILE`.
 */
export async function logsCommand(
  id: string,
  opts: { file: string; db?: string; data?: string; follow?: boolean; raw?: boolean },
  extra: string[] = [],
): Promise<void> {
  if (extra.length > 0) {
    if (opts.follow) {
      // `-f FILE` as other commands take it: FILE is whichever word is not the id.
      const [target, file] =
        /\.(ya?ml|json)$/i.test(id) && !/\.(ya?ml|json)$/i.test(extra[0]!)
          ? [extra[0]!, id]
          : [id, extra[0]!];
      throw new BatonError(
        "USAGE",
        `logs: -f is --follow for logs (as in tail -f), not the pipeline file: use --file ${file}, e.g. \`baton logs ${target} --file ${file}\` (add -f to follow)`,
      );
    }
    throw new BatonError("USAGE", `logs: one id expected, got ${[id, ...extra].join(" ")}`);
  }
  const store = await openExistingStore(opts.file, opts.db, opts.data);
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
