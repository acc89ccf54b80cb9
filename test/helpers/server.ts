/**
 * `baton server` as users start it, for the tests: start it and wait for its sign-in line, call
 * its API with the token, poll until something holds, stop it. Every process started here (or
 * handed to {@link track}) is SIGKILLed by {@link killStarted}: a test file registers it in
 * `afterEach` (servers started per test) or `afterAll` (a server shared by the file's tests).
 */
import type { ChildProcess } from "node:child_process";
import { startBaton } from "./cli.js";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const started = new Set<ChildProcess>();

/** Has {@link killStarted} kill `child` if it is still running; returns it. */
export function track<T extends ChildProcess>(child: T): T {
  started.add(child);
  return child;
}

/** SIGKILLs every process started by these helpers (or tracked) that is still running. */
export function killStarted(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  started.clear();
}

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
export type Json = any;

/** An API answer: its status, its body parsed as JSON (undefined when empty), its headers. */
export interface Answer<T = Json> {
  status: number;
  body: T;
  headers: Headers;
}

/** Where a server answers: a started `baton server`, or one a test runs in its own process. */
export interface Endpoint {
  url: string;
  token: string;
}

export interface Server extends Endpoint {
  /** The folder it was started in. */
  dir: string;
  child: ChildProcess;
  /** The URL it printed for signing in (`URL/?token=TOKEN`). */
  signInUrl: string;
  /** What it has written to stderr so far. */
  stderr(): string;
  /** Resolves once the process has exited. */
  exited: Promise<Exit>;
  /** `GET path` (or `POST` with `body` as JSON) with the token, parsed. */
  api<T = Json>(path: string, body?: unknown): Promise<Answer<T>>;
  /** SIGTERM, then waits for the exit (SIGKILL if it has not exited after 15 s). */
  stop(): Promise<Exit>;
}

export interface ServerOptions {
  /** More arguments after `server --port PORT`. */
  args?: string[];
  env?: Record<string, string>;
  /** The port to listen on; by default 0, a free one. */
  port?: number;
  /** How long it may take to print its sign-in line; 30 s by default. */
  timeoutMs?: number;
}

const SIGN_IN = /Sign in: (http:\/\/[^/\s]+)\/\?token=([0-9A-Za-z_-]+)/;

/** `baton server --port 0 ARGS` in `dir` (the built CLI, a real process), once it prints its sign-in line. */
export async function startServer(dir: string, options: ServerOptions = {}): Promise<Server> {
  const { args = [], env = {}, port = 0, timeoutMs = 30_000 } = options;
  const child = track(startBaton(["server", "--port", String(port), ...args], dir, env));
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  // Read, so that a full pipe never blocks the server.
  child.stdout?.on("data", () => {});
  const exited = new Promise<Exit>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const signIn = await waitFor(
    "baton server to print its sign-in line",
    () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`baton server did not start (exit ${child.exitCode ?? child.signalCode})`);
      return SIGN_IN.exec(stderr);
    },
    { timeoutMs, intervalMs: 25 },
  ).catch((err: Error) => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    throw new Error(`${err.message}:\n${stderr}`);
  });
  const url = signIn[1]!;
  const token = signIn[2]!;
  return {
    dir,
    child,
    url,
    token,
    signInUrl: `${url}/?token=${token}`,
    stderr: () => stderr,
    exited,
    api: (p, body) => api({ url, token }, p, body),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        const end = await exited;
        clearTimeout(timer);
        return end;
      }
      return exited;
    },
  };
}

/** `GET path` on `server` (or `POST` with `body` as JSON) with its token; the body parsed as JSON. */
export async function api<T = Json>(server: Endpoint, p: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(server.url + p, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      authorization: `Bearer ${server.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new Error(`${p}: not JSON (${res.status}): ${text.slice(0, 300)}`);
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface WaitOptions<T> {
  /** 30 s by default. */
  timeoutMs?: number;
  /** Between two checks; 50 ms by default. */
  intervalMs?: number;
  /** When given, `check`'s value is taken once `until` holds for it (it may be anything). */
  until?: (value: T) => boolean;
}

function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 1000 ? `${text.slice(0, 1000)}...` : text;
}

/**
 * Calls `check` until its value is something (not undefined, null or false), or until `until`
 * holds for it when given; returns that value. After `timeoutMs` it fails naming `what` and the
 * last value seen. An error thrown by `check` fails at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: WaitOptions<T> = {},
): Promise<Exclude<T, undefined | null | false>> {
  const { timeoutMs = 30_000, intervalMs = 50, until } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    const done = until ? until(value) : value !== undefined && value !== null && value !== false;
    if (done) return value as Exclude<T, undefined | null | false>;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${show(value)}`);
    await sleep(intervalMs);
  }
}

/** `GET /api/v1/runs/:id`: the run and its tasks. */
export interface RunDetail {
  run: Json;
  tasks: Json[];
}

/**
 * Polls `GET /api/v1/runs/:id` until `until` holds for it (by default: the run has ended, its
 * status is no longer "running"); returns that answer. 30 s by default.
 */
export async function waitForRun<T extends RunDetail = RunDetail>(
  server: Endpoint,
  runId: string,
  until: (detail: T) => boolean = (d) => d.run.status !== "running",
  options: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  let last: T | undefined;
  try {
    return await waitFor(
      options.what ?? `run ${runId} to end`,
      async () => {
        const res = await api<T>(server, `/api/v1/runs/${runId}`);
        if (res.status !== 200)
          throw new Error(`GET /api/v1/runs/${runId} answered ${res.status}: ${show(res.body)}`);
        last = res.body;
        return until(last) ? last : undefined;
      },
      { timeoutMs: options.timeoutMs, intervalMs: 100 },
    );
  } catch (err) {
    if (!last) throw err;
    const state = `run ${last.run.status}; tasks ${last.tasks.map((t) => `${t.name}=${t.status}`).join(", ")}`;
    throw new Error(`${(err as Error).message.replace(/; last value: .*$/s, "")}; last: ${state}`);
  }
}
