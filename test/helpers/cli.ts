import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI, as users run it. Tests need `npm run build` first (`npm test` does it). */
export const BATON_BIN = fileURLToPath(new URL("../../bin/baton.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh project folder with the given files (`baton.yaml` and scripts). */
export function makeProject(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-test-"));
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    if (name.endsWith(".sh")) fs.chmodSync(file, 0o755);
  }
  return dir;
}

/** Starts `baton ARGS` in `cwd` as a real process. */
export function startBaton(args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BATON_BIN, ...args], {
    cwd,
    env: { ...process.env, BATON_PROGRESS: "plain", BATON_KILL_GRACE_MS: "1000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runBaton(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  return collect(startBaton(args, cwd, env));
}

export interface RunJson {
  run: { id: string; pipeline: string; status: string };
  tasks: Array<{
    id: string;
    run: string;
    name: string;
    node: string | null;
    parent: string | null;
    status: string;
    exitCode: number | null;
    attempts: number;
    cached: boolean;
    startedAt: string | null;
    endedAt: string | null;
    outputDir: string;
    outputs: string[];
    metrics: Record<string, unknown>;
  }>;
}

/** `baton run --json ARGS`, parsed; fails the test with stderr if stdout is not JSON. */
export async function runJson(args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = await runBaton(["run", "--json", ...args], cwd, env);
  let json: RunJson;
  try {
    json = JSON.parse(result.stdout) as RunJson;
  } catch {
    throw new Error(`baton run printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  const byName = (name: string) => {
    const t = json.tasks.find((x) => x.name === name);
    if (!t) throw new Error(`no task ${name} in ${json.tasks.map((x) => x.name).join(", ")}`);
    return t;
  };
  return { ...result, json, byName };
}

/** True while a process with this pid exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
