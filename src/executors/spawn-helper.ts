/**
 * Starting task processes through baton-spawn (native/baton-spawn.c), a small native helper,
 * rather than with Node's `spawn`: Node forks its whole process to start a child, which costs
 * a launcher about as much as the tiny task it starts; the helper starts one for about what
 * make pays. A launcher (launcher.ts) runs one helper and sends it every task; where the helper
 * was not built (no C compiler at install) or cannot start, or `BATON_SPAWN_HELPER=off`, it
 * starts tasks with `spawn` as before (start-task.ts). What a task sees is the same either way.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { cannotWriteFolder, describeFsError } from "../artifacts/fs-util.js";
import type { StateModes } from "../util/state-mode.js";

/**
 * What to start: as `spawn(file, args, { cwd, env, detached: true })`, stdout and stderr
 * appended to `logPath`. Before it starts, the helper makes `outputDir` (with its parents) and
 * `logPath` as the engine would (state-mode.ts): new ones with exactly the state modes, an
 * existing log with no more permission than those.
 */
export interface HelperRequest {
  file: string;
  args: string[];
  cwd: string;
  /** Added to the launcher's environment (replacing variables of the same name). */
  env: Record<string, string>;
  logPath: string;
  /** The task's output folder: made with its parents, or checked writable when it exists (none: no folder). */
  outputDir?: string;
  modes: Pick<StateModes, "dir" | "file">;
  /**
   * Held: the files are made now, and the process started the moment request `after` (an id
   * {@link SpawnHelper.start} returned) ends, if that is before `until` (ms since the epoch, 0:
   * no limit); else, or if `after` is not running, by {@link SpawnHelper.go}.
   */
  after?: number;
  until?: number;
}

export interface HelperHandlers {
  onStarted(pid: number, pidStart: string | null): void;
  /** The process ended; what it left running in its process group was killed first. */
  onExited(code: number | null, signal: NodeJS.Signals | null): void;
  /** Nothing was started: its folder or files could not be made (`prepare`), or the process not started. */
  onFailed(message: string, stage: "prepare" | "start"): void;
  /** A held request was dropped ({@link SpawnHelper.drop}) before it started. */
  onDropped?(): void;
}

const SIGNAL_NAMES = new Map(
  Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);
const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

/** What the helper could not make (its `P` reply), in the words the engine uses when it makes them itself. */
function prepareFailure(r: HelperRequest, what: string, errno: number): string {
  const err = { code: ERRNO_NAMES.get(errno) ?? `errno ${errno}` };
  if (what === "dir") return cannotWriteFolder(r.outputDir ?? "", err);
  return `cannot open log file ${r.logPath}: ${describeFsError(err)}`;
}

/**
 * The helper's path: `dist/native/baton-spawn` beside the built code, when it is there and
 * executable and `BATON_SPAWN_HELPER` is not `off`; `BATON_SPAWN_HELPER=PATH` names another.
 */
export function helperPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const setting = env.BATON_SPAWN_HELPER;
  if (setting === "off") return undefined;
  const file = setting || fileURLToPath(new URL("../native/baton-spawn", import.meta.url));
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return file;
  } catch {
    return undefined;
  }
}

/** One running helper: requests go in on its stdin, replies come back a line each on its stdout. */
export class SpawnHelper {
  /** Requests sent and not ended yet, with what they asked (for the words of a `P` reply). */
  private readonly handlers = new Map<number, { h: HelperHandlers; r: HelperRequest }>();
  private nextId = 1;
  private partial = "";
  private closing = false;

  private constructor(private readonly child: ChildProcess) {}

  /** Resolves `start` once the helper says it is ready. */
  private onReady: (() => void) | undefined;

