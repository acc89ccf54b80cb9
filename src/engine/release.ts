/**
 * Releases: what a `release:` node does instead of running a command. Its bound files are put
 * in the content store, recorded as the next version of the release, and restored into the
 * task's output folder, so they are the task's outputs (downstream `needs.NODE.outputs`).
 * Recorded as one attempt whose log says what was kept.
 */
import fs from "node:fs";
import path from "node:path";
import type { AttemptEnd } from "../store/store.js";
import { makeStateDir, makeStateFile } from "../util/state-mode.js";
import type { Engine } from "./engine.js";

export interface ReleaseRequest {
  runId: string;
  taskId: string;
  name: string;
  /** The attempt this is (the task's attempts so far + 1). */
  number: number;
  release: string;
  command: string;
  params: Record<string, unknown>;
  /** Files bound to the node's `files` input, with the path each has in the release. */
  files: Array<{ abs: string; rel: string; sha256?: string | undefined }>;
}

export interface ReleaseResult {
  version: number;
  outputs: Array<{ path: string; sha256: string; size: number }>;
  attempt: { number: number; end: AttemptEnd };
}

/** Records the task as running under a new attempt, keeps its files as a release version, ends the attempt. */
export async function keepRelease(engine: Engine, r: ReleaseRequest): Promise<ReleaseResult> {
  const { store, cas } = engine;
  await store.queueTask(r.taskId, r.command, r.params);
  const logPath = engine.layout.logPath(r.runId, r.taskId, r.number);
  makeStateDir(path.dirname(logPath));
  makeStateFile(logPath);
  await store.startAttempt({
    taskId: r.taskId,
    number: r.number,
    status: "running",
    pid: null,
    pidStart: null,
    startedAt: Date.now(),
    logPath,
  });
  const end = (status: "succeeded" | "failed", message: string | null): AttemptEnd => ({
    status,
    endedAt: Date.now(),
    exitCode: status === "succeeded" ? 0 : null,
    signal: null,
    reason: "exited",
    message,
  });
  const outputs: ReleaseResult["outputs"] = [];
  for (const f of r.files) {
    const stored = await cas.put(f.abs);
    outputs.push({ path: f.rel, sha256: stored.sha256, size: stored.size });
  }
  outputs.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const version = await store.recordRelease({
    name: r.release,
    runId: r.runId,
    taskId: r.taskId,
    createdAt: Date.now(),
    files: outputs,
  });
  await engine.executor.workspace.prepare(
    { runId: r.runId, taskId: r.taskId, name: r.name },
    { restore: outputs },
  );
  const lines = [
    `release ${r.release} version ${version}: ${outputs.length} file(s)`,
    ...outputs.map((o) => `  ${o.path} (${o.size} bytes, sha256 ${o.sha256})`),
  ];
  fs.appendFileSync(logPath, `${lines.join("\n")}\n`);
  return { version, outputs, attempt: { number: r.number, end: end("succeeded", null) } };
}
