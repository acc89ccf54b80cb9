import { dict, own } from "../util/dict.js";
/**
 * One node of a pipeline, resolved: its needs, its kind (inline `run:`, `step:` folded with
 * the node's keys, or `pipeline:`), its params, bindings and fan-out, and every template it
 * holds with where that template was written.
 */
import { checkParamValues, resolveParamDecls } from "./declarations.js";
import {
  type NeedEntry,
  type NodeDraft,
  type ParamDecls,
  type RawNode,
  type ResolveContext,
  type Site,
  type StepDraft,
  globs,
  locate,
  site,
} from "./drafts.js";
import { resolveActions, resolveApproval } from "./gates.js";
import { checkInputSources } from "./input-sources.js";
import {
  type Path,
  checkIdentifier,
  checkName,
  describeValue,
  formatPath,
  memberAccess,
  quoteList,
  suggest,
} from "./problems.js";
import { resolveReleaseNode } from "./resolve-release.js";
import type { NodeFile } from "./schema.js";
import { applySettings } from "./settings.js";
import { hasTemplate, templateStrings } from "./templates.js";
import type {
  DefaultsSpec,
  InputBinding,
  InputSpec,
  NeedCondition,
  NeedSpec,
  OnError,
  ParamSpec,
  PoolSpec,
  SourceLocation,
  StepSpec,
} from "./types.js";

/** What a node may refer to outside itself. */
export interface NodeContext {
  pipeline: string;
  pipelineParams: ParamDecls;
  /** Params of every pipeline, for pipeline nodes. */
  allParams: Map<string, ParamDecls>;
  defaults: DefaultsSpec;
  /** Where each variable of `defaults.env` was written. */
  defaultsEnvOrigin: Record<string, Path>;
  pools: Record<string, PoolSpec>;
  steps: Map<string, StepDraft>;
  /** Gates: the pipeline's `on-error:`, if it has one. */
  onError?: OnError;
}

/** The parts every node kind has. */
interface Common {
  name: string;
  needs: NeedSpec[];
  loc: SourceLocation;
  path: string;
  if?: string;
}

/** Keys that only make sense on a task. */
const TASK_ONLY_KEYS = [
  "inputs",
  "params",
  "outputs",
  "foreach",
  "matrix",
  "pool",
  "retries",
  "timeout",
  "cache",
  "priority",
  "env",
  "no-output-timeout",
  "image",
  "compat",
  "on-error",
  "approval",
  "actions",
] as const;

/** The keys that make a node's kind, in the order messages name them. */
const KIND_KEYS = ["run", "step", "pipeline", "release"] as const;

/** Names of broken param declarations when there are none (never written to). */
const NO_NAMES: ReadonlySet<string> = new Set();
/** Stand-ins for the key paths of `with:` values and those set by edges when there are none (never written to). */
const NO_PATHS: Record<string, Path> = Object.freeze(dict<Path>());

/** Resolves one node; its problems go to `ctx.problems`, and `spec` stays undefined when it cannot be resolved. */
export function resolveNode(raw: RawNode, nc: NodeContext, ctx: ResolveContext): NodeDraft {
  const { name, path, body, keyPath } = raw;
  const draft: NodeDraft = {
    name,
    path,
    spec: undefined,
    needs: body ? readNeeds(body, keyPath) : [],
    sites: [],
    checkTemplates: raw.checkTemplates,
    unknownParams: NO_NAMES,
  };
  for (let i = 0; i < raw.edgeNeeds.length; i++) {
    const need = raw.edgeNeeds[i]!;
    if (!draft.needs.some((n) => n.node === need.node)) draft.needs.push(need);
  }
  if (!body) return draft;

  // The first two kind keys given, in the order of KIND_KEYS.
  let a: (typeof KIND_KEYS)[number] | undefined;
  let b: (typeof KIND_KEYS)[number] | undefined;
  for (let i = 0; i < KIND_KEYS.length; i++) {
    const k = KIND_KEYS[i]!;
    if (body[k] === undefined) continue;
    if (a === undefined) a = k;
    else if (b === undefined) b = k;
  }
  if (a === undefined) {
    ctx.problems.keyOf(path, undefined, `node "${name}" needs one of run:, step:, pipeline: or release:`);
    return draft;
  }
  if (b !== undefined) {
    ctx.problems.key(keyPath(b), `a node has either ${a}: or ${b}:, not both`);
    return draft;
  }
  const needs: NeedSpec[] = new Array(draft.needs.length);
  for (let i = 0; i < needs.length; i++) {
    const { node, condition } = draft.needs[i]!;
    needs[i] = { node, condition };
  }
  const common: Common = {
    name,
    needs,
    loc: locate(ctx, path, typeof path[path.length - 1] === "number" ? "value" : "key"),
    path: formatPath(path),
  };
  const ifSite = body.if === undefined ? undefined : conditionSite(body.if, keyPath("if"));
  if (ifSite) {
    draft.sites.push(ifSite);
    common.if = ifSite.value;
  }
  if (body.release !== undefined) {
    // Releases: a node that keeps files as a release version instead of running a command.
    const resolved = resolveReleaseNode(raw, body, common, nc.defaults, nc.pools, ctx);
    if (resolved) {
      draft.sites.push(...resolved.sites);
      draft.spec = resolved.spec;
    } else draft.checkTemplates = false;
  } else if (body.pipeline !== undefined)
    resolvePipelineNode(raw, body, body.pipeline, common, draft, nc, ctx);
  else resolveTaskNode(raw, body, common, draft, nc, ctx);
  return draft;
}

