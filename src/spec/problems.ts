/**
 * Problems found while reading a pipeline file, before they are placed in the source.
 * Validation code reports a key path and what is wrong; `parse.ts` turns the path into a
 * file position (when there is a file) and a {@link Problem} from `errors.ts`.
 */
import { didYouMean } from "../errors.js";

/** A key path inside the file: `["pipelines", "train", "nodes", "eval", "needs", 0]`. */
export type Path = ReadonlyArray<string | number>;

/** A problem as found by the validator, before it is given a line and column. */
export interface SpecProblem {
  /** The key path shown in the message. */
  path: Path;
  /** Point at the key (`neds:`) or at the value written under it. */
  at: "key" | "value";
  /** Where to point when it differs from `path` (an unknown key is shown at its map's path). */
  locate?: Path;
  /** Offset inside the string value, for expressions (`${{ ... }}`) inside longer strings. */
  offset?: number;
  message: string;
}

/** Collects problems; validation never stops at the first one. */
export class ProblemList {
  readonly items: SpecProblem[] = [];

  /** Reports a problem about the value at `path`. */
  value(path: Path, message: string, offset?: number): void {
    this.items.push(
      offset === undefined ? { path, at: "value", message } : { path, at: "value", offset, message },
    );
  }

  /** Reports a problem about the key at the end of `path` (unknown or misplaced key). */
  key(path: Path, message: string): void {
    this.items.push({ path, at: "key", message });
  }

  /**
   * Reports a problem about the map at `parent`, pointing at its key `key` (an unknown key),
   * or at the map's own key when `key` is undefined (a missing key).
   */
  keyOf(parent: Path, key: string | undefined, message: string): void {
    this.items.push({
      path: parent,
      at: "key",
      locate: key === undefined ? parent : [...parent, key],
      message,
    });
  }

  /** Reports a problem built by the caller. */
  add(problem: SpecProblem): void {
    this.items.push(problem);
  }

  get size(): number {
    return this.items.length;
  }
}

/** ` (did you mean "x"?)` when a known name is close to `name`, else the empty string. */
export function suggest(name: string, known: Iterable<string>): string {
  const best = didYouMean(name, known);
  return best === undefined ? "" : ` (did you mean "${best}"?)`;
}

/** Renders a value found in the file for a message: `"abc"`, `5`, `a list`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return "nothing";
  if (typeof value === "string") {
    const quoted = JSON.stringify(value);
    return quoted.length > 60 ? `${quoted.slice(0, 56)}..."` : quoted;
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (typeof value === "object") return "a map";
  return typeof value;
}

/** `"a", "b" or "c"`. */
export function quoteList(items: readonly unknown[], last = "or"): string {
  const quoted = items.map((i) => (typeof i === "string" ? `"${i}"` : JSON.stringify(i)));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} ${last} ${quoted[quoted.length - 1]}`;
}

/**
 * Names of pipelines, steps, nodes, params, inputs and pools (and submitted tasks): 1 to
 * {@link MAX_NAME_LENGTH} characters, no leading or trailing whitespace, no control characters
 * and none of `. [ ] { } $ " ' \` \ /` (`Train model (MNIST)` is a name). Expressions reach
 * names that are not identifiers with brackets: `needs['Train model']`.
 */
export const NAME_PATTERN = /^(?!\s)(?![\s\S]*\s$)[^.[\]{}$"'`\\/\p{Cc}]+$/u;

/** Matrix keys, env names and label keys: letters, digits, `_` and `-`, starting with a letter or `_`. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** What {@link NAME_PATTERN} allows, for messages. */
export const NAME_RULE = `1-200 characters, no leading or trailing whitespace, no control characters, none of . [ ] { } $ " ' \` \\ /`;

/** The longest name Baton takes (of a pipeline, node, task, label...), in characters. */
export const MAX_NAME_LENGTH = 200;

/** Why `name` is not a name by {@link NAME_PATTERN} (`"." is not allowed`), or undefined. */
export function nameFault(name: string): string | undefined {
  if (name.length === 0) return "it is empty";
  if (name.length > MAX_NAME_LENGTH)
    return `it is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  if (/^\s|\s$/.test(name)) return "it starts or ends with whitespace";
  const bad = /[.[\]{}$"'`\\/\p{Cc}]/u.exec(name)?.[0];
  if (bad === undefined) return undefined;
  return /\p{Cc}/u.test(bad) ? "it holds a control character" : `"${bad}" is not allowed`;
}

/** The message for a name that does not match {@link NAME_PATTERN}, or undefined. */
export function checkName(kind: string, name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH)
    return `${kind} name "${name.slice(0, 40)}…" is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  const fault = nameFault(name);
  if (fault === undefined) return undefined;
  return `invalid ${kind} name ${JSON.stringify(name)}: ${fault} (a name has ${NAME_RULE})`;
}

/** The message for a matrix key that does not match {@link IDENTIFIER_PATTERN}, or undefined. */
export function checkIdentifier(kind: string, name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH)
    return `${kind} name "${name.slice(0, 40)}…" is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  if (IDENTIFIER_PATTERN.test(name)) return undefined;
  return `invalid ${kind} name "${name}" (use letters, digits, "_" and "-", starting with a letter or "_")`;
}

/** How an expression reaches a member: `params.lr`, or `params['learning rate']` for a name that is not an identifier. */
export function memberAccess(root: string, name: string): string {
  return IDENTIFIER_PATTERN.test(name) ? `${root}.${name}` : `${root}['${name}']`;
}

/**
 * The path whose text {@link formatPath} made last, but its last segment, and that text: the
 * paths of a pipeline's nodes differ only in their last segment, and share their prefix's text.
 */
let lastPrefix: Path = [];
let lastPrefixText = "";

/** Renders a key path the way users see it: `pipelines.train.nodes.eval.needs[0]`. */
export function formatPath(path: Path): string {
  const n = path.length - 1;
  let same = n > 0 && n === lastPrefix.length;
  for (let i = 0; same && i < n; i++) same = path[i] === lastPrefix[i];
  if (!same) {
    lastPrefix = path.slice(0, n);
    lastPrefixText = "";
    for (let i = 0; i < n; i++) lastPrefixText = appendSegment(lastPrefixText, path[i]!);
  }
  return n < 0 ? "" : appendSegment(lastPrefixText, path[n]!);
}

function appendSegment(out: string, seg: string | number): string {
  if (typeof seg === "number") return `${out}[${seg}]`;
  if (/^[A-Za-z0-9_-]+$/.test(seg)) return out === "" ? seg : `${out}.${seg}`;
  return `${out}[${JSON.stringify(seg)}]`;
}
