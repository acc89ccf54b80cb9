/**
 * The shape of `baton.yaml` as written (docs/pipeline-file.md), as zod schemas: the first validation pass.
 * Names, references between parts and expressions are checked afterwards by `validate.ts`.
 *
 * The server turns these into OpenAPI with `z.toJSONSchema`, and the SDK reuses them for
 * pipeline definitions, so every object is strict (unknown keys are errors) and shorthands
 * are unions told apart by their JSON type.
 */
import * as z from "zod";
import { checkCron } from "./cron.js";
import { DURATION_HINT, parseDuration } from "./duration.js";
import { describeValue } from "./problems.js";

/**
 * A schema built on first use: building them all costs tens of milliseconds that a command
 * reading a plain file (checked by hand, see fast-shape.ts) never needs to spend.
 */
function lazy<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
}

// Shared pieces -------------------------------------------------------------------------------

/** A duration: `500ms`, `10s`, `1m30s`, `2h`, `1d`, or a number of seconds. */
export const DurationSchema = lazy(() =>
  z
    .union([z.string(), z.number()], { error: "expected a duration (e.g. 500ms, 10s, 1m30s, 2h, 1d)" })
    .superRefine((value, ctx) => {
      if (parseDuration(value) === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `invalid duration ${describeValue(value)} (${DURATION_HINT})`,
        });
      }
    })
    .describe("A duration: 500ms, 10s, 1m30s, 2h, 1d, or a number of seconds."),
);

/** The types a param may declare. */
export const ParamTypeSchema = lazy(() => z.enum(["string", "int", "float", "bool", "list", "json"]));

/** A full param declaration: `lr: { type: float, default: 0.001 }`. */
export const ParamDeclarationSchema = lazy(() =>
  z.strictObject({
    type: ParamTypeSchema().optional().describe("Defaults to the type of `default`, else string."),
    default: z
      .unknown()
      .optional()
      .describe("Value used when none is given; without it the param is required."),
    choices: z.array(z.unknown()).optional().describe("When present, the value must be one of these."),
    description: z.string().optional(),
    // Params rendered as Valohai does (`${{ args }}`, `${{ arg.NAME }}`): bounds, optional, pass-as.
    min: z.number().optional().describe("Smallest value (int and float, and each item of a list)."),
    max: z.number().optional().describe("Largest value (int and float, and each item of a list)."),
    optional: z.boolean().optional().describe("No value needed: unset, the param is left out."),
    "pass-as": z
      .string()
      .optional()
      .describe("How `args` renders the param: `--lr={v}` (the default is `--NAME={v}`)."),
    "pass-true-as": z.string().optional().describe("How `args` renders a bool that is true."),
    "pass-false-as": z.string().optional().describe("How `args` renders a bool that is false."),
    multiple: z
      .enum(["separate", "repeat"])
      .optional()
      .describe("How `args` renders a list: one word per item (`repeat`) or one joined value (`separate`)."),
    "multiple-separator": z
      .string()
      .optional()
      .describe('What joins the items with `multiple: separate` (",").'),
  }),
);

/**
 * A param: a declaration, a bare default whose type is inferred (`lr: 0.1`, `lrs: [1, 2]`),
 * or nothing (`name:`, a required string).
 */
export const ParamSchema = lazy(() =>
  z.union([ParamDeclarationSchema(), z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.null()], {
    error: "expected a param declaration ({ type, default, choices, description }) or a default value",
  }),
);

/** Params by name. */
export const ParamsSchema = lazy(() => z.record(z.string(), ParamSchema()).nullish());

/** `with:` values by param name (templates allowed). */
export const WithSchema = lazy(() => z.record(z.string(), z.unknown()).nullish());

/** Extra environment variables (values may be templates). */
export const EnvSchema = lazy(() =>
  z
    .record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean()], { error: "expected a string (an environment value)" }),
    )
    .nullish(),
);

/** `retries: 2` or `retries: { limit: 2, backoff: 10s }` (backoff doubles before each later retry). */
export const RetriesSchema = lazy(() =>
  z.union(
    [
      z.number().int().min(0),
      z.strictObject({ limit: z.number().int().min(0).optional(), backoff: DurationSchema().optional() }),
    ],
    { error: "expected a number of retries or { limit, backoff }" },
  ),
);

