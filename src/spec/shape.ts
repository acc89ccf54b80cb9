/**
 * Runs the zod schemas of `schema.ts` over parts of a file and turns their issues into
 * problems users can act on: `unknown key "neds" (did you mean "needs"?)`,
 * `expected an integer, found "abc"`, `missing required key "run"`.
 */
import * as z from "zod";
import { vouches } from "./fast-shape.js";
import { type Path, type ProblemList, describeValue, quoteList, suggest } from "./problems.js";

type Issue = z.core.$ZodIssue;

/** Result of checking one part of the file. */
export interface ShapeResult<T> {
  /** The parsed part; present when it is usable (possibly after dropping what was wrong). */
  data: T | undefined;
  /** True when the part had no problem at all. */
  clean: boolean;
  /** Keys of the part that were dropped: unknown keys, and keys whose value was wrong. */
  dropped: string[];
  /** Whether some dropped key was unknown (possibly a misspelt known key). */
  unknownKeys: boolean;
}

/** Extra words after `missing required key "x"`, for keys users most often leave out. */
const MISSING_HINTS: Record<string, string> = {
  version: ' (add "version: 1" at the top of the file)',
  run: " (the shell command to run)",
  nodes: " (the nodes of the pipeline)",
  cron: ' (a cron expression of five fields, or six with seconds first, e.g. "0 9 * * MON")',
  webhook: " (a loopback URL, e.g. http://127.0.0.1:9000/hook)",
  name: " (the node's name)",
};

/**
 * Checks `value` (found at `path`) against `schema`, reporting every issue into `problems`.
 * A problem inside one key does not make the whole part unusable: unknown keys and keys with
 * a wrong value are reported, dropped, and the rest of the part is returned (when what is
 * left still fits) so that later checks can look at it.
 */
export function checkShape<S extends z.ZodType>(
  schema: S,
  value: unknown,
  path: Path,
  problems: ProblemList,
): ShapeResult<z.output<S>> {
  // zod drops `__proto__` keys from records and objects: a node or param of that name would
  // vanish. The key is renamed while zod looks at the part, and given back in what it returns.
  const escaped = hasProtoKey(value);
  const input = escaped ? renameKeys(value, PROTO, ESCAPED_PROTO) : value;
  const done = (data: z.output<S>) =>
    escaped ? (renameKeys(data, ESCAPED_PROTO, PROTO) as z.output<S>) : data;
  const result = schema.safeParse(input, { reportInput: true, error: unknownKeysMessage });
  if (result.success) return { data: done(result.data), clean: true, dropped: [], unknownKeys: false };
  const flat = result.error.issues.flatMap((issue) => flatten(issue, []));
  for (const f of flat) report(f, path, problems);
  const failed: ShapeResult<z.output<S>> = { data: undefined, clean: false, dropped: [], unknownKeys: false };
  if (input === null || typeof input !== "object" || Array.isArray(input)) return failed;
  const salvaged = structuredClone(input) as Record<string, unknown>;
  const dropped = new Set<string>();
  for (const { path: at, issue } of flat) {
    if (issue.code === "unrecognized_keys") {
      const target = walk(salvaged, at);
      if (target === null || typeof target !== "object") return failed;
      for (const key of issue.keys) delete (target as Record<string, unknown>)[key];
      if (at.length === 0) {
        issue.keys.forEach((k) => dropped.add(unescapeKey(k)));
        failed.unknownKeys = true;
      }
    } else if (at.length > 0 && (issue as { input?: unknown }).input !== undefined) {
      const key = String(at[0]);
      delete salvaged[key];
      dropped.add(unescapeKey(key));
    } else {
      return failed;
    }
  }
  const again = schema.safeParse(salvaged);
  if (!again.success) return failed;
  return { data: done(again.data), clean: false, dropped: [...dropped], unknownKeys: failed.unknownKeys };
}

/**
 * {@link checkShape} when `plain` (a hand-written check of fast-shape.ts) cannot vouch for
 * `value`; when it can, `value` is the part as zod would give it back, and zod is not asked.
 */
export function checkPlainShape<S extends z.ZodType>(
  plain: (value: unknown) => boolean,
  schema: () => S,
  value: unknown,
  path: Path,
  problems: ProblemList,
): ShapeResult<z.output<S>> {
  if (vouches(plain, value))
    return { data: value as z.output<S>, clean: true, dropped: [], unknownKeys: false };
  return checkShape(schema(), value, path, problems);
}

const PROTO = "__proto__";
/** What `__proto__` keys are called while zod looks at them (no name in a file has a NUL). */
const ESCAPED_PROTO = "\u0000__proto__";

function unescapeKey(key: string): string {
  return key === ESCAPED_PROTO ? PROTO : key;
}

/** Whether some map inside `value` has an own key `__proto__`. */
function hasProtoKey(value: unknown): boolean {
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasProtoKey(v)) return true;
    return false;
  }
  // No copies: this runs over every node of a file, three times.
  if (Object.hasOwn(value, PROTO)) return true;
  for (const k of Object.keys(value)) if (hasProtoKey((value as Record<string, unknown>)[k])) return true;
  return false;
}

