/**
 * The request shapes of the API, as zod schemas: each is defined once here, and both the
 * request validation (`route.ts`) and the OpenAPI document (`openapi.ts`) are derived from it.
 * Response shapes are described here too, for the document and for the clients that read it.
 *
 * Bodies are strict (an unknown key is a 400 naming it, with a did-you-mean); query strings are
 * not, because `?token=` may ride along on any route.
 */
import * as z from "zod";
import type { CacheExplanation } from "../engine/cache-explanation.js";
import type { SubmitRequest } from "../engine/engine.js";
import type { TaskView } from "../engine/task-view.js";
import { MAX_BATCH_TASKS } from "../spec/each.js";
import { MAX_NAME_LENGTH, NAME_PATTERN, NAME_RULE } from "../spec/problems.js";
import { RUN_STATUSES, TASK_STATUSES } from "../store/store.js";

export const TaskStatusSchema = z.enum(TASK_STATUSES);
export const RunStatusSchema = z.enum(RUN_STATUSES);

/** A name of a pipeline, param or node (`Train model (MNIST)`): see NAME_PATTERN. */
export const NameSchema = z
  .string()
  .max(MAX_NAME_LENGTH)
  .regex(NAME_PATTERN, `expected a name of ${NAME_RULE}`);

/** Param values by name, as JSON (a `list` param takes a JSON array, not text). */
export const ParamValuesSchema = z
  .record(z.string(), z.unknown())
  .describe("Param values by name, as JSON values of the declared types.");

/**
 * A pipeline definition: the structure of `baton.yaml` as JSON. Here it only has to be an object:
 * `parsePipelineDefinition` checks it against `ProjectFileSchema` and the semantic rules, and
 * reports every problem with its key path. The OpenAPI document shows `ProjectFileSchema` for it.
 */
export const DefinitionSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "A whole pipeline definition in the baton.yaml format (version, defaults, pools, steps, pipelines).",
  );

// Bodies ---------------------------------------------------------------------------------------

/** What a controller (the SDK) asks of one step of a run it hooks into. */
const StepHookSchema = z.strictObject({
  before: z.boolean().optional().describe("Hold each task for the controller's `before` answer."),
  after: z.boolean().optional().describe("Hold each ended task for the controller's `after` answer."),
  continueOnFailure: z
    .boolean()
    .optional()
    .describe("A failure of the step counts as success for what needs it and for the run."),
  concurrency: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("At most this many tasks of the step between prepared and after released."),
});

const StepHooksSchema = z.record(z.string(), StepHookSchema);

/** `POST /runs` `controller`: hooks a controller process answers (`GET/POST /runs/:id/holds`). */
export const ControllerSchema = z
  .strictObject({
    key: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe("An older name of the body's `resumeKey` (give one of them, or the same value)."),
    steps: StepHooksSchema.describe("Steps of the pipeline, by name."),
    pipelines: z
      .record(z.string(), StepHooksSchema)
      .optional()
      .describe("Steps of nested pipelines, by pipeline name then step name."),
  })
  .describe("Steps whose tasks wait for a controller process (the SDK's hooks).");

/** `POST /runs`. */
export const StartRunBodySchema = z
  .strictObject({
    pipeline: z
      .string()
      .min(1)
      .max(MAX_NAME_LENGTH)
      .optional()
      .describe(
        "A pipeline of the server's baton.yaml or a registered one; with `definition`, the pipeline of the definition to run (may be left out when it has one).",
      ),
    definition: DefinitionSchema.optional(),
    params: ParamValuesSchema.optional(),
    targets: z
      .array(z.string())
      .optional()
      .describe("Run only these nodes and what they need (`baton run --target`)."),
    from: z
      .array(z.string())
      .optional()
      .describe("Rerun these nodes and everything downstream, reusing earlier results (`--from`)."),
    noCache: z.boolean().optional().describe("Do not reuse cached results."),
    controller: ControllerSchema.optional(),
    resumeKey: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Re-attach: a second POST with a key used before for the same pipeline returns that run (resumed first if its engine died) instead of starting one. Without it, every POST starts a new run.",
      ),
  })
  .superRefine((body, ctx) => {
    const controllerKey = body.controller?.key;
    if (body.resumeKey !== undefined && controllerKey !== undefined && controllerKey !== body.resumeKey) {
      ctx.addIssue({
        code: "custom",
        path: ["controller", "key"],
        message: `differs from resumeKey "${body.resumeKey}": give one of them (controller.key is an older name of resumeKey)`,
      });
    }
    if (body.pipeline === undefined && body.definition === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'give "pipeline" (the name of a pipeline) or "definition" (a whole pipeline definition)',
      });
    }
  });

