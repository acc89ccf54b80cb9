/**
 * Permissions of what Baton writes in `.baton/` (the database, logs, status and metrics files,
 * the content store, run and task folders, server records): commands, `-e` values and logs are
 * private to their owner, whatever the umask. `BATON_STATE_MODE=group` shares them with the
 * folder's group instead (for a team working in one folder); the server token stays private.
 */
import fs from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { BatonError } from "../errors.js";

export interface StateModes {
  /** Folders: 0700, or 0770 shared. */
  dir: number;
  /** Files Baton writes: 0600, or 0660 shared. */
  file: number;
  /** Content-store blobs, immutable: 0400, or 0440 shared. */
  blob: number;
}

const MODES: Record<string, StateModes> = {
  private: { dir: 0o700, file: 0o600, blob: 0o400 },
  group: { dir: 0o770, file: 0o660, blob: 0o440 },
};

/**
 * The modes `BATON_STATE_MODE` selects (`private`, the default, or `group`).
 *
 * @throws BatonError `USAGE` for any other value.
 */
export function stateModes(env: NodeJS.ProcessEnv = process.env): StateModes {
  const name = env.BATON_STATE_MODE || "private";
  const modes = MODES[name];
  if (!modes) {
    throw new BatonError(
      "USAGE",
      `BATON_STATE_MODE=${JSON.stringify(name)}: expected "private" (the default: only you can read .baton/) or "group"`,
      { context: { value: name } },
    );
  }
  return modes;
}

/**
 * Creates `dir` and its missing parents with the state folder mode, set exactly (the umask
 * may have taken bits the group mode asks for). Existing folders are left as they are.
 * Returns whether it created `dir`.
 */
export function makeStateDir(dir: string): boolean {
  const mode = stateModes().dir;
  const first = fs.mkdirSync(dir, { recursive: true, mode });
  if (first === undefined) return false;
  fixCreated(first, path.resolve(dir), mode);
  return true;
}

/** {@link makeStateDir}, asynchronous. */
export async function makeStateDirAsync(dir: string): Promise<void> {
  const mode = stateModes().dir;
  const first = await mkdir(dir, { recursive: true, mode });
  if (first !== undefined) fixCreated(first, path.resolve(dir), mode);
}

/** chmod of the folders mkdir created, from the first one down to `dir`, when the umask changed their mode. */
function fixCreated(first: string, dir: string, mode: number): void {
  if ((mode & ~process.umask()) === mode) return;
  for (let d = dir; ; d = path.dirname(d)) {
    fs.chmodSync(d, mode);
    if (d === first || path.dirname(d) === d) return;
  }
}

/**
 * A maker of single folders (each one's parent exists) with the state folder mode, the mode and
 * the umask looked at once for all of them; EEXIST is the caller's.
 */
export function stateDirMaker(): (dir: string) => void {
  const mode = stateModes().dir;
  const narrowed = (mode & ~process.umask()) !== mode;
  return (dir) => {
    fs.mkdirSync(dir, { mode });
    if (narrowed) fs.chmodSync(dir, mode);
  };
}

/**
 * Opens `file` for appending, creating it with exactly the state file mode; an existing one
 * loses the permission bits beyond that mode (when this user owns it), and gains none (a file
 * made read-only stays so). Returns the descriptor.
 */
export function openStateFile(file: string): number {
  const mode = stateModes().file;
  let fd: number;
  let created = true;
  try {
    fd = fs.openSync(file, "ax", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    fd = fs.openSync(file, "a");
    created = false;
  }
  try {
    tightenFd(fd, mode, created);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Creates `file` empty, with exactly the state file mode, if missing; an existing one is only
 * tightened as by {@link tightenPath} (not opened: a read-only database stays readable).
 */
export function makeStateFile(file: string): void {
  const mode = stateModes().file;
  let fd: number;
  try {
    fd = fs.openSync(file, "ax", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    tightenPath(file, "file");
    return;
  }
  try {
    tightenFd(fd, mode, true);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes permission bits beyond the state modes from an existing folder or file (missing: nothing). */
export function tightenPath(p: string, kind: "dir" | "file"): void {
  const mode = stateModes()[kind];
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (!st.isSymbolicLink()) tightenStat(p, st.mode, mode);
}

/** {@link tightenPath} of a file whose mode (`stat.mode`) was just read. */
export function tightenFile(p: string, statMode: number): void {
  tightenStat(p, statMode, stateModes().file);
}

function tightenStat(p: string, statMode: number, mode: number): void {
  if ((statMode & 0o777 & ~mode) === 0) return;
  try {
    fs.chmodSync(p, statMode & 0o777 & mode);
  } catch (err) {
    // Another user's file in a shared folder: not ours to change.
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
  }
}

/** Sets `mode` on a file just created (the umask may have taken bits), or removes the bits beyond it from an older one. */
function tightenFd(fd: number, mode: number, created: boolean): void {
  const current = fs.fstatSync(fd).mode & 0o777;
  const wanted = created ? mode : current & mode;
  if (current === wanted) return;
  try {
    fs.fchmodSync(fd, wanted);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") throw err;
  }
}
