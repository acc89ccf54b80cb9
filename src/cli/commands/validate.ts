import path from "node:path";
import { BatonError } from "../../errors.js";
import { planFanout } from "../../graph/expand.js";
import { evaluateTemplate, isTemplate, parseTemplate } from "../../spec/expressions.js";
import { resolveParams } from "../../spec/params.js";
import type { PipelineSpec } from "../../spec/types.js";
import { loadProject } from "../context.js";

/**
 * `baton validate`: parses and checks the file (every problem at once, exit 2), then expands
 * each pipeline with its default params to count tasks, which also catches fan-outs that do
 * not evaluate to lists.
 */
export async function validateCommand(opts: { file: string }): Promise<void> {
  const project = loadProject(opts.file);
  const lines: string[] = [];
  for (const pipeline of Object.values(project.pipelines)) {
    const { tasks, dynamic } = countTasks(pipeline);
    const nodes = Object.keys(pipeline.nodes).length;
    const extra = dynamic.length ? ` (+ fan-outs decided at run time: ${dynamic.join(", ")})` : "";
    lines.push(`  ${pipeline.name}: ${nodes} node${nodes === 1 ? "" : "s"}, ${tasks ?? "?"} tasks${extra}`);
  }
  process.stdout.write(
    `${path.relative(process.cwd(), project.file) || project.file}: ok\n${lines.join("\n")}\n`,
  );
}

/** Tasks a pipeline expands to with its default params; nodes whose fan-out reads `needs` are counted apart. */
export function countTasks(pipeline: PipelineSpec): { tasks: number | undefined; dynamic: string[] } {
  let params: Record<string, unknown>;
  try {
    params = resolveParams(pipeline.params, {}, { fromCli: false, where: `pipeline "${pipeline.name}"` });
  } catch {
    return { tasks: undefined, dynamic: [] }; // a required param has no default: nothing to count with
  }
  const context = { params, env: process.env };
  let tasks = 0;
  const dynamic: string[] = [];
  for (const node of Object.values(pipeline.nodes)) {
    if (node.kind === "pipeline" || (node.foreach === undefined && node.matrix === undefined)) {
      tasks += 1;
      continue;
    }
    const source = JSON.stringify([node.foreach ?? null, node.matrix ?? null]);
    if (source.includes("needs.")) {
      dynamic.push(node.name);
      continue;
    }
    // Counted, not expanded (the file's limits were checked when it was read).
    const fanout = planFanout(node, (value, field) => {
      const list =
        typeof value === "string" && isTemplate(value)
          ? evaluateTemplate(parseTemplate(value), context)
          : value;
      if (!Array.isArray(list)) {
        throw new BatonError(
          "SPEC_INVALID",
          `${node.path}.${field}: expected a list, got ${JSON.stringify(list)}`,
          {
            problems: [
              {
                ...node.loc,
                path: `${node.path}.${field}`,
                message: `expected a list, got ${JSON.stringify(list)}`,
              },
            ],
          },
        );
      }
      return list;
    });
    tasks += fanout.count;
  }
  return { tasks, dynamic };
}