/** `POST /runs/:id/retry`. */
export const RetryBodySchema = z.strictObject({
  failedOnly: z
    .boolean()
    .optional()
    .describe("Only failed, skipped and cancelled tasks get new attempts; successes are kept."),
});

const stringMap = z.record(z.string(), z.string());

/** `POST /tasks`: the fields of the engine's SubmitRequest. */
export const SubmitBodySchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(MAX_NAME_LENGTH)
    .optional()
    .describe("Display name; what siblings name in `after*`."),
  command: z.string().min(1).describe("Shell command, run by bash -eo pipefail -c."),
  pool: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
  afterSuccess: z.array(z.string()).optional().describe("Sibling names or task ids that must succeed first."),
  afterFail: z.array(z.string()).optional().describe("Sibling names or task ids that must fail first."),
  after: z.array(z.string()).optional().describe("Sibling names or task ids that must end first."),
  env: stringMap.optional(),
  params: ParamValuesSchema.optional().describe("Params the task sees as BATON_PARAM_<NAME>."),
  labels: stringMap.optional(),
  priority: z.number().int().optional(),
  shards: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .optional()
    .describe("Start this many copies with BATON_SHARD_ID / BATON_TOTAL_SHARDS."),
  retries: z.number().int().min(0).optional(),
  timeoutMs: z.number().int().min(1).optional(),
  parentTaskId: z
    .string()
    .optional()
    .describe("The submitting task (BATON_TASK_ID), which becomes the parent."),
  cwd: z.string().optional().describe("Working directory, which must exist; default the server's."),
  idempotencyKey: z
    .string()
    .max(500)
    .optional()
    .describe("The same key twice returns the tasks of the first submission."),
});

/** `POST /tasks/batch`: several submissions as one. */
export const SubmitBatchBodySchema = z.strictObject({
  tasks: z
    .array(SubmitBodySchema)
    .min(1)
    .max(MAX_BATCH_TASKS)
    .describe("Submissions as for POST /tasks, sharing their parentTaskId and idempotencyKey."),
});

/** `POST /tasks/:id/clone`. */
export const CloneBodySchema = z.strictObject({
  params: ParamValuesSchema.optional().describe(
    "Param overrides, passed to the copy as BATON_PARAM_<NAME> (the command itself is kept as resolved).",
  ),
  name: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
  pool: z.string().min(1).max(MAX_NAME_LENGTH).optional(),
  labels: stringMap.optional(),
  parentTaskId: z
    .string()
    .optional()
    .describe("Make the copy a child of this task (a controller running as a task)."),
  idempotencyKey: z
    .string()
    .min(1)
    .max(500)
    .optional()
    .describe("A second clone with the same key returns the first one's task ids."),
});

/** `POST /pipelines`: registers a definition under a name (Valohai API style). */
export const RegisterPipelineBodySchema = z.strictObject({
  name: NameSchema.describe(
    "Name to register; the definition's pipeline of this name, or its only pipeline, is the one registered.",
  ),
  definition: DefinitionSchema,
});

// Query strings and path parameters ------------------------------------------------------------

/** `?status=a,b` or `?status=a&status=b`. */
const listOf = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (v) =>
      typeof v === "string" ? v.split(",") : Array.isArray(v) ? v.flatMap((x) => String(x).split(",")) : v,
    z.array(item),
  );

/** `?follow=1` (also `true`, `0`, `false`). */
const flag = z.enum(["1", "0", "true", "false"]).transform((v) => v === "1" || v === "true");

const limit = (max: number, description: string) =>
  z.coerce.number().int().min(1).max(max).optional().describe(description);

export const ListRunsQuerySchema = z.object({
  limit: limit(1000, "How many runs, newest first (default 50)."),
  status: listOf(RunStatusSchema)
    .optional()
    .describe("Only runs with one of these statuses (comma-separated)."),
  pipeline: z.string().optional().describe("Only runs of this pipeline."),
  before: z
    .string()
    .regex(/^[0-9A-Za-z_]{1,64}$/, "expected a cursor: the nextCursor of an earlier page (a run id)")
    .optional()
    .describe(
      "Cursor: the `nextCursor` of the previous page. Lists the runs after it, newest first (by creation time, then creation order).",
    ),
});

