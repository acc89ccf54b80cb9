/**
 * A task's inputs: resolving workdir paths and globs to files, and laying the bound files out
 * as symbolic links under `$BATON_INPUTS_DIR/NAME/`.
 */
import { lstatSync, symlinkSync } from "node:fs";
import { lstat, rm, stat } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import picomatch from "picomatch";
import { BatonError } from "../errors.js";
import { makeStateDir } from "../util/state-mode.js";
import { Breather } from "../util/yield.js";
import { SLICE_MS, describeFsError, errnoOf, mkdirAll } from "./fs-util.js";
import { type PathMatcher, compileWorkdirGlob } from "./glob.js";
import { walkFiles } from "./walk.js";

export { ensureWritableDir } from "./fs-util.js";

/** Options of {@link resolveWorkdirPatterns}. */
export interface ResolvePatternsOptions {
  /** When true, patterns matching nothing are not an error. */
  optional: boolean;
  /** The input's name, for error messages (`input "raw": ...`). */
  input: string;
}

/**
 * Resolves workdir patterns to absolute paths, sorted and de-duplicated.
 *
 * Each pattern is a path or a glob, relative to `cwd` or absolute. A literal path must exist
 * and may be a folder (it then counts as one entry, its own path). A glob matches files only,
 * walking just below its static base; `*` and `**` skip dot-names, `.baton/` and
 * `node_modules/` unless the pattern spells them out (see `compileWorkdirGlob`). Symbolic links
 * are followed. A name that looks like a glob but exists literally (`runs/train[lr=0.1]`) is
 * taken literally. A pattern starting with `!` removes matching paths from the result.
 *
 * @throws BatonError `TASK_INPUT_MISSING` when a literal path does not exist or a glob matches
 * nothing (unless `optional`), or when a path cannot be read.
 */
export async function resolveWorkdirPatterns(
  cwd: string,
  patterns: string[],
  opts: ResolvePatternsOptions,
): Promise<string[]> {
  return (await resolveWorkdirFiles(cwd, patterns, opts)).map((f) => f.abs);
}

/** A file (or literal folder) selected by a workdir pattern. */
export interface WorkdirFile {
  abs: string;
  /** Absolute path of the pattern's static base (a glob's fixed leading folders; a literal path's folder). */
  base: string;
}

/** {@link resolveWorkdirPatterns}, with the static base of the pattern that selected each path first. */
export async function resolveWorkdirFiles(
  cwd: string,
  patterns: string[],
  opts: ResolvePatternsOptions,
): Promise<WorkdirFile[]> {
  const root = resolve(cwd);
  const found = new Map<string, string>();
  const excludes: PathMatcher[] = [];
  const fail = (message: string, pattern: string, cause?: unknown): BatonError =>
    new BatonError("TASK_INPUT_MISSING", `input "${opts.input}": ${message}`, {
      cause,
      context: { input: opts.input, pattern, cwd: root, errno: errnoOf(cause) },
    });

  for (const pattern of patterns) {
    if (pattern === "") throw fail(`empty path (in ${root})`, pattern);
    if (pattern.startsWith("!") && pattern.length > 1) {
      excludes.push(compileExclude(root, pattern.slice(1)));
      continue;
    }
    const abs = resolve(root, pattern);
    const scan = picomatch.scan(pattern);
    // A task folder such as `train[lr=0.1]` looks like a glob: a path by that exact name wins.
    if (!scan.isGlob || (await exists(abs))) {
      try {
        await stat(abs);
        if (!found.has(abs)) found.set(abs, dirname(abs));
      } catch (err) {
        const code = errnoOf(err);
        if (code !== "ENOENT" && code !== "ENOTDIR") {
          throw fail(`cannot read "${pattern}" (in ${root}): ${describeFsError(err)}`, pattern, err);
        }
        if (opts.optional) continue;
        const dangling = await lstat(abs).then(
          (st) => st.isSymbolicLink(),
          () => false,
        );
        const what = dangling ? "is a broken symbolic link" : "does not exist";
        throw fail(`"${pattern}" ${what} (in ${root})`, pattern, err);
      }
      continue;
    }
    const glob = compileWorkdirGlob(pattern);
    const base = resolve(root, glob.base);
    let rels: string[];
    try {
      rels = await walkFiles(base, {
        followDirLinks: true,
        enterDir: glob.enterDir,
        acceptFile: glob.match,
        // An unreadable folder deep in a `**` walk must not fail an input that does not need it.
        onDirError: "skip",
      });
    } catch (err) {
      const code = errnoOf(err);
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        throw fail(`cannot read folder ${base} for "${pattern}": ${describeFsError(err)}`, pattern, err);
      }
      rels = [];
    }
    if (rels.length === 0 && !opts.optional) throw fail(`no file matches "${pattern}" (in ${root})`, pattern);
    for (const rel of rels) {
      const abs = join(base, rel);
      if (!found.has(abs)) found.set(abs, base);
    }
  }

  const result = [...found.keys()].filter((p) => !excludes.some((ex) => ex(p)));
  return result
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((abs) => ({ abs, base: found.get(abs) as string }));
}

