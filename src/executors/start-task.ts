/**
 * Starting one task process and collecting what it leaves: the work of a launcher process for
 * each request it gets (launcher.ts), and of the engine's own process for the tasks it starts
 * before a launcher is ready (spawner.ts).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import { ContentStore } from "../artifacts/cas.js";
import { type CollectRequest, type Collected, collectAttemptQuick } from "../artifacts/collect.js";
import { ensureWritableDir } from "../artifacts/fs-util.js";
import { type StateModes, openStateFile, stateModes } from "../util/state-mode.js";
import { afterThisTurn } from "../util/yield.js";
import { readStartTime } from "./proc-stat.js";
import type { SpawnHelper } from "./spawn-helper.js";
import type { SpawnReply, SpawnRequest } from "./spawner.js";

const stores = new Map<string, ContentStore>();

/**
 * Starts `FILE ARGS` as the request says, in its own session, the log file as its stdout and
 * stderr, and tells `reply` that it started (with its pid and start time) or could not, then
 * that it ended (what it left running in its process group killed), with its outputs collected.
 * The process gets `baseEnv` (the launcher's own environment, copied once) with the request's
 * variables added. With a `helper` (spawn-helper.ts, whose environment is `baseEnv`), the
 * process is started by it rather than by forking this one.
 *
 * `collectLater` (the engine's own process, whose replies are not sent anywhere): the end is
 * replied at once, with the collection as a promise run on the next turn of the event loop.
 * The slot the task held then starts its next task first (recorded, and sent to the helper, in
 * this turn), and the outputs are collected while that task runs.
 */
export function startTask(
  m: SpawnRequest,
  reply: (r: SpawnReply) => void,
  baseEnv: NodeJS.ProcessEnv = process.env,
  helper?: SpawnHelper,
  collectLater = false,
): number | undefined {
  let modes: StateModes;
  try {
    modes = stateModes();
    if (m.sharedDir) ensureWritableDir(m.sharedDir, "run folder");
    if (m.freshOutput) emptyFolder(m.outputDir);
  } catch (err) {
    reply({ type: "failed", id: m.id, message: (err as Error).message });
    return undefined;
  }
  // The log is made here (or by the helper) with the state mode (state-mode.ts). The status file
  // is made by the task's shell as it exits (shell.ts), and the metrics file by the task, if it
  // writes metrics (given the state mode when read, metrics.ts): on a disk, each file made
  // before the start costs more than the tiny task it is for.
  if (helper) {
    // The helper makes the output folder and the log itself, off this event loop.
    return helper.start(
      {
        file: m.file,
        args: m.args,
        cwd: m.cwd,
        env: m.env,
        logPath: m.logPath,
        outputDir: m.outputDir,
        modes,
        ...(m.hold ? { after: m.hold.after, until: m.hold.until } : {}),
      },
      {
        onStarted: (pid, pidStart) => reply({ type: "started", id: m.id, pid, pidStart }),
        // The helper killed what the shell left in its group.
        onExited: (code, signal) => {
          if (!collectLater || !m.collect) collectAndReply(m, code, signal, reply);
          else {
            const request = m.collect;
            const collected = new Promise<Collected>((resolve, reject) =>
              afterThisTurn(() => collectOutputs(request, code).then(resolve, reject)),
            );
            reply({ type: "exited", id: m.id, code, signal, collected });
          }
        },
        onFailed: (message, stage) =>
          reply({
            type: "failed",
            id: m.id,
            message: stage === "prepare" ? message : `cannot start ${m.file} in ${m.cwd}: ${message}`,
          }),
        onDropped: () => reply({ type: "dropped", id: m.id }),
      },
    );
  }
  let fd: number;
  try {
    ensureWritableDir(m.outputDir);
  } catch (err) {
    reply({ type: "failed", id: m.id, message: (err as Error).message });
    return undefined;
  }
  try {
    fd = openStateFile(m.logPath);
  } catch (err) {
    reply({
      type: "failed",
      id: m.id,
      message: `cannot open log file ${m.logPath}: ${(err as Error).message}`,
    });
    return undefined;
  }
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(m.file, m.args, {
      cwd: m.cwd,
      env: { ...baseEnv, ...m.env },
      stdio: ["ignore", fd, fd],
      detached: true,
    });
  } catch (err) {
    fs.closeSync(fd);
    reply({ type: "failed", id: m.id, message: `cannot start ${m.file}: ${(err as Error).message}` });
    return undefined;
  }
  fs.closeSync(fd);
  if (child.pid === undefined) {
    child.on("error", (err) =>
      reply({ type: "failed", id: m.id, message: `cannot start ${m.file}: ${err.message}` }),
    );
    return undefined;
  }
  // Read now, while the process cannot have been reaped (that waits for this turn to end): a task
  // that ends at once still gets a handle that tells a reused pid apart.
  const pid = child.pid;
  reply({ type: "started", id: m.id, pid, pidStart: readStartTime(pid) });
  child.on("exit", (code, signal) => {
    // Whatever the shell left behind in its group goes with it, before its outputs are collected.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Nothing left: the usual case.
    }
    collectAndReply(m, code, signal, reply);
  });
  return undefined;
}

/** Tells `reply` that the process ended, with its outputs collected when the request asks. */
function collectAndReply(
  m: SpawnRequest,
  code: number | null,
  signal: NodeJS.Signals | null,
  reply: (r: SpawnReply) => void,
): void {
  if (!m.collect) {
    reply({ type: "exited", id: m.id, code, signal });
    return;
  }
  void collectOutputs(m.collect, code).then((collected) =>
    reply({ type: "exited", id: m.id, code, signal, collected }),
  );
}

/** The metrics and, after a success (or with `keepFailed`), the outputs of a process that ended with `code`. */
function collectOutputs(collect: CollectRequest, code: number | null): Promise<Collected> {
  const keep = code === 0 || collect.keepFailed === true;
  const request = { ...collect, globs: keep ? collect.globs : null };
  let cas = stores.get(request.casRoot);
  if (!cas) {
    cas = new ContentStore(request.casRoot);
    stores.set(request.casRoot, cas);
  }
  return collectAttemptQuick(request, cas);
}

/** Removes what an earlier attempt left in the output folder. */
function emptyFolder(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch (err) {
    throw new Error(`cannot empty output folder ${dir}: ${(err as Error).message}`);
  }
}
