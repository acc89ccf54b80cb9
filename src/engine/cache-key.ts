import { createHash } from "node:crypto";

/**
 * What a task's result depends on (docs/pipeline-file.md). Two tasks with equal parts compute the same
 * thing, so the second may reuse the first's outputs. Paths that differ between runs (run and
 * task ids, output folders) are replaced by stable tokens or content hashes before they get here.
 */
export interface CacheParts {
  /** The command with run-specific paths replaced by tokens (`cas:<sha256>`, `inputs/NAME/file`). */
  command: string;
  params: Record<string, unknown>;
  /** The task's declared `env:` values. */
  env: Record<string, string>;
  /** Input name -> file (relative path under `$BATON_INPUTS_DIR/NAME/`) -> sha256. */
  inputs: Record<string, Record<string, string>>;
  /** `cache.deps` file -> sha256. */
  deps: Record<string, string>;
  /**
   * Files of the project the rendered command names (`step.py` of `python3 step.py`), path
   * relative to the project folder -> sha256; absent when it names none.
   */
  files?: Record<string, string>;
  /** The pool's resources (`{ gpu: 1 }`). */
  resources: Record<string, number>;
  /** Which output files are kept. */
  outputs: string[];
}

/** JSON with object keys sorted at every level, so equal values always hash equal. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  // Built by appending (a rerun keys 10,000 tasks: no arrays of entries to sort and join).
  let out: string;
  if (Array.isArray(value)) {
    out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // The default sort orders by UTF-16 code units, as `<` does.
  const keys = Object.keys(object).sort();
  out = "{";
  for (const key of keys) {
    const v = object[key];
    if (v === undefined) continue;
    out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The cache key: sha256 of the canonical JSON of the parts, with a format version. */
export function cacheKey(parts: CacheParts): string {
  return createHash("sha256")
    .update(canonicalJson({ v: 1, ...parts }))
    .digest("hex");
}

/** Which part of the cache key a {@link CacheChange} is about. */
export type CacheChangePart =
  | "command"
  | "upstream"
  | "param"
  | "env"
  | "input"
  | "dep"
  | "file"
  | "resource"
  | "outputs";

/**
 * One difference between the cache key parts of two tasks of the same node: why the later one
 * could not reuse the earlier one's result.
 */
export interface CacheChange {
  part: CacheChangePart;
  /**
   * What of that part: the param, env or resource name, the file (`raw/a.csv` for an input:
   * input name / file; the path for a dep or a file the command names); null for the command,
   * upstream outputs and outputs.
   */
  name: string | null;
  /**
   * The earlier value: JSON for params, env and resources, the text for the command, the
   * sha256 of the content for files, the JSON list for outputs; null when it was not there
   * (and for `upstream`).
   */
  before: string | null;
  /** The value now, as `before`; null when it is no longer there. */
  after: string | null;
  /** In words, as `baton show` prints it: `param lr: 0.01 -> 0.02`, `input raw/a.csv: content changed`. */
  text: string;
}

/**
 * Why a task did not reuse an earlier result of the same node: the parts that changed
 * (`param lr: 0.01 -> 0.02`, `input models/a.bin: content changed`), in key order.
 */
export function diffCacheParts(before: CacheParts, now: CacheParts): CacheChange[] {
  const changes: CacheChange[] = [];
  if (before.command !== now.command) changes.push(describeCommandChange(before.command, now.command));
  diffValues("param", before.params, now.params, changes);
  diffValues("env", before.env, now.env, changes);
  const inputNames = new Set([...Object.keys(before.inputs), ...Object.keys(now.inputs)]);
  for (const name of [...inputNames].sort()) {
    diffFiles("input", `${name}/`, before.inputs[name] ?? {}, now.inputs[name] ?? {}, changes);
  }
  diffFiles("dep", "", before.deps, now.deps, changes);
  diffFiles("file", "", before.files ?? {}, now.files ?? {}, changes);
  diffValues("resource", before.resources, now.resources, changes);
  const outputsBefore = canonicalJson(before.outputs);
  const outputsNow = canonicalJson(now.outputs);
  if (outputsBefore !== outputsNow) {
    changes.push({
      part: "outputs",
      name: null,
      before: outputsBefore,
      after: outputsNow,
      text: `outputs: ${JSON.stringify(before.outputs)} -> ${JSON.stringify(now.outputs)}`,
    });
  }
  return changes;
}

function diffValues(
  part: "param" | "env" | "resource",
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  out: CacheChange[],
): void {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    const x = canonicalJson(a[k]);
    const y = canonicalJson(b[k]);
    if (x === y) continue;
    const label = `${part} ${k}`;
    if (!(k in a)) out.push({ part, name: k, before: null, after: y, text: `${label}: added (${short(y)})` });
    else if (!(k in b)) {
      out.push({ part, name: k, before: x, after: null, text: `${label}: removed (was ${short(x)})` });
    } else out.push({ part, name: k, before: x, after: y, text: `${label}: ${short(x)} -> ${short(y)}` });
  }
}

function diffFiles(
  part: "input" | "dep" | "file",
  prefix: string,
  a: Record<string, string>,
  b: Record<string, string>,
  out: CacheChange[],
): void {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of [...keys].sort()) {
    if (a[k] === b[k]) continue;
    const name = `${prefix}${k}`;
    const change = { part, name, before: a[k] ?? null, after: b[k] ?? null };
    if (a[k] === undefined) out.push({ ...change, text: `${part} ${name}: new file` });
    else if (b[k] === undefined) out.push({ ...change, text: `${part} ${name}: no longer there` });
    else if (part === "file") out.push({ ...change, text: `file ${name} changed` });
    else out.push({ ...change, text: `${part} ${name}: content changed` });
  }
}

const CONTENT_TOKEN = /(cas:[0-9a-f]{64}|needs:[^\s:]+:[^\s]+:[0-9a-f]{16})/g;

/** Says whether the command text changed or only the content of upstream files it names. */
function describeCommandChange(before: string, now: string): CacheChange {
  const tokens = (s: string) => s.match(CONTENT_TOKEN) ?? [];
  if (before.replace(CONTENT_TOKEN, "*") === now.replace(CONTENT_TOKEN, "*")) {
    const changed = tokens(now).filter((t, i) => tokens(before)[i] !== t).length;
    return {
      part: "upstream",
      name: null,
      before: null,
      after: null,
      text: `upstream output: content of ${changed} file(s) or folder(s) named in the command changed`,
    };
  }
  return {
    part: "command",
    name: null,
    before,
    after: now,
    text: `command: ${short(before)} -> ${short(now)}`,
  };
}

function short(text: string): string {
  text = text.replace(/\s*\n\s*/g, " ⏎ ");
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
