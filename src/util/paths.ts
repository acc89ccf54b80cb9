/**
 * `path.join` and `path.relative` for the paths Baton builds itself, where both sides are
 * already normalised: a plain concatenation or slice instead of `path`'s character-by-character
 * normalisation, which costs microseconds and a few kilobytes of garbage a call. A cached rerun
 * of 10,000 tasks makes tens of thousands of such calls. Anything not plainly normalised goes
 * through `path` as before, so the result is always `path`'s.
 */
import path from "node:path";

/** A segment or separator that `path.join` would change: `.`, `..`, an empty segment, a leading or trailing `/`. */
const NOT_PLAIN_REL = /(?:^|\/)\.{1,2}(?:\/|$)|\/\/|^\/|\/$|^$/;

/** The same in an absolute path: a `.` or `..` segment, an empty segment, a trailing `/`. */
const NOT_PLAIN_DIR = /\/\.{1,2}(?:\/|$)|\/\/|\/$/;

/** True when `dir` is absolute, not the root, and `path.normalize` leaves it as it is. */
function plainDir(dir: string): boolean {
  // The same folder comes many times in a row (a task's 10,000 input links): tested once.
  if (dir === lastPlainDir) return true;
  const plain = path.sep === "/" && dir.length > 1 && dir.charCodeAt(0) === 47 && !NOT_PLAIN_DIR.test(dir);
  if (plain) lastPlainDir = dir;
  return plain;
}
let lastPlainDir = "";

/** `path.join(dir, rel)`. */
export function joinUnder(dir: string, rel: string): string {
  return !NOT_PLAIN_REL.test(rel) && plainDir(dir) ? `${dir}/${rel}` : path.join(dir, rel);
}

/** `path.relative(dir, file)`. */
export function relativeUnder(dir: string, file: string): string {
  if (
    file.length > dir.length + 1 &&
    file.charCodeAt(dir.length) === 47 &&
    file.startsWith(dir) &&
    plainDir(dir) &&
    !NOT_PLAIN_REL.test(file.slice(dir.length + 1))
  )
    return file.slice(dir.length + 1);
  return path.relative(dir, file);
}
