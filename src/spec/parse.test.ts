import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { BatonError, formatProblem } from "../errors.js";
import { parsePipelineDefinition, parseProjectText } from "./parse.js";
import type { TaskNodeSpec } from "./types.js";

/** Joins lines, so that YAML in tests reads like a file. */

function task(project: ReturnType<typeof parseProjectText>, pipeline: string, node: string): TaskNodeSpec {
  const spec = project.pipelines[pipeline]?.nodes[node];
  if (spec?.kind !== "task") throw new Error(`${pipeline}.${node} is not a task node`);
  return spec;
}

describe("parseProjectText", () => {
  it("gives a file without pools: one local pool with the caller's CPU count", () => {
    const text = yaml("version: 1", "pipelines:", "  p:", "    nodes:", "      a: { run: echo a }");
    expect(parseProjectText(text, "baton.yaml").pools).toEqual({
      local: { name: "local", slots: 2, resources: {} },
    });
    expect(parseProjectText(text, "baton.yaml", { cpus: 8 }).pools.local?.slots).toBe(8);
  });

  it("adds the local pool next to pools the file defines, and fills in its slots", () => {
    const withGpu = yaml("version: 1", "pools:", "  gpu: { resources: { gpu: 1 } }");
    const project = parseProjectText(withGpu, "baton.yaml", { cpus: 6 });
    expect(Object.keys(project.pools)).toEqual(["local", "gpu"]);
    expect(project.pools.local?.slots).toBe(6);
    expect(project.pools.gpu).toMatchObject({ slots: 1, resources: { gpu: 1 }, loc: { line: 3, column: 3 } });
    const localOnly = parseProjectText(yaml("version: 1", "pools:", "  local: {}"), "baton.yaml", {
      cpus: 3,
    });
    expect(localOnly.pools.local?.slots).toBe(3);
  });

  it("resolves settings defaults -> step -> node, node keys winning and env merging", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "defaults: { retries: 1, timeout: 1h, cache: false, priority: 1, env: { A: a, B: b } }",
        "pools: { gpu: { slots: 1 } }",
        "steps:",
        "  train:",
        "    run: python train.py",
        "    pool: gpu",
        "    retries: { backoff: 10s }",
        "    env: { B: step, N: 3 }",
        "    outputs: model.pt",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      train:",
        "        step: train",
        "        timeout: 5m",
        "        cache: { deps: [train.py] }",
        "        env: { C: node }",
        "      plain: { run: echo hi, timeout: null }",
      ),
      "baton.yaml",
    );
    expect(project.defaults).toEqual({
      pool: "local",
      retries: { limit: 1, backoffMs: 0 },
      timeoutMs: 3_600_000,
      cache: { enabled: false, deps: [] },
      priority: 1,
      env: { A: "a", B: "b" },
    });
    expect(project.steps.train).toMatchObject({
      pool: "gpu",
      retries: { limit: 1, backoffMs: 10_000 },
      outputs: ["model.pt"],
    });
    const train = task(project, "p", "train");
    expect(train).toMatchObject({
      step: "train",
      pool: "gpu",
      retries: { limit: 1, backoffMs: 10_000 },
      timeoutMs: 300_000,
      cache: { enabled: false, deps: ["train.py"] },
      priority: 1,
      env: { A: "a", B: "step", N: "3", C: "node" },
      outputs: ["model.pt"],
      path: "pipelines.p.nodes.train",
      loc: { file: "baton.yaml", line: 14, column: 7 },
    });
    expect(task(project, "p", "plain").timeoutMs).toBeUndefined();
    expect("timeoutMs" in task(project, "p", "plain")).toBe(false);
  });

  it("reads needs as a name, a list, or a map of conditions", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      a: { run: a }",
        "      b: { run: b, needs: a }",
        "      c: { run: c, needs: [a, b] }",
        "      d: { run: d, needs: { a: failure, c: always } }",
      ),
      "baton.yaml",
    );
    const nodes = project.pipelines.p!.nodes;
    expect(nodes.b!.needs).toEqual([{ node: "a", condition: "success" }]);
    expect(nodes.c!.needs).toEqual([
      { node: "a", condition: "success" },
      { node: "b", condition: "success" },
    ]);
    expect(nodes.d!.needs).toEqual([
      { node: "a", condition: "failure" },
      { node: "c", condition: "always" },
    ]);
  });

  it("lets an inline node use its pipeline's params directly", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    params: { lr: 0.1, seed: 1, unused: x }",
        "    nodes:",
        "      train:",
        "        run: python train.py --lr ${{ params.lr }}",
        "        with: { seed: 2 }",
      ),
      "baton.yaml",
    );
    const train = task(project, "p", "train");
    expect(train.params).toEqual({ lr: { type: "float", default: 0.1 }, seed: { type: "int", default: 1 } });
    expect(train.with).toEqual({ seed: 2, lr: "${{ params.lr }}" });
  });

  it("wraps a bare if: expression, GitHub Actions style", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    params: { fast: false }",
        "    nodes:",
        '      a: { run: a, if: "!params.fast" }',
        '      b: { run: b, if: "${{ params.fast }}" }',
        "      c: { run: c, if: false }",
      ),
      "baton.yaml",
    );
    const nodes = project.pipelines.p!.nodes;
    expect(nodes.a!.if).toBe("${{ !params.fast }}");
    expect(nodes.b!.if).toBe("${{ params.fast }}");
    expect(nodes.c!.if).toBe("${{ false }}");
  });

  it("turns Valohai edges into needs, bindings and with: values", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "steps:",
        "  prep: { run: ./prep.sh, params: { split: 0.2 } }",
        "  train: { run: './train.sh ${{ inputs.images }}', inputs: { images: {} }, params: { split: 0.1, lr: 0.01 } }",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      - name: prep",
        "        step: prep",
        "      - name: train",
        "        step: train",
        "        override: { inputs: { images: extra/*.png }, retries: 2 }",
        "    edges:",
        "      - [prep.output.*.png, train.input.images]",
        "      - { source: prep.parameter.split, target: train.parameter.split }",
        "      - [prep.metadata.best_lr, train.parameter.lr]",
      ),
      "baton.yaml",
    );
    const train = task(project, "p", "train");
    expect(train.needs).toEqual([{ node: "prep", condition: "success" }]);
    expect(train.bindings).toEqual({ images: ["extra/*.png", "${{ needs.prep.outputs['*.png'] }}"] });
    expect(train.with).toEqual({
      split: "${{ needs.prep.params.split }}",
      lr: "${{ needs.prep.metrics.best_lr }}",
    });
    expect(train.retries.limit).toBe(2);
    expect(train.path).toBe("pipelines.p.nodes[1]");
    expect(train.loc).toEqual({ file: "baton.yaml", line: 10, column: 9 });
  });

  it("turns Valohai edges between nodes named with spaces into bracketed references", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "steps:",
        "  prep: { run: ./prep.sh, params: { test split: 0.2 } }",
        "  train: { run: ./train.sh, inputs: { images: {} }, params: { split: 0.1, lr: 0.01 } }",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      - { name: Prepare data, step: prep }",
        "      - { name: Train model, step: train }",
        "    edges:",
        "      - [Prepare data.output.*.png, Train model.input.images]",
        "      - [Prepare data.parameter.test split, Train model.parameter.split]",
        "      - [Prepare data.metadata.best lr, Train model.parameter.lr]",
      ),
      "baton.yaml",
    );
    const train = task(project, "p", "Train model");
    expect(train.needs).toEqual([{ node: "Prepare data", condition: "success" }]);
    expect(train.bindings).toEqual({ images: "${{ needs['Prepare data'].outputs['*.png'] }}" });
    expect(train.with).toEqual({
      split: "${{ needs['Prepare data'].params['test split'] }}",
      lr: "${{ needs['Prepare data'].metrics['best lr'] }}",
    });
  });

  it("reports Valohai edges naming params that do not exist", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "steps:",
          "  prep: { run: ./prep.sh, params: { split: 0.2 } }",
          "  train: { run: ./train.sh, params: { split: 0.1 } }",
          "pipelines:",
          "  p:",
          "    nodes: [{ name: prep, step: prep }, { name: train, step: train }]",
          "    edges:",
          "      - [prep.parameter.splt, train.parameter.split]",
          "      - [prep.parameter.split, train.parameter.spilt]",
        ),
      ),
    ).toEqual([
      'baton.yaml:9:10 pipelines.p.edges[0][0]: node "prep" has no param "splt" (did you mean "split"?)',
      'baton.yaml:10:32 pipelines.p.edges[1][1]: step "train" has no param "spilt" (did you mean "split"?)',
    ]);
  });

  it("accepts YAML anchors and merge keys", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "steps:",
        "  base: &base { run: ./base.sh, retries: 3, env: { MODE: ci } }",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      a:",
        "        <<: *base",
        "        priority: 2",
      ),
      "baton.yaml",
    );
    expect(task(project, "p", "a")).toMatchObject({
      run: "./base.sh",
      retries: { limit: 3 },
      env: { MODE: "ci" },
      priority: 2,
    });
  });

  it("parses 1,000 nodes well under a second", () => {
    const lines = [
      "version: 1",
      "steps:",
      "  work: { run: './work.sh ${{ params.i }}', params: { i: 0 } }",
      "pipelines:",
      "  big:",
      "    nodes:",
    ];
    for (let i = 0; i < 1000; i++) {
      lines.push(`      n${i}:`, "        step: work", `        with: { i: ${i} }`);
      if (i > 0) lines.push(`        needs: [n${i - 1}${i > 10 ? `, n${i - 10}` : ""}]`);
      if (i % 10 === 0 && i > 0) lines.push(`        env: { PREV: "\${{ needs.n${i - 1}.status }}" }`);
    }
    const text = yaml(...lines);
    parseProjectText(text, "baton.yaml");
    const started = performance.now();
    const project = parseProjectText(text, "baton.yaml");
    const elapsed = performance.now() - started;
    expect(Object.keys(project.pipelines.big!.nodes)).toHaveLength(1000);
    expect(elapsed).toBeLessThan(1000);
  });
});

