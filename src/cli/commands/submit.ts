import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient, type ApiEndpoint, findEndpoint } from "../../client/api-client.js";
import type { SubmitRequest } from "../../engine/engine.js";
import { BatonError } from "../../errors.js";
import { parseDuration } from "../../spec/duration.js";
import { MAX_BATCH_TASKS, eachCommand, eachItems, eachName, eachRef, eachValue } from "../../spec/each.js";
import { shellQuote } from "../../spec/expressions.js";
import { defaultName } from "../../spec/task-name.js";
import { type TaskStatus, isTerminal } from "../../store/store.js";
import { dict } from "../../util/dict.js";
import { EXIT } from "../exit.js";
import { logSink } from "../terminal.js";

export interface SubmitOptions {
  name?: string;
  pool?: string;
  afterSuccess: string[];
  afterFail: string[];
  after: string[];
  env: string[];
  label: string[];
  priority?: string;
  shards?: string;
  retries?: string;
  timeout?: string;
  wait?: boolean;
  idempotencyKey?: string;
  each?: boolean;
}

/**
 * `baton submit [flags] CMD...` (Velda `vbatch`): submits one task (or `-N` shards), prints
 * its id. Flags end at the command's first word (`--` may mark it). Inside a task the new task becomes its child. Talks to the server the environment or
 * `.baton/server.json` names; with none, runs the task on an embedded engine and returns when
 * its whole subtree has ended. `--wait` streams the log and exits with the task's code (`vrun`).
 */
export async function submitCommand(words: string[], opts: SubmitOptions): Promise<void> {
  const requests = opts.each ? eachRequests(words, opts) : [buildRequest(words, opts)];
  const first = requests[0];
  if (!first) {
    process.stderr.write("baton submit --each: no lines on standard input: nothing submitted\n");
    return;
  }
  const wait = opts.wait ?? false;
  const endpoint = findEndpoint(process.cwd());
  if (endpoint) {
    const { client, ids } = await post(endpoint, requests);
    printIds(ids, wait);
    if (wait) process.exitCode = await waitRemote(client, ids, !opts.each);
    return;
  }
  if (first.parentTaskId) {
    throw new BatonError(
      "USAGE",
      "submit: inside a task (BATON_TASK_ID is set) but no engine to submit to: BATON_URL is missing from the task's environment",
    );
  }
  // Only here is the engine loaded: a submit to a server (every nested one) starts fast.
  await (await import("./submit-embedded.js")).submitEmbedded(requests, wait, !opts.each);
}

/**
 * `--each`: one request per line of standard input, `{}` replaced by the line (src/spec/each.ts).
 * The flags are checked once, as for a single submit.
 */
function eachRequests(words: string[], opts: SubmitOptions): SubmitRequest[] {
  if (opts.shards !== undefined)
    throw new BatonError(
      "USAGE",
      "submit: --each and -N do not go together (--each makes one task per line)",
    );
  if (process.stdin.isTTY)
    throw new BatonError(
      "USAGE",
      "submit --each reads one item per line from standard input, e.g. `ls *.csv | baton submit --each -- python process.py {}`",
    );
  const base = buildRequest(words, opts);
  const values = (map: Record<string, string> | undefined, item: string) => {
    const out: Record<string, string> = dict();
    for (const [k, v] of Object.entries(map ?? {})) out[k] = eachValue(v, item);
    return out;
  };
  return eachItems(fs.readFileSync(0, "utf8")).map((item, i) => {
    const command = eachCommand(words, item);
    return {
      ...base,
      command,
      name: eachName(opts.name ?? defaultName(command), item, i),
      env: values(base.env, item),
      labels: values(base.labels, item),
      afterSuccess: base.afterSuccess?.map((ref) => eachRef(ref, item)),
      afterFail: base.afterFail?.map((ref) => eachRef(ref, item)),
      after: base.after?.map((ref) => eachRef(ref, item)),
    };
  });
}

/**
 * The submitted ids: on stdout (`id=$(baton submit ...)`), or on stderr with `--wait`, whose
 * stdout is the command's output alone (a `vrun` replacement).
 */
export function printIds(ids: string[], wait: boolean): void {
  (wait ? process.stderr : process.stdout).write(`${ids.join("\n")}\n`);
}

/**
 * Sends the submission. Inside a task, a server that refuses the connection is being restarted
 * (the task was adopted, or is about to be), and one that drops it without an answer was
 * stopped past its lease and is leaving its runs to another server: the submission is sent
 * again, with backoff, for up to `BATON_SUBMIT_RETRY_MS` (default 60 s), to the URL the task was
 * given or to the server the folder now records (restarted on another port with `--port 0`, or
 * the server that took the runs over). It carries an idempotency key (made here if not given),
 * so that a submission the first server did record is not recorded twice.
 */
async function post(
  endpoint: ApiEndpoint,
  submitted: SubmitRequest[],
): Promise<{ client: ApiClient; ids: string[] }> {
  const deadline = Date.now() + (Number(process.env.BATON_SUBMIT_RETRY_MS) || 60_000);
  const parent = submitted[0]?.parentTaskId;
  const nested = parent !== undefined;
  // One key for the whole submission: the tasks of a batch share theirs.
  const key = nested && submitted[0]?.idempotencyKey === undefined ? retryKey(parent) : undefined;
  const requests = key === undefined ? submitted : submitted.map((r) => ({ ...r, idempotencyKey: key }));
  let current = endpoint;
  let told = false;
  const ids: string[] = [];
  let client = new ApiClient(current);
  for (const [route, body] of bodies(requests)) {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      client = new ApiClient(current);
      try {
        ids.push(...(await client.post<{ ids: string[] }>(route, body)).ids);
        break;
      } catch (err) {
        if (!nested || !unanswered(err) || Date.now() >= deadline) throw err;
        if (!told) {
          process.stderr.write(
            `baton submit: no answer from the server at ${current.url}; trying again until one answers\n`,
          );
          told = true;
        }
        await sleep(delay);
        current = findEndpoint(process.cwd(), {}) ?? endpoint;
      }
    }
  }
  return { client, ids };
}

