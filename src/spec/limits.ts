/**
 * How many tasks a fan-out may expand to. A `matrix:` of seven 10-value lists is 10,000,000
 * tasks: enough to take a server down while planning. Fan-outs are counted without being
 * expanded (a matrix is the product of its list lengths) and refused over the limits, with the
 * place they were written.
 *
 * Pure: the caller reads the environment and passes it in.
 */
import { BatonError } from "../errors.js";
import type { Path, SpecProblem } from "./problems.js";
import type { NodeSpec, PipelineSpec, ProjectSpec, TaskNodeSpec } from "./types.js";

/** The most tasks one node and one run may expand to. */
export interface TaskLimits {
  perNode: number;
  perRun: number;
}

export const DEFAULT_TASK_LIMITS: Readonly<TaskLimits> = { perNode: 100_000, perRun: 100_000 };

/** The environment variables an operator sets the limits with (named in messages). */
export const TASK_LIMIT_ENV = {
  perNode: "BATON_MAX_TASKS_PER_NODE",
  perRun: "BATON_MAX_TASKS_PER_RUN",
} as const;

/**
 * The limits `env` sets (`BATON_MAX_TASKS_PER_NODE`, `BATON_MAX_TASKS_PER_RUN`), the defaults
 * for those it does not set.
 * @throws BatonError `USAGE` for a value that is not a positive whole number.
 */
export function limitsFromEnv(
  env: Record<string, string | undefined>,
  base: Readonly<TaskLimits> = DEFAULT_TASK_LIMITS,
): TaskLimits {
  const limits = { ...base };
  for (const key of ["perNode", "perRun"] as const) {
    const text = env[TASK_LIMIT_ENV[key]];
    if (text !== undefined && text.trim() !== "") limits[key] = parseLimit(text, TASK_LIMIT_ENV[key]);
  }
  return limits;
}

/** A limit as written (`100000`, `100_000`, `100,000`); `name` is the variable or flag for the message. */
export function parseLimit(text: string, name: string): number {
  const clean = text.trim().replace(/[_,]/g, "");
  const n = Number(clean);
  if (!/^\d+$/.test(clean) || !Number.isSafeInteger(n) || n < 1) {
    throw new BatonError("USAGE", `${name}=${text}: expected a whole number of tasks, at least 1`);
  }
  return n;
}

/** `10,000,000`. */
export function formatCount(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "more than 9,007,199,254,740,991";
}

/** How many tasks a fan-out makes, and of which list lengths (one for `foreach`, one per matrix key). */
export interface FanoutCount {
  /** `foreach` or `matrix`; undefined for a node that runs once. */
  field: "foreach" | "matrix" | undefined;
  count: number;
  factors: number[];
  /** For each factor fed by a param (`${{ params.X }}`), its name. */
  fromParams: Array<string | undefined>;
}

/** The count of a node without fan-out (shared: never written to). */
const ONE_TASK: FanoutCount = Object.freeze({
  field: undefined,
  count: 1,
  factors: Object.freeze([]) as unknown as number[],
  fromParams: Object.freeze([]) as unknown as Array<string | undefined>,
});

/**
 * Counts a task node's tasks without expanding it, when its lists are known before it runs:
 * literal lists, and `${{ params.X }}` given `params`. Undefined when a list is only known at
 * run time (an expression over `needs`...), or is not a list (reported elsewhere).
 */
export function countFanout(
  node: TaskNodeSpec,
  params: Record<string, unknown> | undefined,
): FanoutCount | undefined {
  const field = node.foreach !== undefined ? "foreach" : node.matrix !== undefined ? "matrix" : undefined;
  if (field === undefined) return ONE_TASK;
  const lists: unknown[] = node.foreach !== undefined ? [node.foreach] : Object.values(node.matrix!);
  const factors: number[] = [];
  const fromParams: Array<string | undefined> = [];
  for (const list of lists) {
    const param = typeof list === "string" ? paramReference(list) : undefined;
    const value = param !== undefined && params && Object.hasOwn(params, param) ? params[param] : list;
    if (!Array.isArray(value)) return undefined;
    factors.push(value.length);
    fromParams.push(param);
  }
  // A matrix with no keys makes no task (see expandNode).
  const count = factors.length === 0 ? 0 : factors.reduce((a, b) => a * b, 1);
  return { field, count, factors, fromParams };
}

