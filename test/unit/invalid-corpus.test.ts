/**
 * The invalid-spec corpus (argo-workflows style): each file in `test/fixtures/invalid/` shows
 * one way to get `baton.yaml` wrong and is named after it; this table holds what users are
 * told, exactly. The valid corpus (one file per tradition) must resolve as expected.
 */
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { BatonError, formatProblem } from "../../src/errors.js";
import { parseProjectText } from "../../src/spec/parse.js";
import { ProjectFileSchema } from "../../src/spec/schema.js";
import type { PipelineNodeSpec, ProjectSpec, TaskNodeSpec } from "../../src/spec/types.js";

const invalidDir = fileURLToPath(new URL("../fixtures/invalid/", import.meta.url));
const validDir = fileURLToPath(new URL("../fixtures/valid/", import.meta.url));

/** Formatted problems per fixture, with the file named `baton.yaml` for stable messages. */
const EXPECTED: Record<string, string[]> = {
  "bad-cron.yaml": [
    'baton.yaml:7:15 pipelines.p.triggers[0].cron: invalid cron "0 9 * * MOM": day-of-week field "MOM" is not valid (did you mean "MON"?)',
  ],
  "bad-duration.yaml": [
    'baton.yaml:3:12 defaults.timeout: invalid duration "2hours" (write e.g. 500ms, 10s, 1m30s, 2h, 1d, or a number of seconds)',
  ],
  "bad-edge.yaml": [
    'baton.yaml:15:10 pipelines.p.edges[0][0]: unknown edge kind "outputs" (did you mean "output"?)',
    'baton.yaml:16:29 pipelines.p.edges[1][1]: unknown node "trian" (did you mean "train"?)',
    'baton.yaml:17:29 pipelines.p.edges[2][1]: an output edge must end at "train.input.NAME", found "train.parameter.lr"',
  ],
  "bad-expression.yaml": [
    'baton.yaml:8:49 pipelines.p.nodes.train.run: unexpected character "+" (there is no arithmetic)',
  ],
  "bad-need-condition.yaml": [
    'baton.yaml:9:25 pipelines.p.nodes.alert.needs.train: expected one of "success", "failure" or "always", found "failed"',
  ],
  "bad-yaml-syntax.yaml": [
    "baton.yaml:6:7: YAML syntax: flow map in block collection must be sufficiently indented and end with a }",
  ],
  "block-scalar-expression.yaml": [
    'baton.yaml:9:23 pipelines.p.nodes.train.run: unknown member "dri" of run (did you mean "dir"?)',
  ],
  "choice-default-not-in-choices.yaml": [
    'baton.yaml:5:61 pipelines.p.params.mode.default: default "quick" is not one of the choices "fast" or "full"',
  ],
  "cycle.yaml": ["baton.yaml:7:17 pipelines.p.nodes.a.needs: cycle a -> c -> b -> a"],
  "duplicate-key.yaml": [
    'baton.yaml:7:9 pipelines.p.nodes.hello: duplicate key "run" (first written on line 6)',
  ],
  "foreach-and-matrix.yaml": [
    "baton.yaml:8:9 pipelines.p.nodes.run-all.matrix: foreach: and matrix: cannot be used together (a matrix with one more key does both)",
  ],
  "foreach-not-a-list.yaml": [
    'baton.yaml:9:18 pipelines.p.nodes.train.foreach: foreach: needs a list, but param "lr" of pipeline "p" is of type float (declare it with type: list)',
  ],
  "foreach-on-pipeline-node.yaml": [
    'baton.yaml:9:7 pipelines.sweep.nodes.runs: param "lr" of pipeline "one" has no default: set it in with:',
    'baton.yaml:11:9 pipelines.sweep.nodes.runs.foreach: foreach: cannot be used on a pipeline node (it starts a child run of "one")',
  ],
  "inputs-in-with.yaml": [
    'baton.yaml:11:28 pipelines.p.nodes.train.with.data: "inputs" is not available in with: (available here: params, needs, run, task, env)',
  ],
  "invalid-node-name.yaml": [
    'baton.yaml:5:7 pipelines.p.nodes["train.model"]: invalid node name "train.model": "." is not allowed (a name has 1-200 characters, no leading or trailing whitespace, no control characters, none of . [ ] { } $ " \' ` \\ /)',
  ],
  "item-without-foreach.yaml": [
    'baton.yaml:6:39 pipelines.p.nodes.train.run: "item" is only available in a node with foreach:',
  ],
  "many-problems.yaml": [
    'baton.yaml:5:43 steps.train.params.lr.default: default must be a number (type float), found "fast"',
    'baton.yaml:7:26 steps.train.retries: unknown key "backof" (did you mean "backoff"?)',
    'baton.yaml:13:15 pipelines.p.nodes.prep.pool: unknown pool "gpu" (pools: "local")',
    "baton.yaml:16:23 pipelines.p.nodes.train.needs: cycle train -> evaluate -> train",
    'baton.yaml:19:64 pipelines.p.nodes.evaluate.run: node "prep" is not in the needs: of node "evaluate" (add it there to use its results)',
    'baton.yaml:21:18 pipelines.p.nodes.evaluate.timeout: invalid duration "soon" (write e.g. 500ms, 10s, 1m30s, 2h, 1d, or a number of seconds)',
  ],
  "missing-run.yaml": ['baton.yaml:3:3 steps.train: missing required key "run" (the shell command to run)'],
  "missing-version.yaml": [
    'baton.yaml:2:1: missing required key "version" (add "version: 1" at the top of the file)',
  ],
  "needs-not-in-needs.yaml": [
    'baton.yaml:8:34 pipelines.p.nodes.train.run: node "prep" is not in the needs: of node "train" (add it there to use its results)',
  ],
  "no-run-step-or-pipeline.yaml": [
    'baton.yaml:5:7 pipelines.p.nodes.train: node "train" needs one of run:, step:, pipeline: or release:',
  ],
  "param-default-wrong-type.yaml": [
    'baton.yaml:5:37 pipelines.p.params.epochs.default: default must be an integer (type int), found "ten"',
  ],
  "pipeline-param-in-step-run.yaml": [
    'baton.yaml:4:35 steps.train.run: step "train" has no param "lr" (it declares no params)',
  ],
  "pipeline-self-recursion.yaml": [
    "baton.yaml:5:26 pipelines.outer.nodes.inner.pipeline: pipelines start each other in a cycle: outer -> inner -> outer",
  ],
  "run-and-step.yaml": [
    "baton.yaml:9:9 pipelines.p.nodes.train.step: a node has either run: or step:, not both",
  ],
  "self-need.yaml": ['baton.yaml:7:17 pipelines.p.nodes.train.needs[0]: node "train" needs itself'],
  "slots-zero.yaml": ["baton.yaml:3:17 pools.gpu.slots: expected at least 1, found 0"],
  "step-param-required.yaml": [
    'baton.yaml:10:7 pipelines.p.nodes.train: param "dataset" of step "train" has no default: set it in with:',
  ],
  "trigger-unknown-param.yaml": [
    'baton.yaml:10:17 pipelines.p.triggers[0].with.lr: pipeline "p" has no param "lr" (did you mean "lrs"?)',
  ],
  "unknown-context.yaml": [
    'baton.yaml:6:41 pipelines.p.nodes.train.run: unknown context "parms" (did you mean "params"?)',
  ],
  "unknown-function.yaml": [
    'baton.yaml:6:41 pipelines.p.nodes.train.run: unknown function "fromat" (did you mean "format"? known: contains, startsWith, endsWith, format, join, toJSON, fromJSON, length, quote)',
  ],
  "unknown-input-binding.yaml": [
    'baton.yaml:13:19 pipelines.p.nodes.evaluate.inputs.modles: step "evaluate" has no input "modles" (did you mean "models"?)',
  ],
  "unknown-key.yaml": ['baton.yaml:9:9 pipelines.p.nodes.train: unknown key "neds" (did you mean "needs"?)'],
  "unknown-matrix-key.yaml": [
    'baton.yaml:6:34 pipelines.calibration.nodes.images.run: unknown matrix key "cfg" (matrix keys: "input" and "config")',
  ],
  "unknown-need.yaml": [
    'baton.yaml:9:17 pipelines.train.nodes.eval.needs[0]: unknown node "trian" (did you mean "train"?)',
  ],
  "unknown-needs-member.yaml": [
    'baton.yaml:8:33 pipelines.p.nodes.evaluate.run: unknown member "outputdir" of needs.train (did you mean "output_dir"?)',
  ],
  "unknown-param-in-with.yaml": [
    'baton.yaml:12:17 pipelines.p.nodes.train.with.lrr: step "train" has no param "lrr" (did you mean "lr"?)',
  ],
  "unknown-pipeline.yaml": [
    'baton.yaml:8:26 pipelines.nightly.nodes.train.pipeline: unknown pipeline "trian" (did you mean "train"?)',
  ],
  "unknown-pool.yaml": ['baton.yaml:7:11 steps.train.pool: unknown pool "gpux" (did you mean "gpu"?)'],
  "unknown-step.yaml": [
    'baton.yaml:8:21 pipelines.p.nodes.prep.step: unknown step "preprocss" (did you mean "preprocess"?)',
  ],
  "unsupported-version.yaml": [
    "baton.yaml:1:10 version: unsupported version 2 (this Baton reads version: 1)",
  ],
  "unterminated-expression.yaml": [
    'baton.yaml:6:37 pipelines.p.nodes.train.run: unterminated "${{" (missing "}}")',
  ],
  "webhook-bad-scheme.yaml": [
    'baton.yaml:8:18 pipelines.p.notify[0].webhook: webhook "ftp://hooks.example.com/baton" must be an http:// or https:// URL',
  ],
  "with-wrong-type.yaml": [
    'baton.yaml:11:25 pipelines.p.nodes.train.with.epochs: param "epochs": expected an integer (type int), found "many"',
  ],
};