export const ListTasksQuerySchema = z.object({
  run: z.string().optional().describe("Only tasks of this run."),
  parent: z.string().optional().describe("Only children of this task."),
  status: listOf(TaskStatusSchema)
    .optional()
    .describe("Only tasks with one of these statuses (comma-separated)."),
  limit: limit(10_000, "At most this many tasks, the latest (default 1000)."),
  // Task search (the Python client's get_task): by name, pipeline and labels.
  name: z.string().min(1).optional().describe("Only tasks with exactly this name."),
  pipeline: z.string().min(1).optional().describe("Only tasks of runs of this pipeline."),
  label: z
    .preprocess(
      (v) => (typeof v === "string" ? [v] : v),
      z.array(
        z
          .string()
          .regex(/^[^=]/, "a label filter is KEY=VALUE or KEY")
          .transform((text) => {
            const at = text.indexOf("=");
            return at < 0 ? { key: text } : { key: text.slice(0, at), value: text.slice(at + 1) };
          }),
      ),
    )
    .optional()
    .describe("`KEY=VALUE` (that value) or `KEY` (any value); repeat it: every one must match."),
});

export const LogQuerySchema = z.object({
  attempt: z.coerce.number().int().min(1).optional().describe("Attempt number (default: the latest)."),
  follow: flag.optional().describe("Stream the log until the task ends."),
});

export const EventsQuerySchema = z.object({
  run: z.string().optional().describe("Only events of this run."),
});

export const ArtifactQuerySchema = z.object({
  name: z.string().optional().describe("File name for the Content-Disposition header."),
});

/** `GET /runs/:id/holds`. */
export const HoldsQuerySchema = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .optional()
    .describe("Wait up to this many milliseconds for a hold (or for the run to end) when there is none."),
});

/** `POST /runs/:id/holds/:taskId`. */
export const HoldAnswerBodySchema = z.strictObject({
  kind: z.enum(["before", "after"]).describe("The hold answered."),
  params: ParamValuesSchema.optional().describe("`before`: the task's params (checked again)."),
  env: z.record(z.string(), z.string()).optional().describe("`before`: extra environment variables."),
  skip: z.string().optional().describe("`before`: skip the task, with this reason."),
  error: z
    .string()
    .optional()
    .describe("The hook failed: `before` fails the task, `after` counts it as failed."),
});

export const HoldParamsSchema = z.object({ id: z.string(), taskId: z.string() });

export const IdParamsSchema = z.object({
  id: z
    .string()
    .describe(
      "Run or task id (`run_…`, `task_…`, or an older database's bare ULID), the bare ULID of one, or a unique prefix of either (at least 4 characters after the kind).",
    ),
});

export const ArtifactParamsSchema = z.object({
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "expected a sha256: 64 lowercase hex characters")
    .describe("Content hash of the file."),
});

// Responses ------------------------------------------------------------------------------------

const iso = z.string().nullable().describe("ISO 8601 time, or null.");

