/**
 * The semantic pass over a pipeline file: after the shape (zod, `schema.ts`) and resolution
 * (`resolve.ts`), checks what spans parts of the file — needs naming nodes, cycles, pipelines
 * starting each other, and every `${{ }}` expression against the names available where it is
 * written — and returns every problem at once.
 *
 * Names an expression may use, by field:
 * - `run:`, `env:` — `params.X` (params of the node: its step's, its own, or for an inline
 *   node the pipeline's it uses), `inputs.NAME`, `item` (with `foreach:`), `matrix.KEY` (with
 *   `matrix:`), `needs.N.*` (N among the node's needs), `run.id|dir`, `task.id|name`, `env.X`.
 * - `with:` values and `inputs:` bindings of a task node — the same but `inputs`, with
 *   `params.X` meaning the pipeline's params.
 * - `foreach:`, `matrix:` values, `if:`, and `with:` of a pipeline node — the pipeline's
 *   `params`, `needs`, `run`, `env`.
 * - `needs.N.` members: `outputs['GLOB']`, `output_dir`, `output_dirs`, `metrics.M`, `status`,
 *   `params.P` (P a param of N), `task_id`, `task_ids`.
 */
import { findCycles } from "../graph/topo.js";
import { dict, own } from "../util/dict.js";
import type { NodeDraft, PipelineDraft, ProjectDraft, Site, SiteKind } from "./drafts.js";
import type { Reference } from "./expressions.js";
import { plainProjectShell, vouches } from "./fast-shape.js";
import { DEFAULT_TASK_LIMITS, type TaskLimits, checkProjectLimits, paramReference } from "./limits.js";
import { NO_SOURCE, type SourceMap } from "./locate.js";
import { type Path, ProblemList, type SpecProblem, memberAccess, quoteList, suggest } from "./problems.js";
import { resolveProject } from "./resolve.js";
import { ProjectShellSchema } from "./schema.js";
import { checkShape } from "./shape.js";
import { TemplateCache } from "./templates.js";
import type { ParamSpec, ProjectSpec } from "./types.js";

/** Options of {@link validateProject}. */
export interface ValidateOptions {
  /** Path of the file (or a name for a definition), kept in the model and in messages. */
  file: string;
  /** Slots of the `local` pool when the file does not set them. Defaults to 2. */
  cpus?: number;
  /** Where things were written; absent for JSON definitions. */
  source?: SourceMap;
  /** The most tasks a node and a run may expand to; default {@link DEFAULT_TASK_LIMITS}. */
  limits?: Readonly<TaskLimits>;
}

/** What {@link validateProject} found: the model when there is no problem. */
export interface ValidationResult {
  project: ProjectSpec | undefined;
  problems: SpecProblem[];
}

/**
 * Checks a pipeline definition (the data of a `baton.yaml`, or the same as JSON) and resolves
 * it. Never throws for a bad definition: every problem found is returned.
 */
export function validateProject(data: unknown, options: ValidateOptions): ValidationResult {
  const problems = new ProblemList();
  const templates = new TemplateCache();
  if (data === undefined || data === null) {
    problems.value([], "the definition is empty (expected version: 1, steps: and pipelines:)");
    return { project: undefined, problems: problems.items };
  }
  if (!vouches(plainProjectShell, data)) checkShape(ProjectShellSchema(), data, [], problems);
  const ctx = {
    file: options.file,
    cpus: options.cpus ?? 2,
    source: options.source ?? NO_SOURCE,
    problems,
    templates,
  };
  const draft = resolveProject(data, ctx);
  const checker = new TemplateChecker(draft, problems, templates);

  for (const step of draft.steps.values()) {
    if (!step.spec || !step.checkTemplates) continue;
    const scope: Scope = {
      params: { names: step.spec.params, unknown: step.unknownParams, owner: `step "${step.name}"` },
      inputs: { names: Object.keys(step.spec.inputs), owner: `step "${step.name}"` },
    };
    for (const s of step.sites) checker.check(s, scope);
  }
  for (const s of draft.defaultsSites) checker.check({ ...s, shared: false }, {});

  for (const pipeline of draft.pipelines.values()) {
    checkNeeds(pipeline, problems);
    for (const node of pipeline.nodes.values()) checker.checkNode(node, pipeline);
  }
  checkPipelineCycles(draft, problems);

  const items = dedupe(problems.items);
  if (items.length > 0) return { project: undefined, problems: items };
  const project: ProjectSpec = {
    file: options.file,
    version: 1,
    defaults: draft.defaults,
    pools: draft.pools,
    steps: dict(
      Object.fromEntries([...draft.steps].flatMap(([name, s]) => (s.spec ? [[name, s.spec]] : []))),
    ),
    pipelines: dict(Object.fromEntries([...draft.pipelines].map(([name, p]) => [name, p.spec]))),
  };
  // Counted, never expanded: a 7 x 10 matrix is refused here, not built.
  const tooMany = checkProjectLimits(project, options.limits ?? DEFAULT_TASK_LIMITS);
  if (tooMany.length > 0) return { project: undefined, problems: tooMany };
  return { project, problems: [] };
}

