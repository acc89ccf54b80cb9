import type { PipelineSpec } from "../../spec/types.js";
import { loadProject, pickPipeline } from "../context.js";

/** `baton graph`: prints the pipeline's nodes and needs as Mermaid or Graphviz dot. */
export async function graphCommand(
  pipelineName: string | undefined,
  opts: { file: string; format: "mermaid" | "dot" },
): Promise<void> {
  const project = loadProject(opts.file);
  const pipeline = pickPipeline(project, pipelineName);
  process.stdout.write(opts.format === "dot" ? toDot(pipeline) : toMermaid(pipeline));
}

function label(pipeline: PipelineSpec, name: string): string {
  const node = pipeline.nodes[name]!;
  if (node.kind === "pipeline") return `${name} (pipeline ${node.pipeline})`;
  if (node.foreach !== undefined) return `${name} [foreach]`;
  if (node.matrix !== undefined) return `${name} [matrix ${Object.keys(node.matrix).join("×")}]`;
  return name;
}

export function toMermaid(pipeline: PipelineSpec): string {
  const ids = new Map(Object.keys(pipeline.nodes).map((n, i) => [n, `n${i}`]));
  const lines = ["flowchart LR"];
  for (const name of Object.keys(pipeline.nodes))
    lines.push(`  ${ids.get(name)}["${label(pipeline, name).replaceAll('"', "#quot;")}"]`);
  for (const node of Object.values(pipeline.nodes)) {
    for (const need of node.needs) {
      const arrow = need.condition === "success" ? "-->" : `-- ${need.condition} -->`;
      lines.push(`  ${ids.get(need.node)} ${arrow} ${ids.get(node.name)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function toDot(pipeline: PipelineSpec): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [`digraph ${q(pipeline.name)} {`, "  rankdir=LR;", "  node [shape=box];"];
  for (const name of Object.keys(pipeline.nodes))
    lines.push(`  ${q(name)} [label=${q(label(pipeline, name))}];`);
  for (const node of Object.values(pipeline.nodes)) {
    for (const need of node.needs) {
      const attrs = need.condition === "success" ? "" : ` [label=${q(need.condition)}, style=dashed]`;
      lines.push(`  ${q(need.node)} -> ${q(node.name)}${attrs};`);
    }
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