/** A deep copy of lists and maps with keys `from` renamed `to` (always own data properties). */
function renameKeys(value: unknown, from: string, to: string): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, from, to));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k === from ? to : k, renameKeys(v, from, to)]),
  );
}

interface FlatIssue {
  /** Path from the checked part, unions resolved. */
  path: Array<string | number>;
  issue: Issue;
}

/**
 * Replaces a union's issue by the issues of the one branch whose JSON type matched (a map for
 * `{ limit, backoff }`, a number for `retries: 2`), so that users read about the form they
 * wrote instead of every form they could have written.
 */
function flatten(issue: Issue, base: Array<string | number>): FlatIssue[] {
  const path = [...base, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const matching = issue.errors.filter(
      (branch) => !branch.some((b) => b.path.length === 0 && b.code === "invalid_type"),
    );
    const best = matching.sort((a, b) => a.length - b.length)[0];
    if (best) return best.flatMap((b) => flatten(b, path));
  }
  return [{ path, issue }];
}

function report({ path, issue }: FlatIssue, base: Path, problems: ProblemList): void {
  const full = [...base, ...path.map((p) => (typeof p === "string" ? unescapeKey(p) : p))];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "unrecognized_keys": {
      const messages = issue.message.split("\n");
      issue.keys.forEach((escapedKey, i) => {
        const key = unescapeKey(escapedKey);
        problems.keyOf(full, key, messages[i] ?? `unknown key "${key}"`);
      });
      return;
    }
    case "invalid_type":
    case "invalid_value":
    case "invalid_union":
      if (input === undefined && full.length > 0) {
        const key = String(full[full.length - 1]);
        problems.keyOf(
          full.slice(0, -1),
          undefined,
          `missing required key "${key}"${MISSING_HINTS[key] ?? ""}`,
        );
        return;
      }
      if (issue.code === "invalid_union") {
        reportUnion(issue, input, full, problems);
      } else if (base.length === 0 && path.length === 1 && path[0] === "version") {
        problems.value(full, `unsupported version ${describeValue(input)} (this Baton reads version: 1)`);
      } else if (issue.code === "invalid_type") {
        problems.value(full, `expected ${typeName(issue.expected)}, found ${describeValue(input)}`);
      } else {
        const values = issue.values;
        const expected = values.length === 1 ? JSON.stringify(values[0]) : `one of ${quoteList(values)}`;
        const strings = values.filter((v): v is string => typeof v === "string");
        const hint = typeof input === "string" ? suggest(input, strings) : "";
        problems.value(full, `expected ${expected}, found ${describeValue(input)}${hint}`);
      }
      return;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const word =
        issue.code === "too_small"
          ? issue.inclusive
            ? "at least"
            : "more than"
          : issue.inclusive
            ? "at most"
            : "less than";
      if (issue.origin === "array")
        problems.value(full, `expected ${word} ${bound} items, found ${describeValue(input)}`);
      else if (issue.origin === "string") problems.value(full, `expected ${word} ${bound} characters`);
      else problems.value(full, `expected ${word} ${bound}, found ${describeValue(input)}`);
      return;
    }
    default:
      problems.value(full, issue.message);
  }
}

/** A union where no form matched the JSON type written: say which forms are accepted. */
function reportUnion(
  issue: Extract<Issue, { code: "invalid_union" }>,
  input: unknown,
  full: Path,
  problems: ProblemList,
): void {
  const custom = issue.message !== "Invalid input" ? issue.message : undefined;
  const expected =
    custom ??
    `expected ${[
      ...new Set(issue.errors.flat().map((b) => (b.code === "invalid_type" ? typeName(b.expected) : ""))),
    ]
      .filter(Boolean)
      .join(" or ")}`;
  problems.value(full, `${expected}, found ${describeValue(input)}`);
}

function typeName(expected: string): string {
  switch (expected) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "int":
      return "an integer";
    case "boolean":
      return "true or false";
    case "array":
    case "tuple":
      return "a list";
    case "object":
    case "record":
    case "map":
      return "a map";
    case "null":
      return "nothing";
    default:
      return expected;
  }
}

/**
 * zod error map: messages for unknown keys, one line per key, with the closest known key or
 * the list of known keys. It runs while the schema that raised the issue is still at hand.
 */
function unknownKeysMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code !== "unrecognized_keys" || !(issue.inst instanceof z.ZodObject)) return undefined;
  const known = Object.keys(issue.inst.shape);
  return issue.keys
    .map(unescapeKey)
    .map((key) => {
      const hint = suggest(key, known);
      return `unknown key "${key}"${hint || ` (expected one of: ${known.join(", ")})`}`;
    })
    .join("\n");
}

function walk(value: unknown, path: ReadonlyArray<string | number>): unknown {
  let v = value;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}