export const ProblemSchema = z.object({
  path: z.string().optional().describe("The request field or definition key: `body.params.lr`."),
  message: z.string(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
});

export const ErrorBodySchema = z.object({
  error: z.object({
    code: z
      .string()
      .describe("Stable code: BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, SPEC_INVALID, PARAM_INVALID…"),
    message: z.string(),
    problems: z.array(ProblemSchema).optional(),
  }),
});

export const TaskViewSchema = z.object({
  id: z.string(),
  run: z.string(),
  name: z.string(),
  node: z.string().nullable(),
  parent: z.string().nullable(),
  status: TaskStatusSchema.describe(
    "As recorded, except that a running task whose executor has not started it yet (a pending Slurm job) is `queued`.",
  ),
  queueReason: z
    .string()
    .nullable()
    .describe("Why a queued task waits where its executor runs it (`pending in Slurm (Priority)`), or null."),
  exitCode: z.number().int().nullable(),
  attempts: z.number().int(),
  cached: z.boolean(),
  startedAt: iso,
  endedAt: iso,
  outputDir: z.string(),
  outputs: z.array(z.string()).describe("Absolute paths of the recorded output files."),
  metrics: z.record(z.string(), z.unknown()),
  image: z.string().nullable().describe("`image:` of the task's node (the local executor runs on the host)."),
  labels: z
    .record(z.string(), z.string())
    .describe("The labels it was submitted with ({} for pipeline tasks)."),
  // Gates: the task's approval.
  approval: z
    .object({
      state: z.enum(["waiting", "approved", "rejected"]),
      message: z.string().describe("The gate's message (empty when none)."),
      requestedAt: iso,
      by: z.string().nullable().describe("Who decided: `cli:USER`, `api`, `web`."),
      at: iso,
      comment: z.string().nullable(),
    })
    .nullable()
    .describe("Its approval gate, once reached (null: none)."),
});

/** `GET /tasks/:id/metrics`. */
export const MetricsSchema = z.object({
  task: z.string(),
  last: z.record(z.string(), z.unknown()).describe("The last value of each metric (what `metrics` shows)."),
  series: z
    .record(z.string(), z.array(z.object({ step: z.number().nullable(), value: z.unknown(), at: iso })))
    .describe("Every value of each metric, in the order the task wrote them."),
});

/** Gates: `POST /tasks/:id/approve|reject`. */
export const ApprovalBodySchema = z.strictObject({
  comment: z.string().max(10_000).optional().describe("Why (shown with the decision)."),
  by: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Who decides, as recorded (default `api`; the CLI sends `cli:$USER`, the web UI `web`)."),
});

export const AttemptSchema = z.object({
  number: z.number().int(),
  status: z.enum(["running", "succeeded", "failed", "cancelled"]),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string().nullable(),
  message: z.string().nullable(),
  startedAt: iso,
  endedAt: iso,
  log: z.string().describe("Path of the attempt's log file."),
  executor: z
    .object({ kind: z.string(), id: z.string() })
    .nullable()
    .describe(
      'Where the attempt runs: `{ kind: "slurm", id: JOBID }`, `{ kind: "local", id: PID }` or `{ kind: "agent", id: "AGENT/TASK:ATTEMPT" }` (`TASK:ATTEMPT` until an agent claims it); null before it started.',
    ),
  logUrl: z.string().describe("Where to read it through the API."),
});

export const CacheChangeSchema = z.object({
  part: z
    .enum(["command", "upstream", "param", "env", "input", "dep", "file", "resource", "outputs"])
    .describe(
      "What changed: the command text, the content of upstream outputs it names, a param, an env value, an input file, a cache.deps file, a file of the project the command names, a pool resource, the kept outputs.",
    ),
  name: z
    .string()
    .nullable()
    .describe(
      "The param, env or resource name, or the file (`raw/a.csv`: input name / file); null otherwise.",
    ),
  before: z
    .string()
    .nullable()
    .describe(
      "Earlier value: JSON for params, env and resources, the command text, a file's sha256; null when it was not there.",
    ),
  after: z.string().nullable().describe("The value now, as `before`; null when it is no longer there."),
  text: z.string().describe("In words, as `baton show` prints it: `param lr: 0.01 -> 0.02`."),
});

export const CacheExplanationSchema = z
  .object({
    key: z.string().describe("The cache key (sha256)."),
    verdict: z
      .enum(["reused", "first-run", "changed", "same-key", "unexplained"])
      .describe(
        "reused: a cache hit; first-run: no earlier task of this node to compare with; changed: key parts differ from the previous task's; same-key: the key was the same but caching was off or the result not reusable; unexplained: the key's parts were not recorded.",
      ),
    hit: z.boolean().describe("Whether the result was reused (no process ran)."),
    reusedFrom: z.string().nullable().describe("For a hit: the task that computed the reused result."),
    reusedFromRun: z.string().nullable().describe("The run of that task."),
    parts: z
      .object({
        command: z.string().describe("The command with run-specific paths replaced by stable tokens."),
        params: z.record(z.string(), z.unknown()),
        env: z.record(z.string(), z.string()),
        inputs: z.record(z.string(), z.number().int()).describe("Input name -> number of files bound."),
        deps: z.array(z.string()).describe("`cache.deps` files."),
        files: z.array(z.string()).describe("Files of the project the command names, hashed by content."),
        resources: z.record(z.string(), z.number()),
        outputs: z.array(z.string()).describe("Output globs kept."),
      })
      .nullable()
      .describe("What the key was computed from; null when not recorded (hits record none)."),
    previousTaskId: z
      .string()
      .nullable()
      .describe("For a task that ran: the task of the same name in the latest earlier run of the pipeline."),
    previousRunId: z.string().nullable().describe("The run of that task."),
    changes: z.array(CacheChangeSchema).describe("What differs from the previous task's key parts."),
  })
  .describe("Why the task was cached or ran (`baton show`).");

export const TaskDetailSchema = TaskViewSchema.extend({
  pool: z.string(),
  command: z.string().nullable(),
  params: z.record(z.string(), z.unknown()),
  item: z.unknown(),
  error: z.string().nullable(),
  cacheKey: z.string().nullable(),
  cache: CacheExplanationSchema.nullable().describe(
    "Why the task was cached or ran; null without a cache key (not run yet, submitted tasks, `pipeline:` nodes).",
  ),
  createdAt: iso,
  attemptsDetail: z.array(AttemptSchema),
});

export const RunSummarySchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  status: RunStatusSchema,
  params: z.record(z.string(), z.unknown()),
  createdAt: iso,
  endedAt: iso,
  parentRun: z.string().nullable(),
  parentTask: z.string().nullable(),
  specFile: z.string().nullable(),
  error: z
    .string()
    .nullable()
    .describe("Why the run failed when no task says it: it could not be planned or resumed."),
  trigger: z.string().nullable().describe("The trigger that started the run (null: none)."),
  driven: z.boolean().describe("Whether this server's engine drives the run (it can cancel it)."),
  counts: z.record(TaskStatusSchema, z.number().int()).describe("Tasks by status."),
});

