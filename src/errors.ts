/**
 * Every error Baton raises on purpose is a {@link BatonError} with a stable `code`.
 * All codes live here, so a newcomer can see every way Baton says "no" in one place.
 * HTTP statuses and exit codes are mapped from codes at the edges (cli/, server/), never here.
 */

export const ERROR_CODES = {
  // The pipeline file: shape, names and expressions.
  SPEC_INVALID: "one or more problems in a pipeline file",
  SPEC_NOT_FOUND: "the pipeline file does not exist",
  SPEC_UNKNOWN_PIPELINE: "no pipeline of that name",
  // Expressions `${{ ... }}`.
  EXPR_SYNTAX: "an expression does not parse",
  EXPR_EVAL: "an expression could not be evaluated",
  // Command line usage.
  USAGE: "the command line is wrong",
  PARAM_INVALID: "a parameter value is unknown or of the wrong type",
  TOO_MANY_TASKS: "a fan-out expands to more tasks than the limits allow",
  // The store.
  STORE_NOT_FOUND: "no such run or task",
  STORE_AMBIGUOUS: "an id prefix matches more than one run or task",
  STORE_UNAVAILABLE: "the state database cannot be opened or written",
  STORE_CONNECT: "the state database cannot be reached (refused connection, unknown host, wrong password)",
  STATE_CONFLICT: "the run or task cannot do this in its current state, or another engine changed it",
  // Running tasks.
  TASK_INPUT_MISSING: "a bound input file does not exist",
  TASK_SETUP: "the task's folders could not be prepared",
  INTERNAL: "a bug in Baton",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One located problem, as printed to users: `file:line:col key.path: message`. */
export interface Problem {
  file?: string;
  line?: number;
  column?: number;
  /** Dotted key path inside the file, e.g. `pipelines.train.nodes.eval.needs[0]`. */
  path?: string;
  message: string;
}

export interface BatonErrorOptions {
  cause?: unknown;
  problems?: Problem[];
  /** Free-form context for logs and the API body (field names, values). */
  context?: Record<string, unknown>;
}

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly problems: Problem[];
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BatonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BatonError";
    this.code = code;
    this.problems = options.problems ?? [];
    this.context = options.context ?? {};
  }
}

/** Renders a problem the way compilers do, so editors can jump to it. */
export function formatProblem(p: Problem): string {
  let where = "";
  if (p.file) {
    where = p.file;
    if (p.line !== undefined) where += `:${p.line}`;
    if (p.line !== undefined && p.column !== undefined) where += `:${p.column}`;
  }
  const head = [where, p.path].filter(Boolean).join(" ");
  return head ? `${head}: ${p.message}` : p.message;
}

/** Funnels anything thrown into a BatonError, keeping the original as `cause`. */
export function ensureBatonError(err: unknown): BatonError {
  if (err instanceof BatonError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BatonError("INTERNAL", message, { cause: err });
}

/** The exit code a CLI command ends with for this error (docs/cli.md). */
export function exitCodeFor(err: BatonError): number {
  switch (err.code) {
    case "SPEC_INVALID":
    case "SPEC_NOT_FOUND":
    case "SPEC_UNKNOWN_PIPELINE":
    case "EXPR_SYNTAX":
    case "USAGE":
    case "PARAM_INVALID":
    case "TOO_MANY_TASKS":
    case "STORE_NOT_FOUND":
    case "STORE_AMBIGUOUS":
    case "STATE_CONFLICT":
    case "STORE_CONNECT":
      return 2;
    default:
      return 1;
  }
}

/** Suggests the closest known name for a misspelt one ("did you mean ..."), or undefined. */
export function didYouMean(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