describe("problems and where they point", () => {
  it("lists every problem at once, sorted by position, in the error's message too", () => {
    const text = yaml(
      "version: 1",
      "pipelines:",
      "  p:",
      "    nodes:",
      "      a: { run: a, needs: [b] }",
      "      b: { run: b, needs: [a], pool: gpu }",
      "      c: { stp: x }",
    );
    let err: unknown;
    try {
      parseProjectText(text, "baton.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BatonError);
    const e = err as BatonError;
    expect(e.code).toBe("SPEC_INVALID");
    const lines = [
      "baton.yaml:5:28 pipelines.p.nodes.a.needs: cycle a -> b -> a",
      'baton.yaml:6:38 pipelines.p.nodes.b.pool: unknown pool "gpu" (pools: "local")',
      'baton.yaml:7:7 pipelines.p.nodes.c: node "c" needs one of run:, step:, pipeline: or release:',
      'baton.yaml:7:12 pipelines.p.nodes.c: unknown key "stp" (did you mean "step"?)',
    ];
    expect(e.problems.map(formatProblem)).toEqual(lines);
    expect(e.message).toBe(lines.join("\n"));
    expect(e.problems[0]).toEqual({
      file: "baton.yaml",
      line: 5,
      column: 28,
      path: "pipelines.p.nodes.a.needs",
      message: "cycle a -> b -> a",
    });
  });

  it("points inside quoted strings at the exact character", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          '      a: { run: "echo \\"${{ task.nam }}\\"" }',
          "      b: { run: 'echo ''${{ inputs.x }}''' }",
        ),
      ),
    ).toEqual([
      'baton.yaml:5:29 pipelines.p.nodes.a.run: unknown member "nam" of task (did you mean "name"?)',
      'baton.yaml:6:29 pipelines.p.nodes.b.run: node "b" has no input "x" (it declares no inputs)',
    ]);
  });

  it("points inside literal blocks and bare if: conditions", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          "      a:",
          "        run: |",
          "          echo start",
          "            echo ${{ matrix.x }}",
          "        if: run.id == 'x' && parms.y",
        ),
      ),
    ).toEqual([
      'baton.yaml:8:22 pipelines.p.nodes.a.run: "matrix" is only available in a node with matrix:',
      'baton.yaml:9:30 pipelines.p.nodes.a.if: unknown context "parms" (did you mean "params"?)',
    ]);
  });

  it("checks each field's names: foreach, with, needs members, params of needed nodes", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "steps:",
          "  s: { run: './s.sh ${{ params.x }}', params: { x: 1 } }",
          "pipelines:",
          "  p:",
          "    params: { n: 3 }",
          "    nodes:",
          "      a: { step: s }",
          "      b:",
          "        step: s",
          "        needs: [a]",
          "        foreach: ${{ item }}",
          "        with: { x: '${{ needs.a.params.y }}' }",
          "      c:",
          "        run: echo ${{ needs.a.metrics.acc }} ${{ needs.b.status }}",
          "        needs: [a, b]",
          "        if: ${{ task.id }}",
        ),
      ),
    ).toEqual([
      'baton.yaml:12:22 pipelines.p.nodes.b.foreach: "item" is not available in foreach: (available here: params, needs, run, env)',
      'baton.yaml:13:25 pipelines.p.nodes.b.with.x: node "a" has no param "y" (did you mean "x"?)',
      'baton.yaml:17:17 pipelines.p.nodes.c.if: "task" is not available in if: (available here: params, needs, run, env)',
    ]);
  });

  it("checks step templates once per node for what depends on the node", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "steps:",
          "  s: { run: './s.sh ${{ item }} ${{ params.lr }}' }",
          "pipelines:",
          "  p:",
          "    nodes:",
          "      a: { step: s, foreach: [1, 2] }",
          "      b: { step: s }",
        ),
      ),
    ).toEqual([
      'baton.yaml:3:25 steps.s.run: "item" is only available in a node with foreach: (in node "b" of pipeline "p")',
      'baton.yaml:3:37 steps.s.run: step "s" has no param "lr" (it declares no params)',
    ]);
  });

  it("reports duplicate keys with the other problems", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          "      a: { run: a, needs: [x] }",
          "      a: { run: b }",
        ),
      ),
    ).toEqual(['baton.yaml:6:7 pipelines.p.nodes: duplicate key "a" (first written on line 5)']);
  });

  it("stops at YAML syntax errors", () => {
    expect(problems(yaml("version: 1", "pipelines:", "  p: [", "    nodes: {}"))).toEqual([
      "baton.yaml:5:1: YAML syntax: flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  it("says when the file is empty or not a map", () => {
    expect(problems("# nothing yet\n")).toEqual([
      "baton.yaml:1:1: the file is empty (expected version: 1, steps: and pipelines:)",
    ]);
    expect(problems("- a\n- b\n")).toEqual(["baton.yaml:1:1: expected a map, found a list"]);
  });

  it("checks pipeline nodes: child params, required params, and types", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  child:",
          "    params: { lr: { type: float }, n: 1 }",
          "    nodes: { a: { run: a } }",
          "  parent:",
          "    nodes:",
          "      run-child: { pipeline: child, with: { n: two, lrr: 0.1 } }",
        ),
      ),
    ).toEqual([
      'baton.yaml:8:7 pipelines.parent.nodes.run-child: param "lr" of pipeline "child" has no default: set it in with:',
      'baton.yaml:8:48 pipelines.parent.nodes.run-child.with.n: param "n": expected an integer (type int), found "two"',
      'baton.yaml:8:53 pipelines.parent.nodes.run-child.with.lrr: pipeline "child" has no param "lrr" (did you mean "lr"?)',
    ]);
  });

  it("reports a pipeline that runs itself", () => {
    expect(
      problems(yaml("version: 1", "pipelines:", "  p:", "    nodes:", "      again: { pipeline: p }")),
    ).toEqual([
      'baton.yaml:5:26 pipelines.p.nodes.again.pipeline: pipeline "p" runs itself (node "again" starts it as a child run)',
    ]);
  });
});