/** `cache: false`, or `cache: { deps: [files] }` (extra files whose content joins the key). */
export const CacheSchema = lazy(() =>
  z.union(
    [z.boolean(), z.strictObject({ enabled: z.boolean().optional(), deps: z.array(z.string()).optional() })],
    { error: "expected true, false or { enabled, deps }" },
  ),
);

/** A glob or a list of globs. */
export const GlobsSchema = lazy(() =>
  z.union([z.string(), z.array(z.string())], {
    error: "expected a path or glob, or a list of them",
  }),
);

// Gates: on error, actions, approval.

/** `on-error:` — what a task's failure does to the run. */
export const OnErrorSchema = lazy(() =>
  z
    .enum(["stop-all", "stop-next", "continue", "retry"], {
      error: "expected stop-all, stop-next, continue or retry",
    })
    .describe("What a failed task does to the run (default stop-next)."),
);

/** `approval: true` or `approval: "message"`: the task waits for `baton approve` before it starts. */
export const ApprovalSchema = lazy(() =>
  z
    .union([z.boolean(), z.string()], { error: "expected true, false or a message" })
    .describe("Wait for approval before the task starts (a message shown with it)."),
);

const ActionWhenSchema = lazy(() =>
  z.enum(["node-starting", "node-complete", "node-error"], {
    error: "expected node-starting, node-complete or node-error",
  }),
);
const ActionThenSchema = lazy(() =>
  z.enum(["stop-pipeline", "require-approval"], {
    error: "expected stop-pipeline or require-approval",
  }),
);

/** `actions:` entry: `{ when, if, then }`. */
export const ActionSchema = lazy(() =>
  z.strictObject({
    when: z.union([ActionWhenSchema(), z.array(ActionWhenSchema()).min(1)], {
      error: "expected node-starting, node-complete or node-error, or a list of them",
    }),
    if: z
      .union([z.string(), z.array(z.string())], { error: "expected a ${{ }} expression or a list of them" })
      .optional(),
    // biome-ignore lint/suspicious/noThenProperty: the file format's key, as Valohai spells it.
    then: z.union([ActionThenSchema(), z.array(ActionThenSchema()).min(1)], {
      error: "expected stop-pipeline or require-approval, or a list of them",
    }),
  }),
);

/** Gates: keys of steps and nodes. */
const gateShape = lazy(() => ({
  approval: ApprovalSchema().optional(),
  actions: z
    .array(ActionSchema())
    .optional()
    .describe("What to do when the node starts, completes or fails."),
}));

/** Settings shared by `defaults:`, steps and nodes. */
const settingsShape = lazy(() => ({
  pool: z.string().optional().describe("Pool the task runs in."),
  retries: RetriesSchema().optional(),
  timeout: z
    .union([DurationSchema(), z.null()])
    .optional()
    .describe("Kill the task after this long; null: no limit."),
  cache: CacheSchema().optional(),
  priority: z.number().int().optional().describe("Higher runs first among tasks waiting for the same pool."),
  env: EnvSchema(),
  // Task I/O (Valohai): stop a silent task, record its image, Valohai's environment.
  "no-output-timeout": z
    .union([DurationSchema(), z.null()])
    .optional()
    .describe("Stop the task when its log gets no new bytes for this long (like a timeout); null: never."),
  image: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Container image the task is meant for: recorded and shown (the local executor runs on the host).",
    ),
  compat: z
    .enum(["valohai"])
    .optional()
    .describe("valohai: the task also gets Valohai's environment, config files and stdout metrics."),
  // Gates: on error.
  "on-error": OnErrorSchema().optional(),
}));

// Top-level parts -----------------------------------------------------------------------------

/** `defaults:` — settings every step and node starts from, and the pipelines' default `notify:`. */
export const DefaultsSchema = lazy(() =>
  z.strictObject({
    ...settingsShape(),
    notify: z
      .array(z.unknown())
      .nullish()
      .describe("Notifications of every pipeline that has no notify: of its own."),
  }),
);

