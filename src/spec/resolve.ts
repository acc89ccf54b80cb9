import { parseDuration } from "./duration.js";
import type { SourceMap } from "./locate.js";
import { checkParamValue, describeParamType, inferParamType, isOneOf, isParamValue } from "./params.js";
/**
 * From the file's shape to the resolved model of `types.ts`: defaults -> step -> node
 * settings (node keys win), steps folded into nodes, param and input declarations, Valohai
 * edges turned into needs, bindings and `with:` values. Reports the problems found on the way
 * (unknown steps, pools and pipelines, `with:` keys that are not params, ...) and records where
 * every template was written, for `validate.ts` to check.
 */
import {
  type Path,
  type ProblemList,
  checkName,
  describeValue,
  formatPath,
  quoteList,
  suggest,
} from "./problems.js";
import {
  DefaultsSchema,
  EdgeSchema,
  type InputDeclarationFile,
  ListNodeSchema,
  type NodeFile,
  NodeSchema,
  NotifySchema,
  type ParamFile,
  ParamSchema,
  PipelineShellSchema,
  PoolSchema,
  type SettingsFile,
  StepSchema,
  TriggerSchema,
} from "./schema.js";
import { checkShape } from "./shape.js";
import { type TemplateCache, hasTemplate, templateStrings } from "./templates.js";
import type {
  DefaultsSpec,
  InputBinding,
  InputSpec,
  NeedCondition,
  NeedSpec,
  NodeSpec,
  NotifyEvent,
  NotifySpec,
  ParamSpec,
  PipelineSpec,
  PoolSpec,
  SourceLocation,
  StepSpec,
  TaskSettings,
  TriggerSpec,
} from "./types.js";

// Drafts: the resolved model plus what validation needs to know about where things came from.

/** Which names an expression may use, by where the template is written. */
export type SiteKind =
  /** `run:` and `env:` of a task: the node's params, inputs, item, matrix, needs, run, task, env. */
  | "command"
  /** `with:` values and input bindings of a task node: the pipeline's params, item, matrix, needs, run, task, env. */
  | "task"
  /** `foreach:` and `matrix:` values: the pipeline's params, needs, run, env. */
  | "fanout"
  /** `if:`: the pipeline's params, needs, run, env. */
  | "condition"
  /** `with:` values of a pipeline node: the pipeline's params, needs, run, env. */
  | "child";

/** A template string and where it was written. */
export interface Site {
  value: string;
  /** Key path of the string in the file (for generated templates: the edge it came from). */
  path: Path;
  kind: SiteKind;
  /** Field name for messages: `run`, `env`, `with`, `inputs`, `foreach`, `matrix`, `if`. */
  field: string;
  /** Offset in `value` minus offset in the string as written (`if:` without `${{ }}` is wrapped). */
  shift: number;
  /** Made by Baton (Valohai edges, wrapped `if: true`): point at `path` without an offset. */
  generated: boolean;
  /** Written outside the node (step, defaults): only check what depends on the node. */
  shared: boolean;
}

export interface NeedEntry extends NeedSpec {
  /** Where the need was written (an entry of `needs:`, or an edge). */
  path: Path;
  at: "key" | "value";
  /** The `needs:` key of the node (or the edge), shown in messages about the whole list. */
  field: Path;
}

export interface NodeDraft {
  name: string;
  path: Path;
  /** Undefined when the node could not be resolved (its problems are already reported). */
  spec: NodeSpec | undefined;
  needs: NeedEntry[];
  sites: Site[];
  /** False when the node had shape problems: skip its template checks to avoid follow-on noise. */
  checkTemplates: boolean;
  /** Params of the node whose declaration was broken: any use of them is accepted. */
  unknownParams: Set<string>;
  /** Pipeline started by a pipeline node, and where it was named. */
  child?: { name: string; path: Path };
  /** Step used by a task node. */
  step?: string;
}

export interface PipelineDraft {
  name: string;
  path: Path;
  spec: PipelineSpec;
  nodes: Map<string, NodeDraft>;
  unknownParams: Set<string>;
}

export interface StepDraft {
  name: string;
  path: Path;
  spec: StepSpec | undefined;
  /** False when a problem in the step could make its templates' checks misleading. */
  checkTemplates: boolean;
  unknownParams: Set<string>;
  sites: Site[];
  envOrigin: Record<string, Path>;
}

export interface ProjectDraft {
  defaults: DefaultsSpec;
  defaultsEnvOrigin: Record<string, Path>;
  defaultsSites: Site[];
  pools: Record<string, PoolSpec>;
  steps: Map<string, StepDraft>;
  pipelines: Map<string, PipelineDraft>;
}

export interface ResolveContext {
  file: string;
  cpus: number;
  source: SourceMap;
  problems: ProblemList;
  templates: TemplateCache;
}

