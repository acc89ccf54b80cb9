/**
 * The pipeline model after parsing and resolving `baton.yaml` (docs/pipeline-file.md).
 *
 * Terminology
 * - Project: one `baton.yaml` (or a JSON definition posted to the API).
 * - Step: a reusable task template (`steps:`). Steps are folded into the nodes that use them,
 *   so the engine never looks steps up.
 * - Pipeline: a named graph of nodes (`pipelines:`).
 * - Node: one vertex of a pipeline. A task node runs a command (once, or once per `foreach`
 *   item / `matrix` combination); a pipeline node starts a child run of another pipeline.
 * - Template: a string that may hold `${{ expression }}` parts; kept as written here and
 *   evaluated by the engine when the node becomes ready.
 *
 * Everything here is plain data: JSON-serialisable, no functions, no I/O. Durations are
 * milliseconds; `loc` fields say where a thing was written so that errors can point at it.
 */

/** Where something was written in a pipeline file. Lines and columns count from 1. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** Types a parameter may declare. `list` and `json` values are given as JSON on the command line. */
export type ParamType = "string" | "int" | "float" | "bool" | "list" | "json";

export interface ParamSpec {
  /** The declared type; values given with `-p` or `with:` are checked against it. */
  type: ParamType;
  /** Value used when none is given. A param with no default is required. */
  default?: unknown;
  /** When present, the value must be one of these. */
  choices?: unknown[];
  /** Shown in `baton show`, the web UI launch form and docs. */
  description?: string;
  // Params rendered as Valohai does (`args`, `arg.NAME`):
  /** Smallest allowed value (of a number, or of each item of a list). */
  min?: number;
  /** Largest allowed value (of a number, or of each item of a list). */
  max?: number;
  /** No value needed: unset, the param is left out of `params`, `args` and the environment. */
  optional?: boolean;
  /** `pass-as`: the words `args` renders, `{v}` (or `{value}`) the value and `{name}` the name. */
  passAs?: string;
  /** `pass-true-as` / `pass-false-as` of a bool. */
  passTrueAs?: string;
  passFalseAs?: string;
  /** How a list is rendered: each item with pass-as (`repeat`) or the items joined (`separate`). */
  multiple?: "separate" | "repeat";
  /** What joins the items with `multiple: separate`; default ",". */
  multipleSeparator?: string;
}

/** `success` (Velda `--after-success`), `failure` (`--after-fail`), `always` (`--after`). */
export type NeedCondition = "success" | "failure" | "always";

export interface NeedSpec {
  /** Name of the node needed, in the same pipeline. */
  node: string;
  condition: NeedCondition;
}

export interface RetrySpec {
  /** How many extra attempts after the first failure. 0 means no retry. */
  limit: number;
  /** Wait before the first retry; doubled before each later one. */
  backoffMs: number;
}

export interface CacheSpec {
  /** Whether results may be reused (docs/pipeline-file.md). Failed tasks are never cached. */
  enabled: boolean;
  /** Extra files (paths or globs, relative to the working directory) whose content joins the key. */
  deps: string[];
}

export interface PoolSpec {
  name: string;
  /** How many tasks of this pool run at once. */
  slots: number;
  /** What each task of the pool is given (`{ gpu: 1 }`); part of the cache key. */
  resources: Record<string, number>;
  /** Where the pool's tasks run (default `local`: processes on this machine). */
  executor?: ExecutorKind;
  /** sbatch options of a pool with `executor: slurm`. */
  slurm?: SlurmPoolSpec;
  loc?: SourceLocation;
}

/** The executors a pool may name (`executor:`). */
export type ExecutorKind = "local" | "slurm" | "agent";

/** A Slurm pool's `slurm:` block: sbatch options for each of its tasks. */
export interface SlurmPoolSpec {
  partition?: string;
  account?: string;
  qos?: string;
  /** More sbatch options (`--constraint=a100`), passed as they are. */
  extra?: string[];
  /** Start a fan-out's tasks launched together as one job array (default true). */
  arrays?: boolean;
}