/** The name X of a template that is exactly `${{ params.X }}` or `${{ params['X'] }}`. */
export function paramReference(text: string): string | undefined {
  const m =
    /^\$\{\{\s*params(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[\s*(?:'([^']*)'|"([^"\\]*)")\s*\])\s*\}\}$/.exec(
      text.trim(),
    );
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

/** `10,000,000 tasks (10 x 10 x ...) exceeds the limit of 100,000 tasks per node (BATON_MAX_TASKS_PER_NODE)`. */
export function nodeLimitMessage(size: FanoutCount, limit: number): string {
  const shown = size.factors.slice(0, 12).map((f, i) => {
    const p = size.fromParams[i];
    return p === undefined ? formatCount(f) : `${formatCount(f)} from params.${p}`;
  });
  if (size.factors.length > 12) shown.push("...");
  const explained = size.factors.length > 1 || size.fromParams.some((p) => p !== undefined);
  const how = explained ? ` (${shown.join(" x ")})` : "";
  return `${formatCount(size.count)} tasks${how} exceeds the limit of ${formatCount(limit)} tasks per node (${TASK_LIMIT_ENV.perNode})`;
}

/** `150,000 tasks (a: 100,000, b: 50,000) exceeds the limit of 100,000 tasks per run (BATON_MAX_TASKS_PER_RUN)`. */
export function runLimitMessage(total: number, parts: Array<[string, number]>, limit: number): string {
  const big = [...parts].sort((a, b) => b[1] - a[1]).slice(0, 5);
  const more = parts.length > big.length ? ", ..." : "";
  const how = big.map(([name, n]) => `${name}: ${formatCount(n)}`).join(", ");
  return `${formatCount(total)} tasks (${how}${more}), which exceeds the limit of ${formatCount(limit)} tasks per run (${TASK_LIMIT_ENV.perRun})`;
}

/** The key path of a node field, from the node's `path` (`pipelines.p.nodes.n`). */
export function nodeFieldPath(node: NodeSpec, field: string): Path {
  return [...node.path.split("."), field];
}

/** One place a limit is exceeded. */
export interface LimitProblem {
  /** The node (per node), or undefined for the run as a whole. */
  node: NodeSpec | undefined;
  path: Path;
  message: string;
}

/**
 * Checks a pipeline's fan-outs against the limits with `params` (the pipeline's params, as
 * given at launch or their defaults): each node, and the run as a whole, counting static
 * `pipeline:` child runs with their children's default params. Fan-outs only known at run time
 * are checked when they are expanded.
 */
export function checkPipelineLimits(
  project: ProjectSpec,
  pipeline: PipelineSpec,
  params: Record<string, unknown> | undefined,
  limits: Readonly<TaskLimits>,
  nodes?: ReadonlySet<string>,
): LimitProblem[] {
  const problems: LimitProblem[] = [];
  const parts: Array<[string, number]> = [];
  const childTotals = new Map<string, number>();
  let total = 0;
  for (const node of Object.values(pipeline.nodes)) {
    if (nodes && !nodes.has(node.name)) continue;
    let count: number;
    if (node.kind === "pipeline") {
      count = 1 + childTotal(project, node.pipeline, childTotals, new Set([pipeline.name]));
    } else {
      const size = countFanout(node, params);
      if (!size) continue;
      if (size.count > limits.perNode) {
        problems.push({
          node,
          path: nodeFieldPath(node, size.field ?? "run"),
          message: nodeLimitMessage(size, limits.perNode),
        });
      }
      count = size.count;
    }
    total += count;
    parts.push([node.name, count]);
  }
  if (total > limits.perRun) {
    problems.push({
      node: undefined,
      path: ["pipelines", pipeline.name],
      message: `a run makes ${runLimitMessage(total, parts, limits.perRun)}`,
    });
  }
  return problems;
}

/** Tasks a child run of `name` makes with its default params, its own children included. */
function childTotal(
  project: ProjectSpec,
  name: string,
  memo: Map<string, number>,
  visiting: Set<string>,
): number {
  const known = memo.get(name);
  if (known !== undefined) return known;
  const pipeline = project.pipelines[name];
  if (!pipeline || visiting.has(name)) return 0; // cycles are reported by the validator
  visiting.add(name);
  const defaults: Record<string, unknown> = {};
  for (const [p, spec] of Object.entries(pipeline.params))
    if (spec.default !== undefined) defaults[p] = spec.default;
  let total = 0;
  for (const node of Object.values(pipeline.nodes)) {
    total +=
      node.kind === "pipeline"
        ? 1 + childTotal(project, node.pipeline, memo, visiting)
        : (countFanout(node, defaults)?.count ?? 0);
  }
  visiting.delete(name);
  memo.set(name, total);
  return total;
}

/** Every pipeline of a project checked with its params' defaults, as problems of the file. */
export function checkProjectLimits(project: ProjectSpec, limits: Readonly<TaskLimits>): SpecProblem[] {
  const out: SpecProblem[] = [];
  for (const pipeline of Object.values(project.pipelines)) {
    const defaults: Record<string, unknown> = {};
    for (const [p, spec] of Object.entries(pipeline.params))
      if (spec.default !== undefined) defaults[p] = spec.default;
    for (const p of checkPipelineLimits(project, pipeline, defaults, limits)) {
      out.push({ path: p.path, at: "key", message: p.message });
    }
  }
  return out;
}