const BUILTIN_DEFAULTS: DefaultsSpec = {
  pool: "local",
  retries: { limit: 0, backoffMs: 0 },
  cache: { enabled: true, deps: [] },
  priority: 0,
  env: {},
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Builds the drafts of a whole project from the file's data (any JS value). */
export function resolveProject(data: unknown, ctx: ResolveContext): ProjectDraft {
  const root = asRecord(data) ?? {};
  const pools = resolvePools(root.pools, ctx);

  const defaultsEnvOrigin: Record<string, Path> = {};
  let defaults: DefaultsSpec = BUILTIN_DEFAULTS;
  if (root.defaults !== undefined && root.defaults !== null) {
    const d = checkShape(DefaultsSchema, root.defaults, ["defaults"], ctx.problems);
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
  const defaultsSites: Site[] = Object.entries(defaults.env).flatMap(([k, v]) =>
    hasTemplate(v) ? [site(v, ["defaults", "env", k], "command", "env", { shared: true })] : [],
  );

  const steps = new Map<string, StepDraft>();
  for (const [name, raw] of Object.entries(asRecord(root.steps) ?? {})) {
    steps.set(name, resolveStep(name, raw, defaults, pools, ctx));
  }

  const pipelineEntries = Object.entries(asRecord(root.pipelines) ?? {});
  // Params first: pipeline nodes check their `with:` against the params of other pipelines.
  const pipelineParams = new Map<string, { params: Record<string, ParamSpec>; unknown: Set<string> }>();
  const shells = new Map<string, Record<string, unknown>>();
  for (const [name, raw] of pipelineEntries) {
    const path = ["pipelines", name];
    const nameProblem = checkName("pipeline", name);
    if (nameProblem) ctx.problems.key(path, nameProblem);
    checkShape(PipelineShellSchema, raw, path, ctx.problems);
    const shell = asRecord(raw) ?? {};
    shells.set(name, shell);
    pipelineParams.set(name, resolveParamDecls(shell.params, [...path, "params"], ctx));
  }
  const pipelines = new Map<string, PipelineDraft>();
  for (const [name] of pipelineEntries) {
    pipelines.set(
      name,
      resolvePipeline(name, shells.get(name)!, pipelineParams, { defaults, pools, steps }, ctx),
    );
  }

  return { defaults, defaultsEnvOrigin, defaultsSites, pools, steps, pipelines };
}

// Pools, settings -------------------------------------------------------------------------------

function resolvePools(raw: unknown, ctx: ResolveContext): Record<string, PoolSpec> {
  const pools: Record<string, PoolSpec> = {};
  const given = Object.entries(asRecord(raw) ?? {});
  if (!given.some(([name]) => name === "local")) {
    pools.local = { name: "local", slots: ctx.cpus, resources: {} };
  }
  for (const [name, value] of given) {
    const path = ["pools", name];
    const nameProblem = checkName("pool", name);
    if (nameProblem) ctx.problems.key(path, nameProblem);
    const p = checkShape(PoolSchema, value ?? {}, path, ctx.problems);
    pools[name] = {
      name,
      slots: p.data?.slots ?? (name === "local" ? ctx.cpus : 1),
      resources: p.data?.resources ?? {},
      loc: locate(ctx, path),
    };
  }
  return pools;
}

/**
 * Settings of `raw` over `base` (keys given win; `env` merges by variable). Pools must exist.
 * `keyPath` says where each key was written; `envOrigin` records where each variable came from.
 */
function applySettings(
  base: TaskSettings,
  raw: SettingsFile,
  keyPath: (key: string) => Path,
  pools: Record<string, PoolSpec>,
  ctx: ResolveContext,
  envOrigin: Record<string, Path>,
): TaskSettings {
  const out: TaskSettings = {
    pool: base.pool,
    retries: { ...base.retries },
    cache: { enabled: base.cache.enabled, deps: [...base.cache.deps] },
    priority: base.priority,
    env: { ...base.env },
  };
  let timeoutMs = base.timeoutMs;
  if (raw.pool !== undefined) {
    out.pool = raw.pool;
    if (!Object.hasOwn(pools, raw.pool)) {
      const known = Object.keys(pools);
      const hint = suggest(raw.pool, known) || ` (pools: ${quoteList(known, "and")})`;
      ctx.problems.value(keyPath("pool"), `unknown pool "${raw.pool}"${hint}`);
    }
  }
  if (typeof raw.retries === "number") out.retries.limit = raw.retries;
  else if (raw.retries) {
    if (raw.retries.limit !== undefined) out.retries.limit = raw.retries.limit;
    if (raw.retries.backoff !== undefined) out.retries.backoffMs = parseDuration(raw.retries.backoff) ?? 0;
  }
  if (raw.timeout === null) timeoutMs = undefined;
  else if (raw.timeout !== undefined) {
    const ms = parseDuration(raw.timeout);
    if (ms === 0)
      ctx.problems.value(keyPath("timeout"), "timeout must be longer than 0 (leave it out for no limit)");
    else if (ms !== undefined) timeoutMs = ms;
  }
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  if (typeof raw.cache === "boolean") out.cache.enabled = raw.cache;
  else if (raw.cache) {
    if (raw.cache.enabled !== undefined) out.cache.enabled = raw.cache.enabled;
    if (raw.cache.deps !== undefined) out.cache.deps = [...raw.cache.deps];
  }
  if (raw.priority !== undefined) out.priority = raw.priority;
  for (const [name, value] of Object.entries(raw.env ?? {})) {
    const path = [...keyPath("env"), name];
    if (!ENV_NAME.test(name)) {
      ctx.problems.key(path, `invalid environment variable name "${name}" (use letters, digits and "_")`);
    }
    out.env[name] = String(value);
    envOrigin[name] = path;
  }
  return out;
}

// Params and inputs -----------------------------------------------------------------------------

/** Declarations of a `params:` map. Broken declarations are left out and listed in `unknown`. */
function resolveParamDecls(
  raw: unknown,
  path: Path,
  ctx: ResolveContext,
): { params: Record<string, ParamSpec>; unknown: Set<string> } {
  const params: Record<string, ParamSpec> = {};
  const unknown = new Set<string>();
  for (const [name, value] of Object.entries(asRecord(raw) ?? {})) {
    const p = [...path, name];
    const nameProblem = checkName("param", name);
    if (nameProblem) ctx.problems.key(p, nameProblem);
    const shaped = checkShape(ParamSchema, value, p, ctx.problems);
    const spec = shaped.data !== undefined ? resolveParamDecl(shaped.data, p, ctx) : undefined;
    if (spec && shaped.clean) params[name] = spec;
    else unknown.add(name);
  }
  return { params, unknown };
}

function resolveParamDecl(raw: ParamFile, path: Path, ctx: ResolveContext): ParamSpec | undefined {
  if (raw === null) return { type: "string" };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { type: inferParamType(raw, ctx.source.text(path)), default: raw };
  }
  const type =
    raw.type ??
    (raw.default !== undefined
      ? inferParamType(raw.default, ctx.source.text([...path, "default"]))
      : "string");
  const spec: ParamSpec = { type };
  let ok = true;
  if (raw.default !== undefined) {
    spec.default = raw.default;
    if (!isParamValue(type, raw.default)) {
      ctx.problems.value(
        [...path, "default"],
        `default must be ${describeParamType(type)} (type ${type}), found ${describeValue(raw.default)}`,
      );
      ok = false;
    }
  }
  if (raw.choices !== undefined) {
    spec.choices = raw.choices;
    if (raw.choices.length === 0) {
      ctx.problems.value([...path, "choices"], "choices must list at least one value");
      ok = false;
    }
    raw.choices.forEach((choice, i) => {
      if (!isParamValue(type, choice)) {
        ctx.problems.value(
          [...path, "choices", i],
          `choice must be ${describeParamType(type)} (type ${type}), found ${describeValue(choice)}`,
        );
        ok = false;
      }
    });
    if (ok && raw.default !== undefined && raw.choices.length > 0 && !isOneOf(raw.default, raw.choices)) {
      ctx.problems.value(
        [...path, "default"],
        `default ${describeValue(raw.default)} is not one of the choices ${quoteList(raw.choices)}`,
      );
      ok = false;
    }
  }
  if (raw.description !== undefined) spec.description = raw.description;
  return ok ? spec : undefined;
}

function resolveInputDecl(raw: InputDeclarationFile): InputSpec {
  if (raw === null) return { optional: false };
  if (typeof raw === "string") return { default: [raw], optional: false };
  if (Array.isArray(raw)) return { default: [...raw], optional: false };
  const spec: InputSpec = { optional: raw.optional ?? false };
  if (raw.default !== undefined)
    spec.default = typeof raw.default === "string" ? [raw.default] : [...raw.default];
  if (raw.description !== undefined) spec.description = raw.description;
  return spec;
}

// Steps -----------------------------------------------------------------------------------------

function resolveStep(
  name: string,
  raw: unknown,
  defaults: DefaultsSpec,
  pools: Record<string, PoolSpec>,
  ctx: ResolveContext,
): StepDraft {
  const path = ["steps", name];
  const nameProblem = checkName("step", name);
  if (nameProblem) ctx.problems.key(path, nameProblem);
  const shaped = checkShape(StepSchema, raw, path, ctx.problems);
  const draft: StepDraft = {
    name,
    path,
    spec: undefined,
    checkTemplates: !affectsScope(shaped),
    unknownParams: new Set(),
    sites: [],
    envOrigin: {},
  };
  const s = shaped.data;
  if (!s) return draft;
  const envOrigin: Record<string, Path> = {};
  const settings = applySettings(defaults, s, (k) => [...path, k], pools, ctx, envOrigin);
  const { params, unknown } = resolveParamDecls(s.params, [...path, "params"], ctx);
  const inputs: Record<string, InputSpec> = {};
  for (const [input, decl] of Object.entries(s.inputs ?? {})) {
    const nameProblem = checkName("input", input);
    if (nameProblem) ctx.problems.key([...path, "inputs", input], nameProblem);
    inputs[input] = resolveInputDecl(decl);
  }
  draft.spec = {
    name,
    run: s.run,
    inputs,
    params,
    outputs: globs(s.outputs),
    ...settings,
    loc: locate(ctx, path),
  };
  draft.unknownParams = unknown;
  draft.envOrigin = envOrigin;
  if (hasTemplate(s.run)) draft.sites.push(site(s.run, [...path, "run"], "command", "run"));
  for (const [k, v] of Object.entries(settings.env)) {
    const origin = envOrigin[k];
    if (origin && hasTemplate(v)) draft.sites.push(site(v, origin, "command", "env"));
  }
  return draft;
}

// Pipelines and nodes ---------------------------------------------------------------------------

interface Known {
  defaults: DefaultsSpec;
  pools: Record<string, PoolSpec>;
  steps: Map<string, StepDraft>;
}

/** A node as written, before resolution: its keys, and where each key was written. */
interface RawNode {
  name: string;
  path: Path;
  body: NodeFile | undefined;
  /** False when a problem in the node could make its templates' checks misleading. */
  checkTemplates: boolean;
  keyPath: (key: string) => Path;
  /** Needs, bindings and `with:` values added by Valohai edges. */
  edgeNeeds: NeedEntry[];
  edgeBindings: Array<{ input: string; template: string; path: Path; sourcePath: Path }>;
  edgeWith: Array<{ param: string; template: string; path: Path; sourcePath: Path }>;
}

function resolvePipeline(
  name: string,
  shell: Record<string, unknown>,
  allParams: Map<string, { params: Record<string, ParamSpec>; unknown: Set<string> }>,
  known: Known,
  ctx: ResolveContext,
): PipelineDraft {
  const path = ["pipelines", name];
  const { params, unknown } = allParams.get(name)!;
  const rawNodes = readNodes(shell.nodes, [...path, "nodes"], ctx);
  applyEdges(shell.edges, [...path, "edges"], rawNodes, ctx);

  const nodes = new Map<string, NodeDraft>();
  for (const raw of rawNodes.values()) {
    nodes.set(raw.name, resolveNode(raw, name, { params, unknown }, allParams, known, ctx));
  }
  if ((Array.isArray(shell.nodes) && shell.nodes.length === 0) || isEmptyRecord(shell.nodes)) {
    ctx.problems.value([...path, "nodes"], `pipeline "${name}" has no nodes`);
  }

  const triggers: TriggerSpec[] = [];
  (Array.isArray(shell.triggers) ? shell.triggers : []).forEach((raw, i) => {
    const p = [...path, "triggers", i];
    const t = checkShape(TriggerSchema, raw, p, ctx.problems);
    if (!t.data) return;
    const values = t.data.with ?? {};
    checkParamValues(values, [...p, "with"], { params, unknown }, `pipeline "${name}"`, ctx, "trigger");
    for (const [param, spec] of Object.entries(params)) {
      if (spec.default === undefined && !Object.hasOwn(values, param)) {
        ctx.problems.value(
          p,
          `trigger does not set param "${param}" of pipeline "${name}", which has no default`,
        );
      }
    }
    triggers.push({ cron: t.data.cron.trim(), with: values, loc: locate(ctx, p, "value") });
  });

  const notify: NotifySpec[] = [];
  (Array.isArray(shell.notify) ? shell.notify : []).forEach((raw, i) => {
    const p = [...path, "notify", i];
    const n = checkShape(NotifySchema, raw, p, ctx.problems);
    if (!n.data) return;
    const on: NotifyEvent[] =
      n.data.on === undefined
        ? ["success", "failure", "cancelled"]
        : typeof n.data.on === "string"
          ? [n.data.on]
          : [...new Set(n.data.on)];
    notify.push({ on, webhook: n.data.webhook, loc: locate(ctx, p, "value") });
  });

  const specNodes: Record<string, NodeSpec> = {};
  for (const [nodeName, draft] of nodes) if (draft.spec) specNodes[nodeName] = draft.spec;
  const spec: PipelineSpec = { name, params, nodes: specNodes, triggers, notify, loc: locate(ctx, path) };
  return { name, path, spec, nodes, unknownParams: unknown };
}

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
      const shaped = checkShape(ListNodeSchema, item, p, ctx.problems);
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
        edgeNeeds: [],
        edgeBindings: [],
        edgeWith: [],
      });
    });
  } else {
    for (const [nodeName, item] of Object.entries(asRecord(raw) ?? {})) {
      const p = [...path, nodeName];
      const shaped = checkShape(NodeSchema, item ?? {}, p, ctx.problems);
      add({
        name: nodeName,
        path: p,
        body: shaped.data,
        checkTemplates: !affectsScope(shaped),
        keyPath: (key) => [...p, key],
        edgeNeeds: [],
        edgeBindings: [],
        edgeWith: [],
      });
    }
  }
  return nodes;
}

