/**
 * `pipeline(name)`: the pipeline builder. It writes the same definition a `baton.yaml` holds
 * (`{ version: 1, pipelines: { NAME: { params, nodes } } }`), checks it with the same parser
 * (`parsePipelineDefinition`), and reports the same problems, placed at the builder call that
 * wrote the faulty part (`sweep.ts:14:4 pipelines.sweep.nodes.train.needs[0]: unknown node ...`).
 */
import os from "node:os";
import { BatonError, type Problem, formatProblem } from "../errors.js";
import { parsePipelineDefinition } from "../spec/parse.js";
import { formatPath } from "../spec/problems.js";
import type { NodeFile, ParamFile, PoolFile, ProjectFile, SettingsFile, StepFile } from "../spec/schema.js";
import type { ProjectSpec } from "../spec/types.js";
import { type CallSite, captureCallSite, formatCallSite } from "./call-site.js";
import type { AfterHook, BeforeHook } from "./hooks.js";

// The file format, as TypeScript types ------------------------------------------------------------

/** A duration: `500ms`, `10s`, `1m30s`, `2h`, `1d`, or a number of seconds. */
export type Duration = string | number;

/** Types a param may declare. `list` and `json` values are JSON. */
export type ParamType = "string" | "int" | "float" | "bool" | "list" | "json";

/** A full param declaration: `{ type: "float", default: 0.001 }`. */
export interface ParamDeclaration {
  /** Defaults to the type of `default`, else `string`. */
  type?: ParamType;
  /** Value used when none is given; without it the param is required. */
  default?: unknown;
  /** When present, the value must be one of these. */
  choices?: unknown[];
  /** Shown in `baton show`, the web UI's launch form and docs. */
  description?: string;
  // Params rendered as Valohai does (`${{ args }}`, `${{ arg.NAME }}`; docs/pipeline-file.md):
  /** Smallest value (of an int or float, or of each number in a list). */
  min?: number;
  /** Largest value (of an int or float, or of each number in a list). */
  max?: number;
  /** No value needed: unset, the param is left out. */
  optional?: boolean;
  /** Words `args` renders: `{v}` is the value, `{name}` the name (default `--{name}={v}`). */
  "pass-as"?: string;
  /** A bool's words when true. */
  "pass-true-as"?: string;
  /** A bool's words when false. */
  "pass-false-as"?: string;
  /** A list: the words once per item (`repeat`), or once with the items joined (`separate`). */
  multiple?: "separate" | "repeat";
  /** What joins the items with `multiple: "separate"` (","). */
  "multiple-separator"?: string;
}

/**
 * A param: a declaration, or a bare default whose type is inferred (`lr: 0.1`, `lrs: [1, 2]`),
 * or `null` (a required string).
 */
export type ParamOption = ParamDeclaration | string | number | boolean | unknown[] | null;

/** `success` (Velda `--after-success`), `failure` (`--after-fail`) or `always` (`--after`). */
export type NeedCondition = "success" | "failure" | "always";

/** `retries: 2` or `{ limit: 2, backoff: "10s" }` (the backoff doubles before each later retry). */
export type RetryOption = number | { limit?: number; backoff?: Duration };

/** `false`, `true`, or `{ enabled, deps }` (extra files whose content joins the cache key). */
export type CacheOption = boolean | { enabled?: boolean; deps?: string[] };

/** Settings a step, a node or `defaults` may give (docs/pipeline-file.md). */
export interface TaskSettings {
  /** Pool the task runs in (default `local`). */
  pool?: string;
  /** Extra attempts after a failure. */
  retries?: RetryOption;
  /** Kill the task after this long; `null`: no limit. */
  timeout?: Duration | null;
  /** Whether results may be reused (docs/pipeline-file.md). */
  cache?: CacheOption;
  /** Higher runs first among tasks waiting for the same pool. */
  priority?: number;
  /** Extra environment variables (values may be `${{ }}` templates). Part of the cache key. */
  env?: Record<string, string | number | boolean>;
  /** Stop the task when its log gets no new bytes for this long (like a timeout); `null`: never. */
  "no-output-timeout"?: Duration | null;
  /** Container image the task is meant for: recorded and shown (the local executor runs on the host). */
  image?: string;
  /** `valohai`: the task also gets Valohai's environment, config files and stdout metrics. */
  compat?: "valohai";
  /** Gates: what a failure does to the run: `stop-next` (default), `stop-all`, `continue`, `retry`. */
  "on-error"?: OnErrorOption;
}