/** A declared input of a step: a name, and where its files come from when no binding is given. */
export interface InputSpec {
  /** Paths or globs relative to the working directory, used when the node binds nothing. */
  default?: string[];
  /** When true, an input that matches no file is empty instead of an error. */
  optional: boolean;
  description?: string;
  /**
   * How bound files are laid out under the input's folder: `none` = basenames, `full` = the whole
   * relative path, `suffix` = the path below the glob's static base. Unset: workdir files by
   * basename, upstream outputs by their path in the output folder.
   */
  keepDirectories?: KeepDirectories;
  /** The single bound file is laid out under this name. */
  filename?: string;
}

export type KeepDirectories = "none" | "full" | "suffix";

/**
 * What a node binds to an input: a template (`"${{ needs.prep.outputs['*.npz'] }}"`) or
 * literal paths/globs relative to the working directory.
 */
export type InputBinding = string | string[];

export type TriggerKind = "cron" | "after" | "webhook";

/** `after:` trigger statuses: `success` (the default), `failure`, `cancelled`, `any`. */
export type AfterStatus = "success" | "failure" | "cancelled" | "any";

export interface TriggerSpec {
  /** Unique in the file; `PIPELINE-KIND-N` when not given (N: its place in the list, from 1). */
  name: string;
  kind: TriggerKind;
  /** Cron expression (five fields, or six with seconds first), e.g. `0 9 * * MON`. */
  cron?: string;
  /** IANA zone the cron expression is read in; undefined: the server's zone. */
  timezone?: string;
  /** Another pipeline's run ending with `status` starts this one. */
  after?: { pipeline: string; status: AfterStatus };
  /** Fired by `POST /api/v1/triggers/NAME/fire`; with a secret, that secret is accepted too. */
  webhook?: { secret?: string };
  /** A fire while the trigger's previous run still runs: skipped (default), queued (one), or started. */
  overlap: "skip" | "queue" | "allow";
  /** Fires missed while no server ran: the latest one fired once (default), or none. */
  catchup: "latest" | "none";
  /** Param overrides for runs started by this trigger. */
  with: Record<string, unknown>;
  loc?: SourceLocation;
}

export type NotifyEvent = "success" | "failure" | "cancelled" | "approval";

/** A `notify:` entry: a webhook or an e-mail, sent on the events `on`. */
export interface NotifySpec {
  on: NotifyEvent[];
  /** URL that receives a POST (may be a `${{ env.X }}` template, evaluated when sent). */
  webhook?: string;
  /** Template or literal: signs the webhook's body (HMAC-SHA256). */
  secret?: string;
  /** `slack`: a Slack incoming-webhook payload instead of Baton's JSON. */
  format?: "json" | "slack";
  /** Addresses that get an e-mail through the sending engine's SMTP configuration. */
  email?: string[];
  loc?: SourceLocation;
}

// On error, actions, approval (gates) ---------------------------------------------------------

/**
 * What a task's failure (after its retries) does to the run: `stop-next` (default: nodes that
 * need it under `success` are skipped), `stop-all` (every other unfinished task is cancelled),
 * `continue` (dependents run as if it succeeded; the run does not fail for it), `retry` (one
 * more attempt when `retries` is 0, then as `stop-all`).
 */
export type OnError = "stop-all" | "stop-next" | "continue" | "retry";

export type ActionWhen = "node-starting" | "node-complete" | "node-error";
export type ActionThen = "stop-pipeline" | "require-approval";

/** `actions:` entry: when the moment comes and every `if` holds, do every `then`. */
export interface ActionSpec {
  when: ActionWhen[];
  /** Templates (`${{ }}`), all of which must be truthy; empty: always. */
  if: string[];
  then: ActionThen[];
}