// Needs and cycles ------------------------------------------------------------------------------

function checkNeeds(pipeline: PipelineDraft, problems: ProblemList): void {
  const graph: Record<string, { needs: ReadonlyArray<{ node: string }> }> = dict();
  for (const node of pipeline.nodes.values()) {
    const needs = node.needs;
    // The node's own needs are its graph entry unless some are wrong (then: the others).
    let valid: Array<{ node: string }> | undefined;
    // Long lists are checked for repeats with a set; short ones (most) by looking back.
    const seen = needs.length > 16 ? new Set<string>() : undefined;
    for (let i = 0; i < needs.length; i++) {
      const need = needs[i]!;
      let message: string | undefined;
      if (need.node === node.name) {
        message = `node "${node.name}" needs itself`;
      } else if (!pipeline.nodes.has(need.node)) {
        const others = [...pipeline.nodes.keys()].filter((n) => n !== node.name);
        message = `unknown node "${need.node}"${suggest(need.node, others)}`;
      } else if (seen ? seen.has(need.node) : listedBefore(needs, i)) {
        message = `"${need.node}" is listed twice in needs:`;
      }
      seen?.add(need.node);
      if (message !== undefined) {
        problems.add({ path: need.path, at: need.at, message });
        valid ??= needs.slice(0, i).map((n) => ({ node: n.node }));
      } else if (valid) {
        valid.push({ node: need.node });
      }
    }
    graph[node.name] = valid ? { needs: valid } : node;
  }
  for (const cycle of findCycles(graph)) {
    const [first, second] = cycle;
    const node = pipeline.nodes.get(first!)!;
    const need = node.needs.find((n) => n.node === second)!;
    problems.add({
      path: need.field,
      locate: need.path,
      at: need.at,
      message: `cycle ${cycle.join(" -> ")}`,
    });
  }
}

/** Whether the node `needs[i]` names is named earlier in the list. */
function listedBefore(needs: ReadonlyArray<{ node: string }>, i: number): boolean {
  const name = needs[i]!.node;
  for (let j = 0; j < i; j++) if (needs[j]!.node === name) return true;
  return false;
}

function checkPipelineCycles(draft: ProjectDraft, problems: ProblemList): void {
  const graph: Record<string, { needs: Array<{ node: string }> }> = dict();
  for (const [name, pipeline] of draft.pipelines) {
    graph[name] = {
      needs: [...pipeline.nodes.values()].flatMap((n) =>
        n.child && draft.pipelines.has(n.child.name) ? [{ node: n.child.name }] : [],
      ),
    };
  }
  for (const cycle of findCycles(graph)) {
    const [first, second] = cycle;
    const node = [...draft.pipelines.get(first!)!.nodes.values()].find((n) => n.child?.name === second)!;
    const message =
      cycle.length === 2
        ? `pipeline "${first}" runs itself (node "${node.name}" starts it as a child run)`
        : `pipelines start each other in a cycle: ${cycle.join(" -> ")}`;
    problems.value(node.child!.path, message);
  }
}

// Expressions -----------------------------------------------------------------------------------

// `args` and `arg` (params rendered as command-line words) exist in `run:` and `env:` only.
const COMMAND_ROOTS = ["params", "inputs", "item", "matrix", "needs", "run", "task", "env", "args", "arg"];
/** Every context any template may use (`metrics`: only in `actions:`). */
const ALL_ROOTS = [...COMMAND_ROOTS, "metrics"];

const ROOTS: Record<SiteKind, readonly string[]> = {
  command: COMMAND_ROOTS,
  task: ["params", "item", "matrix", "needs", "run", "task", "env"],
  fanout: ["params", "needs", "run", "env"],
  condition: ["params", "needs", "run", "env"],
  child: ["params", "needs", "run", "env"],
  action: ["params", "metrics", "item", "matrix", "needs", "run", "task", "env"],
};

const NEED_MEMBERS = [
  "outputs",
  "output_dir",
  "output_dirs",
  "metrics",
  "status",
  "params",
  "task_id",
  "task_ids",
];
const RUN_MEMBERS = ["id", "dir"];
const TASK_MEMBERS = ["id", "name"];
/** Roots whose validity depends on the node a shared template (a step's `run:`) is used in. */
const NODE_ROOTS = new Set(["item", "matrix", "needs"]);