function problemsOf(text: string): string[] {
  try {
    parseProjectText(text, "baton.yaml");
  } catch (err) {
    if (err instanceof BatonError && err.code === "SPEC_INVALID") return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe("invalid corpus", () => {
  const files = readdirSync(invalidDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it("has an expected entry for every fixture, and a fixture for every entry", () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  it.each(files)("%s", (file) => {
    const text = readFileSync(`${invalidDir}${file}`, "utf8");
    expect(problemsOf(text)).toEqual(EXPECTED[file]);
  });
});

function load(file: string, cpus?: number): ProjectSpec {
  return parseProjectText(readFileSync(`${validDir}${file}`, "utf8"), "baton.yaml", { cpus });
}

function task(project: ProjectSpec, pipeline: string, node: string): TaskNodeSpec {
  const spec = project.pipelines[pipeline]?.nodes[node];
  if (spec?.kind !== "task") throw new Error(`${pipeline}.${node} is not a task node`);
  return spec;
}

describe("valid corpus", () => {
  const files = readdirSync(validDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it.each(files)("%s parses without problems and fits the raw schema", (file) => {
    const text = readFileSync(`${validDir}${file}`, "utf8");
    expect(problemsOf(text)).toEqual([]);
    expect(ProjectFileSchema().safeParse(parseYaml(text, { merge: true })).success).toBe(true);
  });

  it("resolves the full example of the pipeline file reference", () => {
    const project = load("design-example.yaml", 16);
    expect(project.defaults).toMatchObject({ pool: "local", timeoutMs: 7_200_000, cache: { enabled: true } });
    expect(project.pools.local).toMatchObject({ slots: 2, resources: {} });
    expect(project.pools.gpu).toMatchObject({ slots: 1, resources: { gpu: 1 } });

    const train = task(project, "train-eval", "train");
    expect(train).toMatchObject({
      step: "train",
      pool: "gpu",
      retries: { limit: 2, backoffMs: 10_000 },
      timeoutMs: 7_200_000,
      foreach: "${{ params.lrs }}",
      with: { lr: "${{ item }}" },
      bindings: { dataset: "${{ needs.preprocess.outputs['*.npz'] }}" },
      params: { lr: { type: "float", default: 0.001 } },
      needs: [{ node: "preprocess", condition: "success" }],
    });
    const prep = task(project, "train-eval", "preprocess");
    expect(prep).toMatchObject({
      cache: { enabled: true, deps: ["preprocess.py"] },
      outputs: ["*.npz"],
      inputs: { raw: { default: ["data/raw/*.csv"], optional: false } },
      params: { seed: { type: "int", default: 0 } },
      retries: { limit: 0, backoffMs: 0 },
    });
    expect(task(project, "train-eval", "evaluate").needs).toEqual([{ node: "train", condition: "success" }]);
    expect(task(project, "train-eval", "alert").needs).toEqual([{ node: "train", condition: "failure" }]);
    expect(task(project, "train-eval", "evaluate").inputs).toEqual({ models: { optional: false } });

    const pipeline = project.pipelines["train-eval"]!;
    expect(pipeline.params).toEqual({ lrs: { type: "list", default: [0.1, 0.01, 0.001] } });
    expect(pipeline.triggers).toEqual([
      {
        name: "train-eval-cron-1",
        kind: "cron",
        cron: "0 9 * * MON",
        overlap: "skip",
        catchup: "latest",
        with: { lrs: [0.1] },
        loc: { file: "baton.yaml", line: 41, column: 9 },
      },
    ]);
    expect(pipeline.notify).toMatchObject([
      { on: ["failure", "success"], webhook: "http://127.0.0.1:9000/hook" },
    ]);

    const calibration = project.pipelines.calibration!;
    expect(Object.keys(calibration.nodes)).toEqual(["images", "calibrate", "evaluate"]);
    expect(task(project, "calibration", "images").matrix).toEqual({
      input: ["DL50.raw", "DL55.raw", "DL65.raw"],
      config: ["base"],
    });
  });

  it("resolves a QA-Board style matrix batch", () => {
    const project = load("qaboard-matrix.yaml", 16);
    expect(project.pools).toEqual({
      local: { name: "local", slots: 4, resources: {}, loc: { file: "baton.yaml", line: 8, column: 3 } },
    });
    const images = task(project, "calibration", "images");
    expect(images).toMatchObject({
      step: "algo",
      matrix: { input: "${{ params.inputs }}", config: ["base", "fast"] },
      with: { config: "${{ matrix.config }}" },
      bindings: { image: "images/${{ matrix.input }}" },
      inputs: { image: { default: ["images/*.raw"], optional: false, description: "the image to process" } },
      params: { config: { type: "string", choices: ["base", "fast", "slow"], default: "base" } },
      outputs: ["*.json", "*.png"],
      cache: { enabled: true, deps: ["algo"] },
      retries: { limit: 1, backoffMs: 0 },
      timeoutMs: 1_800_000,
      env: { ALGO_LOG: "debug" },
    });
    const calibrate = task(project, "calibration", "calibrate");
    expect(calibrate).toMatchObject({
      retries: { limit: 3, backoffMs: 90_000 },
      timeoutMs: 3_600_000,
      env: { ALGO_LOG: "info" },
      // An inline node takes the pipeline params it uses.
      params: { quick: { type: "bool", default: false } },
      with: { quick: "${{ params.quick }}" },
    });
    const evaluate = task(project, "calibration", "evaluate");
    expect(evaluate.needs).toEqual([
      { node: "calibrate", condition: "success" },
      { node: "images", condition: "always" },
    ]);
    expect(evaluate).toMatchObject({
      priority: 5,
      cache: { enabled: false },
      if: "${{ needs.calibrate.status == 'succeeded' }}",
    });
    expect(project.pipelines.calibration!.params.inputs).toEqual({
      type: "list",
      default: ["DL50.raw", "DL55.raw", "DL65.raw"],
    });
  });

  it("resolves Valohai nodes and edges into needs, bindings and with: values", () => {
    const project = load("valohai-edges.yaml");
    expect(project.pools.local?.slots).toBe(2);
    const nodes = project.pipelines.training!.nodes;
    expect(Object.keys(nodes)).toEqual(["preprocess", "train", "evaluate"]);
    const train = nodes.train as TaskNodeSpec;
    expect(train).toMatchObject({
      path: "pipelines.training.nodes[1]",
      needs: [{ node: "preprocess", condition: "success" }],
      bindings: {
        "train-images": "${{ needs.preprocess.outputs['*train-images*'] }}",
        "test-images": "${{ needs.preprocess.outputs['*test-images*'] }}",
      },
      with: { epochs: 10, split: "${{ needs.preprocess.params.validation-split }}" },
      timeoutMs: 7_200_000,
      inputs: { "train-images": { optional: false }, "test-images": { optional: true } },
    });
    const evaluate = nodes.evaluate as TaskNodeSpec;
    expect(evaluate).toMatchObject({
      needs: [{ node: "train", condition: "success" }],
      bindings: { model: "${{ needs.train.outputs['model*'] }}" },
      with: { lr: "${{ needs.train.metrics.best_lr }}" },
    });
    expect((nodes.preprocess as TaskNodeSpec | PipelineNodeSpec).needs).toEqual([]);
  });
});
