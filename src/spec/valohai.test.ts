import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { parseProjectText } from "./parse.js";
import { convertCommand, importValohai } from "./valohai.js";

const valohai = parse(`
- step:
    name: train
    image: python:3.11
    command:
      - python3 train.py {parameters}
      - cp model.bin /valohai/outputs/ && ls $VH_INPUTS_DIR/data
    parameters:
      - { name: lr, type: float, default: 0.1 }
      - { name: epochs, type: integer, default: 2 }
      - { name: fast, type: flag }
    inputs:
      - { name: data, default: "data/*.csv" }
      - { name: remote, default: "s3://bucket/x.csv" }
- pipeline:
    name: p
    nodes:
      - { name: a, type: execution, step: train }
      - { name: b, type: execution, step: train, override: { parameters: [{ name: lr, default: 0.5 }] } }
      - { name: d, type: deployment, deployment: x }
    edges:
      - [a.output.model*, b.input.data]
- endpoint: { name: api }
`);

describe("baton import valohai", () => {
  it("converts steps, placeholders, folders, params and the pipeline into a file Baton accepts", () => {
    const { document, warnings } = importValohai(valohai, "valohai.yaml");
    const project = parseProjectText(stringify(document), "baton.yaml", { cpus: 2 });
    const train = project.steps.train!;
    expect(train.run).toBe(
      "python3 train.py --lr=${{ params.lr }} --epochs=${{ params.epochs }} --fast=${{ params.fast }}\ncp model.bin $BATON_OUTPUT_DIR/ && ls $BATON_INPUTS_DIR/data",
    );
    expect(train.params).toMatchObject({
      lr: { type: "float", default: 0.1 },
      epochs: { type: "int", default: 2 },
      fast: { type: "bool", default: false },
    });
    expect(train.inputs.data?.default).toEqual(["data/*.csv"]);
    expect(train.inputs.remote?.optional).toBe(true);
    const nodes = project.pipelines.p!.nodes;
    expect(Object.keys(nodes)).toEqual(["a", "b"]);
    expect(nodes.b!.needs).toEqual([{ node: "a", condition: "success" }]);
    expect(nodes.b!.with).toMatchObject({ lr: 0.5 });
    expect(warnings).toEqual([
      'step "train": input "remote": remote defaults (s3://bucket/x.csv) cannot be fetched; bind local files instead',
      'step "train": image "python:3.11" ignored: Baton runs commands on the host',
      'pipeline "p": node "d" of type deployment has no Baton counterpart; left out',
      'valohai.yaml: entry 3: "endpoint" has no Baton counterpart; left out',
    ]);
  });

  it("maps single-parameter placeholders", () => {
    expect(convertCommand("run {parameter:lr} {parameter-value:n}", ["lr", "n"])).toBe(
      "run ${{ params.lr }} ${{ params.n }}",
    );
  });

  it("refuses a file that is not a Valohai list", () => {
    expect(() => importValohai({ step: {} }, "v.yaml")).toThrow(
      'v.yaml: expected a list of "- step:" and "- pipeline:" entries',
    );
  });
});