export const RunListSchema = z.object({
  runs: z.array(RunSummarySchema),
  nextCursor: z
    .string()
    .nullable()
    .describe("Pass as `before` to get the next (older) page; null on the last page."),
});

export const RunDetailSchema = z.object({
  run: RunSummarySchema,
  tasks: z.array(TaskViewSchema),
  childRuns: z.array(
    z.object({
      id: z.string(),
      pipeline: z.string(),
      status: RunStatusSchema,
      parentTask: z.string().nullable(),
    }),
  ),
});

export const OutputSchema = z.object({
  path: z.string().describe("Relative to the task's output folder."),
  size: z.number().int(),
  sha256: z.string(),
  url: z.string().describe("Download URL: /api/v1/artifacts/<sha256>."),
});

export const IdsSchema = z.object({ ids: z.array(z.string()) });

export const PipelineSummarySchema = z.object({
  name: z.string(),
  source: z.enum(["file", "registered"]),
  file: z.string().nullable(),
  params: z.array(
    z.object({
      name: z.string(),
      type: z.enum(["string", "int", "float", "bool", "list", "json"]),
      required: z.boolean(),
      default: z.unknown().optional(),
      choices: z.array(z.unknown()).optional(),
      description: z.string().optional(),
    }),
  ),
  nodes: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["task", "pipeline"]),
      step: z.string().optional(),
      pipeline: z.string().optional(),
      needs: z.array(z.object({ node: z.string(), condition: z.enum(["success", "failure", "always"]) })),
      fanout: z.enum(["foreach", "matrix"]).optional(),
    }),
  ),
});

export type StartRunBody = z.output<typeof StartRunBodySchema>;
export type SubmitBody = z.output<typeof SubmitBodySchema>;
export type RunSummary = z.output<typeof RunSummarySchema>;
export type TaskDetail = z.output<typeof TaskDetailSchema>;
export type PipelineSummary = z.output<typeof PipelineSummarySchema>;

// The documented shapes must stay what the engine produces: these fail to compile on drift.
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;
const submitFieldsMatch: SameKeys<SubmitBody, SubmitRequest> = true;
const submitBodyIsRequest = (b: SubmitBody): SubmitRequest => b;
const taskViewFits = (v: TaskView): z.input<typeof TaskViewSchema> => v;
const cacheExplanationFits = (c: CacheExplanation): z.input<typeof CacheExplanationSchema> => c;
void submitFieldsMatch;
void cacheExplanationFits;
void submitBodyIsRequest;
void taskViewFits;
