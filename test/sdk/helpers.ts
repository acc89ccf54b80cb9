/**
 * Real processes for the SDK tests: controller scripts run with tsx as users run them (each one
 * killed by `killStarted` of ../helpers/server.js, which also starts `baton server`). The SDK
 * is imported from the build (`dist/`), as the package's users get it: the task launcher is a
 * separate JavaScript file there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { TaskRow } from "../../src/store/store.js";
import { track } from "../helpers/server.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const EXAMPLE_DIR = path.join(REPO, "examples", "controller");

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
  track(child);
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
