/**
 * The `baton` package: the TypeScript SDK (docs/sdk.md).
 *
 * - {@link Baton}: connect to a server (or an engine embedded in this process), start
 *   pipelines, submit and clone tasks, wait for them, read their metrics, outputs and logs.
 * - {@link pipeline}: build a pipeline in code; the same definition a `baton.yaml` holds,
 *   checked by the same rules, with problems reported at the builder call.
 * - Controllers: {@link Baton.controller} and pipelines with hooks, which survive a crash of
 *   the controller by reattaching to the tasks they had started.
 *
 * See docs/sdk.md for a tutorial and the reference.
 */
export { Baton } from "./sdk/baton.js";
export type { ConnectOptions, RunOptions, TaskFilter } from "./sdk/baton.js";
export { Pipeline, pipeline } from "./sdk/builder.js";
export type {
  CacheOption,
  Duration,
  InputDeclaration,
  NeedCondition,
  NodeDefinition,
  ParamDeclaration,
  ParamOption,
  ParamType,
  PipelineBody,
  PipelineDefinition,
  PoolOptions,
  RetryOption,
  StepOptions,
  StepTemplate,
  TaskSettings,
  ValidatedPipeline,
} from "./sdk/builder.js";
export type { CallSite } from "./sdk/call-site.js";
export { Controller } from "./sdk/controller.js";
export type { ControllerOptions, ControllerRunOptions } from "./sdk/controller.js";
export { TaskHandle } from "./sdk/handles.js";
export type { RunHandle, RunResult } from "./sdk/handles.js";
export type {
  AfterContext,
  AfterHook,
  BeforeContext,
  BeforeHook,
  StepContext,
  StepOutcome,
  StepResult,
  StepTaskResult,
} from "./sdk/hooks.js";
export { isTerminalStatus } from "./sdk/types.js";
export type {
  AttemptInfo,
  CacheChange,
  CacheExplanation,
  CacheKeyParts,
  CloneOptions,
  MetricPoint,
  Metrics,
  RunInfo,
  RunStatus,
  SubmitOptions,
  TaskInfo,
  TaskOutput,
  TaskStatus,
  TaskSummary,
  WaitOptions,
} from "./sdk/types.js";
export { BatonError, formatProblem } from "./errors.js";
export type { ErrorCode, Problem } from "./errors.js";