describe("parsePipelineDefinition", () => {
  const definition = {
    version: 1,
    pipelines: {
      sweep: {
        nodes: {
          prep: { run: "python prep.py" },
          train: { run: "python train.py --lr ${{ item }}", needs: ["prep"], foreach: [0.1, 0.01] },
        },
      },
    },
  };

  it("resolves a JSON definition like a file, without positions", () => {
    const project = parsePipelineDefinition(definition, "api");
    const train = project.pipelines.sweep!.nodes.train as TaskNodeSpec;
    expect(train.foreach).toEqual([0.1, 0.01]);
    expect(train.needs).toEqual([{ node: "prep", condition: "success" }]);
    expect(train.loc).toEqual({ file: "api", line: 0, column: 0 });
    expect(project.pools.local?.slots).toBe(2);
  });

  it("reports problems with key paths only", () => {
    let err: BatonError | undefined;
    try {
      parsePipelineDefinition(
        { version: 1, pipelines: { sweep: { nodes: { train: { run: "x ${{ item }}", neds: ["prep"] } } } } },
        "api",
      );
    } catch (e) {
      err = e as BatonError;
    }
    expect(err?.problems).toEqual([
      {
        file: "api",
        path: "pipelines.sweep.nodes.train",
        message: 'unknown key "neds" (did you mean "needs"?)',
      },
    ]);
    expect(err?.problems.map(formatProblem)).toEqual([
      'api pipelines.sweep.nodes.train: unknown key "neds" (did you mean "needs"?)',
    ]);
  });
});

