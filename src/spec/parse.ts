/**
 * Reading pipeline definitions: `baton.yaml` text, or the same structure as JSON data (posted
 * to the API, built by the SDK). The caller reads files; nothing here does I/O.
 */
import { LineCounter, isScalar, parseDocument, visit } from "yaml";
import { BatonError, type Problem, formatProblem } from "../errors.js";
import type { TaskLimits } from "./limits.js";
import { NO_SOURCE, type SourceMap, keyPathAt, plainSourceMap, yamlSourceMap } from "./locate.js";
import { readPlainYaml } from "./plain-yaml.js";
import { type SpecProblem, formatPath } from "./problems.js";
import type { ProjectSpec } from "./types.js";
import { validateProject } from "./validate.js";

/** Options of {@link parseProjectText} and {@link parsePipelineDefinition}. */
export interface ParseOptions {
  /**
   * Slots of the `local` pool when the file does not set them (the CLI passes
   * `os.availableParallelism()`). Defaults to 2.
   */
  cpus?: number;
  /** The most tasks a node and a run may expand to; default 100,000 each. */
  limits?: Readonly<TaskLimits>;
}

/**
 * Parses and validates the text of a `baton.yaml`, resolving defaults, steps and Valohai edges
 * into the model of `types.ts`.
 *
 * @param file Path of the file as the user knows it; used in the model and in messages.
 * @throws BatonError `SPEC_INVALID` whose `problems` list every problem found (YAML syntax,
 *   shape, names, cycles, expressions), each with file, line, column and key path; its message
 *   is those problems formatted one per line (`baton.yaml:12:7 pipelines.x...: ...`).
 */
export function parseProjectText(text: string, file: string, options: ParseOptions = {}): ProjectSpec {
  // Most files are plain YAML: read them fast, with positions, without yaml's document. A file
  // outside that subset, or one with a problem, is read again by the full parser, which also
  // places and words the problems.
  const plain = readPlainYaml(text);
  if (plain !== undefined && plain.data !== null && typeof plain.data === "object") {
    const source = plainSourceMap(plain, text, () => fullSourceMap(text));
    const result = validateProject(plain.data, {
      file,
      cpus: options.cpus,
      source,
      limits: options.limits,
    });
    if (result.project && result.problems.length === 0) return result.project;
  }
  return parseProjectDocument(text, file, options);
}

/**
 * {@link parseProjectText} with yaml's full parser and document, for every file (exported for
 * the tests that compare it with the fast reader).
 */
export function parseProjectDocument(text: string, file: string, options: ParseOptions = {}): ProjectSpec {
  const lineCounter = new LineCounter();
  // Duplicate keys are found below in one pass: yaml's own check compares every key of a map
  // with every other, which is quadratic in a pipeline of 100,000 nodes.
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: false, prettyErrors: true });
  const problems: Problem[] = [];
  let fatal = false;
  for (const error of doc.errors) {
    const [line, column] = error.linePos
      ? [error.linePos[0].line, error.linePos[0].col]
      : [undefined, undefined];
    fatal = true;
    problems.push(placed(file, line, column, undefined, yamlMessage(error.message)));
  }
  if (!fatal) {
    visit(doc, {
      Map(_, map) {
        const seen = new Set<string>();
        for (const item of map.items) {
          const keyNode = item.key;
          if (!isScalar(keyNode)) continue;
          const key = String(keyNode.value);
          if (!seen.has(key)) {
            seen.add(key);
            continue;
          }
          const offset = keyNode.range?.[0] ?? 0;
          const found = keyPathAt(doc, offset);
          const pos = lineCounter.linePos(offset);
          const first = found?.first !== undefined ? lineCounter.linePos(found.first).line : undefined;
          const where = first !== undefined ? ` (first written on line ${first})` : "";
          problems.push(
            placed(
              file,
              pos.line,
              pos.col,
              found ? formatPath(found.path.slice(0, -1)) : undefined,
              `duplicate key "${key}"${where}`,
            ),
          );
        }
      },
    });
  }
  if (fatal) throw invalid(file, problems);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    problems.push({
      file,
      message: `cannot read the YAML: ${err instanceof Error ? err.message : String(err)}`,
    });
    throw invalid(file, problems);
  }
  if (data === null || data === undefined) {
    problems.push({
      file,
      line: 1,
      column: 1,
      message: "the file is empty (expected version: 1, steps: and pipelines:)",
    });
    throw invalid(file, problems);
  }
  const source = yamlSourceMap(doc, lineCounter, text);
  const result = validateProject(data, { file, cpus: options.cpus, source, limits: options.limits });
  problems.push(...result.problems.map((p) => toProblem(p, file, source)));
  if (problems.length > 0 || !result.project) throw invalid(file, problems);
  return result.project;
}

/**
 * Validates a pipeline definition given as data — the same structure as `baton.yaml` (`version`,
 * `defaults`, `pools`, `steps`, `pipelines`), e.g. JSON posted to the API. Problems carry key
 * paths but no line and column, and `loc` fields of the model have line and column 0.
 *
 * @param file A name for the definition, used in the model and in messages.
 * @throws BatonError `SPEC_INVALID` listing every problem.
 */
export function parsePipelineDefinition(obj: unknown, file: string, options: ParseOptions = {}): ProjectSpec {
  const result = validateProject(obj, { file, cpus: options.cpus, limits: options.limits });
  if (result.problems.length > 0 || !result.project) {
    throw invalid(
      file,
      result.problems.map((p) => toProblem(p, file, NO_SOURCE)),
    );
  }
  return result.project;
}

/** The source map of yaml's full document of `text` (built when a position needs it). */
function fullSourceMap(text: string): SourceMap {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: false });
  return yamlSourceMap(doc, lineCounter, text);
}

function toProblem(p: SpecProblem, file: string, source: SourceMap): Problem {
  const pos = source.position(p.locate ?? p.path, p.at, p.offset);
  const path = formatPath(p.path);
  return placed(file, pos?.line, pos?.column, path === "" ? undefined : path, p.message);
}

function placed(
  file: string,
  line: number | undefined,
  column: number | undefined,
  path: string | undefined,
  message: string,
): Problem {
  const problem: Problem = { file, message };
  if (line !== undefined) problem.line = line;
  if (column !== undefined) problem.column = column;
  if (path !== undefined && path !== "") problem.path = path;
  return problem;
}

/** `Map keys must be unique at line 4, column 3:\n\n...` -> `map keys must be unique`. */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  const text = first.replace(/ at line \d+, column \d+:?$/, "");
  return `YAML syntax: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

function invalid(file: string, problems: Problem[]): BatonError {
  const sorted = sortProblems(problems);
  return new BatonError("SPEC_INVALID", sorted.map(formatProblem).join("\n"), {
    problems: sorted,
    context: { file },
  });
}

/** By position, problems without a position last; discovery order otherwise. */
function sortProblems(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const la = a.p.line ?? Number.POSITIVE_INFINITY;
      const lb = b.p.line ?? Number.POSITIVE_INFINITY;
      if (la !== lb) return la - lb;
      const ca = a.p.column ?? 0;
      const cb = b.p.column ?? 0;
      return ca !== cb ? ca - cb : a.i - b.i;
    })
    .map(({ p }) => p);
}
