/**
 * A task's outputs: choosing the files to keep from its output folder, recording them in the
 * content store, selecting among them for downstream tasks, and restoring them from the store.
 */
import { lstatSync, readdirSync } from "node:fs";
import { lstat, readlink, realpath } from "node:fs/promises";
import { dirname, join, posix, resolve, sep } from "node:path";
import { BatonError } from "../errors.js";
import type { ContentStore } from "./cas.js";
import { describeFsError, ensureWritableDir, errnoOf, mapLimit, mkdirAll } from "./fs-util.js";
import { compileOutputGlobs } from "./glob.js";
import { walkFiles } from "./walk.js";

/** One recorded output file. */
export interface OutputFile {
  /** Path relative to the output folder, with `/` separators (`sub/model.pt`). */
  path: string;
  /** sha256 of the content; the blob's name in the content store. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** Files hashed and stored at once: enough to keep the thread pool busy, few enough for open files. */
const PUT_CONCURRENCY = 16;
const RESTORE_CONCURRENCY = 32;

/**
 * Records the outputs of a finished task: walks `outputDir` recursively, keeps the files matching
 * any of `globs` (see `glob.ts` for the rules; an empty list keeps everything), puts each in `cas`
 * and returns them sorted by path. A symbolic link to a file inside the folder is stored by the
 * content of that file; one that leads outside the folder (absolute, `..`, or through other
 * links) is refused, so a task cannot publish `/etc/passwd` or a user's private file by linking
 * to it; a broken link inside the folder and links to folders are skipped. Kept files become
 * read-only (they share the blob's inode).
 *
 * @throws BatonError `TASK_SETUP` when the folder is a link, a kept link leaves it, a file cannot
 * be read or the store written.
 */
export async function collectOutputs(
  outputDir: string,
  globs: string[],
  cas: ContentStore,
): Promise<OutputFile[]> {
  const root = resolve(outputDir);
  const keep = compileOutputGlobs(globs);
  let paths: string[];
  const links: string[] = [];
  let realRoot: string;
  try {
    if ((await lstat(root)).isSymbolicLink()) {
      throw new BatonError(
        "TASK_SETUP",
        `the output folder ${root} was replaced by a symbolic link to ${await readlink(root)}: its files are not recorded`,
        { context: { path: root } },
      );
    }
    realRoot = await realpath(root);
    paths = await walkFiles(root, {
      followDirLinks: false,
      acceptFile: keep,
      onFileLink: (rel) => links.push(rel),
    });
  } catch (err) {
    if (err instanceof BatonError) throw err;
    throw new BatonError("TASK_SETUP", `cannot read output folder ${root}: ${describeFsError(err)}`, {
      cause: err,
      context: { path: root, errno: errnoOf(err) },
    });
  }
  // A kept link is stored through the real file it leads to, checked to be inside the folder.
  const realOf = new Map<string, string>();
  for (const rel of links.sort(comparePaths)) {
    const real = await checkOutputLink(root, realRoot, rel);
    if (real !== undefined) realOf.set(rel, real);
  }
  paths.sort(comparePaths);
  return mapLimit(paths, PUT_CONCURRENCY, async (path) => {
    // No link is followed any more: one made since the check fails the put.
    const { sha256, size } = await cas.put(realOf.get(path) ?? join(root, path), { followLinks: false });
    return { path, sha256, size };
  });
}

/** What {@link collectSmallOutputsSync} hashes at most, in files and in bytes. */
const QUICK_MAX_FILES = 64;
const QUICK_MAX_BYTES = 1024 * 1024;

/**
 * {@link collectOutputs} for the common case of a task that wrote a few small files, done with
 * synchronous calls (for the launcher, whose waits block no one): an output folder holding only
 * regular files (no sub-folder, no link), at most {@link QUICK_MAX_FILES} of them kept and
 * {@link QUICK_MAX_BYTES} in all, each stored by {@link ContentStore.putSmallSync}. Returns the
 * same list `collectOutputs` would, or undefined when the folder is anything else or anything
 * fails: the caller then calls `collectOutputs`, which handles every case and words the errors.
 */
export function collectSmallOutputsSync(
  outputDir: string,
  globs: string[],
  cas: ContentStore,
): OutputFile[] | undefined {
  const root = resolve(outputDir);
  const keep = compileOutputGlobs(globs);
  const names: string[] = [];
  try {
    if (!lstatSync(root).isDirectory()) return undefined;
    for (const entry of readdirSync(root, { withFileTypes: true })) {
      if (!entry.isFile()) return undefined;
      if (keep(entry.name)) names.push(entry.name);
    }
  } catch {
    return undefined;
  }
  if (names.length > QUICK_MAX_FILES) return undefined;
  names.sort(comparePaths);
  const files: OutputFile[] = [];
  let budget = QUICK_MAX_BYTES;
  for (const path of names) {
    const put = cas.putSmallSync(join(root, path), budget);
    if (put === undefined) return undefined;
    budget -= put.size;
    files.push({ path, sha256: put.sha256, size: put.size });
  }
  return files;
}

/**
 * Where the output link `rel` leads: the real path of its file when inside the output folder,
 * undefined when it is broken but stays inside (left out).
 *
 * @throws BatonError `TASK_SETUP` naming the link and its target when it leads outside.
 */
async function checkOutputLink(root: string, realRoot: string, rel: string): Promise<string | undefined> {
  const abs = join(root, rel);
  let target: string;
  try {
    target = await readlink(abs);
  } catch (err) {
    // Replaced by a file or removed since the walk: the put below reads what is there, never through a link.
    if (errnoOf(err) === "EINVAL" || errnoOf(err) === "ENOENT") return undefined;
    throw new BatonError("TASK_SETUP", `cannot read output link ${rel}: ${describeFsError(err)}`, {
      cause: err,
      context: { path: abs, errno: errnoOf(err) },
    });
  }
  const inside = (p: string, base: string) => p === base || p.startsWith(base + sep);
  const outside = (resolved: string) =>
    new BatonError(
      "TASK_SETUP",
      `output ${rel} is a symbolic link to ${target}${resolved !== resolve(dirname(abs), target) ? ` (which leads to ${resolved})` : ""}, outside the output folder: links out of the output folder are not followed`,
      { context: { path: abs, target, resolved } },
    );
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    // Broken (or a loop): nothing to read, but a link written to point outside is still refused.
    const lexical = resolve(dirname(abs), target);
    if (!inside(lexical, root) && !inside(lexical, realRoot)) throw outside(lexical);
    return undefined;
  }
  if (!inside(real, realRoot)) throw outside(real);
  return real;
}