/** Settings a step or node may give, falling back to `defaults:` and then to built-in defaults. */
export interface TaskSettings {
  pool: string;
  retries: RetrySpec;
  /** Kill the task after this long. Undefined means no limit. */
  timeoutMs?: number;
  cache: CacheSpec;
  /** Higher runs first when tasks wait for the same pool. */
  priority: number;
  /** Extra environment variables for the task (values may be templates). Part of the cache key. */
  env: Record<string, string>;
  /** Stop the task when its log gets no new bytes for this long; `text` as written (`10m`). */
  noOutputTimeout?: { ms: number; text: string };
  /** Container image the task is meant for (recorded and shown; the local executor runs on the host). */
  image?: string;
  /** `valohai`: the task also gets Valohai's environment, config files and stdout metrics. */
  compat?: "valohai";
  /** `on-error:` as written on this part (defaults, step, node); a node's is resolved (see {@link OnError}). */
  onError?: OnError;
}

export interface DefaultsSpec extends TaskSettings {}

export interface StepSpec extends TaskSettings {
  name: string;
  /** Shell command (run by `bash -eo pipefail -c`), a template. */
  run: string;
  inputs: Record<string, InputSpec>;
  params: Record<string, ParamSpec>;
  /** Globs of files kept from the output folder. Empty means everything. */
  outputs: string[];
  /** Gates: `approval:` of the step (see {@link TaskNodeSpec.approval}). */
  approval?: string;
  /** Gates: `actions:` of the step. */
  actions?: ActionSpec[];
  loc: SourceLocation;
}

interface NodeBase {
  name: string;
  /** Nodes that must finish first, with the condition under which this node runs. */
  needs: NeedSpec[];
  /** Template that must evaluate truthy for the node to run; otherwise it is skipped. */
  if?: string;
  /** Param values (templates allowed) overriding the step's or child pipeline's defaults. */
  with: Record<string, unknown>;
  loc: SourceLocation;
  /** Key path of the node in its file, e.g. `pipelines.train-eval.nodes.train`. */
  path: string;
}

export interface TaskNodeSpec extends NodeBase, TaskSettings {
  kind: "task";
  /** The step this node was made from, if any (for display; its keys are already folded in). */
  step?: string;
  run: string;
  /** Declared inputs (from the step, or implied by the node's bindings). */
  inputs: Record<string, InputSpec>;
  /** What the node binds to its inputs; unbound inputs use their `default`. */
  bindings: Record<string, InputBinding>;
  params: Record<string, ParamSpec>;
  outputs: string[];
  /** A list, or a template evaluating to a list: one task per item (`item` in expressions). */
  foreach?: unknown;
  /** Map of name -> list (or template): one task per combination (`matrix.NAME`). */
  matrix?: Record<string, unknown>;
  /** Gates: `approval:` (its message; "" when `approval: true`), absent when none. */
  approval?: string;
  /** Gates: `actions:` of the node (or its step's). */
  actions?: ActionSpec[];
  /**
   * Releases: set on a `release:` node, which runs no command. Its one input `files` (bound
   * to the `files:` template) is kept as release `name`, a new version each time it runs.
   */
  release?: ReleaseSpec;
}

/** Releases: what a `release: { name, files }` node keeps (the files are its `files` input). */
export interface ReleaseSpec {
  name: string;
}

export interface PipelineNodeSpec extends NodeBase {
  kind: "pipeline";
  /** Name of the pipeline this node runs as a child run. */
  pipeline: string;
}

export type NodeSpec = TaskNodeSpec | PipelineNodeSpec;

export interface PipelineSpec {
  name: string;
  params: Record<string, ParamSpec>;
  /** Nodes in the order they were written. */
  nodes: Record<string, NodeSpec>;
  triggers: TriggerSpec[];
  notify: NotifySpec[];
  /** Gates: the pipeline's `on-error:`, the default of its nodes (over `defaults:`). */
  onError?: OnError;
  loc: SourceLocation;
}

export interface ProjectSpec {
  /** Path of the file this came from, as given (used in messages). */
  file: string;
  version: 1;
  defaults: DefaultsSpec;
  pools: Record<string, PoolSpec>;
  steps: Record<string, StepSpec>;
  pipelines: Record<string, PipelineSpec>;
}