function resolvePipelineNode(
  raw: RawNode,
  body: NodeFile,
  pipeline: string,
  common: Common,
  draft: NodeDraft,
  nc: NodeContext,
  ctx: ResolveContext,
): void {
  const { keyPath } = raw;
  for (const key of TASK_ONLY_KEYS) {
    if (body[key] !== undefined) {
      ctx.problems.key(
        keyPath(key),
        `${key}: cannot be used on a pipeline node (it starts a child run of "${pipeline}")`,
      );
      draft.checkTemplates = false;
    }
  }
  for (const edge of raw.edgeBindings) {
    ctx.problems.value(edge.path, `node "${raw.name}" is a pipeline node: it has no inputs`);
  }
  const values = withValues(raw, body, draft, ctx);
  draft.child = { name: pipeline, path: keyPath("pipeline") };
  const child = nc.allParams.get(pipeline);
  if (!child) {
    ctx.problems.value(
      keyPath("pipeline"),
      `unknown pipeline "${pipeline}"${suggest(pipeline, nc.allParams.keys())}`,
    );
  } else {
    checkParamValues(values.values, child, `pipeline "${pipeline}"`, ctx, {
      paths: values.paths,
      fromEdges: values.fromEdges,
    });
    for (const [param, spec] of Object.entries(child.params)) {
      if (spec.default === undefined && !spec.optional && !Object.hasOwn(values.values, param)) {
        ctx.problems.keyOf(
          raw.path,
          undefined,
          `param "${param}" of pipeline "${pipeline}" has no default: set it in with:`,
        );
      }
    }
  }
  withSites(draft.sites, values, raw, "child");
  draft.spec = { kind: "pipeline", ...common, with: values.values, pipeline };
}