/**
 * Where a workdir file goes below its input's folder (`keep-directories:`): its basename
 * (`none`, and when unset), its path relative to the working folder (`full`; a file outside it
 * keeps its absolute path, without the leading `/`), or its path below its pattern's static
 * base (`suffix`).
 */
export function workdirFileRel(
  cwd: string,
  file: WorkdirFile,
  keep: "none" | "full" | "suffix" | undefined,
): string {
  const toPosix = (p: string) => p.split(sep).join("/");
  if (keep === "full") {
    const rel = relative(resolve(cwd), file.abs);
    return toPosix(rel.startsWith("..") || isAbsolute(rel) ? file.abs : rel);
  }
  if (keep === "suffix") return toPosix(relative(file.base, file.abs)) || basename(file.abs);
  return basename(file.abs);
}

/** An exclusion, matched against the cwd-relative path (or the absolute one, for an absolute pattern). */
function compileExclude(root: string, pattern: string): PathMatcher {
  const match = picomatch(pattern.replace(/^(\.\/)+/, ""), { dot: true });
  if (isAbsolute(pattern)) return (abs) => match(abs);
  return (abs) => match(relative(root, abs).split(sep).join("/"));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** One file bound to an input. */
export interface InputFile {
  /** Absolute path of the file (the link's target). */
  abs: string;
  /** Path to give it below the input's folder (`model.pt`, `sub/a.npz`). */
  rel: string;
  /** Task that produced it, for files from upstream outputs. */
  producer?: string;
}

/**
 * Lays out `files` as symbolic links under `inputsDir/name/` and returns the links' absolute
 * paths, in the order of `files`. Replaces what an earlier attempt left there.
 *
 * A file goes to `name/<rel>` when all files share one producer (or have none), and to
 * `name/<producer>/<rel>` when several producers contribute (a `/` in a task name becomes
 * `%2F`, so each producer is one folder). `rel` is normalised and cannot leave the folder:
 * leading `/` and `../` are dropped. Two files mapped to the same place are both kept: the later
 * one gets a numeric suffix before its extension (`model-1.pt`).
 *
 * @throws BatonError `TASK_SETUP` when `name` is not a plain folder name or the folder cannot be written.
 */
export async function materialiseInputs(
  inputsDir: string,
  name: string,
  files: InputFile[],
): Promise<string[]> {
  const plan = planInputLinks(inputsDir, name, files);
  await createInputLinks(plan, files);
  return plan.links;
}

/** Where each file of an input will be linked, without touching the disk (see {@link materialiseInputs}). */
export interface InputLinkPlan {
  name: string;
  /** `inputsDir/name`. */
  root: string;
  /** Link paths relative to `root`, in the order of the files. */
  rels: string[];
  /** Absolute link paths, in the order of the files. */
  links: string[];
}

/** Works out the link layout of {@link materialiseInputs}: pure, so a cache hit never creates links. */
export function planInputLinks(inputsDir: string, name: string, files: InputFile[]): InputLinkPlan {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new BatonError("TASK_SETUP", `input name ${JSON.stringify(name)} cannot be used as a folder name`, {
      context: { input: name },
    });
  }
  const root = join(resolve(inputsDir), name);
  const producers = new Set(files.map((f) => f.producer));
  const grouped = producers.size > 1;
  const claims = new PathClaims();
  const rels = files.map((f) => {
    const rel = containedRel(f.rel) || basename(f.abs);
    return claims.claim(grouped && f.producer !== undefined ? `${producerFolder(f.producer)}/${rel}` : rel);
  });
  return { name, root, rels, links: rels.map((rel) => join(root, rel)) };
}