/** What a template may refer to where it is checked; a missing part is not checked. */
interface Scope {
  params?: {
    names: Record<string, ParamSpec>;
    unknown: ReadonlySet<string>;
    owner: string;
    pipeline?: PipelineDraft;
  };
  inputs?: { names: string[]; owner: string };
  node?: { draft: NodeDraft; pipeline: PipelineDraft };
}

class TemplateChecker {
  constructor(
    private readonly draft: ProjectDraft,
    private readonly problems: ProblemList,
    private readonly templates: TemplateCache,
  ) {}

  checkNode(node: NodeDraft, pipeline: PipelineDraft): void {
    const spec = node.spec;
    if (!spec || !node.checkTemplates || node.sites.length === 0) return;
    const pipelineParams = {
      names: pipeline.spec.params,
      unknown: pipeline.unknownParams,
      owner: `pipeline "${pipeline.name}"`,
    };
    for (const s of node.sites) {
      const scope: Scope = { node: { draft: node, pipeline } };
      if ((s.kind === "command" || s.kind === "action") && spec.kind === "task") {
        const owner = spec.step !== undefined ? `step "${spec.step}"` : `node "${node.name}"`;
        scope.params = { names: spec.params, unknown: node.unknownParams, owner, pipeline };
        scope.inputs = { names: Object.keys(spec.inputs), owner };
      } else {
        scope.params = pipelineParams;
      }
      this.check(s, scope);
      if (s.field === "foreach" || s.field === "matrix") this.checkFanoutType(s, pipeline);
    }
  }

  check(site: Site, scope: Scope): void {
    const parsed = this.templates.parse(site.value);
    const via =
      site.shared && scope.node
        ? ` (in node "${scope.node.draft.name}" of pipeline "${scope.node.pipeline.name}")`
        : "";
    if (parsed.error) {
      if (!site.shared || !scope.node) this.report(site, parsed.error.offset, parsed.error.message);
      return;
    }
    for (const ref of parsed.references) {
      if (site.shared && scope.node && !NODE_ROOTS.has(ref.root)) continue;
      const message = this.checkReference(ref, site, scope);
      if (message !== undefined) this.report(site, ref.offset, message + via);
    }
  }

  private report(site: Site, offset: number | undefined, message: string): void {
    if (site.generated || offset === undefined) this.problems.value(site.path, message);
    else this.problems.value(site.path, message, Math.max(0, offset - site.shift));
  }

  private checkReference(ref: Reference, site: Site, scope: Scope): string | undefined {
    const node = scope.node?.draft.spec;
    const task = node?.kind === "task" ? node : undefined;
    const allowed = ROOTS[site.kind].filter(
      (r) =>
        !scope.node ||
        ((r !== "item" || task?.foreach !== undefined) && (r !== "matrix" || task?.matrix !== undefined)),
    );
    const { root, path } = ref;
    const first = typeof path[0] === "string" ? path[0] : undefined;
    if (!ALL_ROOTS.includes(root)) {
      return `unknown context "${root}"${suggest(root, allowed) || ` (available here: ${allowed.join(", ")})`}`;
    }
    if (!ROOTS[site.kind].includes(root)) {
      return `"${root}" is not available in ${site.field}: (available here: ${allowed.join(", ")})`;
    }
    switch (root) {
      case "item":
        if (scope.node && task?.foreach === undefined)
          return `"item" is only available in a node with foreach:`;
        return undefined;
      case "matrix":
        if (!scope.node) return undefined;
        if (task?.matrix === undefined) return `"matrix" is only available in a node with matrix:`;
        if (first !== undefined && !Object.hasOwn(task.matrix, first)) {
          const keys = Object.keys(task.matrix);
          return `unknown matrix key "${first}"${suggest(first, keys) || ` (matrix keys: ${quoteList(keys, "and")})`}`;
        }
        return undefined;
      case "params":
        return first === undefined ? undefined : this.checkParam(first, site, scope);
      case "arg":
        return first === undefined ? undefined : this.checkParam(first, site, scope);
      case "args":
        return path.length > 0
          ? `"args" is one string of every param rendered as arguments: use arg.NAME for one param`
          : undefined;
      case "inputs": {
        if (!scope.inputs || first === undefined || scope.inputs.names.includes(first)) return undefined;
        const { names, owner } = scope.inputs;
        const hint =
          suggest(first, names) ||
          (names.length ? ` (its inputs: ${quoteList(names, "and")})` : " (it declares no inputs)");
        return `${owner} has no input "${first}"${hint}`;
      }
      case "needs":
        return scope.node ? this.checkNeedsRef(path, scope.node.draft, scope.node.pipeline) : undefined;
      case "run":
        return checkMember("run", first, RUN_MEMBERS);
      case "task":
        return checkMember("task", first, TASK_MEMBERS);
      default:
        return undefined;
    }
  }

