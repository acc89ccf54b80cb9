import { dict, own } from "../util/dict.js";
/**
 * From the file's shape to the resolved model of `types.ts`: defaults -> step -> node
 * settings (node keys win), steps folded into nodes, param and input declarations, Valohai
 * edges turned into needs, bindings and `with:` values. Reports the problems found on the way
 * (unknown steps, pools and pipelines, `with:` keys that are not params, ...) and records where
 * every template was written, for `validate.ts` to check.
 */
import { checkInputDecl, checkParamValues, resolveInputDecl, resolveParamDecls } from "./declarations.js";
import {
  type NodeDraft,
  type ParamDecls,
  type PipelineDraft,
  type ProjectDraft,
  type RawNode,
  type ResolveContext,
  type Site,
  type StepDraft,
  asRecord,
  globs,
  locate,
  site,
} from "./drafts.js";
import { applyEdges } from "./edges.js";
import {
  plainDefaults,
  plainNode,
  plainOnError,
  plainPipelineShell,
  plainPool,
  plainStep,
  vouches,
} from "./fast-shape.js";
import { resolveActions, resolveApproval } from "./gates.js";
import { resolveNotify } from "./notify.js";
import { type Path, checkName } from "./problems.js";
import { resolveNode } from "./resolve-node.js";
import {
  DefaultsSchema,
  ListNodeSchema,
  type NodeFile,
  NodeSchema,
  OnErrorSchema,
  PipelineShellSchema,
  PoolSchema,
  type StepFile,
  StepSchema,
} from "./schema.js";
import { BUILTIN_DEFAULTS, applySettings } from "./settings.js";
import { checkPlainShape, checkShape } from "./shape.js";
import { hasTemplate } from "./templates.js";
import { resolveTriggers } from "./triggers.js";
import type {
  ActionSpec,
  DefaultsSpec,
  InputSpec,
  NodeSpec,
  NotifySpec,
  OnError,
  PipelineSpec,
  PoolSpec,
} from "./types.js";

/** Builds the drafts of a whole project from the file's data (any JS value). */
export function resolveProject(data: unknown, ctx: ResolveContext): ProjectDraft {
  const root = asRecord(data) ?? {};
  const pools = resolvePools(root.pools, ctx);

  const defaultsEnvOrigin: Record<string, Path> = dict();
  let defaults: DefaultsSpec = BUILTIN_DEFAULTS;
  if (root.defaults !== undefined && root.defaults !== null) {
    const d = checkPlainShape(plainDefaults, DefaultsSchema, root.defaults, ["defaults"], ctx.problems);
    if (d.data)
      defaults = applySettings(
        BUILTIN_DEFAULTS,
        d.data,
        (k) => ["defaults", k],
        pools,
        ctx,
        defaultsEnvOrigin,
      );
  }
  const defaultNotify = resolveNotify(asRecord(root.defaults)?.notify, ["defaults", "notify"], ctx);
  const defaultsSites: Site[] = Object.entries(defaults.env).flatMap(([k, v]) =>
    hasTemplate(v) ? [site(v, ["defaults", "env", k], "command", "env", { shared: true })] : [],
  );

  const steps = new Map<string, StepDraft>();
  for (const [name, raw] of Object.entries(asRecord(root.steps) ?? {})) {
    steps.set(name, resolveStep(name, raw ?? {}, defaults, defaultsEnvOrigin, pools, ctx));
  }

  const pipelineEntries = Object.entries(asRecord(root.pipelines) ?? {});
  // Params first: pipeline nodes check their `with:` against the params of other pipelines.
  const pipelineParams = new Map<string, ParamDecls>();
  const shells = new Map<string, Record<string, unknown>>();
  for (const [name, raw] of pipelineEntries) {
    const path = ["pipelines", name];
    const nameProblem = checkName("pipeline", name);
    if (nameProblem) ctx.problems.key(path, nameProblem);
    const shellValue = raw ?? {};
    if (!vouches(plainPipelineShell, shellValue))
      checkShape(PipelineShellSchema(), shellValue, path, ctx.problems);
    const shell = asRecord(raw) ?? {};
    shells.set(name, shell);
    pipelineParams.set(name, resolveParamDecls(shell.params, [...path, "params"], ctx));
  }
  const pipelines = new Map<string, PipelineDraft>();
  const triggerNames = new Map<string, Path>();
  for (const [name] of pipelineEntries) {
    pipelines.set(
      name,
      resolvePipeline(
        name,
        shells.get(name)!,
        pipelineParams,
        { defaults, defaultNotify, defaultsEnvOrigin, pools, steps },
        ctx,
        triggerNames,
      ),
    );
  }

  return { defaults, defaultsEnvOrigin, defaultsSites, pools, steps, pipelines };
}

