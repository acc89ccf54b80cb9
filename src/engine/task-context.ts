import { createHash } from "node:crypto";
import { BatonError } from "../errors.js";
import { DynamicLookup } from "../spec/expressions.js";
import { own } from "../util/dict.js";
import type { NodeOutcome } from "./conditions.js";

/** A file a finished task produced, as downstream tasks see it. */
export interface ProducedFile {
  /** Absolute path of the file in the producing task's output folder. */
  abs: string;
  /** Path relative to that output folder. */
  rel: string;
  /** Name of the producing task (`train[1]`). */
  producer: string;
  sha256: string;
}

/**
 * `real` hands out paths; `canonical` hands out stable tokens in their place (content hashes
 * for files, a manifest hash for folders), so that a command rendered with it is the same in
 * every run that computes the same thing: that rendering goes into the cache key.
 */
export type ContextMode = "real" | "canonical";

/** What a finished upstream node offers to the nodes that need it. */
export interface NeededNode {
  name: string;
  outcome: NodeOutcome;
  tasks: Array<{
    id: string;
    name: string;
    outputDir: string;
    files: ProducedFile[];
    metrics: Record<string, unknown>;
    params: Record<string, unknown>;
  }>;
}

/**
 * Builds `needs.X` for expressions: `outputs['GLOB']` (union over X's tasks), `output_dir`,
 * `output_dirs`, `metrics.M` (a value, or the list of values of a fanned-out node), `status`, `params.P`,
 * `task_id` (a single-task node) and `task_ids` (its tasks' ids, in fan-out order).
 * `select` picks files by glob; `onFiles` is told which files an expression handed out, so
 * that input bindings can later recognise them as produced files rather than workdir globs.
 */
export function needsContext(
  needed: NeededNode[],
  select: (files: ProducedFile[], glob: string) => ProducedFile[],
  onFiles: (files: ProducedFile[]) => void,
  mode: ContextMode = "real",
): DynamicLookup {
  const byName = new Map(needed.map((n) => [n.name, n]));
  return new DynamicLookup((name) => {
    const node = byName.get(name);
    if (!node) return undefined;
    return neededNodeLookup(node, select, onFiles, mode);
  }, "needs");
}

function neededNodeLookup(
  node: NeededNode,
  select: (files: ProducedFile[], glob: string) => ProducedFile[],
  onFiles: (files: ProducedFile[]) => void,
  mode: ContextMode,
): DynamicLookup {
  const dirOf = (t: NeededNode["tasks"][number]) =>
    mode === "real" ? t.outputDir : `needs:${node.name}:${t.name}:${manifestHash(t.files)}`;
  // Ids differ in every run: the cache key sees what the task produced instead.
  const idOf = (t: NeededNode["tasks"][number]) =>
    mode === "real" ? t.id : `needs-task:${node.name}:${t.name}:${manifestHash(t.files)}`;
  let allFiles: ProducedFile[] | undefined;
  const files = () => {
    allFiles ??= node.tasks.flatMap((t) => t.files);
    return allFiles;
  };
  const single = (what: string) => {
    if (node.tasks.length !== 1) {
      const all = what === "output_dir" ? "output_dirs" : what === "task_id" ? "task_ids" : what;
      throw new BatonError(
        "EXPR_EVAL",
        `needs.${node.name}.${what}: node "${node.name}" has ${node.tasks.length} tasks; use needs.${node.name}.${all} over all of them`,
      );
    }
    return node.tasks[0]!;
  };
  return new DynamicLookup((key) => {
    switch (key) {
      case "outputs":
        return new DynamicLookup((glob) => {
          const picked = select(files(), glob);
          if (mode === "canonical") return picked.map((f) => `cas:${f.sha256}`);
          onFiles(picked);
          return picked.map((f) => f.abs);
        }, `needs.${node.name}.outputs`);
      case "output_dir":
        return dirOf(single("output_dir"));
      case "output_dirs":
        return node.tasks.map(dirOf);
      case "task_id":
        return idOf(single("task_id"));
      case "task_ids":
        return node.tasks.map(idOf);
      case "status":
        return node.outcome;
      case "metrics":
        if (node.tasks.length === 1) return node.tasks[0]!.metrics;
        return new DynamicLookup(
          (metric) => node.tasks.map((t) => own(t.metrics, metric) ?? null),
          "metrics",
        );
      case "params":
        return node.tasks.length === 1
          ? node.tasks[0]!.params
          : new DynamicLookup((param) => node.tasks.map((t) => own(t.params, param) ?? null), "params");
      default:
        return undefined;
    }
  }, `needs.${node.name}`);
}

/** Environment variable name for a param: `BATON_PARAM_<NAME>`, upper-cased, `-` as `_`. */
export function paramEnvName(name: string): string {
  return `BATON_PARAM_${name.toUpperCase().replace(/[^A-Z0-9_]/g, "_")}`;
}

/** How a param value is passed in the environment: strings as-is, everything else as JSON. */
export function paramEnvValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A hash of a task's output files (paths and contents): what its output folder holds. */
function manifestHash(files: ProducedFile[]): string {
  const h = createHash("sha256");
  for (const f of files) h.update(`${f.rel}\0${f.sha256}\n`);
  return h.digest("hex").slice(0, 16);
}
