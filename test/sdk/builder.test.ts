/**
 * `pipeline()`: the definition it writes is the one `baton.yaml` gives (same parser, same
 * model), and its problems are those of the parser, placed at the builder call that wrote them.
 */
import { describe, expect, it } from "vitest";
import { BatonError, type StepOptions, pipeline } from "../../dist/index.js";
import { parseProjectText } from "../../src/spec/parse.js";

const FILE = "test/sdk/builder.test.ts";

/** The line this function is called from, in this file. */
function lineHere(): number {
  const frame = new Error().stack?.split("\n")[2] ?? "";
  return Number(/:(\d+):\d+\)?$/.exec(frame)?.[1]);
}

/** The model without where things were written (a YAML file has lines, a builder has none). */
function withoutLocations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLocations);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== "loc" && k !== "file") out[k] = withoutLocations(v);
    return out;
  }
  return value;
}

function specError(run: () => unknown): BatonError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe("SPEC_INVALID");
    return err as BatonError;
  }
  throw new Error("expected a SPEC_INVALID error");
}

describe("pipeline() writes what baton.yaml holds", () => {
  it("gives the same model as the YAML parser for every kind of node", () => {
    const yaml = `version: 1
defaults: { retries: 1, timeout: 1h }
pools:
  gpu: { slots: 1, resources: { gpu: 1 } }
steps:
  train:
    run: python train.py --lr \${{ params.lr }} --data \${{ inputs.dataset }}
    pool: gpu
    inputs: { dataset: {} }
    params: { lr: { type: float, default: 0.001 } }
    retries: { limit: 2, backoff: 10s }
pipelines:
  train-eval:
    params: { lrs: { type: list, default: [0.1, 0.01] } }
    nodes:
      preprocess:
        run: python preprocess.py --out "$BATON_OUTPUT_DIR"
        outputs: ["*.npz"]
        cache: { deps: [preprocess.py] }
      train:
        step: train
        needs: [preprocess]
        foreach: \${{ params.lrs }}
        with: { lr: "\${{ item }}" }
        inputs: { dataset: "\${{ needs.preprocess.outputs['*.npz'] }}" }
      evaluate:
        run: python eval.py \${{ inputs.models }}
        needs: { train: success }
        inputs: { models: "\${{ needs.train.outputs['model*'] }}" }
        timeout: 5m
        cache: false
      images:
        run: ./algo --config \${{ matrix.config }} \${{ matrix.input }}
        matrix: { input: [a.raw, b.raw], config: [base] }
        env: { MODE: fast }
        priority: 3
        pool: gpu
      report:
        pipeline: report
        needs: { evaluate: always, images: failure }
        with: { title: weekly }
  report:
    params: { title: { type: string } }
    nodes:
      render:
        run: echo \${{ params.title }}
        if: \${{ params.title != '' }}
        params: { title: "" }
        with: { title: "\${{ params.title }}" }
`;
    const report = pipeline("report")
      .params({ title: { type: "string" } })
      .step("render", {
        run: "echo ${{ params.title }}",
        if: "${{ params.title != '' }}",
        params: { title: "" },
        with: { title: "${{ params.title }}" },
      });
    const built = pipeline("train-eval")
      .defaults({ retries: 1, timeout: "1h" })
      .pool("gpu", { slots: 1, resources: { gpu: 1 } })
      .template("train", {
        run: "python train.py --lr ${{ params.lr }} --data ${{ inputs.dataset }}",
        pool: "gpu",
        inputs: { dataset: {} },
        params: { lr: { type: "float", default: 0.001 } },
        retries: { limit: 2, backoff: "10s" },
      })
      .params({ lrs: { type: "list", default: [0.1, 0.01] } })
      .step("preprocess", {
        run: 'python preprocess.py --out "$BATON_OUTPUT_DIR"',
        outputs: ["*.npz"],
        cache: { deps: ["preprocess.py"] },
      })
      .step("train", {
        step: "train",
        needs: ["preprocess"],
        foreach: "${{ params.lrs }}",
        with: { lr: "${{ item }}" },
        inputs: { dataset: "${{ needs.preprocess.outputs['*.npz'] }}" },
      })
      .step("evaluate", {
        run: "python eval.py ${{ inputs.models }}",
        needs: { train: "success" },
        inputs: { models: "${{ needs.train.outputs['model*'] }}" },
        timeout: "5m",
        cache: false,
      })
      .step("images", {
        run: "./algo --config ${{ matrix.config }} ${{ matrix.input }}",
        matrix: { input: ["a.raw", "b.raw"], config: ["base"] },
        env: { MODE: "fast" },
        priority: 3,
        pool: "gpu",
      })
      .step("report", {
        pipeline: report,
        needs: { evaluate: "always", images: "failure" },
        with: { title: "weekly" },
      });

    const fromYaml = parseProjectText(yaml, "baton.yaml");
    expect(withoutLocations(built.validate().project)).toEqual(withoutLocations(fromYaml));
  });

  it("takes names with spaces and the Valohai param keys, as baton.yaml does", () => {
    const p = pipeline("Three-Trainings Pipeline")
      .params({ "learning rate": { type: "float", default: 0.1, max: 1, "pass-as": "--lr={v}" } })
      .step("Train model (MNIST)", { run: "python train.py ${{ args }} ${{ arg['learning rate'] }}" });
    const spec = p.validate().project!.pipelines["Three-Trainings Pipeline"]!;
    expect(Object.keys(spec.nodes)).toEqual(["Train model (MNIST)"]);
    expect(spec.params["learning rate"]).toMatchObject({ type: "float", max: 1, passAs: "--lr={v}" });
  });

  it("declares a Slurm pool as baton.yaml does: executor and sbatch options", () => {
    const p = pipeline("sweep")
      .pool("hpc", {
        slots: 64,
        executor: "slurm",
        slurm: { partition: "gpu", extra: ["--nodes=1"], arrays: false },
      })
      .step("train", { run: "echo ${{ item }}", foreach: [1, 2], pool: "hpc" });
    const pool = p.validate().project!.pools.hpc;
    expect(pool).toMatchObject({
      slots: 64,
      executor: "slurm",
      slurm: { partition: "gpu", extra: ["--nodes=1"], arrays: false },
    });
  });

  it("writes a plain JSON definition: nested pipelines by name, hooks left out", () => {
    const child = pipeline("child").step("a", { run: "echo a" });
    const p = pipeline("main")
      .step("first", { run: "echo 1", after: () => undefined, continueOnFailure: true, concurrency: 2 })
      .step("sub", { pipeline: child, needs: "first" });
    expect(p.isControlled).toBe(true);
    expect(child.isControlled).toBe(false);
    const definition = p.toDefinition();
    expect(definition).toEqual({
      version: 1,
      pipelines: {
        main: { nodes: { first: { run: "echo 1" }, sub: { pipeline: "child", needs: "first" } } },
        child: { nodes: { a: { run: "echo a" } } },
      },
    });
    expect(JSON.parse(JSON.stringify(definition))).toEqual(definition);
  });
});