const EDGE_SOURCE_KINDS = ["output", "parameter", "metadata"];
const EDGE_TARGET_KINDS = ["input", "parameter"];

/**
 * Valohai edges: `[a.output.GLOB, b.input.NAME]` makes b need a and appends
 * `${{ needs.a.outputs['GLOB'] }}` to b's binding of NAME; `[a.parameter.p, b.parameter.q]`
 * sets b's `with: { q: "${{ needs.a.params.p }}" }`; `[a.metadata.m, b.parameter.q]` sets
 * `q` to `${{ needs.a.metrics.m }}`.
 */
function applyEdges(raw: unknown, path: Path, nodes: Map<string, RawNode>, ctx: ResolveContext): void {
  if (!Array.isArray(raw)) return;
  raw.forEach((item, i) => {
    const p = [...path, i];
    const shaped = checkShape(EdgeSchema, item, p, ctx.problems);
    if (!shaped.data) return;
    const [source, target] = Array.isArray(shaped.data)
      ? shaped.data
      : [shaped.data.source, shaped.data.target];
    const sourcePath = Array.isArray(shaped.data) ? [...p, 0] : [...p, "source"];
    const targetPath = Array.isArray(shaped.data) ? [...p, 1] : [...p, "target"];
    const from = parseEndpoint(
      source,
      EDGE_SOURCE_KINDS,
      sourcePath,
      nodes,
      ctx,
      "NODE.output.GLOB, NODE.parameter.NAME or NODE.metadata.NAME",
    );
    const to = parseEndpoint(
      target,
      EDGE_TARGET_KINDS,
      targetPath,
      nodes,
      ctx,
      "NODE.input.NAME or NODE.parameter.NAME",
    );
    if (!from || !to) return;
    if (from.node === to.node) {
      ctx.problems.value(p, `an edge cannot connect node "${from.node}" to itself`);
      return;
    }
    const fits = from.kind === "output" ? to.kind === "input" : to.kind === "parameter";
    if (!fits) {
      const wanted = from.kind === "output" ? `"${to.node}.input.NAME"` : `"${to.node}.parameter.NAME"`;
      const article = from.kind === "output" ? "an" : "a";
      ctx.problems.value(targetPath, `${article} ${from.kind} edge must end at ${wanted}, found "${target}"`);
      return;
    }
    if (from.kind === "output" && from.name.includes("'")) {
      ctx.problems.value(sourcePath, `output glob "${from.name}" must not contain a quote (')`);
      return;
    }
    const toNode = nodes.get(to.node)!;
    if (!toNode.edgeNeeds.some((n) => n.node === from.node)) {
      toNode.edgeNeeds.push({ node: from.node, condition: "success", path: p, at: "value", field: p });
    }
    if (from.kind === "output") {
      const template = `\${{ needs.${from.node}.outputs['${from.name}'] }}`;
      toNode.edgeBindings.push({ input: to.name, template, path: targetPath, sourcePath });
    } else {
      const member = from.kind === "parameter" ? `params.${from.name}` : `metrics.${from.name}`;
      const template = `\${{ needs.${from.node}.${member} }}`;
      toNode.edgeWith.push({ param: to.name, template, path: targetPath, sourcePath });
    }
  });
}

