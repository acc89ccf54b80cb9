/**
 * Why a task was cached or ran (docs/pipeline-file.md, docs/cli.md `baton show`): one explanation that `baton show`
 * prints and `GET /tasks/:id` answers, so that the CLI, the API and the web UI say the same.
 */
import type { Store, TaskRow } from "../store/store.js";
import { type CacheChange, type CacheParts, diffCacheParts } from "./cache-key.js";

/**
 * How the cache decided about a task:
 * - `reused`: a cache hit, no process ran (`reusedFrom` names the task that computed the result);
 * - `first-run`: it ran, and no earlier run of the same pipeline has a task of this name to compare with;
 * - `changed`: it ran because parts of its key differ from the previous task's (`changes`);
 * - `same-key`: it ran with the same key as the previous task: caching was off for it
 *   (`--no-cache`, `cache: false`, `--from`) or that result could not be reused;
 * - `unexplained`: the key's parts were not recorded (tasks of older versions), so there is nothing to compare.
 */
export type CacheVerdict = "reused" | "first-run" | "changed" | "same-key" | "unexplained";

/** The parts of a cache key, summarised: the values as they are, input files counted. */
export interface CachePartsSummary {
  /** The command with run-specific paths replaced by stable tokens. */
  command: string;
  params: Record<string, unknown>;
  env: Record<string, string>;
  /** Input name -> how many files were bound to it. */
  inputs: Record<string, number>;
  /** `cache.deps` files. */
  deps: string[];
  /** Files of the project the command names, hashed by content. */
  files: string[];
  resources: Record<string, number>;
  /** Output globs kept. */
  outputs: string[];
}

/** Why a task was cached or ran. */
export interface CacheExplanation {
  /** The cache key (sha256). */
  key: string;
  verdict: CacheVerdict;
  /** Whether the result was reused (no process ran). */
  hit: boolean;
  /** For a hit: the task that computed the reused result, when recorded. */
  reusedFrom: string | null;
  /** ...and its run. */
  reusedFromRun: string | null;
  /** What the key was computed from; null when not recorded: hits record none (see `reusedFrom`). */
  parts: CachePartsSummary | null;
  /** For a task that ran: the task of the same name in the latest earlier run of the pipeline. */
  previousTaskId: string | null;
  /** ...and its run. */
  previousRunId: string | null;
  /** What differs from the previous task's key parts, in key order; empty unless `changed`. */
  changes: CacheChange[];
}

/**
 * Explains the cache decision about `task`; undefined for a task without a cache key (still
 * pending, submitted, a `pipeline:` node, or caching cleared).
 */
export async function explainCache(store: Store, task: TaskRow): Promise<CacheExplanation | undefined> {
  if (!task.cacheKey) return undefined;
  const parts = task.cacheParts as CacheParts | null;
  const explanation: CacheExplanation = {
    key: task.cacheKey,
    verdict: "unexplained",
    hit: task.cached,
    reusedFrom: null,
    reusedFromRun: null,
    parts: parts && summariseParts(parts),
    previousTaskId: null,
    previousRunId: null,
    changes: [],
  };
  if (task.cached) {
    explanation.verdict = "reused";
    const source = task.cachedFrom ? await store.getTask(task.cachedFrom) : undefined;
    if (source) {
      explanation.reusedFrom = source.id;
      explanation.reusedFromRun = source.runId;
    }
    return explanation;
  }
  if (!parts) return explanation;
  const previous = await store.findPreviousTask(task);
  if (!previous?.cacheParts) {
    explanation.verdict = "first-run";
    return explanation;
  }
  explanation.previousTaskId = previous.id;
  explanation.previousRunId = previous.runId;
  if (previous.cacheKey === task.cacheKey) {
    explanation.verdict = "same-key";
    return explanation;
  }
  explanation.verdict = "changed";
  explanation.changes = diffCacheParts(previous.cacheParts as unknown as CacheParts, parts);
  return explanation;
}

function summariseParts(parts: CacheParts): CachePartsSummary {
  return {
    command: parts.command,
    params: parts.params,
    env: parts.env ?? {},
    inputs: Object.fromEntries(
      Object.entries(parts.inputs).map(([name, files]) => [name, Object.keys(files).length]),
    ),
    deps: Object.keys(parts.deps),
    files: Object.keys(parts.files ?? {}),
    resources: parts.resources ?? {},
    outputs: parts.outputs ?? [],
  };
}
