/**
 * Drafts: the resolved model of `types.ts` plus what validation needs to know about where
 * each part came from (key paths of templates, needs and params), so that `validate.ts` can
 * point at what the user wrote.
 */
import type { SourceMap } from "./locate.js";
import type { Path, ProblemList } from "./problems.js";
import type { NodeFile } from "./schema.js";
import type { TemplateCache } from "./templates.js";
import type {
  DefaultsSpec,
  NeedSpec,
  NodeSpec,
  ParamSpec,
  PipelineSpec,
  PoolSpec,
  SourceLocation,
  StepSpec,
} from "./types.js";

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
  | "child"
  /** Gates: `if:` of an `actions:` entry: the task's params, its metrics, needs, run, task, env. */
  | "action";

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

/** A need of a node, with where it was written. */
export interface NeedEntry extends NeedSpec {
  /** Where the need was written (an entry of `needs:`, or an edge). */
  path: Path;
  at: "key" | "value";
  /** The `needs:` key of the node (or the edge), shown in messages about the whole list. */
  field: Path;
}

/** A node: its resolved spec (when it could be resolved) and where its parts came from. */
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
  unknownParams: ReadonlySet<string>;
  /** Pipeline started by a pipeline node, and where it was named. */
  child?: { name: string; path: Path };
  /** Step used by a task node. */
  step?: string;
}

/** A pipeline: its resolved spec and its node drafts, in file order. */
export interface PipelineDraft {
  name: string;
  path: Path;
  spec: PipelineSpec;
  nodes: Map<string, NodeDraft>;
  unknownParams: ReadonlySet<string>;
}

/** A step: its resolved spec (defaults folded in) and where its templates and env came from. */
export interface StepDraft {
  name: string;
  path: Path;
  spec: StepSpec | undefined;
  /** False when a problem in the step could make its templates' checks misleading. */
  checkTemplates: boolean;
  unknownParams: ReadonlySet<string>;
  sites: Site[];
  envOrigin: Record<string, Path>;
}

/** A whole file, resolved as far as its problems allow. */
export interface ProjectDraft {
  defaults: DefaultsSpec;
  defaultsEnvOrigin: Record<string, Path>;
  defaultsSites: Site[];
  pools: Record<string, PoolSpec>;
  steps: Map<string, StepDraft>;
  pipelines: Map<string, PipelineDraft>;
}

/** A node as written, before resolution: its keys, and where each key was written. */
export interface RawNode {
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

/** Declared params, and the names whose declaration was broken (any use of them is accepted). */
export interface ParamDecls {
  params: Record<string, ParamSpec>;
  unknown: ReadonlySet<string>;
}

/** What resolution needs at hand: where the file came from, and where problems go. */
export interface ResolveContext {
  file: string;
  cpus: number;
  source: SourceMap;
  problems: ProblemList;
  templates: TemplateCache;
}

/** A template site; see {@link Site}. */
export function site(
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

/** Where `path` was written, as a model `loc` (line and column 0 when there is no source). */
export function locate(ctx: ResolveContext, path: Path, at: "key" | "value" = "key"): SourceLocation {
  const pos = ctx.source.position(path, at);
  return { file: ctx.file, line: pos?.line ?? 0, column: pos?.column ?? 0 };
}

/** The value as a plain object, or undefined for anything else (lists included). */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** A glob or list of globs, as a list. */
export function globs(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : [...value];
}