/** Gates: `on-error:` values (docs/pipeline-file.md, "On error, actions, approval"). */
export type OnErrorOption = "stop-all" | "stop-next" | "continue" | "retry";

/** Gates: an `actions:` entry: when the moment comes and every `if` holds, do every `then`. */
export interface ActionOption {
  when: ActionWhenOption | ActionWhenOption[];
  if?: string | string[];
  then: ActionThenOption | ActionThenOption[];
}
export type ActionWhenOption = "node-starting" | "node-complete" | "node-error";
export type ActionThenOption = "stop-pipeline" | "require-approval";

/** Gates: keys of steps and nodes. */
export interface GateOptions {
  /** The task waits in `waiting` until `baton approve` (a message shown with it). */
  approval?: boolean | string;
  /** What to do when the node starts, completes or fails. */
  actions?: ActionOption[];
}

/** A declared input of a reusable step: `{ default, optional, description }`, a glob, a list, or null. */
export type InputDeclaration =
  | {
      default?: string | string[];
      optional?: boolean;
      description?: string;
      /** How bound files are laid out under the input's folder (docs/pipeline-file.md). */
      "keep-directories"?: "none" | "full" | "suffix";
      /** Name the single bound file is laid out under. */
      filename?: string;
    }
  | string
  | string[]
  | null;

/** A reusable task template (`steps:` in `baton.yaml`), used by nodes with `step: NAME`. */
export interface StepTemplate extends TaskSettings, GateOptions {
  /** Shell command (`bash -eo pipefail -c`), a template. */
  run: string;
  /** Inputs the step declares, bound by the nodes that use it (`inputs.NAME` in expressions). */
  inputs?: Record<string, InputDeclaration>;
  /** Params the step declares, given by the nodes that use it with `with:`. */
  params?: Record<string, ParamOption>;
  /** Globs of files kept from the output folder (default: all). */
  outputs?: string | string[];
}

/** A pool: how many tasks run at once and what each is given. */
export interface PoolOptions {
  /** How many tasks of the pool run at once (local: CPUs, else 1). */
  slots?: number;
  /** What each task is given (`{ gpu: 1 }`); part of the cache key. On Slurm: `cpus`, `memory` (MB), `gpu` are requested. */
  resources?: Record<string, number>;
  /** Where its tasks run: processes on this machine (default), Slurm jobs, or remote agents (`baton agent`). */
  executor?: "local" | "slurm" | "agent";
  /** sbatch options of a Slurm pool (`{ partition: "gpu", extra: ["--constraint=a100"] }`). */
  slurm?: {
    partition?: string;
    account?: string;
    qos?: string;
    /** More sbatch options, passed as they are. */
    extra?: string[];
    /** Start a fan-out's tasks launched together as one job array (default true). */
    arrays?: boolean;
  };
}

/**
 * A step of a pipeline built in code: the keys of a node in `baton.yaml`, plus the controller
 * options (`before`, `after`, `continueOnFailure`, `concurrency`), which run in the controller
 * process and so make the SDK execute the pipeline step by step (see {@link Pipeline.isControlled}).
 */