function resolveTaskNode(
  raw: RawNode,
  body: NodeFile,
  common: Common,
  draft: NodeDraft,
  nc: NodeContext,
  ctx: ResolveContext,
): void {
  const { keyPath } = raw;
  let step: StepDraft | undefined;
  if (body.step !== undefined) {
    step = nc.steps.get(body.step);
    if (!step) {
      ctx.problems.value(
        keyPath("step"),
        `unknown step "${body.step}"${suggest(body.step, nc.steps.keys())}`,
      );
      return;
    }
    draft.step = body.step;
    if (!step.spec) return;
  }
  const stepSpec = step?.spec;
  // Where each env variable came from: copied only when the node sets some of its own.
  const baseEnvOrigin = step?.envOrigin ?? nc.defaultsEnvOrigin;
  const envOrigin: Record<string, Path> = body.env === undefined ? baseEnvOrigin : dict(baseEnvOrigin);
  const settings = applySettings(stepSpec ?? nc.defaults, body, keyPath, nc.pools, ctx, envOrigin);
  const ownDecls =
    body.params === undefined ? undefined : resolveParamDecls(body.params, keyPath("params"), ctx);
  const params: Record<string, ParamSpec> = dict(stepSpec?.params, ownDecls?.params);
  const stepUnknown = step?.unknownParams;
  if (
    (stepUnknown !== undefined && stepUnknown.size > 0) ||
    (ownDecls !== undefined && ownDecls.unknown.size > 0)
  )
    draft.unknownParams = new Set([...(stepUnknown ?? []), ...(ownDecls?.unknown ?? [])]);
  const run = stepSpec ? stepSpec.run : body.run!;
  const runPath = step ? [...step.path, "run"] : keyPath("run");

  const bindings = resolveBindings(raw, body, stepSpec, ctx);

  // `with:` values, and params an inline node takes from its pipeline.
  const values = withValues(raw, body, draft, ctx);
  if (!stepSpec) {
    const broken = inheritPipelineParams(run, settings.env, values, params, nc.pipelineParams, ctx);
    if (broken.length > 0) draft.unknownParams = new Set([...draft.unknownParams, ...broken]);
  }
  const owner = stepSpec ? `step "${stepSpec.name}"` : `node "${raw.name}"`;
  checkParamValues(values.values, { params, unknown: draft.unknownParams }, owner, ctx, {
    paths: values.paths,
    fromEdges: values.fromEdges,
  });
  for (const param in params) {
    const spec = params[param]!;
    if (
      spec.default === undefined &&
      !spec.optional &&
      !Object.hasOwn(values.values, param) &&
      !draft.unknownParams.has(param)
    ) {
      ctx.problems.keyOf(raw.path, undefined, `param "${param}" of ${owner} has no default: set it in with:`);
    }
  }

  const fanout = resolveFanout(raw, body, draft, ctx);

  // Templates of the task, with where each was written.
  if (hasTemplate(run)) draft.sites.push(site(run, runPath, "command", "run", { shared: !!stepSpec }));
  for (const k in settings.env) {
    const v = settings.env[k]!;
    if (!hasTemplate(v)) continue;
    const origin = own(envOrigin, k) ?? keyPath("env");
    const shared = !origin.slice(0, raw.path.length).every((seg, i) => seg === raw.path[i]);
    draft.sites.push(site(v, origin, "command", "env", { shared }));
  }
  withSites(draft.sites, values, raw, "task", runPath);
  for (const s of bindings.sites) draft.sites.push(s);

  // Gates: on-error (node > step > pipeline > defaults), approval and actions (node's win).
  const onError: OnError =
    settings.onError ?? stepSpec?.onError ?? nc.onError ?? nc.defaults.onError ?? "stop-next";
  const approval = body.approval !== undefined ? resolveApproval(body.approval) : stepSpec?.approval;
  let actions = stepSpec?.actions;
  if (body.actions !== undefined) {
    const own = resolveActions(body.actions, keyPath("actions"), ctx, false);
    actions = own.actions;
    draft.sites.push(...own.sites);
  } else if (step && actions) {
    // The step's `if:` templates, checked again against this node (its needs, item, matrix).
    draft.sites.push(...step.sites.filter((s) => s.kind === "action").map((s) => ({ ...s, shared: true })));
  }

  draft.spec = {
    kind: "task",
    ...common,
    with: values.values,
    ...(body.step === undefined ? {} : { step: body.step }),
    run,
    inputs: bindings.inputs,
    bindings: bindings.bindings,
    params,
    outputs: body.outputs !== undefined ? globs(body.outputs) : [...(stepSpec?.outputs ?? [])],
    ...fanout,
    ...settings,
    onError,
    ...(approval === undefined ? {} : { approval }),
    ...(actions ? { actions } : {}),
  };
}

/**
 * Input bindings: written under `inputs:` or added by Valohai edges (appended after what was
 * written). A step node may only bind its step's inputs; an inline node declares what it binds.
 */