function parseEndpoint(
  text: string,
  kinds: string[],
  path: Path,
  nodes: Map<string, RawNode>,
  ctx: ResolveContext,
  expected: string,
): { node: string; kind: string; name: string } | undefined {
  const first = text.indexOf(".");
  const second = first < 0 ? -1 : text.indexOf(".", first + 1);
  if (first <= 0 || second < 0 || second === text.length - 1) {
    ctx.problems.value(path, `expected ${expected}, found "${text}"`);
    return undefined;
  }
  const node = text.slice(0, first);
  const kind = text.slice(first + 1, second);
  const name = text.slice(second + 1);
  let ok = true;
  if (!nodes.has(node)) {
    ctx.problems.value(path, `unknown node "${node}"${suggest(node, nodes.keys())}`);
    ok = false;
  }
  if (!kinds.includes(kind)) {
    const hint = suggest(kind, kinds) || ` (expected ${quoteList(kinds)})`;
    ctx.problems.value(path, `unknown edge kind "${kind}"${hint}`);
    ok = false;
  }
  return ok ? { node, kind, name } : undefined;
}

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
] as const;

function resolveNode(
  raw: RawNode,
  pipeline: string,
  pipelineParams: { params: Record<string, ParamSpec>; unknown: Set<string> },
  allParams: Map<string, { params: Record<string, ParamSpec>; unknown: Set<string> }>,
  known: Known,
  ctx: ResolveContext,
): NodeDraft {
  const { name, path, body, keyPath } = raw;
  const draft: NodeDraft = {
    name,
    path,
    spec: undefined,
    needs: [],
    sites: [],
    checkTemplates: raw.checkTemplates,
    unknownParams: new Set(),
  };
  if (body) draft.needs = readNeeds(body, keyPath);
  for (const need of raw.edgeNeeds)
    if (!draft.needs.some((n) => n.node === need.node)) draft.needs.push(need);
  if (!body) return draft;

  const kinds = (["run", "step", "pipeline"] as const).filter((k) => body[k] !== undefined);
  if (kinds.length === 0) {
    ctx.problems.keyOf(path, undefined, `node "${name}" needs one of run:, step: or pipeline:`);
    return draft;
  }
  if (kinds.length > 1) {
    const [a, b] = kinds;
    ctx.problems.key(keyPath(b!), `a node has either ${a}: or ${b}:, not both`);
    return draft;
  }
  const loc = locate(ctx, path, typeof path[path.length - 1] === "number" ? "value" : "key");
  const needs: NeedSpec[] = draft.needs.map(({ node, condition }) => ({ node, condition }));
  const base = { name, needs, loc, path: formatPath(path) };
  const ifSite = conditionSite(body.if, keyPath("if"));
  if (ifSite) draft.sites.push(ifSite);

  if (body.pipeline !== undefined) {
    for (const key of TASK_ONLY_KEYS) {
      if (body[key] !== undefined) {
        ctx.problems.key(
          keyPath(key),
          `${key}: cannot be used on a pipeline node (it starts a child run of "${body.pipeline}")`,
        );
        draft.checkTemplates = false;
      }
    }
    for (const edge of raw.edgeBindings) {
      ctx.problems.value(edge.path, `node "${name}" is a pipeline node: it has no inputs`);
    }
    const withValues: Record<string, unknown> = { ...(body.with ?? {}) };
    const withPaths: Record<string, Path> = {};
    for (const k of Object.keys(withValues)) withPaths[k] = [...keyPath("with"), k];
    addEdgeWith(raw, withValues, withPaths, draft, ctx);
    draft.child = { name: body.pipeline, path: keyPath("pipeline") };
    const child = allParams.get(body.pipeline);
    if (!child) {
      ctx.problems.value(
        keyPath("pipeline"),
        `unknown pipeline "${body.pipeline}"${suggest(body.pipeline, allParams.keys())}`,
      );
    } else {
      checkWithKeys(withValues, withPaths, child, `pipeline "${body.pipeline}"`, ctx, edgeParams(raw));
      for (const [param, spec] of Object.entries(child.params)) {
        if (spec.default === undefined && !Object.hasOwn(withValues, param)) {
          ctx.problems.keyOf(
            path,
            undefined,
            `param "${param}" of pipeline "${body.pipeline}" has no default: set it in with:`,
          );
        }
      }
    }
    for (const [k, v] of Object.entries(withValues)) {
      const generated = raw.edgeWith.find((e) => e.param === k);
      for (const t of templateStrings(v)) {
        draft.sites.push(
          generated
            ? site(t.value, generated.sourcePath, "child", "with", { generated: true })
            : site(t.value, [...withPaths[k]!, ...t.path], "child", "with"),
        );
      }
    }
    const ifValue = ifSite?.value;
    draft.spec = {
      kind: "pipeline",
      ...base,
      ...(ifValue === undefined ? {} : { if: ifValue }),
      with: withValues,
      pipeline: body.pipeline,
    };
    return draft;
  }

  // A task node: a step folded with the node's keys, or an inline command.
  let step: StepDraft | undefined;
  if (body.step !== undefined) {
    step = known.steps.get(body.step);
    if (!step) {
      ctx.problems.value(
        keyPath("step"),
        `unknown step "${body.step}"${suggest(body.step, known.steps.keys())}`,
      );
      return draft;
    }
    draft.step = body.step;
    if (!step.spec) return draft;
  }
  const stepSpec = step?.spec;
  const envOrigin: Record<string, Path> = { ...(step ? step.envOrigin : {}) };
  const baseSettings: TaskSettings = stepSpec ?? known.defaults;
  const settings = applySettings(baseSettings, body, keyPath, known.pools, ctx, envOrigin);
  const own = resolveParamDecls(body.params, keyPath("params"), ctx);
  const params: Record<string, ParamSpec> = { ...(stepSpec?.params ?? {}), ...own.params };
  draft.unknownParams = new Set([...(step?.unknownParams ?? []), ...own.unknown]);
  const run = stepSpec ? stepSpec.run : body.run!;
  const runPath = stepSpec ? [...step!.path, "run"] : keyPath("run");

  // Bindings: named inputs of the step; an inline node declares what it binds.
  const inputs: Record<string, InputSpec> = { ...(stepSpec?.inputs ?? {}) };
  const bindings: Record<string, InputBinding> = {};
  const bindingPaths: Record<string, Path> = {};
  for (const [input, value] of Object.entries(body.inputs ?? {})) {
    bindings[input] = typeof value === "string" ? value : [...value];
    bindingPaths[input] = [...keyPath("inputs"), input];
  }
  for (const edge of raw.edgeBindings) {
    const existing = bindings[edge.input];
    bindings[edge.input] =
      existing === undefined
        ? edge.template
        : [...(typeof existing === "string" ? [existing] : existing), edge.template];
    bindingPaths[edge.input] ??= edge.path;
  }
  for (const [input, p] of Object.entries(bindingPaths)) {
    if (stepSpec) {
      if (!Object.hasOwn(stepSpec.inputs, input)) {
        const declared = Object.keys(stepSpec.inputs);
        const hint =
          suggest(input, declared) ||
          (declared.length ? ` (its inputs: ${quoteList(declared, "and")})` : " (it declares no inputs)");
        ctx.problems.key(p, `step "${stepSpec.name}" has no input "${input}"${hint}`);
      }
    } else {
      const nameProblem = checkName("input", input);
      if (nameProblem) ctx.problems.key(p, nameProblem);
      inputs[input] ??= { optional: false };
    }
  }

  // `with:` values, and params an inline node takes from its pipeline.
  const withValues: Record<string, unknown> = { ...(body.with ?? {}) };
  const withPaths: Record<string, Path> = {};
  for (const k of Object.keys(withValues)) withPaths[k] = [...keyPath("with"), k];
  addEdgeWith(raw, withValues, withPaths, draft, ctx);
  if (!stepSpec) {
    for (const p of inheritPipelineParams(run, settings.env, withValues, params, pipelineParams, ctx)) {
      draft.unknownParams.add(p);
    }
  }
  const owner = stepSpec ? `step "${stepSpec.name}"` : `node "${name}"`;
  checkWithKeys(withValues, withPaths, { params, unknown: draft.unknownParams }, owner, ctx, edgeParams(raw));
  for (const [param, spec] of Object.entries(params)) {
    if (spec.default === undefined && !Object.hasOwn(withValues, param) && !draft.unknownParams.has(param)) {
      ctx.problems.keyOf(path, undefined, `param "${param}" of ${owner} has no default: set it in with:`);
    }
  }

  // Fan-out.
  let foreach: unknown;
  let matrix: Record<string, unknown> | undefined;
  if (body.foreach !== undefined && body.matrix !== undefined) {
    ctx.problems.key(
      keyPath("matrix"),
      "foreach: and matrix: cannot be used together (a matrix with one more key does both)",
    );
    draft.checkTemplates = false;
  }
  if (body.foreach !== undefined) {
    foreach = body.foreach;
    if (typeof foreach === "string") {
      if (hasTemplate(foreach)) draft.sites.push(site(foreach, keyPath("foreach"), "fanout", "foreach"));
      else
        ctx.problems.value(
          keyPath("foreach"),
          `expected a list or a \${{ }} expression, found ${describeValue(foreach)}`,
        );
    }
  } else if (body.matrix !== undefined) {
    matrix = body.matrix;
    if (Object.keys(matrix).length === 0)
      ctx.problems.value(keyPath("matrix"), "matrix needs at least one key");
    for (const [key, values] of Object.entries(matrix)) {
      const p = [...keyPath("matrix"), key];
      const nameProblem = checkName("matrix key", key);
      if (nameProblem) ctx.problems.key(p, nameProblem);
      if (typeof values === "string") {
        if (hasTemplate(values)) draft.sites.push(site(values, p, "fanout", "matrix"));
        else ctx.problems.value(p, `expected a list or a \${{ }} expression, found ${describeValue(values)}`);
      }
    }
  }

  // Templates of the task, with where each was written.
  if (hasTemplate(run)) draft.sites.push(site(run, runPath, "command", "run", { shared: !!stepSpec }));
  for (const [k, v] of Object.entries(settings.env)) {
    const origin = envOrigin[k] ?? keyPath("env");
    const shared = !pathStartsWith(origin, path);
    if (hasTemplate(v)) draft.sites.push(site(v, origin, "command", "env", { shared }));
  }
  for (const [k, v] of Object.entries(withValues)) {
    const generated = raw.edgeWith.find((e) => e.param === k);
    for (const t of templateStrings(v)) {
      draft.sites.push(
        generated
          ? site(t.value, generated.sourcePath, "task", "with", { generated: true })
          : t.value === `\${{ params.${k} }}` && !withPaths[k]
            ? site(t.value, runPath, "task", "with", { generated: true })
            : site(t.value, [...(withPaths[k] ?? keyPath("with")), ...t.path], "task", "with"),
      );
    }
  }
  for (const [input, value] of Object.entries(bindings)) {
    const values = typeof value === "string" ? [value] : value;
    const written = body.inputs?.[input];
    const writtenCount = written === undefined ? 0 : typeof written === "string" ? 1 : written.length;
    values.forEach((v, i) => {
      if (!hasTemplate(v)) return;
      if (i >= writtenCount) {
        const edge = raw.edgeBindings.filter((e) => e.input === input)[i - writtenCount];
        draft.sites.push(
          site(v, edge?.sourcePath ?? bindingPaths[input]!, "task", "inputs", { generated: true }),
        );
      } else {
        const p = typeof written === "string" ? bindingPaths[input]! : [...bindingPaths[input]!, i];
        draft.sites.push(site(v, p, "task", "inputs"));
      }
    });
  }

  const ifValue = ifSite?.value;
  draft.spec = {
    kind: "task",
    ...base,
    ...(ifValue === undefined ? {} : { if: ifValue }),
    with: withValues,
    ...(body.step === undefined ? {} : { step: body.step }),
    run,
    inputs,
    bindings,
    params,
    outputs: body.outputs !== undefined ? globs(body.outputs) : [...(stepSpec?.outputs ?? [])],
    ...(foreach === undefined ? {} : { foreach }),
    ...(matrix === undefined ? {} : { matrix }),
    ...settings,
  };
  return draft;
}