export interface StepOptions extends TaskSettings, GateOptions {
  /** Inline command (`bash -eo pipefail -c`), a template: `python train.py --lr ${{ params.lr }}`. */
  run?: string;
  /** Name of a reusable step ({@link Pipeline.template}) this node runs. */
  step?: string;
  /** A pipeline (a builder, or a name) this node starts as a child run, with `with` as its params. */
  pipeline?: Pipeline | string;
  /** A node name, a list of names (all `success`), or a map of name to condition. */
  needs?: string | string[] | Record<string, NeedCondition>;
  /** A `${{ }}` expression; the node is skipped when it is false. */
  if?: string | boolean;
  /** Param values (templates allowed): `{ lr: "${{ item }}" }`. */
  with?: Record<string, unknown>;
  /** Input bindings: a template or literal globs per input. */
  inputs?: Record<string, string | string[]>;
  /** Params the node's command declares: `{ lr: { type: "float", default: 0.1 } }`. */
  params?: Record<string, ParamOption>;
  /** Globs of files kept from the output folder (default: all). */
  outputs?: string | string[];
  /** One task per item (`item` in expressions): a list, or a template evaluating to one. */
  foreach?: unknown[] | string;
  /** One task per combination (`matrix.NAME`): lists (or templates) by name. */
  matrix?: Record<string, unknown[] | string>;

  /** Controller hook run before each task of the step is submitted (change params, or skip). */
  before?: BeforeHook;
  /** Controller hook run after each task of the step ended (sees status, metrics, outputs). */
  after?: AfterHook;
  /**
   * A failure of this step neither fails the controller run nor stops the steps that need it:
   * for their `needs` conditions it counts as succeeded (ClearML's `continue_on_fail` with
   * `skip_children_on_fail: false`). Its failed tasks stay `failed`, and `after` sees them.
   */
  continueOnFailure?: boolean;
  /**
   * At most this many tasks of the step submitted and not yet ended at once. With 1, each
   * task's `before` runs after the previous task's `after`: what an early stop needs.
   */
  concurrency?: number;
}

/** A node as the definition holds it: the step options without the controller-only keys. */
export type NodeDefinition = Omit<
  StepOptions,
  "before" | "after" | "continueOnFailure" | "concurrency" | "pipeline"
> & {
  pipeline?: string;
  /** Releases: keep files as a new version of a release (runs no command; see docs/pipeline-file.md). */
  release?: { name: string; files: string | string[] };
};

/** A pipeline as the definition holds it. */
export interface PipelineBody {
  /** The pipeline's params. */
  params?: Record<string, ParamOption>;
  /** Its nodes by name, in the order they were added. */
  nodes: Record<string, NodeDefinition>;
  /** Gates: the default `on-error:` of its nodes. */
  "on-error"?: OnErrorOption;
}

/** A whole definition in the `baton.yaml` format, as `POST /runs {definition}` takes it. */
export interface PipelineDefinition {
  /** The file format's version: 1. */
  version: 1;
  /** Settings every step and node starts from. */
  defaults?: TaskSettings;
  /** Pools by name. */
  pools?: Record<string, PoolOptions>;
  /** Reusable steps by name. */
  steps?: Record<string, StepTemplate>;
  /** The pipeline built and every pipeline it nests, by name. */
  pipelines: Record<string, PipelineBody>;
}

// The builder --------------------------------------------------------------------------------------

interface StepEntry {
  options: StepOptions;
  site: CallSite | undefined;
}

/** What {@link Pipeline.validate} returns: the definition and the parsed model of it. */
export interface ValidatedPipeline {
  /** The definition, as `POST /runs {definition}` takes it (a copy: plain JSON). */
  definition: PipelineDefinition;
  /** The model the engine runs (defaults, steps and needs resolved), as `baton.yaml` gives it. */
  project: ProjectSpec;
  /** Every pipeline of the definition by name (this one and the nested ones), as builders. */
  builders: ReadonlyMap<string, Pipeline>;
}

const CONTROLLER_KEYS = ["before", "after", "continueOnFailure", "concurrency"] as const;

/**
 * A pipeline built in code. Each method records a part of the definition and returns the
 * builder, so calls chain; nothing is checked until {@link Pipeline.validate} (which
 * `baton.run` calls), because a step may name steps written after it.
 *
 * ```ts
 * const p = pipeline("sweep")
 *   .params({ lrs: { type: "list", default: [0.1, 0.01] } })
 *   .step("prep", { run: "python prep.py" })
 *   .step("train", { run: "python train.py --lr ${{ item }}", needs: ["prep"], foreach: "${{ params.lrs }}" });
 * ```
 */
