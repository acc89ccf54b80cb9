/**
 * The launcher: a small helper process that starts task processes for the local executor.
 *
 * Why a process and not `spawn` in the engine: `spawn` forks the calling process, and a fork
 * costs in proportion to the caller's memory while it blocks it. The engine holds the state of
 * every task (hundreds of MB for 100,000 tasks); this process holds almost nothing, so its
 * forks are cheap and the engine never waits on one. Tasks are started in their own session,
 * so they outlive the launcher and the engine alike (that is what `baton resume` relies on).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import { ContentStore } from "../artifacts/cas.js";
import { collectAttemptQuick } from "../artifacts/collect.js";
import { ensureWritableDir } from "../artifacts/fs-util.js";
import { makeStateFile, openStateFile } from "../util/state-mode.js";
import type { SpawnReply, SpawnRequest } from "./spawner.js";

const children = new Map<number, ChildProcess>();
/** Replies to the engine; one that went away (crashed, killed) is simply not answered. */
const reply = (r: SpawnReply) => {
  if (process.connected) process.send?.(r, (err: Error | null) => void err);
};

const stores = new Map<string, ContentStore>();

process.on("message", (m: SpawnRequest) => {
  let fd: number;
  try {
    if (m.sharedDir) ensureWritableDir(m.sharedDir, "run folder");
    if (m.freshOutput) emptyFolder(m.outputDir);
    ensureWritableDir(m.outputDir);
  } catch (err) {
    reply({ type: "failed", id: m.id, message: (err as Error).message });
    return;
  }
  try {
    // Private files, whatever the umask (see state-mode.ts): created here, the task's shell
    // then only appends to (or truncates) the status and metrics files.
    fd = openStateFile(m.logPath);
    for (const file of [m.env.BATON_STATUS_FILE, m.env.BATON_METRICS]) if (file) makeStateFile(file);
  } catch (err) {
    reply({
      type: "failed",
      id: m.id,
      message: `cannot open log file ${m.logPath}: ${(err as Error).message}`,
    });
    return;
  }
  let child: ChildProcess;
  try {
    child = spawn("/bin/bash", m.args, {
      cwd: m.cwd,
      env: { ...process.env, ...m.env },
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } catch (err) {
    fs.closeSync(fd);
    reply({ type: "failed", id: m.id, message: `cannot start bash: ${(err as Error).message}` });
    return;
  }
  fs.closeSync(fd);
  if (child.pid === undefined) {
    child.on("error", (err) =>
      reply({ type: "failed", id: m.id, message: `cannot start bash: ${err.message}` }),
    );
    return;
  }
  children.set(m.id, child);
  reply({ type: "started", id: m.id, pid: child.pid });
  child.on("exit", (code, signal) => {
    children.delete(m.id);
    if (!m.collect) {
      reply({ type: "exited", id: m.id, code, signal });
      return;
    }
    const keep = code === 0 || m.collect.keepFailed === true;
    const request = { ...m.collect, globs: keep ? m.collect.globs : null };
    let cas = stores.get(request.casRoot);
    if (!cas) {
      cas = new ContentStore(request.casRoot);
      stores.set(request.casRoot, cas);
    }
    void collectAttemptQuick(request, cas).then((collected) =>
      reply({ type: "exited", id: m.id, code, signal, collected }),
    );
  });
});

/** Removes what an earlier attempt left in the output folder. */
function emptyFolder(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw new Error(`cannot empty output folder ${dir}: ${(err as Error).message}`);
  }
}

// The engine went away (crash or exit): leave the tasks running, they report through their status files.
process.on("disconnect", () => process.exit(0));