function resolveBindings(
  raw: RawNode,
  body: NodeFile,
  stepSpec: StepSpec | undefined,
  ctx: ResolveContext,
): { inputs: Record<string, InputSpec>; bindings: Record<string, InputBinding>; sites: Site[] } {
  const inputs: Record<string, InputSpec> = dict(stepSpec?.inputs);
  const bindings: Record<string, InputBinding> = dict();
  const sites: Site[] = [];
  if (body.inputs === undefined && raw.edgeBindings.length === 0) return { inputs, bindings, sites };
  const paths: Record<string, Path> = dict();
  for (const [input, value] of Object.entries(body.inputs ?? {})) {
    const p = [...raw.keyPath("inputs"), input];
    bindings[input] = typeof value === "string" ? value : [...value];
    paths[input] = p;
    checkInputSources(input, value, p, ctx.problems);
    (typeof value === "string" ? [value] : value).forEach((v, i) => {
      if (hasTemplate(v)) sites.push(site(v, typeof value === "string" ? p : [...p, i], "task", "inputs"));
    });
  }
  for (const edge of raw.edgeBindings) {
    const existing = bindings[edge.input];
    bindings[edge.input] =
      existing === undefined
        ? edge.template
        : [...(typeof existing === "string" ? [existing] : existing), edge.template];
    paths[edge.input] ??= edge.path;
    sites.push(site(edge.template, edge.sourcePath, "task", "inputs", { generated: true }));
  }
  for (const [input, p] of Object.entries(paths)) {
    if (stepSpec) {
      if (!Object.hasOwn(stepSpec.inputs, input)) {
        const declared = Object.keys(stepSpec.inputs);
        const hint =
          suggest(input, declared) ||
          (declared.length ? ` (its inputs: ${quoteList(declared, "and")})` : " (it declares no inputs)");
        const message = `step "${stepSpec.name}" has no input "${input}"${hint}`;
        if (own(body.inputs, input) !== undefined) ctx.problems.key(p, message);
        else ctx.problems.value(p, message);
      }
    } else {
      const nameProblem = checkName("input", input);
      if (nameProblem) ctx.problems.key(p, nameProblem);
      inputs[input] ??= { optional: false };
    }
  }
  return { inputs, bindings, sites };
}

/** `foreach:` (a list or a template) or `matrix:` (lists or templates by key); not both. */
function resolveFanout(
  raw: RawNode,
  body: NodeFile,
  draft: NodeDraft,
  ctx: ResolveContext,
): { foreach?: unknown; matrix?: Record<string, unknown> } {
  const { keyPath } = raw;
  if (body.foreach !== undefined && body.matrix !== undefined) {
    ctx.problems.key(
      keyPath("matrix"),
      "foreach: and matrix: cannot be used together (a matrix with one more key does both)",
    );
    draft.checkTemplates = false;
  }
  if (body.foreach !== undefined) {
    const foreach = body.foreach;
    if (typeof foreach === "string") {
      if (hasTemplate(foreach)) draft.sites.push(site(foreach, keyPath("foreach"), "fanout", "foreach"));
      else ctx.problems.value(keyPath("foreach"), notAList(foreach));
    }
    return { foreach };
  }
  if (body.matrix === undefined) return NO_FANOUT;
  const matrix = dict(body.matrix);
  if (Object.keys(matrix).length === 0)
    ctx.problems.value(keyPath("matrix"), "matrix needs at least one key");
  for (const [key, values] of Object.entries(matrix)) {
    const p = [...keyPath("matrix"), key];
    const nameProblem = checkIdentifier("matrix key", key);
    if (nameProblem) ctx.problems.key(p, nameProblem);
    if (typeof values === "string") {
      if (hasTemplate(values)) draft.sites.push(site(values, p, "fanout", "matrix"));
      else ctx.problems.value(p, notAList(values));
    }
  }
  return { matrix };
}

/** The fan-out of a node without one (spread into its spec, never written to). */
const NO_FANOUT: { foreach?: unknown; matrix?: Record<string, unknown> } = Object.freeze({});

const notAList = (value: unknown) => `expected a list or a \${{ }} expression, found ${describeValue(value)}`;

/** `with:` values of a node: as written, plus those set by Valohai edges. */
interface WithValues {
  values: Record<string, unknown>;
  /** Where each value was written (an edge's target for values set by edges). */
  paths: Record<string, Path>;
  /** Values set by edges, with the edge's source end (where their template points). */
  fromEdges: ReadonlySet<string>;
  sources: Record<string, Path>;
}

function withValues(raw: RawNode, body: NodeFile, draft: NodeDraft, ctx: ResolveContext): WithValues {
  const values: Record<string, unknown> = dict(body.with);
  if (raw.edgeWith.length === 0 && body.with === undefined)
    return { values, paths: NO_PATHS, fromEdges: NO_NAMES, sources: NO_PATHS };
  const paths: Record<string, Path> = dict();
  for (const k of Object.keys(values)) paths[k] = [...raw.keyPath("with"), k];
  const fromEdges = new Set<string>();
  const sources: Record<string, Path> = dict();
  for (const edge of raw.edgeWith) {
    if (Object.hasOwn(values, edge.param)) {
      ctx.problems.value(
        edge.path,
        `param "${edge.param}" of node "${draft.name}" is set twice (by with: or another edge)`,
      );
      continue;
    }
    values[edge.param] = edge.template;
    paths[edge.param] = edge.path;
    sources[edge.param] = edge.sourcePath;
    fromEdges.add(edge.param);
  }
  return { values, paths, fromEdges, sources };
}