export class Pipeline {
  /** The pipeline's name in the definition. */
  readonly name: string;
  private readonly site: CallSite | undefined;
  private paramsEntry: { params: Record<string, ParamOption>; site: CallSite | undefined } | undefined;
  private readonly steps = new Map<string, StepEntry>();
  private readonly duplicates: Array<{
    name: string;
    site: CallSite | undefined;
    first: CallSite | undefined;
  }> = [];
  private readonly pools = new Map<string, { options: PoolOptions; site: CallSite | undefined }>();
  private readonly templates = new Map<string, { template: StepTemplate; site: CallSite | undefined }>();
  private defaultsEntry: { settings: TaskSettings; site: CallSite | undefined } | undefined;
  private onErrorEntry: { value: OnErrorOption; site: CallSite | undefined } | undefined;

  /** Use {@link pipeline}. @internal */
  constructor(name: string, site: CallSite | undefined) {
    this.name = name;
    this.site = site;
  }

  /** Declares the pipeline's params (merged with earlier calls). */
  params(params: Record<string, ParamOption>): this {
    const site = captureCallSite(this.params);
    this.paramsEntry = { params: { ...this.paramsEntry?.params, ...params }, site };
    return this;
  }

  /** Adds a node named `name`: the keys of a `baton.yaml` node, plus controller hooks. */
  step(name: string, options: StepOptions): this {
    const site = captureCallSite(this.step);
    const earlier = this.steps.get(name);
    if (earlier) this.duplicates.push({ name, site, first: earlier.site });
    else this.steps.set(name, { options, site });
    return this;
  }

  /** Declares a pool (`pools:`), e.g. `.pool("gpu", { slots: 1, resources: { gpu: 1 } })`. */
  pool(name: string, options: PoolOptions): this {
    this.pools.set(name, { options, site: captureCallSite(this.pool) });
    return this;
  }

  /** Sets `defaults:`: settings every step and node starts from. */
  defaults(settings: TaskSettings): this {
    this.defaultsEntry = { settings, site: captureCallSite(this.defaults) };
    return this;
  }

  /**
   * Gates: the pipeline's `on-error:`, the default of its nodes (`stop-all` is ClearML's
   * `abort_on_failure`).
   */
  onError(value: OnErrorOption): this {
    this.onErrorEntry = { value, site: captureCallSite(this.onError) };
    return this;
  }

  /** Declares a reusable step (`steps:`), which nodes run with `{ step: name }`. */
  template(name: string, template: StepTemplate): this {
    this.templates.set(name, { template, site: captureCallSite(this.template) });
    return this;
  }

  /** The names of the steps, in the order they were added. */
  get stepNames(): string[] {
    return [...this.steps.keys()];
  }

  /** The options a step was given (hooks included), or undefined. */
  stepOptions(name: string): Readonly<StepOptions> | undefined {
    return this.steps.get(name)?.options;
  }

  /**
   * Whether the pipeline (or a pipeline it nests) has controller options on a step: then
   * `baton.run` executes it step by step from the controller, instead of posting it as one run.
   */
  get isControlled(): boolean {
    return [...this.collect().values()].some((p) =>
      [...p.steps.values()].some((s) => CONTROLLER_KEYS.some((k) => s.options[k] !== undefined)),
    );
  }

  /**
   * The definition, checked by the same rules as `baton.yaml`.
   * @throws BatonError `SPEC_INVALID` listing every problem, each at the builder call that wrote it.
   */
  toDefinition(): PipelineDefinition {
    return this.validate().definition;
  }