/**
 * Creates the links of a plan (replacing whatever an earlier attempt left there), synchronously:
 * a DAG step's few links cost a handful of system calls, less than one thread-pool round trip
 * each, and thousands (a fan-in) are made in slices of a few milliseconds with a turn for the
 * event loop between them. Folders made in one parent wait for its lock in turn anyway.
 */
export async function createInputLinks(plan: InputLinkPlan, files: InputFile[]): Promise<void> {
  const { root, rels, links } = plan;
  const dirs = new Set<string>();
  for (const rel of rels) {
    const dir = posix.dirname(rel);
    if (dir !== ".") dirs.add(dir);
  }
  try {
    // Usually a first attempt, with nothing to remove: one lstat, not a walk and its exception.
    if (lstatSync(root, { throwIfNoEntry: false }) !== undefined) {
      await rm(root, { recursive: true, force: true }); // holds only links: their targets are untouched
    }
    makeStateDir(root);
    if (dirs.size > 0) await mkdirAll(root, dirs);
  } catch (err) {
    throw folderError(plan, err);
  }
  const breather = new Breather(SLICE_MS);
  for (const [i, file] of files.entries()) {
    try {
      symlinkSync(resolve(file.abs), links[i] as string);
    } catch (err) {
      throw linkError(plan, i, file, err);
    }
    await breather.breathe();
  }
}

/** The inputs folder of `plan` could not be emptied or made. */
function folderError({ root, name }: InputLinkPlan, err: unknown): BatonError {
  return new BatonError("TASK_SETUP", `cannot write inputs folder ${root}: ${describeFsError(err)}`, {
    cause: err,
    context: { input: name, path: root, errno: errnoOf(err) },
  });
}

/** Link `i` of `plan`, to `file`, could not be made. */
function linkError({ links, name }: InputLinkPlan, i: number, file: InputFile, err: unknown): BatonError {
  const link = links[i] as string;
  return new BatonError("TASK_SETUP", `cannot create input link ${link}: ${describeFsError(err)}`, {
    cause: err,
    context: { input: name, path: link, target: file.abs, errno: errnoOf(err) },
  });
}

/** `rel` as a normalised relative posix path that stays inside its folder (possibly empty). */
function containedRel(rel: string): string {
  let p = posix.normalize(rel.split(sep).join("/"));
  p = p.replace(/^\/+/, "");
  while (p === ".." || p.startsWith("../")) p = p.slice(3);
  if (p === "." || p === "./") return "";
  return p.replace(/\/+$/, "");
}

/** A task name as one folder name: task names may hold `/` (a matrix value that is a path). */
function producerFolder(producer: string): string {
  const folder = producer.replaceAll("%", "%25").replaceAll("/", "%2F").replaceAll("\0", "%00");
  if (folder === "" || folder === "." || folder === "..") return folder.replaceAll(".", "%2E") || "%20";
  return folder;
}

/**
 * Hands out link paths without clashes: a path already taken by a file or a folder gets a
 * numeric suffix before its extension; a folder segment already taken by a file is renamed the
 * same way (consistently, so siblings stay together).
 */
class PathClaims {
  readonly #files = new Set<string>();
  readonly #dirs = new Set<string>();
  /** Folder renames made so far: original prefix -> prefix used. */
  readonly #renamed = new Map<string, string>();

  claim(path: string): string {
    const segments = path.split("/");
    let prefix = "";
    for (let i = 0; i < segments.length - 1; i++) {
      const wanted = join2(prefix, segments[i] as string);
      let dir = this.#renamed.get(wanted) ?? wanted;
      if (this.#files.has(dir)) {
        const seg = segments[i] as string;
        for (let n = 1; this.#files.has(dir); n++) dir = join2(prefix, suffixed(seg, n));
        this.#renamed.set(wanted, dir);
      }
      this.#dirs.add(dir);
      prefix = dir;
    }
    const last = segments[segments.length - 1] as string;
    let file = join2(prefix, last);
    for (let n = 1; this.#files.has(file) || this.#dirs.has(file); n++)
      file = join2(prefix, suffixed(last, n));
    this.#files.add(file);
    return file;
  }
}

function join2(prefix: string, name: string): string {
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** `model.pt` -> `model-1.pt`; `README` -> `README-1`; `.env` -> `.env-1`. */
function suffixed(name: string, n: number): string {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  return `${stem}-${n}${ext}`;
}
