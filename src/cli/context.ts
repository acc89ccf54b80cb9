import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BatonError, didYouMean } from "../errors.js";
import { limitsFromEnv } from "../spec/limits.js";
import { parseProjectText } from "../spec/parse.js";
import type { PipelineSpec, ProjectSpec } from "../spec/types.js";
import { own } from "../util/dict.js";
import { type ProjectFile, locateFile } from "./state.js";

/**
 * Reads and validates a pipeline file; problems come back as one SPEC_INVALID error. Fan-outs
 * are checked against `limits` (default: BATON_MAX_TASKS_PER_NODE / _PER_RUN, or 100,000).
 */
export function loadProject(file: string, limits = limitsFromEnv(process.env)): ProjectSpec & ProjectFile {
  const located = locateFile(file);
  let text: string;
  try {
    text = fs.readFileSync(located.file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(err);
    throw new BatonError("SPEC_NOT_FOUND", `cannot read pipeline file ${file}: ${why}`);
  }
  const project = parseProjectText(text, path.relative(process.cwd(), located.file) || file, {
    cpus: os.availableParallelism(),
    limits,
  });
  return { ...project, ...located };
}

/** The pipeline to run: the one named, or the only one in the file. */
export function pickPipeline(project: ProjectSpec, name: string | undefined): PipelineSpec {
  const names = Object.keys(project.pipelines);
  if (name === undefined) {
    if (names.length === 1) return project.pipelines[names[0]!]!;
    throw new BatonError(
      "USAGE",
      names.length === 0
        ? `${project.file} has no pipelines`
        : `${project.file} has ${names.length} pipelines: name one of ${names.join(", ")}`,
    );
  }
  const pipeline = own(project.pipelines, name);
  if (!pipeline) {
    const hint = didYouMean(name, names);
    throw new BatonError(
      "SPEC_UNKNOWN_PIPELINE",
      `no pipeline "${name}" in ${project.file}${hint ? ` (did you mean "${hint}"?)` : ""}; pipelines: ${names.join(", ")}`,
    );
  }
  return pipeline;
}
