/**
 * Valohai-style edges (`edges: [[a.output.GLOB, b.input.NAME], ...]`) turned into what a
 * map-form node would say: needs, input bindings and `with:` values.
 */
import type { RawNode, ResolveContext } from "./drafts.js";
import { type Path, memberAccess, quoteList, suggest } from "./problems.js";
import { EdgeSchema } from "./schema.js";
import { checkShape } from "./shape.js";

const EDGE_SOURCE_KINDS = ["output", "parameter", "metadata"];
const EDGE_TARGET_KINDS = ["input", "parameter"];

/**
 * Valohai edges: `[a.output.GLOB, b.input.NAME]` makes b need a and appends
 * `${{ needs.a.outputs['GLOB'] }}` to b's binding of NAME; `[a.parameter.p, b.parameter.q]`
 * sets b's `with: { q: "${{ needs.a.params.p }}" }`; `[a.metadata.m, b.parameter.q]` sets
 * `q` to `${{ needs.a.metrics.m }}`.
 */
export function applyEdges(raw: unknown, path: Path, nodes: Map<string, RawNode>, ctx: ResolveContext): void {
  if (!Array.isArray(raw)) return;
  raw.forEach((item, i) => {
    const p = [...path, i];
    const shaped = checkShape(EdgeSchema(), item, p, ctx.problems);
    if (!shaped.data) return;
    const [source, target] = Array.isArray(shaped.data)
      ? shaped.data
      : [shaped.data.source, shaped.data.target];
    const sourcePath = Array.isArray(shaped.data) ? [...p, 0] : [...p, "source"];
    const targetPath = Array.isArray(shaped.data) ? [...p, 1] : [...p, "target"];
    const from = parseEndpoint(
      source,
      EDGE_SOURCE_KINDS,
      sourcePath,
      nodes,
      ctx,
      "NODE.output.GLOB, NODE.parameter.NAME or NODE.metadata.NAME",
    );
    const to = parseEndpoint(
      target,
      EDGE_TARGET_KINDS,
      targetPath,
      nodes,
      ctx,
      "NODE.input.NAME or NODE.parameter.NAME",
    );
    if (!from || !to) return;
    if (from.node === to.node) {
      ctx.problems.value(p, `an edge cannot connect node "${from.node}" to itself`);
      return;
    }
    const fits = from.kind === "output" ? to.kind === "input" : to.kind === "parameter";
    if (!fits) {
      const wanted = from.kind === "output" ? `"${to.node}.input.NAME"` : `"${to.node}.parameter.NAME"`;
      const article = from.kind === "output" ? "an" : "a";
      ctx.problems.value(targetPath, `${article} ${from.kind} edge must end at ${wanted}, found "${target}"`);
      return;
    }
    if (from.kind === "output" && from.name.includes("'")) {
      ctx.problems.value(sourcePath, `output glob "${from.name}" must not contain a quote (')`);
      return;
    }
    const toNode = nodes.get(to.node)!;
    // A node without edges shares empty lists (never written to): its first edge gets its own.
    if (toNode.edgeNeeds.length === 0) toNode.edgeNeeds = [];
    if (toNode.edgeBindings.length === 0) toNode.edgeBindings = [];
    if (toNode.edgeWith.length === 0) toNode.edgeWith = [];
    if (!toNode.edgeNeeds.some((n) => n.node === from.node)) {
      toNode.edgeNeeds.push({ node: from.node, condition: "success", path: p, at: "value", field: p });
    }
    if (from.kind === "output") {
      const template = `\${{ ${memberAccess("needs", from.node)}.outputs['${from.name}'] }}`;
      toNode.edgeBindings.push({ input: to.name, template, path: targetPath, sourcePath });
    } else {
      const member = memberAccess(from.kind === "parameter" ? "params" : "metrics", from.name);
      const template = `\${{ ${memberAccess("needs", from.node)}.${member} }}`;
      toNode.edgeWith.push({ param: to.name, template, path: targetPath, sourcePath });
    }
  });
}

function parseEndpoint(
  text: string,
  kinds: string[],
  path: Path,
  nodes: Map<string, RawNode>,
  ctx: ResolveContext,
  expected: string,
): { node: string; kind: string; name: string } | undefined {
  const first = text.indexOf(".");
  const second = first < 0 ? -1 : text.indexOf(".", first + 1);
  if (first <= 0 || second < 0 || second === text.length - 1) {
    ctx.problems.value(path, `expected ${expected}, found "${text}"`);
    return undefined;
  }
  const node = text.slice(0, first);
  const kind = text.slice(first + 1, second);
  const name = text.slice(second + 1);
  let ok = true;
  if (!nodes.has(node)) {
    ctx.problems.value(path, `unknown node "${node}"${suggest(node, nodes.keys())}`);
    ok = false;
  }
  if (!kinds.includes(kind)) {
    const hint = suggest(kind, kinds) || ` (expected ${quoteList(kinds)})`;
    ctx.problems.value(path, `unknown edge kind "${kind}"${hint}`);
    ok = false;
  }
  return ok ? { node, kind, name } : undefined;
}
