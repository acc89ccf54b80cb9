/**
 * Small file-system helpers shared by the artifacts module: readable errno messages,
 * folder preparation with a clear {@link BatonError}, and a bounded `map` for I/O fan-out.
 */
import { constants, accessSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { BatonError } from "../errors.js";
import { mapLimit } from "../util/map-limit.js";
import { makeStateDir, stateDirMaker } from "../util/state-mode.js";
import { Breather } from "../util/yield.js";

export { mapLimit };

/** Human wording for the errno codes users actually meet when folders go wrong. */
const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file or folder",
  ENOTDIR: "a parent is not a folder",
  EEXIST: "a file is in the way",
  EISDIR: "is a folder",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "name too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
  EXDEV: "on another file system",
  EMLINK: "too many links",
  EIO: "input/output error",
  EBUSY: "busy",
};

/** The errno code of a Node file-system error (`"ENOENT"`), or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** `permission denied (EACCES)` for errno errors; the plain message otherwise. */
export function describeFsError(err: unknown): string {
  const code = errnoOf(err);
  if (code !== undefined) return `${REASONS[code] ?? code.toLowerCase()} (${code})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates `path` (and its parents) if needed and checks that Baton may write into it.
 * `what` names the folder in the error; by default it is read from the folder's name, so a task's
 * `.../output` gives `cannot write output folder /x/y/output: permission denied (EACCES)`.
 *
 * Synchronous on purpose: it is two system calls, and callers preparing a task can then not
 * forget to await it and start the task before its folder exists.
 *
 * @throws BatonError `TASK_SETUP` naming the path and the cause.
 */
export function ensureWritableDir(path: string, what = folderKind(path)): void {
  try {
    // Private, as the rest of .baton/ (see state-mode.ts). mkdir succeeds on an existing folder
    // we cannot write to; the task would fail later with a far less helpful message, so ask
    // now (a folder just created by us is writable).
    if (!makeStateDir(path)) accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw folderError(path, what, err);
  }
}

/** `cannot write output folder /x/y/output: permission denied (EACCES)`. */
export function cannotWriteFolder(path: string, err: unknown, what = folderKind(path)): string {
  return `cannot write ${what} ${path}: ${describeFsError(err)}`;
}

function folderError(path: string, what: string, err: unknown): BatonError {
  return new BatonError("TASK_SETUP", cannotWriteFolder(path, err, what), {
    cause: err,
    context: { path, errno: errnoOf(err) },
  });
}

/** `output folder`, `inputs folder`... from the last segment of a task folder's path. */
function folderKind(path: string): string {
  const name = basename(path);
  return name === "output" || name === "inputs" ? `${name} folder` : "folder";
}

/**
 * Creates the folders `relDirs` (relative, `/`-separated) below the existing folder `root`, with
 * their parents, each exactly once and parents first. Meant for laying out thousands of files:
 * one non-recursive mkdir(2) per distinct folder, instead of a recursive mkdir per file. They
 * are made synchronously, the event loop given a turn every few milliseconds ({@link Breather}):
 * folders made in one parent wait for its lock in turn, so the thread pool only added a round
 * trip to each.
 */
export async function mkdirAll(root: string, relDirs: Iterable<string>): Promise<void> {
  const all = new Set<string>();
  for (const rel of relDirs) {
    // Walk up until a parent is already known: shared parents are added once.
    for (let dir = rel; dir !== "" && dir !== "." && !all.has(dir); ) {
      all.add(dir);
      const slash = dir.lastIndexOf("/");
      dir = slash === -1 ? "" : dir.slice(0, slash);
    }
  }
  const byDepth: string[][] = [];
  for (const dir of all) {
    const depth = dir.split("/").length;
    const level = byDepth[depth];
    if (level === undefined) byDepth[depth] = [dir];
    else level.push(dir);
  }
  const make = stateDirMaker();
  const breather = new Breather(SLICE_MS);
  for (const level of byDepth) {
    for (const dir of level ?? []) {
      const path = join(root, dir);
      try {
        make(path);
      } catch (err) {
        // Someone else (another attempt, a concurrent restore) made it first: fine if it is a folder.
        if (errnoOf(err) !== "EEXIST" || !statSync(path).isDirectory()) throw err;
      }
      await breather.breathe();
    }
  }
}

/** How long file-system work done synchronously may hold the event loop before it yields. */
export const SLICE_MS = 4;