/**
 * The requests to send: one submission to `/tasks`; a batch to `/tasks/batch`, in parts of at
 * most {@link MAX_BATCH_TASKS} (each part its own run at the top level; an idempotency key is
 * made one per part, so that sending again returns each part's tasks).
 */
function bodies(requests: SubmitRequest[]): Array<[string, unknown]> {
  if (requests.length === 1) return [["/tasks", requests[0]]];
  const parts: Array<[string, unknown]> = [];
  for (let i = 0; i < requests.length; i += MAX_BATCH_TASKS) {
    let part = requests.slice(i, i + MAX_BATCH_TASKS);
    const key = part[0]!.idempotencyKey;
    if (key !== undefined && requests.length > MAX_BATCH_TASKS) {
      const partKey = `${key}#${i / MAX_BATCH_TASKS}`;
      part = part.map((r) => ({ ...r, idempotencyKey: partKey }));
    }
    parts.push(["/tasks/batch", { tasks: part }]);
  }
  return parts;
}

/**
 * Whether a request got no answer: it never reached the server (nothing listens there), or the
 * connection was dropped before the response. Sending it again with the same idempotency key
 * records it at most once.
 */
function unanswered(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") return true;
  }
  return false;
}

/** An idempotency key for one nested `baton submit` (unique under its parent task). */
function retryKey(parentTaskId: string): string {
  return `${parentTaskId}/submit-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

function buildRequest(words: string[], opts: SubmitOptions): SubmitRequest {
  if (words.length === 0)
    throw new BatonError(
      "USAGE",
      "submit: give the command to run, e.g. `baton submit -n train python train.py`",
    );
  // One word is a whole shell command (`-- 'a | b'`); several are quoted back into one.
  const command = words.length === 1 ? words[0]! : words.map(shellQuote).join(" ");
  const int = (flag: string, value: string | undefined, min: number) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new BatonError("USAGE", `submit: ${flag} expects a whole number >= ${min}, got "${value}"`);
    return n;
  };
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    timeoutMs = parseDuration(opts.timeout);
    if (timeoutMs === undefined)
      throw new BatonError(
        "USAGE",
        `submit: --timeout "${opts.timeout}": expected a duration such as 30s, 10m, 2h`,
      );
  }
  return {
    name: opts.name,
    command,
    pool: opts.pool,
    afterSuccess: opts.afterSuccess,
    afterFail: opts.afterFail,
    after: opts.after,
    env: pairs("-e", opts.env),
    labels: pairs("-l", opts.label),
    priority: int("--priority", opts.priority, Number.MIN_SAFE_INTEGER),
    shards: int("-N", opts.shards, 1),
    retries: int("--retries", opts.retries, 0),
    timeoutMs,
    parentTaskId: process.env.BATON_TASK_ID || undefined,
    cwd: process.cwd(),
    idempotencyKey: opts.idempotencyKey,
  };
}

function pairs(flag: string, list: string[]): Record<string, string> {
  const out: Record<string, string> = dict();
  for (const item of list) {
    const i = item.indexOf("=");
    if (i <= 0) throw new BatonError("USAGE", `submit: ${flag} "${item}": expected KEY=VALUE`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export interface TaskJson {
  id: string;
  status: TaskStatus;
  exitCode: number | null;
}

/**
 * Streams the first task's log (with `log`), then waits for every submitted task; the exit code
 * is theirs. Many tasks (`--each`) are followed by listing their run once a second.
 */
async function waitRemote(client: ApiClient, ids: string[], log: boolean): Promise<number> {
  if (log) {
    const sink = logSink(process.stdout);
    await client.stream(`/tasks/${ids[0]}/log?follow=1`, (text) => sink.write(text));
  }
  // Many tasks share one run (a batch): listed by their run, which is looked up once.
  const run = ids.length > 10 ? (await client.get<{ run: string }>(`/tasks/${ids[0]}`)).run : undefined;
  for (;;) {
    const tasks = await statusesOf(client, ids, run);
    if (tasks.every((t) => isTerminal(t.status))) return exitCodeOf(tasks);
    await sleep(run ? 1000 : 200);
  }
}

/** The tasks `ids` as they are now: from their run's list when given, else one by one. */
async function statusesOf(client: ApiClient, ids: string[], run: string | undefined): Promise<TaskJson[]> {
  if (!run) return Promise.all(ids.map((id) => client.get<TaskJson>(`/tasks/${id}`)));
  const { tasks } = await client.get<{ tasks: TaskJson[] }>(`/tasks?run=${run}&limit=10000`);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const out: TaskJson[] = [];
  for (const id of ids) out.push(byId.get(id) ?? (await client.get<TaskJson>(`/tasks/${id}`)));
  return out;
}

/** The exit code of `--wait`: that of the first submitted task that did not succeed. */
export function exitCodeOf(tasks: TaskJson[]): number {
  const bad = tasks.find((t) => t.status !== "succeeded" && t.status !== "cached" && t.status !== "skipped");
  if (!bad) return EXIT.ok;
  if (bad.status === "cancelled") return EXIT.interrupted;
  return bad.exitCode && bad.exitCode > 0 ? bad.exitCode : EXIT.failed;
}
