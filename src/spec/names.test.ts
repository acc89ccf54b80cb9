import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { paramEnvName } from "../engine/task-context.js";
import { BatonError, formatProblem } from "../errors.js";
import { resolveParams } from "./params.js";
import { parseProjectText } from "./parse.js";
import { checkName, formatPath } from "./problems.js";

const RULE = `(a name has 1-200 characters, no leading or trailing whitespace, no control characters, none of . [ ] { } $ " ' \` \\ /)`;

/** A pipeline whose names are written as people write them, and nodes using them by brackets. */
const named = (run: string) =>
  yaml(
    "version: 1",
    "pools: { 'gpu pool': { slots: 1 } }",
    "steps:",
    "  Prepare data:",
    "    inputs: { 'raw data': 'data/*.csv' }",
    "    run: cat ${{ inputs['raw data'] }}",
    "pipelines:",
    "  Three-Trainings Pipeline:",
    "    params: { 'learning rate': 0.1, 'data set': [a, b] }",
    "    nodes:",
    "      Prepare: { step: Prepare data }",
    "      Train model (MNIST):",
    "        needs: [Prepare]",
    "        pool: gpu pool",
    "        foreach: ${{ params['data set'] }}",
    "        params: { 'learning rate': { type: float, default: 0.1, min: 0, max: 1 } }",
    "        with: { 'learning rate': \"${{ params['learning rate'] }}\" }",
    "        run: train --lr=${{ params['learning rate'] }} ${{ arg['learning rate'] }} ${{ args }}",
    "      Evaluate:",
    "        needs: [Train model (MNIST)]",
    `        run: ${run}`,
  );

describe("names with spaces and punctuation", () => {
  it("are taken for pipelines, steps, nodes, params, inputs and pools, and reached with brackets", () => {
    const text = named("eval ${{ needs['Train model (MNIST)'].outputs['*'] }}");
    expect(problems(text)).toEqual([]);
    const project = parseProjectText(text, "baton.yaml");
    const pipeline = project.pipelines["Three-Trainings Pipeline"]!;
    expect(Object.keys(pipeline.nodes)).toEqual(["Prepare", "Train model (MNIST)", "Evaluate"]);
    expect(pipeline.nodes.Evaluate!.needs[0]!.node).toBe("Train model (MNIST)");
    expect(Object.keys(project.pools)).toContain("gpu pool");
    expect(Object.keys(project.steps)).toEqual(["Prepare data"]);
  });

  it("an unknown node in brackets is reported with a did-you-mean", () => {
    expect(problems(named("eval ${{ needs['Train modle (MNIST)'].outputs['*'] }}"))).toEqual([
      `baton.yaml:21:23 pipelines["Three-Trainings Pipeline"].nodes.Evaluate.run: unknown node "Train modle (MNIST)" in needs['Train modle (MNIST)'] (did you mean "Train model (MNIST)"?)`,
    ]);
  });

  it("an unknown param in brackets, and arg.NAME, are reported with a did-you-mean", () => {
    const text = named("eval").replace(
      "${{ arg['learning rate'] }}",
      "${{ params['learning rat'] }} ${{ arg['learning rat'] }}",
    );
    expect(problems(text)).toEqual([
      `baton.yaml:18:60 pipelines["Three-Trainings Pipeline"].nodes["Train model (MNIST)"].run: node "Train model (MNIST)" has no param "learning rat" (did you mean "learning rate"?)`,
      `baton.yaml:18:90 pipelines["Three-Trainings Pipeline"].nodes["Train model (MNIST)"].run: node "Train model (MNIST)" has no param "learning rat" (did you mean "learning rate"?)`,
    ]);
  });

  it("a character outside the rule gets a located error saying what is allowed", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    params: { 'a.b': 1 }",
          "    nodes:",
          "      'train {x}': { run: a }",
          "      ' padded': { run: a }",
        ),
      ),
    ).toEqual([
      `baton.yaml:4:15 pipelines.p.params["a.b"]: invalid param name "a.b": "." is not allowed ${RULE}`,
      `baton.yaml:6:7 pipelines.p.nodes["train {x}"]: invalid node name "train {x}": "{" is not allowed ${RULE}`,
      `baton.yaml:7:7 pipelines.p.nodes[" padded"]: invalid node name " padded": it starts or ends with whitespace ${RULE}`,
    ]);
    expect(checkName("node", "tab\there")).toBe(
      `invalid node name "tab\\there": it holds a control character ${RULE}`,
    );
    expect(checkName("node", "x".repeat(201))).toMatch(/is 201 characters long; the limit is 200/);
    for (const ok of ["Train model (MNIST)", "Three-Trainings Pipeline", "1st: a, b & c!", "ünïcode"])
      expect(checkName("node", ok)).toBeUndefined();
  });

  it("a param's environment variable is BATON_PARAM_ and the name with other characters as _", () => {
    expect(paramEnvName("learning rate")).toBe("BATON_PARAM_LEARNING_RATE");
    expect(paramEnvName("Train (x)")).toBe("BATON_PARAM_TRAIN__X_");
  });
});