// Pools -----------------------------------------------------------------------------------------

function resolvePools(raw: unknown, ctx: ResolveContext): Record<string, PoolSpec> {
  const pools: Record<string, PoolSpec> = dict();
  const given = Object.entries(asRecord(raw) ?? {});
  if (!given.some(([name]) => name === "local")) {
    pools.local = { name: "local", slots: ctx.cpus, resources: {} };
  }
  for (const [name, value] of given) {
    const path = ["pools", name];
    const nameProblem = checkName("pool", name);
    if (nameProblem) ctx.problems.key(path, nameProblem);
    const p = checkPlainShape(plainPool, PoolSchema, value ?? {}, path, ctx.problems);
    pools[name] = {
      name,
      slots: p.data?.slots ?? (name === "local" ? ctx.cpus : 1),
      resources: dict(p.data?.resources),
      ...(p.data?.executor ? { executor: p.data.executor } : {}),
      ...(p.data?.slurm ? { slurm: p.data.slurm } : {}),
      loc: locate(ctx, path),
    };
    if (p.data?.slurm && p.data.executor !== "slurm") {
      ctx.problems.key([...path, "slurm"], 'sbatch options are for a pool with "executor: slurm"');
    }
  }
  return pools;
}

// Steps -----------------------------------------------------------------------------------------

function resolveStep(
  name: string,
  raw: unknown,
  defaults: DefaultsSpec,
  defaultsEnvOrigin: Record<string, Path>,
  pools: Record<string, PoolSpec>,
  ctx: ResolveContext,
): StepDraft {
  const path = ["steps", name];
  const nameProblem = checkName("step", name);
  if (nameProblem) ctx.problems.key(path, nameProblem);
  const shaped = checkPlainShape(plainStep, StepSchema, raw, path, ctx.problems);
  const draft: StepDraft = {
    name,
    path,
    spec: undefined,
    checkTemplates: !affectsScope(shaped),
    unknownParams: new Set(),
    sites: [],
    envOrigin: dict(),
  };
  const s = shaped.data;
  if (!s) return draft;
  const envOrigin: Record<string, Path> = dict();
  const settings = applySettings(defaults, s, (k) => [...path, k], pools, ctx, envOrigin);
  const { params, unknown } = resolveParamDecls(s.params, [...path, "params"], ctx);
  const inputs: Record<string, InputSpec> = dict();
  for (const [input, decl] of Object.entries(s.inputs ?? {})) {
    const nameProblem = checkName("input", input);
    if (nameProblem) ctx.problems.key([...path, "inputs", input], nameProblem);
    inputs[input] = resolveInputDecl(decl);
    checkInputDecl(input, inputs[input], decl, [...path, "inputs", input], ctx);
  }
  draft.spec = {
    name,
    run: s.run,
    inputs,
    params,
    outputs: globs(s.outputs),
    ...settings,
    ...stepGates(s, path, draft, ctx),
    loc: locate(ctx, path),
  };
  draft.unknownParams = unknown;
  draft.envOrigin = dict(defaultsEnvOrigin, envOrigin);
  if (hasTemplate(s.run)) draft.sites.push(site(s.run, [...path, "run"], "command", "run"));
  for (const [k, v] of Object.entries(settings.env)) {
    const origin = own(envOrigin, k);
    if (origin && hasTemplate(v)) draft.sites.push(site(v, origin, "command", "env"));
  }
  return draft;
}

/** Gates: a step's `approval:` and `actions:` (its `if:` templates join the step's sites). */
function stepGates(
  s: StepFile,
  path: Path,
  draft: StepDraft,
  ctx: ResolveContext,
): { approval?: string; actions?: ActionSpec[] } {
  const approval = resolveApproval(s.approval);
  const { actions, sites } = resolveActions(s.actions, [...path, "actions"], ctx, false);
  draft.sites.push(...sites);
  return { ...(approval === undefined ? {} : { approval }), ...(actions ? { actions } : {}) };
}

// Pipelines -------------------------------------------------------------------------------------

interface Known {
  defaults: DefaultsSpec;
  /** `notify:` of `defaults:`, for pipelines that have none of their own. */
  defaultNotify: NotifySpec[];
  defaultsEnvOrigin: Record<string, Path>;
  pools: Record<string, PoolSpec>;
  steps: Map<string, StepDraft>;
}