/** A pool: `gpu: { slots: 1, resources: { gpu: 1 } }`. */
export const PoolSchema = lazy(() =>
  z.strictObject({
    slots: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("Tasks of this pool that run at once (local: CPUs, else 1)."),
    resources: z
      .record(z.string(), z.number())
      .nullish()
      .describe("What each task is given; part of the cache key."),
    executor: z
      .enum(["local", "slurm", "agent"])
      .optional()
      .describe(
        "Where the pool's tasks run: local (processes on this machine, the default), slurm, or agent (remote agents of the pool, `baton agent`).",
      ),
    slurm: z
      .strictObject({
        partition: z.string().min(1).optional().describe("sbatch --partition."),
        account: z.string().min(1).optional().describe("sbatch --account."),
        qos: z.string().min(1).optional().describe("sbatch --qos."),
        extra: z.array(z.string()).optional().describe("More sbatch options, passed as they are."),
        arrays: z
          .boolean()
          .optional()
          .describe("Start a fan-out's tasks launched together as one job array (default true)."),
      })
      .optional()
      .describe("sbatch options of a pool with `executor: slurm`."),
  }),
);

/** A declared input of a step: `{ default, optional, description }`, a default glob or list, or nothing. */
export const InputDeclarationSchema = lazy(() =>
  z.union(
    [
      z.strictObject({
        default: GlobsSchema().optional(),
        optional: z.boolean().optional(),
        description: z.string().optional(),
        // Task I/O (Valohai): how bound files are laid out under the input's folder.
        "keep-directories": z
          .enum(["none", "full", "suffix"])
          .optional()
          .describe(
            "none: basenames; full: the whole relative path; suffix: the path below the glob's static base.",
          ),
        filename: z.string().min(1).optional().describe("Name the single bound file is laid out under."),
      }),
      z.null(),
      z.string(),
      z.array(z.string()),
    ],
    {
      error:
        "expected an input declaration ({ default, optional, description, keep-directories, filename }) or a default glob",
    },
  ),
);

/** A reusable task template (`steps:`). */
export const StepSchema = lazy(() =>
  z.strictObject({
    run: z.string().describe("Shell command (bash -eo pipefail -c); a template."),
    inputs: z.record(z.string(), InputDeclarationSchema()).nullish(),
    params: ParamsSchema(),
    outputs: GlobsSchema().optional().describe("Globs of files kept from the output folder (default: all)."),
    ...settingsShape(),
    ...gateShape(),
  }),
);

/** When a node runs after one it needs: `success`, `failure` or `always`. */
export const NeedConditionSchema = lazy(() => z.enum(["success", "failure", "always"]));

/** `needs:` — a node name, a list of names (all `success`), or a map name -> condition. */
export const NeedsSchema = lazy(() =>
  z.union([z.string(), z.array(z.string()), z.record(z.string(), NeedConditionSchema())], {
    error: "expected a node name, a list of node names, or a map of node name to success, failure or always",
  }),
);

const listOrTemplate = () =>
  z.union([z.array(z.unknown()), z.string()], { error: "expected a list or a ${{ }} expression" });

/** The keys of a node, shared by the map form, the Valohai list form and `override:`. */
const nodeBodyShape = lazy(() => ({
  needs: NeedsSchema().optional(),
  if: z.union([z.string(), z.boolean()], { error: "expected a ${{ }} expression" }).optional(),
  with: WithSchema().describe("Param values (templates allowed)."),
  inputs: z
    .record(
      z.string(),
      z.union([z.string(), z.array(z.string())], {
        error: "expected a path or glob, a list of them, or a ${{ }} expression",
      }),
    )
    .nullish()
    .describe("Input bindings: a template or literal globs per input."),
  params: ParamsSchema(),
  outputs: GlobsSchema().optional(),
  foreach: listOrTemplate().optional().describe("One task per item (`item` in expressions)."),
  matrix: z
    .record(z.string(), listOrTemplate())
    .optional()
    .describe("One task per combination (`matrix.NAME`)."),
  ...settingsShape(),
  ...gateShape(),
}));

/** Releases: `release: { name, files }` — keep the selected files as a new version of release NAME. */
export const ReleaseSchema = lazy(() =>
  z.strictObject({
    name: z.string().describe("Name of the release; each run of the node adds a version."),
    files: GlobsSchema().describe("Files kept: a template (`${{ needs.train.outputs['*.pt'] }}`) or globs."),
  }),
);

const nodeKindShape = lazy(() => ({
  run: z.string().optional().describe("Inline command (a template)."),
  step: z.string().optional().describe("Name of the step this node runs."),
  pipeline: z.string().optional().describe("Name of the pipeline this node starts as a child run."),
  // Releases: a node that runs no command and keeps files as a release version.
  release: ReleaseSchema().optional().describe("Keep files as a new version of a release (runs no command)."),
}));