/**
 * The files among `files` whose path matches `glob` (same rules as `outputs:`), in their
 * original order. Pure; compiled matchers are cached, as one glob is tested against every file
 * of a fanned-out node. Accepts records with `path` ({@link OutputFile}) or `rel` (the engine's
 * produced files).
 */
export function selectOutputs<T extends { path: string } | { rel: string }>(files: T[], glob: string): T[] {
  const match = compileOutputGlobs([glob]);
  return files.filter((f) => match("path" in f ? f.path : f.rel));
}

/**
 * Recreates output files in `outputDir` from the content store (for a cache hit): hard links
 * where possible, copies otherwise. Creates each folder once.
 *
 * @throws BatonError `TASK_SETUP` when a path would leave `outputDir`, a blob is missing
 * (context `reason: "blob-missing"`), or the folder cannot be written.
 */
export async function restoreOutputs(
  outputDir: string,
  files: OutputFile[],
  cas: ContentStore,
): Promise<void> {
  const root = resolve(outputDir);
  ensureWritableDir(root, "output folder");
  const dirs = new Set<string>();
  for (const file of files) {
    if (!isContainedPath(file.path)) {
      throw new BatonError(
        "TASK_SETUP",
        `cannot restore output "${file.path}": the path leaves the output folder`,
        {
          context: { path: file.path, outputDir: root },
        },
      );
    }
    const dir = posix.dirname(file.path);
    if (dir !== ".") dirs.add(dir);
  }
  try {
    await mkdirAll(root, dirs);
  } catch (err) {
    throw new BatonError("TASK_SETUP", `cannot write output folder ${root}: ${describeFsError(err)}`, {
      cause: err,
      context: { path: root, errno: errnoOf(err) },
    });
  }
  await mapLimit(files, RESTORE_CONCURRENCY, (file) =>
    cas.restore(file.sha256, join(root, file.path), { mkdir: false }),
  );
}

/** Code-unit order: the same on every machine and locale. */
function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A relative posix path with no empty, `.` or `..` segment: it cannot leave the folder it is joined to. */
export function isContainedPath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\0")) return false;
  // A backslash is an ordinary file-name character on POSIX, but a separator on Windows.
  if (process.platform === "win32" && path.includes("\\")) return false;
  return path.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}