describe("smaller rules", () => {
  it("reports needs listed twice and expressions naming nodes outside needs", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          "      train: { run: t }",
          "      eval:",
          "        run: echo ${{ needs.trian.status }}",
          "        needs: [train, train]",
        ),
      ),
    ).toEqual([
      'baton.yaml:7:23 pipelines.p.nodes.eval.run: unknown node "trian" in needs.trian (did you mean "train"?)',
      'baton.yaml:8:24 pipelines.p.nodes.eval.needs[1]: "train" is listed twice in needs:',
    ]);
  });

  it("reports a node listed twice in a long needs: list, and still finds cycles through the rest", () => {
    const many = Array.from({ length: 20 }, (_, i) => `a${i}`);
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          ...many.map((n) => `      ${n}: { run: t }`),
          `      b: { run: t, needs: [${many.join(", ")}, a3, c, b] }`,
          "      c: { run: t, needs: [b] }",
        ),
      ),
    ).toEqual([
      'baton.yaml:25:118 pipelines.p.nodes.b.needs[20]: "a3" is listed twice in needs:',
      "baton.yaml:25:122 pipelines.p.nodes.b.needs: cycle b -> c -> b",
      'baton.yaml:25:125 pipelines.p.nodes.b.needs[22]: node "b" needs itself',
    ]);
  });

  it("treats an empty step or pipeline as missing its required keys", () => {
    expect(problems(yaml("version: 1", "steps:", "  s:", "pipelines:", "  p:"))).toEqual([
      'baton.yaml:3:3 steps.s: missing required key "run" (the shell command to run)',
      'baton.yaml:5:3 pipelines.p: missing required key "nodes" (the nodes of the pipeline)',
    ]);
  });

  it("checks trigger values against the pipeline's params", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    params: { lr: { type: float }, mode: { choices: [a, b], default: a } }",
          "    nodes: { t: { run: 'echo ${{ params.lr }} ${{ params.mode }}' } }",
          "    triggers:",
          "      - cron: '@daily'",
          "      - cron: '0 0 * * *'",
          "        with: { lr: '${{ run.id }}', mode: c }",
        ),
      ),
    ).toEqual([
      'baton.yaml:7:15 pipelines.p.triggers[0].cron: invalid cron "@daily": expected five cron fields, found "@daily" (write "0 0 * * *" instead)',
      "baton.yaml:9:21 pipelines.p.triggers[1].with.lr: expressions are not evaluated in triggers: give a literal value",
      'baton.yaml:9:44 pipelines.p.triggers[1].with.mode: param "mode": "c" is not one of the choices "a" or "b"',
    ]);
  });

  it("checks trigger kinds, time zones, overlap values and names", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes: { t: { run: 'true' } }",
          "    triggers:",
          "      - { cron: '0 9 * * MON', timezone: Europe/Helsinky, name: weekly }",
          "      - { cron: '*/2 * * * * *', overlap: sometimes }",
          "      - { after: { pipeline: q }, name: weekly }",
          "      - { webhook: true, cron: '* * * * *' }",
          "      - { with: {} }",
          "      - { after: { pipeline: q, status: done }, catchup: none }",
          "  q:",
          "    nodes: { t: { run: 'true' } }",
          "    triggers:",
          "      - { webhook: { secret: s3cret }, name: weekly }",
        ),
      ),
    ).toEqual([
      'baton.yaml:6:42 pipelines.p.triggers[0].timezone: unknown time zone "Europe/Helsinky" (expected an IANA name such as "Europe/Helsinki" or "UTC")',
      'baton.yaml:7:43 pipelines.p.triggers[1].overlap: expected one of "skip", "queue" or "allow", found "sometimes"',
      'baton.yaml:8:41 pipelines.p.triggers[2].name: duplicate trigger name "weekly" (also at pipelines.p.triggers[0]): trigger names are unique in the file',
      "baton.yaml:9:9 pipelines.p.triggers[3]: a trigger has one of cron:, after: or webhook:, not cron and webhook",
      "baton.yaml:10:9 pipelines.p.triggers[4]: a trigger needs one of cron:, after: or webhook:",
      'baton.yaml:11:41 pipelines.p.triggers[5].after.status: expected one of "success", "failure", "cancelled" or "any", found "done"',
      "baton.yaml:11:49 pipelines.p.triggers[5].catchup: catchup: applies to cron triggers only",
      'baton.yaml:15:46 pipelines.q.triggers[0].name: duplicate trigger name "weekly" (also at pipelines.p.triggers[0]): trigger names are unique in the file',
    ]);
  });

  it("names triggers that have no name PIPELINE-KIND-N and accepts seconds", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pipelines:",
        "  p:",
        "    nodes: { t: { run: 'true' } }",
        "    triggers:",
        "      - { cron: '*/5 * * * * *', timezone: UTC, overlap: queue, catchup: none }",
        "      - { after: { pipeline: p, status: any } }",
        "      - { webhook: { secret: s3cret } }",
      ),
      "baton.yaml",
    );
    expect(project.pipelines.p!.triggers.map(({ loc, ...t }) => t)).toEqual([
      {
        name: "p-cron-1",
        kind: "cron",
        cron: "*/5 * * * * *",
        timezone: "UTC",
        overlap: "queue",
        catchup: "none",
        with: {},
      },
      {
        name: "p-after-2",
        kind: "after",
        after: { pipeline: "p", status: "any" },
        overlap: "skip",
        catchup: "latest",
        with: {},
      },
      {
        name: "p-webhook-3",
        kind: "webhook",
        webhook: { secret: "s3cret" },
        overlap: "skip",
        catchup: "latest",
        with: {},
      },
    ]);
  });

  it("checks env variable names, timeouts and names of things", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pools: { 'gpu/pool': {} }",
          "steps:",
          "  s: { run: s, env: { MY-VAR: x }, timeout: 0 }",
          "pipelines:",
          "  p:",
          "    nodes: { a: { step: s, matrix: { 'bad key': [1] } } }",
        ),
      ),
    ).toEqual([
      `baton.yaml:2:10 pools["gpu/pool"]: invalid pool name "gpu/pool": "/" is not allowed (a name has 1-200 characters, no leading or trailing whitespace, no control characters, none of . [ ] { } $ " ' \` \\ /)`,
      'baton.yaml:4:23 steps.s.env.MY-VAR: invalid environment variable name "MY-VAR" (use letters, digits and "_")',
      "baton.yaml:4:45 steps.s.timeout: timeout must be longer than 0 (leave it out for no limit)",
      'baton.yaml:7:38 pipelines.p.nodes.a.matrix["bad key"]: invalid matrix key name "bad key" (use letters, digits, "_" and "-", starting with a letter or "_")',
    ]);
  });
});