  /**
   * Builds and checks the definition, and returns it with the model the engine will run.
   * @throws BatonError `SPEC_INVALID` listing every problem, each at the builder call that wrote it.
   */
  validate(): ValidatedPipeline {
    const builders = this.collect();
    const sites = new SiteIndex(this.site);
    const problems: Problem[] = [];
    const definition: PipelineDefinition = { version: 1, pipelines: {} };
    const defaults = [...builders.values()].find((p) => p.defaultsEntry)?.defaultsEntry;
    if (defaults) {
      definition.defaults = defaults.settings;
      sites.add(["defaults"], defaults.site);
    }
    for (const p of builders.values()) {
      for (const [name, { options, site }] of p.pools) {
        definition.pools = { ...definition.pools, [name]: options };
        sites.add(["pools", name], site);
      }
      for (const [name, { template, site }] of p.templates) {
        definition.steps = { ...definition.steps, [name]: template };
        sites.add(["steps", name], site);
      }
      const body: PipelineBody = { nodes: {} };
      sites.add(["pipelines", p.name], p.site);
      if (p.paramsEntry) {
        body.params = p.paramsEntry.params;
        sites.add(["pipelines", p.name, "params"], p.paramsEntry.site);
      }
      if (p.onErrorEntry) {
        body["on-error"] = p.onErrorEntry.value;
        sites.add(["pipelines", p.name, "on-error"], p.onErrorEntry.site);
      }
      for (const [name, { options, site }] of p.steps) {
        const path = ["pipelines", p.name, "nodes", name];
        sites.add(path, site);
        body.nodes[name] = nodeDefinition(options);
        problems.push(...checkControllerOptions(options, path, site));
      }
      for (const d of p.duplicates) {
        problems.push(
          placed(
            d.site,
            formatPath(["pipelines", p.name, "nodes", d.name]),
            `step "${d.name}" is added twice${d.first ? ` (first at ${formatCallSite(d.first)})` : ""}`,
          ),
        );
      }
      definition.pipelines[p.name] = body;
    }
    problems.push(...this.nameClashes());

    let project: ProjectSpec | undefined;
    try {
      project = parsePipelineDefinition(definition, this.site?.file ?? "pipeline", {
        cpus: os.availableParallelism(),
      });
    } catch (err) {
      if (!(err instanceof BatonError) || err.code !== "SPEC_INVALID") throw err;
      for (const p of err.problems) problems.push(sites.place(p));
    }
    if (problems.length > 0 || !project) {
      sortProblems(problems);
      throw new BatonError("SPEC_INVALID", problems.map(formatProblem).join("\n"), {
        problems,
        context: { pipeline: this.name },
      });
    }
    return { definition: structuredClone(definition), project, builders };
  }

  /** This pipeline and every pipeline its steps nest, by name, this one first. */
  private collect(): Map<string, Pipeline> {
    const out = new Map<string, Pipeline>();
    const visit = (p: Pipeline) => {
      if (out.has(p.name)) return;
      out.set(p.name, p);
      for (const { options } of p.steps.values())
        if (options.pipeline instanceof Pipeline) visit(options.pipeline);
    };
    visit(this);
    return out;
  }

  /** Two different builders under one pipeline name would silently replace each other. */
  private nameClashes(): Problem[] {
    const problems: Problem[] = [];
    const seen = new Map<string, Pipeline>([[this.name, this]]);
    const visit = (p: Pipeline) => {
      for (const { options, site } of p.steps.values()) {
        const child = options.pipeline;
        if (!(child instanceof Pipeline)) continue;
        const known = seen.get(child.name);
        if (known === undefined) {
          seen.set(child.name, child);
          visit(child);
        } else if (known !== child) {
          problems.push(
            placed(
              child.site ?? site,
              formatPath(["pipelines", child.name]),
              `two different pipelines are named "${child.name}"${known.site ? ` (the other one is at ${formatCallSite(known.site)})` : ""}: give them different names`,
            ),
          );
        }
      }
    };
    visit(this);
    return problems;
  }
}

/**
 * Starts building a pipeline. `name` is the pipeline's name in the definition (what runs and
 * `baton ls` show).
 */
export function pipeline(name: string): Pipeline {
  return new Pipeline(name, captureCallSite(pipeline));
}