function readNeeds(body: NodeFile, keyPath: (key: string) => Path): NeedEntry[] {
  const needs = body.needs;
  const p = keyPath("needs");
  if (needs === undefined) return [];
  if (typeof needs === "string")
    return [{ node: needs, condition: "success", path: p, at: "value", field: p }];
  if (Array.isArray(needs)) {
    return needs.map((node, i) => ({
      node,
      condition: "success" as NeedCondition,
      path: [...p, i],
      at: "value" as const,
      field: p,
    }));
  }
  return Object.entries(needs).map(([node, condition]) => ({
    node,
    condition,
    path: [...p, node],
    at: "key" as const,
    field: p,
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

function addEdgeWith(
  raw: RawNode,
  withValues: Record<string, unknown>,
  withPaths: Record<string, Path>,
  draft: NodeDraft,
  ctx: ResolveContext,
): void {
  for (const edge of raw.edgeWith) {
    if (Object.hasOwn(withValues, edge.param)) {
      ctx.problems.value(
        edge.path,
        `param "${edge.param}" of node "${draft.name}" is set twice (by with: or another edge)`,
      );
      continue;
    }
    withValues[edge.param] = edge.template;
    withPaths[edge.param] = edge.path;
  }
}

/**
 * An inline node may use its pipeline's params directly: each one its command or env refers to
 * (`${{ params.lr }}`), or its `with:` sets, is declared on the node like the pipeline declares
 * it, and bound to the pipeline's value unless `with:` sets it. Returns the names it uses
 * whose pipeline declaration is broken (already reported).
 */
function inheritPipelineParams(
  run: string,
  env: Record<string, string>,
  withValues: Record<string, unknown>,
  params: Record<string, ParamSpec>,
  pipelineParams: { params: Record<string, ParamSpec>; unknown: Set<string> },
  ctx: ResolveContext,
): string[] {
  const used = new Set<string>(Object.keys(withValues));
  for (const text of [run, ...Object.values(env)]) {
    if (!hasTemplate(text)) continue;
    for (const ref of ctx.templates.parse(text).references) {
      if (ref.root === "params" && typeof ref.path[0] === "string") used.add(ref.path[0]);
    }
  }
  const broken: string[] = [];
  for (const param of used) {
    if (Object.hasOwn(params, param)) continue;
    if (pipelineParams.unknown.has(param)) broken.push(param);
    const spec = pipelineParams.params[param];
    if (spec === undefined) continue;
    params[param] = { ...spec };
    if (!Object.hasOwn(withValues, param)) withValues[param] = `\${{ params.${param} }}`;
  }
  return broken;
}

function checkWithKeys(
  values: Record<string, unknown>,
  paths: Record<string, Path>,
  decls: { params: Record<string, ParamSpec>; unknown: Set<string> },
  owner: string,
  ctx: ResolveContext,
  fromEdges: ReadonlySet<string>,
): void {
  checkParamValues(values, undefined, decls, owner, ctx, "with", paths, fromEdges);
}

/** Checks literal param values (`with:`, trigger `with:`) against declarations. */
function checkParamValues(
  values: Record<string, unknown>,
  base: Path | undefined,
  decls: { params: Record<string, ParamSpec>; unknown: Set<string> },
  owner: string,
  ctx: ResolveContext,
  mode: "with" | "trigger",
  paths: Record<string, Path> = {},
  fromEdges: ReadonlySet<string> = new Set(),
): void {
  const declared = [...Object.keys(decls.params), ...decls.unknown];
  for (const [param, value] of Object.entries(values)) {
    const p = paths[param] ?? [...(base ?? []), param];
    if (decls.unknown.has(param)) continue;
    const spec = decls.params[param];
    if (!spec) {
      const hint =
        suggest(param, declared) ||
        (declared.length ? ` (its params: ${quoteList(declared, "and")})` : " (it declares no params)");
      if (fromEdges.has(param)) ctx.problems.value(p, `${owner} has no param "${param}"${hint}`);
      else ctx.problems.key(p, `${owner} has no param "${param}"${hint}`);
      continue;
    }
    if (templateStrings(value).length > 0) {
      if (mode === "trigger")
        ctx.problems.value(p, "expressions are not evaluated in triggers: give a literal value");
      continue;
    }
    const wrong = checkParamValue(spec, value);
    if (wrong) ctx.problems.value(p, `param "${param}": ${wrong}`);
  }
}

/** Keys that decide which names a template may use. */
const SCOPE_KEYS = new Set(["run", "step", "pipeline", "needs", "params", "inputs", "with", "foreach", "matrix", "override"]);

/**
 * Whether what was dropped from a part (an unknown key, which may be a misspelt `needs:`, or a
 * wrong scope key) could make its templates' checks report problems that are not there.
 */
function affectsScope(shaped: { unknownKeys: boolean; dropped: string[] }): boolean {
  return shaped.unknownKeys || shaped.dropped.some((k) => SCOPE_KEYS.has(k));
}

function edgeParams(raw: RawNode): Set<string> {
  return new Set(raw.edgeWith.map((e) => e.param));
}

// Helpers ---------------------------------------------------------------------------------------

function site(
  value: string,
  path: Path,
  kind: SiteKind,
  field: string,
  opts: { generated?: boolean; shared?: boolean } = {},
): Site {
  return {
    value,
    path,
    kind,
    field,
    shift: 0,
    generated: opts.generated ?? false,
    shared: opts.shared ?? false,
  };
}

function globs(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : [...value];
}

function locate(ctx: ResolveContext, path: Path, at: "key" | "value" = "key"): SourceLocation {
  const pos = ctx.source.position(path, at);
  return { file: ctx.file, line: pos?.line ?? 0, column: pos?.column ?? 0 };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function isEmptyRecord(value: unknown): boolean {
  const r = asRecord(value);
  return r !== undefined && Object.keys(r).length === 0;
}

function pathStartsWith(path: Path, prefix: Path): boolean {
  return prefix.every((seg, i) => path[i] === seg);
}