  /**
   * Starts the helper at `file` and resolves once it says it is ready, or undefined when it
   * cannot start or ends first (a binary built for another system): the caller then uses
   * `spawn`. Its environment is this process's, which every task gets too. `onDeath` is called
   * if the helper dies while it is still needed (before {@link close}).
   */
  static start(file: string, onDeath: (why: string) => void): Promise<SpawnHelper | undefined> {
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(file, [], { stdio: ["pipe", "pipe", "inherit"] });
      } catch {
        resolve(undefined);
        return;
      }
      const helper = new SpawnHelper(child);
      let ready = false;
      helper.onReady = () => {
        ready = true;
        resolve(helper);
      };
      child.once("error", () => resolve(undefined));
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (text: string) => helper.onData(text));
      child.stdin!.on("error", () => undefined);
      // "close", not "exit": the replies it wrote before it ended are read first.
      child.once("close", (code, signal) => {
        if (!ready) resolve(undefined);
        else if (!helper.closing)
          onDeath(`the spawn helper ${file} ended (${signal ?? `exit code ${code}`})`);
      });
    });
  }

  /**
   * Sends one request; exactly one of `onFailed`, `onDropped`, or `onStarted` then `onExited`
   * follows. Returns its id (undefined when it was refused here).
   */
  start(r: HelperRequest, handlers: HelperHandlers): number | undefined {
    const fields = [
      r.file,
      r.cwd,
      r.logPath,
      r.outputDir ?? "",
      r.modes.dir.toString(8),
      r.modes.file.toString(8),
      String(r.after ?? 0),
      String(r.until ?? 0),
    ];
    fields.push(String(r.args.length + 1), r.file, ...r.args);
    const env = Object.entries(r.env).map(([name, value]) => `${name}=${value}`);
    fields.push(String(env.length), ...env);
    // What spawn would refuse, refused here in its words, before the helper reads it as a field end.
    const bad = fields.find((f) => f.includes("\0"));
    if (bad !== undefined) {
      handlers.onFailed(
        `an argument or variable holds a null byte: ${JSON.stringify(bad.slice(0, 80))}`,
        "start",
      );
      return undefined;
    }
    const id = this.nextId++;
    this.handlers.set(id, { h: handlers, r });
    this.child.stdin!.write(`${id}\0${fields.join("\0")}\0`);
    return id;
  }

  /** Starts held request `id` now (nothing if it started or ended already). */
  go(id: number): void {
    this.child.stdin!.write(`G${id}\0`);
  }

  /** Drops held request `id` (`onDropped`); one that started already goes on (`onStarted` came or comes). */
  drop(id: number): void {
    this.child.stdin!.write(`D${id}\0`);
  }

  /** Whether the helper keeps this process alive: only while it has tasks to report on. */
  setRef(on: boolean): void {
    const streams = [this.child.stdin, this.child.stdout] as Array<{ ref(): void; unref(): void } | null>;
    if (on) {
      this.child.ref();
      for (const st of streams) st?.ref();
    } else {
      this.child.unref();
      for (const st of streams) st?.unref();
    }
  }

  /** Stops the helper; the tasks it started live on (they run in sessions of their own). */
  close(): void {
    this.closing = true;
    this.child.stdin!.end();
  }

  private onData(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) this.onLine(line);
  }

  private onLine(line: string): void {
    if (line === "R") {
      this.onReady?.();
      this.onReady = undefined;
      return;
    }
    const [kind, idText, a, ...rest] = line.split(" ");
    const id = Number(idText);
    const sent = this.handlers.get(id);
    if (!sent) return;
    const h = sent.h;
    if (kind === "S") {
      h.onStarted(Number(a), rest[0] === "-" || rest[0] === undefined ? null : rest[0]);
    } else if (kind === "P") {
      this.handlers.delete(id);
      h.onFailed(prepareFailure(sent.r, a ?? "", Number(rest[0])), "prepare");
    } else if (kind === "F") {
      this.handlers.delete(id);
      h.onFailed(rest.join(" ") || `error ${a}`, "start");
    } else if (kind === "H") {
      this.handlers.delete(id);
      h.onDropped?.();
    } else if (kind === "X") {
      this.handlers.delete(id);
      const code = Number(a);
      h.onExited(code < 0 ? null : code, code < 0 ? (SIGNAL_NAMES.get(Number(rest[0])) ?? null) : null);
    }
  }
}