/** A node in the map form: `nodes: { train: { step: train, needs: [prep] } }`. */
export const NodeSchema = lazy(() => z.strictObject({ ...nodeKindShape(), ...nodeBodyShape() }));

/** `override:` of a Valohai-form node: any node key but `run`, `step` and `pipeline`. */
export const NodeOverrideSchema = lazy(() => z.strictObject(nodeBodyShape()));

/** A node in the Valohai list form: `nodes: [{ name: train, step: train, override: {...} }]`. */
export const ListNodeSchema = lazy(() =>
  z.strictObject({
    name: z.string(),
    ...nodeKindShape(),
    ...nodeBodyShape(),
    override: NodeOverrideSchema().optional(),
  }),
);

/**
 * A Valohai edge: `[a.output.GLOB, b.input.NAME]`, `[a.parameter.p, b.parameter.q]`,
 * `[a.metadata.m, b.parameter.q]`, or the same as `{ source, target }`.
 */
export const EdgeSchema = lazy(() =>
  z.union([z.tuple([z.string(), z.string()]), z.strictObject({ source: z.string(), target: z.string() })], {
    error: 'expected [SOURCE, TARGET] or { source, target } (e.g. ["prep.output.*.npz", "train.input.data"])',
  }),
);

/** A cron expression (five fields, or six with seconds first), checked for syntax. */
export const CronSchema = lazy(() =>
  z.string().superRefine((value, ctx) => {
    const problem = checkCron(value);
    if (problem !== undefined)
      ctx.addIssue({ code: "custom", message: `invalid cron "${value}": ${problem}` });
  }),
);

/** `triggers:` entry: start the pipeline on a schedule, after another run, or from a webhook. */
export const TriggerSchema = lazy(() =>
  z.strictObject({
    name: z.string().optional(),
    cron: CronSchema().optional(),
    after: z
      .strictObject({
        pipeline: z.string(),
        status: z.enum(["success", "failure", "cancelled", "any"]).optional(),
      })
      .optional(),
    webhook: z.union([z.literal(true), z.strictObject({ secret: z.string().min(1) })]).optional(),
    with: WithSchema(),
    timezone: z.string().optional(),
    overlap: z.enum(["skip", "queue", "allow"]).optional(),
    catchup: z.enum(["latest", "none"]).optional(),
  }),
);

/** What is wrong with a webhook URL (it must be an http(s) URL), or undefined. */
export function checkWebhook(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `invalid URL "${url}"`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `webhook "${url}" must be an http:// or https:// URL`;
  }
  return undefined;
}

/** A plain e-mail address (`name@host`); no display names. */
const EMAIL_ADDRESS = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+$/;

/** Events a notification can be sent on: the run's end, and a task waiting for approval. */
export const NotifyEventSchema = lazy(() => z.enum(["success", "failure", "cancelled", "approval"]));

/**
 * `notify:` entry (pipeline level or `defaults:`): a webhook (JSON, or Slack's payload with
 * `format: slack`, signed with `secret`) or e-mail to a list of addresses, sent on the events `on`.
 */
export const NotifySchema = lazy(() =>
  z
    .strictObject({
      on: z
        // Each event is checked by spec/notify.ts, which names the one that is unknown.
        .union([z.string(), z.array(z.string())], {
          error: "expected success, failure, cancelled or approval, or a list of them",
        })
        .optional()
        .describe("Events that notify (default: all)."),
      webhook: z
        .string()
        .superRefine((value, ctx) => {
          // A template (`${{ env.SLACK_URL }}`) is checked when it is sent.
          if (value.includes("${{")) return;
          const problem = checkWebhook(value);
          if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
        })
        .optional()
        .describe("URL that receives a POST (http or https)."),
      secret: z
        .string()
        .min(1)
        .optional()
        .describe(
          "Signs the webhook's body: X-Baton-Signature: sha256=HMAC-SHA256 (e.g. ${{ env.HOOK_SECRET }}).",
        ),
      format: z
        .enum(["json", "slack"], { error: "expected json or slack" })
        .optional()
        .describe("json (default): Baton's body; slack: a Slack incoming-webhook payload."),
      email: z
        .array(
          z.string().regex(EMAIL_ADDRESS, {
            error: (i) => `expected an e-mail address, found ${JSON.stringify(i.input)}`,
          }),
          { error: "expected a list of e-mail addresses" },
        )
        .min(1, { error: "expected a list of e-mail addresses" })
        .optional()
        .describe("Addresses that get an e-mail (through the server's SMTP configuration)."),
    })
    .superRefine((n, ctx) => {
      if ((n.webhook === undefined) === (n.email === undefined)) {
        ctx.addIssue({ code: "custom", message: "a notify entry needs exactly one of webhook or email" });
      } else if (n.email !== undefined && (n.secret !== undefined || n.format !== undefined)) {
        ctx.addIssue({
          code: "custom",
          message: `${n.secret !== undefined ? "secret" : "format"} is for webhooks, not email`,
        });
      }
    }),
);

