/**
 * Glob matching for artifacts, on top of picomatch.
 *
 * Output globs (`outputs:` of a step, `needs.X.outputs['GLOB']`) follow one rule set:
 * - a pattern without `/` matches the file's basename at any depth (`*.npz` matches `sub/a.npz`);
 * - a pattern with `/` matches the whole path relative to the output folder (`sub/*.npz`);
 * - dotfiles match like any other file (`*` matches `.env`);
 * - a leading `./` is ignored, and a pattern starting with `!` excludes what it matches.
 */
import picomatch from "picomatch";
import { BatonError } from "../errors.js";

/** Tells whether a path (posix separators, relative) is selected. */
export type PathMatcher = (path: string) => boolean;

// Not picomatch's `basename` option: with it, patterns containing `/` are matched against the basename too.
const OUTPUT_OPTIONS: picomatch.PicomatchOptions = { dot: true };

/** Compiled matchers by pattern list: one glob is typically tested against thousands of paths, many times. */
const outputMatcherCache = new Map<string, PathMatcher>();
const OUTPUT_CACHE_LIMIT = 1000;

/** Removes `./` prefixes, which picomatch would otherwise require literally. */
export function stripDotSlash(pattern: string): string {
  let p = pattern;
  while (p.startsWith("./")) p = p.slice(2);
  return p;
}

/**
 * Compiles output globs into one matcher: a path is selected when it matches any positive
 * pattern (or there is none) and no `!` pattern. An empty list selects everything.
 *
 * @throws BatonError `INTERNAL` on an empty pattern (the spec layer rejects those first).
 */
export function compileOutputGlobs(globs: readonly string[]): PathMatcher {
  const key = globs.join("\0");
  const cached = outputMatcherCache.get(key);
  if (cached !== undefined) return cached;
  const positive: string[] = [];
  const negative: string[] = [];
  for (const raw of globs) {
    const negated = raw.startsWith("!");
    const pattern = stripDotSlash(negated ? raw.slice(1) : raw);
    if (pattern === "") throw new BatonError("INTERNAL", `empty output glob in ${JSON.stringify(globs)}`);
    (negated ? negative : positive).push(pattern);
  }
  const include = positive.length === 0 ? () => true : compileAny(positive);
  const exclude = negative.length === 0 ? undefined : compileAny(negative);
  const matcher: PathMatcher = exclude === undefined ? include : (p) => include(p) && !exclude(p);
  if (outputMatcherCache.size >= OUTPUT_CACHE_LIMIT) outputMatcherCache.clear();
  outputMatcherCache.set(key, matcher);
  return matcher;
}

/** Matches when any pattern does: slash-less ones against the basename, the others against the whole path. */
function compileAny(patterns: string[]): PathMatcher {
  const onBase = patterns.filter((p) => !p.includes("/"));
  const onPath = patterns.filter((p) => p.includes("/"));
  const base = onBase.length === 0 ? undefined : picomatch(onBase, OUTPUT_OPTIONS);
  const full = onPath.length === 0 ? undefined : picomatch(onPath, OUTPUT_OPTIONS);
  return (path) => {
    if (full?.(path)) return true;
    if (base === undefined) return false;
    const slash = path.lastIndexOf("/");
    return base(slash === -1 ? path : path.slice(slash + 1));
  };
}

/** A workdir pattern split by `picomatch.scan` into the folder to walk and the glob below it. */
export interface WorkdirGlob {
  /** Static folder prefix of the pattern (`data/raw` for `data/raw/*.csv`; `""` for `*.csv`). */
  base: string;
  /** The part below `base`, matched against paths relative to it. */
  glob: string;
  /** Matches a path relative to `base`. */
  match: PathMatcher;
  /** Whether the walk may enter the folder `rel` (relative to `base`; `name` is its last segment). */
  enterDir: (rel: string, name: string, depth: number) => boolean;
}

/** Folders a workdir glob never walks into unless the pattern names them. */
const HEAVY_DIRS = [".baton", "node_modules"];

/**
 * Compiles a workdir glob. Unlike output globs, `*` and `**` skip dotfiles and dot-folders
 * (as in a shell): a workdir holds `.git/`, `.DS_Store`, `.gitkeep`; a pattern that spells a
 * dot (`.env*`, `**\/.cache/*`) still matches them. The walk is pruned early: a folder is only
 * entered when the pattern's segments down to it can match, never `.baton/` or
 * `node_modules/` unless the pattern names them.
 */
export function compileWorkdirGlob(pattern: string): WorkdirGlob {
  const scan = picomatch.scan(pattern);
  const base = scan.base;
  const glob = scan.glob;
  const options: picomatch.PicomatchOptions = { dot: false };
  const match = picomatch(glob, options);
  const segments = glob.split("/");
  // Segment-wise pruning is only sound when no brace or extglob group spans a `/`.
  const splittable = segments.every(balanced);
  const globstarAt = segments.findIndex((s) => s.includes("**"));
  const segmentMatchers = splittable ? segments.map((s) => picomatch(s, options)) : [];
  const spellsDot = /(^|[/{,(|])\./.test(glob);
  const allowed = HEAVY_DIRS.filter((d) => glob.includes(d));
  const enterDir = (_rel: string, name: string, depth: number): boolean => {
    if (HEAVY_DIRS.includes(name) && !allowed.includes(name)) return false;
    if (!splittable) return true;
    if (globstarAt === -1) {
      // Without `**` the pattern has a fixed depth: the last segment names files, the others folders.
      if (depth >= segments.length - 1) return false;
      return segmentMatchers[depth]?.(name) ?? false;
    }
    if (depth < globstarAt) return segmentMatchers[depth]?.(name) ?? false;
    return spellsDot || !name.startsWith(".");
  };
  return { base, glob, match, enterDir };
}

/** True when `{}`, `()` and `[]` are balanced in one path segment. */
function balanced(segment: string): boolean {
  let braces = 0;
  let parens = 0;
  let brackets = 0;
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === "\\") i++;
    else if (c === "{") braces++;
    else if (c === "}") braces--;
    else if (c === "(") parens++;
    else if (c === ")") parens--;
    else if (c === "[") brackets++;
    else if (c === "]") brackets--;
  }
  return braces === 0 && parens === 0 && brackets === 0;
}