/** Adds to `sites` the template sites of `with:` values; values Baton added point at what made them. */
function withSites(
  sites: Site[],
  values: WithValues,
  raw: RawNode,
  kind: "task" | "child",
  inheritedFrom?: Path,
): void {
  for (const k in values.values) {
    const v = values.values[k];
    if (typeof v === "string" && !hasTemplate(v)) continue;
    const source = values.sources[k];
    const written = values.paths[k];
    for (const t of templateStrings(v)) {
      if (source) sites.push(site(t.value, source, kind, "with", { generated: true }));
      else if (written) sites.push(site(t.value, [...written, ...t.path], kind, "with"));
      else sites.push(site(t.value, inheritedFrom ?? raw.keyPath("with"), kind, "with", { generated: true }));
    }
  }
}

/** An entry of a `needs:` list; its key path is made when asked for (only problems ask). */
class ListedNeed implements NeedEntry {
  readonly condition: NeedCondition = "success";
  readonly at = "value" as const;
  constructor(
    readonly node: string,
    readonly field: Path,
    private readonly index: number,
  ) {}
  get path(): Path {
    return [...this.field, this.index];
  }
}

function readNeeds(body: NodeFile, keyPath: (key: string) => Path): NeedEntry[] {
  const needs = body.needs;
  const field = keyPath("needs");
  if (needs === undefined) return [];
  if (typeof needs === "string")
    return [{ node: needs, condition: "success", path: field, at: "value", field }];
  if (Array.isArray(needs)) return needs.map((node, i) => new ListedNeed(node, field, i));
  return Object.entries(needs).map(([node, condition]) => ({
    node,
    condition,
    path: [...field, node],
    at: "key" as const,
    field,
  }));
}

/** `if:` as a template: `${{ ... }}` as written, or a bare expression wrapped (GitHub Actions style). */
function conditionSite(value: string | boolean | undefined, path: Path): Site | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "boolean")
    return site(`\${{ ${value} }}`, path, "condition", "if", { generated: true });
  if (hasTemplate(value)) return site(value, path, "condition", "if");
  return { ...site(`\${{ ${value} }}`, path, "condition", "if"), shift: 4 };
}

/** Whether `obj` has no enumerable keys (a dict has no inherited ones). */
function isEmpty(obj: Record<string, unknown>): boolean {
  for (const _ in obj) return false;
  return true;
}

/** No broken declarations (never written to). */
const NO_BROKEN: string[] = [];

/**
 * An inline node may use its pipeline's params directly: each one its command or env refers to
 * (`${{ params.lr }}`), or its `with:` sets, is declared on the node like the pipeline declares
 * it, and bound to the pipeline's value unless `with:` sets it. Returns the names it uses
 * whose pipeline declaration is broken (already reported).
 */
function inheritPipelineParams(
  run: string,
  env: Record<string, string>,
  values: WithValues,
  params: Record<string, ParamSpec>,
  pipelineParams: ParamDecls,
  ctx: ResolveContext,
): string[] {
  let templated = hasTemplate(run);
  for (const k in env) templated ||= hasTemplate(env[k]!);
  if (!templated && isEmpty(values.values)) return NO_BROKEN;
  const used = new Set<string>(Object.keys(values.values));
  const refer = (text: string) => {
    if (!hasTemplate(text)) return;
    for (const ref of ctx.templates.parse(text).references) {
      if ((ref.root === "params" || ref.root === "arg") && typeof ref.path[0] === "string")
        used.add(ref.path[0]);
      // `${{ args }}` renders every param: an inline node then takes all of the pipeline's.
      if (ref.root === "args") for (const name of Object.keys(pipelineParams.params)) used.add(name);
    }
  };
  refer(run);
  for (const k in env) refer(env[k]!);
  if (used.size === 0) return NO_BROKEN;
  const broken: string[] = [];
  for (const param of used) {
    if (Object.hasOwn(params, param)) continue;
    if (pipelineParams.unknown.has(param)) broken.push(param);
    const spec = own(pipelineParams.params, param);
    if (spec === undefined) continue;
    params[param] = { ...spec };
    if (!Object.hasOwn(values.values, param))
      values.values[param] = `\${{ ${memberAccess("params", param)} }}`;
  }
  return broken;
}