function nodeDefinition(options: StepOptions): NodeDefinition {
  const { before, after, continueOnFailure, concurrency, pipeline: child, ...rest } = options;
  void before;
  void after;
  void continueOnFailure;
  void concurrency;
  const node: NodeDefinition = { ...rest };
  if (child !== undefined) node.pipeline = child instanceof Pipeline ? child.name : child;
  // Keys set to undefined are not written (the file format has no "undefined").
  for (const key of Object.keys(node) as Array<keyof NodeDefinition>)
    if (node[key] === undefined) delete node[key];
  return node;
}

function checkControllerOptions(options: StepOptions, path: string[], site: CallSite | undefined): Problem[] {
  const problems: Problem[] = [];
  const at = (key: string, message: string) =>
    problems.push(placed(site, formatPath([...path, key]), message));
  for (const key of ["before", "after"] as const) {
    const hook = options[key];
    if (hook !== undefined && typeof hook !== "function")
      at(key, `expected a function, found ${typeof hook}`);
    if (hook !== undefined && options.pipeline !== undefined) {
      at(key, "a `pipeline:` step cannot have hooks: put them on the steps of the child pipeline");
    }
  }
  if (options.continueOnFailure !== undefined && typeof options.continueOnFailure !== "boolean") {
    at("continueOnFailure", "expected true or false");
  }
  const c = options.concurrency;
  if (c !== undefined && (typeof c !== "number" || !Number.isInteger(c) || c < 1)) {
    at("concurrency", `expected a whole number >= 1, found ${JSON.stringify(c)}`);
  }
  return problems;
}

/** By file and position (the order they were written), discovery order otherwise. */
function sortProblems(problems: Problem[]): void {
  const key = (p: Problem) => [p.file ?? "\uffff", p.line ?? Number.MAX_SAFE_INTEGER, p.column ?? 0] as const;
  problems.sort((a, b) => {
    const [fa, la, ca] = key(a);
    const [fb, lb, cb] = key(b);
    return fa !== fb ? (fa < fb ? -1 : 1) : la !== lb ? la - lb : ca - cb;
  });
}

function placed(site: CallSite | undefined, path: string, message: string): Problem {
  const p: Problem = { path, message };
  if (site) Object.assign(p, { file: site.file, line: site.line, column: site.column });
  return p;
}

/** Builder calls by the key path of what they wrote, to place the parser's problems. */
class SiteIndex {
  private readonly entries: Array<{ prefix: string; site: CallSite }> = [];

  constructor(private readonly root: CallSite | undefined) {}

  add(path: Array<string | number>, site: CallSite | undefined): void {
    if (site) this.entries.push({ prefix: formatPath(path), site });
  }

  /** The problem at the call that wrote the longest part of its path (else at `pipeline()`). */
  place(problem: Problem): Problem {
    const path = problem.path ?? "";
    let best: { prefix: string; site: CallSite } | undefined;
    for (const e of this.entries) {
      const within = path === e.prefix || path.startsWith(`${e.prefix}.`) || path.startsWith(`${e.prefix}[`);
      if (within && (!best || e.prefix.length > best.prefix.length)) best = e;
    }
    const site = best?.site ?? this.root;
    const out: Problem = { message: problem.message };
    if (problem.path !== undefined) out.path = problem.path;
    if (site) Object.assign(out, { file: site.file, line: site.line, column: site.column });
    return out;
  }
}

// The builder's types must stay the file format's: these fail to compile on drift.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;
const nodeKeysMatch: SameKeys<NodeDefinition, NodeFile> = true;
const nodeFits = (n: NodeDefinition): NodeFile => n;
const settingsKeysMatch: SameKeys<TaskSettings, SettingsFile> = true;
const settingsFit = (s: TaskSettings): SettingsFile => s;
const templateKeysMatch: SameKeys<StepTemplate, StepFile> = true;
const templateFits = (s: StepTemplate): StepFile => s;
const poolFits = (p: PoolOptions): PoolFile => p;
const paramFits = (p: ParamOption): ParamFile => p;
const definitionFits = (d: PipelineDefinition): ProjectFile => d;
void [nodeKeysMatch, nodeFits, settingsKeysMatch, settingsFit, templateKeysMatch, templateFits];
void [poolFits, paramFits, definitionFits];