  private checkParam(name: string, site: Site, scope: Scope): string | undefined {
    const params = scope.params;
    if (!params || Object.hasOwn(params.names, name) || params.unknown.has(name)) return undefined;
    const declared = Object.keys(params.names);
    let hint = suggest(name, declared);
    const pipeline = params.pipeline;
    if (!hint && site.kind === "command" && pipeline && Object.hasOwn(pipeline.spec.params, name)) {
      hint = ` (it is a param of pipeline "${pipeline.name}": declare it in the step and pass it with with: { ${name}: "\${{ ${memberAccess("params", name)} }}" })`;
    } else if (!hint) {
      hint = declared.length ? ` (its params: ${quoteList(declared, "and")})` : " (it declares no params)";
    }
    return `${params.owner} has no param "${name}"${hint}`;
  }

  private checkNeedsRef(
    path: Array<string | number>,
    node: NodeDraft,
    pipeline: PipelineDraft,
  ): string | undefined {
    const target = path[0];
    if (typeof target !== "string") return undefined;
    const needed = node.needs.map((n) => n.node);
    if (!needed.includes(target)) {
      if (pipeline.nodes.has(target)) {
        return `node "${target}" is not in the needs: of node "${node.name}" (add it there to use its results)`;
      }
      const hint = suggest(target, needed) || suggest(target, pipeline.nodes.keys());
      return `unknown node "${target}" in ${memberAccess("needs", target)}${hint}`;
    }
    const member = path[1];
    if (typeof member !== "string") return undefined;
    if (!NEED_MEMBERS.includes(member)) {
      const hint =
        suggest(member, NEED_MEMBERS) ||
        " (expected outputs['GLOB'], output_dir, output_dirs, metrics.NAME, status, params.NAME, task_id or task_ids)";
      return `unknown member "${member}" of ${memberAccess("needs", target)}${hint}`;
    }
    if (member === "task_id") {
      const fan = pipeline.nodes.get(target)?.spec as { foreach?: unknown; matrix?: unknown } | undefined;
      if (fan?.foreach !== undefined || fan?.matrix !== undefined) {
        return `node "${target}" fans out (${fan?.foreach !== undefined ? "foreach" : "matrix"}): ${memberAccess("needs", target)}.task_id names a single task; use ${memberAccess("needs", target)}.task_ids, the list of its tasks' ids`;
      }
    }
    const param = path[2];
    if (member !== "params" || typeof param !== "string") return undefined;
    const other = pipeline.nodes.get(target);
    const spec = other?.spec;
    if (!other || !spec || other.unknownParams.has(param)) return undefined;
    let names: Record<string, ParamSpec> | undefined;
    if (spec.kind === "task") names = spec.params;
    else {
      const child = this.draft.pipelines.get(spec.pipeline);
      if (!child || child.unknownParams.has(param)) return undefined;
      names = child.spec.params;
    }
    if (Object.hasOwn(names, param)) return undefined;
    const declared = Object.keys(names);
    return `node "${target}" has no param "${param}"${suggest(param, declared) || (declared.length ? ` (its params: ${quoteList(declared, "and")})` : "")}`;
  }

  /** `foreach: ${{ params.x }}` where x is declared with a type that cannot be a list. */
  private checkFanoutType(site: Site, pipeline: PipelineDraft): void {
    const name = paramReference(site.value);
    const spec = name !== undefined ? own(pipeline.spec.params, name) : undefined;
    if (name === undefined || !spec || spec.type === "list" || spec.type === "json") return;
    const what = site.field === "foreach" ? "foreach:" : `matrix key "${site.path[site.path.length - 1]}"`;
    this.problems.value(
      site.path,
      `${what} needs a list, but param "${name}" of pipeline "${pipeline.name}" is of type ${spec.type} (declare it with type: list)`,
    );
  }
}

function checkMember(root: string, member: string | undefined, known: string[]): string | undefined {
  if (member === undefined || known.includes(member)) return undefined;
  const hint = suggest(member, known) || ` (expected ${known.map((k) => `${root}.${k}`).join(" or ")})`;
  return `unknown member "${member}" of ${root}${hint}`;
}

function dedupe(items: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return items.filter((p) => {
    const key = JSON.stringify([p.path, p.locate, p.at, p.offset, p.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
