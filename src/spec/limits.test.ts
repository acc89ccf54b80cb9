import { describe, expect, it } from "vitest";
import { BatonError, formatProblem } from "../errors.js";
import { expandNode, planFanout } from "../graph/expand.js";
import { checkPipelineLimits, countFanout, limitsFromEnv } from "./limits.js";
import { parsePipelineDefinition, parseProjectText } from "./parse.js";
import type { TaskNodeSpec } from "./types.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;
const TEN = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";

/** A node `n` of pipeline `p` with a matrix of `keys` lists of ten values (10^keys tasks). */
function matrixFile(keys: number): string {
  const lines = ["version: 1", "pipelines:", "  p:", "    nodes:", "      n:", "        matrix:"];
  for (let k = 0; k < keys; k++) lines.push(`          k${k}: ${TEN}`);
  lines.push('        run: "true"');
  return yaml(...lines);
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatonError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe("fan-out limits", () => {
  it("refuses a 7 x 10 matrix in a file, located, without expanding it", () => {
    const started = Date.now();
    const problems = problemsOf(() => parseProjectText(matrixFile(7), "baton.yaml"));
    expect(problems).toContain(
      "baton.yaml:6:9 pipelines.p.nodes.n.matrix: 10,000,000 tasks (10 x 10 x 10 x 10 x 10 x 10 x 10) exceeds the limit of 100,000 tasks per node (BATON_MAX_TASKS_PER_NODE)",
    );
    expect(problems).toContain(
      "baton.yaml:3:3 pipelines.p: a run makes 10,000,000 tasks (n: 10,000,000), which exceeds the limit of 100,000 tasks per run (BATON_MAX_TASKS_PER_RUN)",
    );
    // Generous "does not hang" bound: expanding would take a minute and gigabytes.
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("counts a matrix as the product of its list lengths, even far past what could be built", () => {
    const project = parseProjectText(matrixFile(5), "baton.yaml"); // 100,000: allowed
    const node = project.pipelines.p!.nodes.n as TaskNodeSpec;
    expect(countFanout(node, {})).toMatchObject({
      field: "matrix",
      count: 100_000,
      factors: [10, 10, 10, 10, 10],
    });
    const huge = {
      ...node,
      matrix: Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`k${i}`, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]),
      ),
    };
    expect(countFanout(huge, {})?.count).toBe(1e20);
  });

  it("gives JSON definitions the key path of the fan-out", () => {
    const definition = {
      version: 1,
      pipelines: { p: { nodes: { n: { foreach: Array.from({ length: 12 }, (_, i) => i), run: "true" } } } },
    };
    const limits = { perNode: 10, perRun: 1_000 };
    expect(problemsOf(() => parsePipelineDefinition(definition, "definition", { limits }))).toEqual([
      "definition pipelines.p.nodes.n.foreach: 12 tasks exceeds the limit of 10 tasks per node (BATON_MAX_TASKS_PER_NODE)",
    ]);
    expect(problemsOf(() => parsePipelineDefinition(definition, "definition"))).toEqual([]);
  });

  it("counts a foreach over a param's default, and the params given at launch", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    params: { xs: { type: list, default: [1, 2, 3] } }",
        "    nodes:",
        "      a: { foreach: '${{ params.xs }}', run: 'true' }",
        "      b: { run: 'true' }",
        "      c: { needs: [b], foreach: '${{ needs.b.outputs[\"*\"] }}', run: 'true' }",
      ),
      "baton.yaml",
      { limits: { perNode: 3, perRun: 4 } },
    );
    const p = project.pipelines.p!;
    const limits = { perNode: 3, perRun: 4 };
    expect(checkPipelineLimits(project, p, { xs: [1, 2, 3] }, limits)).toEqual([]);
    // c is only known at run time: not counted here.
    expect(countFanout(p.nodes.c as TaskNodeSpec, {})).toBeUndefined();
    const over = checkPipelineLimits(project, p, { xs: [1, 2, 3, 4, 5] }, limits);
    expect(over.map((o) => o.message)).toEqual([
      "5 tasks (5 from params.xs) exceeds the limit of 3 tasks per node (BATON_MAX_TASKS_PER_NODE)",
      "a run makes 6 tasks (a: 5, b: 1), which exceeds the limit of 4 tasks per run (BATON_MAX_TASKS_PER_RUN)",
    ]);
    expect(over[0]!.path).toEqual(["pipelines", "p", "nodes", "a", "foreach"]);
  });

  it("counts static child runs in the run's total", () => {
    const text = yaml(
      "version: 1",
      "pipelines:",
      "  child:",
      "    nodes:",
      `      m: { matrix: { a: ${TEN}, b: ${TEN} }, run: 'true' }`,
      "  parent:",
      "    nodes:",
      "      one: { pipeline: child }",
      "      two: { pipeline: child }",
    );
    const problems = problemsOf(() =>
      parseProjectText(text, "baton.yaml", { limits: { perNode: 1_000, perRun: 150 } }),
    );
    expect(problems).toEqual([
      "baton.yaml:6:3 pipelines.parent: a run makes 202 tasks (one: 101, two: 101), which exceeds the limit of 150 tasks per run (BATON_MAX_TASKS_PER_RUN)",
    ]);
  });

  it("reads the limits from the environment, refusing values that are not counts", () => {
    expect(limitsFromEnv({})).toEqual({ perNode: 100_000, perRun: 100_000 });
    expect(limitsFromEnv({ BATON_MAX_TASKS_PER_NODE: "500", BATON_MAX_TASKS_PER_RUN: "1_000_000" })).toEqual({
      perNode: 500,
      perRun: 1_000_000,
    });
    expect(() => limitsFromEnv({ BATON_MAX_TASKS_PER_RUN: "lots" })).toThrow(
      "BATON_MAX_TASKS_PER_RUN=lots: expected a whole number of tasks, at least 1",
    );
    expect(() => limitsFromEnv({ BATON_MAX_TASKS_PER_NODE: "0" })).toThrow(BatonError);
  });

  it("makes a planned fan-out's tasks on demand, in the order expandNode lists them", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      n: { matrix: { x: [a, b], y: [1, 2, 3] }, run: 'true' }",
      ),
      "baton.yaml",
    );
    const node = project.pipelines.p!.nodes.n as TaskNodeSpec;
    const fanout = planFanout(node, (v) => v as unknown[]);
    expect(fanout.count).toBe(6);
    expect(Array.from({ length: 6 }, (_, i) => fanout.instance(i).name)).toEqual([
      "n[x=a,y=1]",
      "n[x=a,y=2]",
      "n[x=a,y=3]",
      "n[x=b,y=1]",
      "n[x=b,y=2]",
      "n[x=b,y=3]",
    ]);
    expect(expandNode(node, (v) => v as unknown[]).map((t) => t.matrix)).toEqual(
      Array.from({ length: 6 }, (_, i) => fanout.instance(i).matrix),
    );
  });
});
