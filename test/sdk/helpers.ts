/**
 * Real processes for the SDK tests: `baton server` started as users start it, controller
 * scripts run with tsx as users run them. The SDK is imported from the build (`dist/`), as the
 * package's users get it: the task launcher is a separate JavaScript file there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { TaskRow } from "../../src/store/store.js";
import { startBaton } from "../helpers/cli.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const EXAMPLE_DIR = path.join(REPO, "examples", "controller");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();

/** Kills every process these helpers started and that is still running (an `afterAll`). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

export interface StartedServer {
  url: string;
  token: string;
  child: ChildProcess;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
}

/** `baton server --port 0` in `dir`, once it prints its sign-in URL. */
export async function startServer(dir: string, env: Record<string, string> = {}): Promise<StartedServer> {
  const child = startBaton(["server", "--port", "0"], dir, env);
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const signIn = /Sign in: (http:\/\/[^/\s]+)\/\?token=([0-9a-f]+)/.exec(stderr);
    if (signIn) {
      return {
        url: signIn[1]!,
        token: signIn[2]!,
        child,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          await exited;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`baton server did not start (exit ${child.exitCode}):\n${stderr}`);
    }
    await sleep(25);
  }
}

export interface ScriptRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a TypeScript program with tsx, from the repository (so that `baton` resolves to the build). */
export function runScript(file: string, args: string[], env: Record<string, string> = {}): ScriptRun {
  const clean = { ...process.env };
  for (const k of ["BATON_URL", "BATON_TOKEN", "BATON_TASK_ID"]) delete clean[k];
  const child = spawn(process.execPath, ["--import", "tsx", file, ...args], {
    cwd: REPO,
    env: { ...clean, BATON_KILL_GRACE_MS: "1000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs a script to its end; fails with its output when it exits non-zero. */
export async function runScriptToEnd(file: string, args: string[], env: Record<string, string> = {}) {
  const run = runScript(file, args, env);
  const { code } = await run.exited;
  if (code !== 0) throw new Error(`${file} exited with ${code}:\n${run.stdout()}\n${run.stderr()}`);
  return { stdout: run.stdout(), stderr: run.stderr() };
}

/** A fresh folder with copies of the controller example's Python scripts. */
export function exampleWorkdir(tmp: string): string {
  for (const f of ["train.py", "evaluate.py", "pick.py"])
    fs.copyFileSync(path.join(EXAMPLE_DIR, f), path.join(tmp, f));
  return tmp;
}

/** Every task recorded in `dir/.baton/baton.db` (read with the store, as `baton ls` reads it). */
export async function storedTasks(dir: string): Promise<TaskRow[]> {
  const store = SqliteStore.open(path.join(dir, ".baton", "baton.db"));
  try {
    return await store.listTasks({});
  } finally {
    await store.close();
  }
}

/** Attempts of a task recorded in `dir/.baton/baton.db`. */
export async function storedAttempts(dir: string, taskId: string) {
  const store = SqliteStore.open(path.join(dir, ".baton", "baton.db"));
  try {
    return await store.listAttempts(taskId);
  } finally {
    await store.close();
  }
}

/** Polls `check` until it returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(50);
  }
}