/** A pipeline: params, nodes (map form, or Valohai list form with `edges:`), triggers, notify. */
export const PipelineSchema = lazy(() =>
  z.strictObject({
    params: ParamsSchema(),
    nodes: z.union([z.record(z.string(), NodeSchema()), z.array(ListNodeSchema())], {
      error: "expected a map of node name to node, or a list of { name, step, override } (Valohai form)",
    }),
    edges: z.array(EdgeSchema()).nullish(),
    triggers: z.array(TriggerSchema()).nullish(),
    notify: z.array(NotifySchema()).nullish(),
    // Gates: the default `on-error:` of the pipeline's nodes.
    "on-error": OnErrorSchema().optional(),
  }),
);

/** A whole `baton.yaml`, or a JSON pipeline definition of the same shape. */
export const ProjectFileSchema = lazy(() =>
  z.strictObject({
    version: z.literal(1),
    defaults: DefaultsSchema().nullish(),
    pools: z.record(z.string(), PoolSchema()).nullish(),
    steps: z.record(z.string(), StepSchema()).nullish(),
    pipelines: z.record(z.string(), PipelineSchema()).nullish(),
  }),
);

/**
 * The top level with its parts left unchecked, so that each step, pool and pipeline can be
 * checked on its own and a problem in one does not hide problems in the others.
 * @internal
 */
export const ProjectShellSchema = lazy(() =>
  ProjectFileSchema().extend({
    defaults: z.unknown().optional(),
    pools: z.record(z.string(), z.unknown()).nullish(),
    steps: z.record(z.string(), z.unknown()).nullish(),
    pipelines: z.record(z.string(), z.unknown()).nullish(),
  }),
);

/** A pipeline with its parts left unchecked (see {@link ProjectShellSchema()}). @internal */
export const PipelineShellSchema = lazy(() =>
  PipelineSchema().extend({
    params: z.record(z.string(), z.unknown()).nullish(),
    nodes: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())], {
      error: "expected a map of node name to node, or a list of { name, step, override } (Valohai form)",
    }),
    edges: z.array(z.unknown()).nullish(),
    triggers: z.array(z.unknown()).nullish(),
    notify: z.array(z.unknown()).nullish(),
  }),
);

/** Types of the file as written (before resolution), one per schema. */
export type ProjectFile = z.infer<ReturnType<typeof ProjectFileSchema>>;
export type DefaultsFile = z.infer<ReturnType<typeof DefaultsSchema>>;
export type PoolFile = z.infer<ReturnType<typeof PoolSchema>>;
export type StepFile = z.infer<ReturnType<typeof StepSchema>>;
export type ParamFile = z.infer<ReturnType<typeof ParamSchema>>;
export type InputDeclarationFile = z.infer<ReturnType<typeof InputDeclarationSchema>>;
export type NodeFile = z.infer<ReturnType<typeof NodeSchema>>;
export type NodeOverrideFile = z.infer<ReturnType<typeof NodeOverrideSchema>>;
export type ListNodeFile = z.infer<ReturnType<typeof ListNodeSchema>>;
export type EdgeFile = z.infer<ReturnType<typeof EdgeSchema>>;
export type TriggerFile = z.infer<ReturnType<typeof TriggerSchema>>;
export type NotifyFile = z.infer<ReturnType<typeof NotifySchema>>;
export type ReleaseFile = z.infer<ReturnType<typeof ReleaseSchema>>;
export type PipelineFile = z.infer<ReturnType<typeof PipelineSchema>>;
export type ActionFile = z.infer<ReturnType<typeof ActionSchema>>;
/** Settings any of `defaults:`, a step or a node may give. */
export type SettingsFile = Pick<DefaultsFile, keyof ReturnType<typeof settingsShape>>;