/** Gates: a pipeline's `on-error:` (the default of its nodes; a bad value is reported by the shell check). */
function pipelineOnError(raw: unknown): OnError | undefined {
  if (raw === undefined) return undefined;
  if (vouches(plainOnError, raw)) return raw as OnError;
  const parsed = OnErrorSchema().safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

function resolvePipeline(
  name: string,
  shell: Record<string, unknown>,
  allParams: Map<string, ParamDecls>,
  known: Known,
  ctx: ResolveContext,
  triggerNames: Map<string, Path> = new Map(),
): PipelineDraft {
  const path = ["pipelines", name];
  const { params, unknown } = allParams.get(name)!;
  const rawNodes = readNodes(shell.nodes, [...path, "nodes"], ctx);
  applyEdges(shell.edges, [...path, "edges"], rawNodes, ctx);

  const nodes = new Map<string, NodeDraft>();
  const nc = {
    pipeline: name,
    pipelineParams: { params, unknown },
    allParams,
    ...known,
    onError: pipelineOnError(shell["on-error"]),
  };
  for (const raw of rawNodes.values()) nodes.set(raw.name, resolveNode(raw, nc, ctx));
  if ((Array.isArray(shell.nodes) && shell.nodes.length === 0) || isEmptyRecord(shell.nodes)) {
    ctx.problems.value([...path, "nodes"], `pipeline "${name}" has no nodes`);
  }

  const triggers = resolveTriggers(shell.triggers, name, path, { params, unknown }, ctx, triggerNames);

  // The pipeline's own `notify:` (even an empty one) replaces the one of `defaults:`.
  const notify: NotifySpec[] =
    shell.notify === undefined || shell.notify === null
      ? known.defaultNotify
      : resolveNotify(shell.notify, [...path, "notify"], ctx);

  const specNodes: Record<string, NodeSpec> = dict();
  for (const draft of nodes.values()) if (draft.spec) specNodes[draft.name] = draft.spec;
  const onError = pipelineOnError(shell["on-error"]);
  const spec: PipelineSpec = {
    name,
    params,
    nodes: specNodes,
    triggers,
    notify,
    ...(onError === undefined ? {} : { onError }),
    loc: locate(ctx, path),
  };
  return { name, path, spec, nodes, unknownParams: unknown };
}

/** The edges of a node that has none, shared (`applyEdges` gives a node its own lists). */
const NO_EDGES = Object.freeze([]) as never[];

function readNodes(raw: unknown, path: Path, ctx: ResolveContext): Map<string, RawNode> {
  const nodes = new Map<string, RawNode>();
  const add = (node: RawNode) => {
    const nameProblem = checkName("node", node.name);
    if (nameProblem) ctx.problems.key(node.path, nameProblem);
    nodes.set(node.name, node);
  };
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => {
      const p = [...path, i];
      const shaped = checkShape(ListNodeSchema(), item, p, ctx.problems);
      const nodeName = shaped.data?.name ?? asRecord(item)?.name;
      if (typeof nodeName !== "string") return;
      if (nodes.has(nodeName)) {
        ctx.problems.value([...p, "name"], `duplicate node name "${nodeName}"`);
        return;
      }
      let body: NodeFile | undefined;
      let overridden = new Set<string>();
      if (shaped.data) {
        const { name: _name, override, ...rest } = shaped.data;
        body = { ...rest, ...override };
        overridden = new Set(Object.keys(override ?? {}));
      }
      add({
        name: nodeName,
        path: p,
        body,
        checkTemplates: !affectsScope(shaped),
        keyPath: (key) => (overridden.has(key) ? [...p, "override", key] : [...p, key]),
        edgeNeeds: NO_EDGES,
        edgeBindings: NO_EDGES,
        edgeWith: NO_EDGES,
      });
    });
  } else {
    const record = asRecord(raw) ?? {};
    for (const nodeName of Object.keys(record)) {
      const item = record[nodeName];
      const p = [...path, nodeName];
      const shaped = checkPlainShape(plainNode, NodeSchema, item ?? {}, p, ctx.problems);
      add({
        name: nodeName,
        path: p,
        body: shaped.data,
        checkTemplates: !affectsScope(shaped),
        keyPath: (key) => [...p, key],
        edgeNeeds: NO_EDGES,
        edgeBindings: NO_EDGES,
        edgeWith: NO_EDGES,
      });
    }
  }
  return nodes;
}

/** Keys that decide which names a template may use. */
const SCOPE_KEYS = new Set([
  "run",
  "step",
  "pipeline",
  "needs",
  "params",
  "inputs",
  "with",
  "foreach",
  "matrix",
  "override",
]);

/**
 * Whether what was dropped from a part (an unknown key, which may be a misspelt `needs:`, or a
 * wrong scope key) could make its templates' checks report problems that are not there.
 */
function affectsScope(shaped: { unknownKeys: boolean; dropped: string[] }): boolean {
  return shaped.unknownKeys || shaped.dropped.some((k) => SCOPE_KEYS.has(k));
}

function isEmptyRecord(value: unknown): boolean {
  const r = asRecord(value);
  if (r === undefined) return false;
  for (const k in r) if (Object.hasOwn(r, k)) return false;
  return true;
}