describe("pipeline() problems are placed at the builder call", () => {
  it("an unknown need: at its .step() call, with the parser's words", () => {
    const p = pipeline("sweep").step("train", { run: "echo" });
    const line = lineHere() + 1;
    p.step("eval", { run: "echo", needs: ["trian"] });
    const err = specError(() => p.validate());
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatchObject({ file: FILE, line, path: "pipelines.sweep.nodes.eval.needs[0]" });
    expect(err.problems[0]!.message).toMatch(/unknown node "trian" \(did you mean "train"\?\)/);
    expect(err.message).toMatch(
      new RegExp(`^${FILE}:${line}:\\d+ pipelines\\.sweep\\.nodes\\.eval\\.needs\\[0\\]: `),
    );
  });

  it("a key the file format does not have: at the step that wrote it", () => {
    const p = pipeline("typo");
    const line = lineHere() + 1;
    p.step("a", { run: "echo", neds: ["b"] } as unknown as StepOptions);
    const err = specError(() => p.toDefinition());
    expect(err.problems[0]).toMatchObject({ file: FILE, line });
    expect(err.message).toMatch(/neds/);
  });

  it("every problem at once, each at its own call, in the order written", () => {
    const p = pipeline("many");
    const paramsLine = lineHere() + 1;
    p.params({ n: { type: "int", default: "three" } });
    const aLine = lineHere() + 1;
    p.step("a", { run: "echo", pool: "nowhere" });
    const bLine = lineHere() + 1;
    p.step("b", { run: "echo ${{ params.nope }}" });
    const err = specError(() => p.validate());
    expect(err.problems.map((x) => x.line)).toEqual([paramsLine, aLine, bLine]);
    expect(err.problems.every((x) => x.file === FILE && typeof x.column === "number")).toBe(true);
    expect(err.problems[1]!.message).toMatch(/nowhere/);
    expect(err.problems[2]!.message).toMatch(/nope/);
  });

  it("a cycle names its path", () => {
    const p = pipeline("loop")
      .step("a", { run: "echo", needs: ["b"] })
      .step("b", { run: "echo", needs: ["a"] });
    const err = specError(() => p.validate());
    expect(err.message).toMatch(/cycle/);
    expect(err.problems[0]!.file).toBe(FILE);
  });

  it("a step added twice, and controller options of the wrong kind", () => {
    const p = pipeline("dup");
    const first = lineHere() + 1;
    p.step("a", { run: "echo" });
    const second = lineHere() + 1;
    p.step("a", { run: "echo again" });
    const hooks = lineHere() + 1;
    p.step("b", { run: "echo", concurrency: 0, before: "no" as unknown as () => void });
    const err = specError(() => p.validate());
    const at = (line: number) => err.problems.filter((x) => x.line === line).map((x) => x.message);
    expect(at(second)).toHaveLength(1);
    expect(at(second)[0]).toMatch(
      new RegExp(`^step "a" is added twice \\(first at ${FILE}:${first}:\\d+\\)$`),
    );
    expect(at(hooks).join("\n")).toMatch(/expected a function/);
    expect(at(hooks).join("\n")).toMatch(/concurrency|whole number/);
  });

  it("hooks on a pipeline: step are refused", () => {
    const child = pipeline("kid").step("x", { run: "echo" });
    const line = lineHere() + 1;
    const p = pipeline("parent").step("sub", { pipeline: child, before: () => undefined });
    const err = specError(() => p.validate());
    expect(err.problems[0]).toMatchObject({ line, path: "pipelines.parent.nodes.sub.before" });
  });
});

describe("gates in the builder", () => {
  it("onError() is the pipeline's on-error; steps take on-error, approval and actions", () => {
    const p = pipeline("gated")
      .onError("stop-all")
      .step("train", { run: "echo train" })
      .step("evaluate", {
        run: "echo eval",
        needs: "train",
        "on-error": "continue",
        // biome-ignore lint/suspicious/noThenProperty: the file format's key.
        actions: [{ when: "node-complete", if: "metrics.acc < 0.8", then: "stop-pipeline" }],
      })
      .step("deploy", { run: "echo deploy", needs: "evaluate", approval: "ship?" });
    const { definition, project } = p.validate();
    expect(definition.pipelines.gated?.["on-error"]).toBe("stop-all");
    const nodes = project.pipelines.gated!.nodes;
    expect(nodes.train).toMatchObject({ onError: "stop-all" });
    expect(nodes.evaluate).toMatchObject({ onError: "continue" });
    expect(nodes.evaluate?.kind === "task" && nodes.evaluate.actions?.[0]?.then).toEqual(["stop-pipeline"]);
    expect(nodes.deploy).toMatchObject({ approval: "ship?" });
  });
});