describe("param declaration keys rendered as Valohai does", () => {
  const file = (decl: string, extra = "") =>
    yaml(
      "version: 1",
      "pipelines:",
      "  p:",
      `    params: { x: ${decl} }`,
      "    nodes:",
      `      a: { run: 'go \${{ args }}'${extra} }`,
    );

  it("are checked against the param's type, with located errors", () => {
    expect(problems(file("{ type: string, pass-true-as: --y, min: 1 }"))).toEqual([
      "baton.yaml:4:34 pipelines.p.params.x.pass-true-as: pass-true-as applies to bool params only (this param is of type string)",
      "baton.yaml:4:53 pipelines.p.params.x.min: min applies to int, float and list params only (this param is of type string)",
    ]);
    expect(problems(file("{ type: int, min: 5, max: 1 }"))).toEqual([
      "baton.yaml:4:44 pipelines.p.params.x.max: max 1 is smaller than min 5",
    ]);
    expect(problems(file("{ type: int, default: 7, max: 5 }"))).toEqual([
      "baton.yaml:4:40 pipelines.p.params.x.default: default 7 is greater than the maximum 5 (max: 5)",
    ]);
    expect(problems(file("{ type: list, multiple: both }"))[0]).toMatch(
      /^baton\.yaml:4:42 pipelines\.p\.params\.x\.multiple: .*"separate".*"repeat"/,
    );
    expect(problems(file("{ type: list, multiple-separator: ':' }"))).toEqual([
      "baton.yaml:4:32 pipelines.p.params.x.multiple-separator: multiple-separator applies only with multiple: separate",
    ]);
  });

  it("args.x is refused: args is one string", () => {
    expect(problems(file("1").replace("${{ args }}", "${{ args.x }}"))).toEqual([
      'baton.yaml:6:25 pipelines.p.nodes.a.run: "args" is one string of every param rendered as arguments: use arg.NAME for one param',
    ]);
  });

  it("min and max are checked for -p and with: values, naming the param, value and bound", () => {
    const decls = { "learning rate": { type: "float" as const, min: 0, max: 1 } };
    expect(() =>
      resolveParams(decls, { "learning rate": "5" }, { fromCli: true, where: 'pipeline "p"' }),
    ).toThrow('param "learning rate" of pipeline "p": 5 is greater than the maximum 1 (max: 1)');
    expect(() =>
      resolveParams({ xs: { type: "list", min: 2 } }, { xs: [3, 1] }, { fromCli: false, where: "w" }),
    ).toThrow('param "xs" of w: 1 (item 1) is less than the minimum 2 (min: 2)');
    expect(
      problems(
        yaml(
          "version: 1",
          "pipelines:",
          "  p:",
          "    nodes:",
          "      a: { params: { x: { type: int, max: 3 } }, with: { x: 4 }, run: go }",
        ),
      ),
    ).toEqual([
      'baton.yaml:5:61 pipelines.p.nodes.a.with.x: param "x": 4 is greater than the maximum 3 (max: 3)',
    ]);
  });

  it("an optional param needs no value and is left out", () => {
    const decls = { note: { type: "string" as const, optional: true }, n: { type: "int" as const } };
    expect(resolveParams(decls, { n: "1" }, { fromCli: true, where: "w" })).toEqual({ n: 1 });
    expect(() => resolveParams(decls, {}, { fromCli: true, where: "w" })).toThrow(
      'param "n" of w is required',
    );
  });
});

describe("key paths as users read them", () => {
  it("renders each path whole, whatever paths came before it", () => {
    const paths: Array<[Array<string | number>, string]> = [
      [["pipelines", "a", "nodes", "x"], "pipelines.a.nodes.x"],
      [["pipelines", "a", "nodes", "y"], "pipelines.a.nodes.y"],
      [["pipelines", "b", "nodes", "y"], "pipelines.b.nodes.y"],
      [["pipelines", "b", "nodes", "a b"], 'pipelines.b.nodes["a b"]'],
      [["pipelines", "b", "nodes", 0], "pipelines.b.nodes[0]"],
      [["pipelines", "b", "nodes"], "pipelines.b.nodes"],
      [["pipelines"], "pipelines"],
      [[], ""],
      [["pipelines", "b", 1, "c"], "pipelines.b[1].c"],
      [["pipelines", "b", "1", "c"], "pipelines.b.1.c"],
    ];
    for (const [path, text] of [...paths, ...paths.reverse()]) expect(formatPath(path)).toBe(text);
  });
});
