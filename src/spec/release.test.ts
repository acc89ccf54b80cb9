import { describe, expect, it } from "vitest";
import { BatonError, formatProblem } from "../errors.js";
import { parseProjectText } from "./parse.js";
import { translateValohaiPipeline } from "./valohai-api.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function problems(text: string): string[] {
  try {
    parseProjectText(text, "baton.yaml");
  } catch (err) {
    if (err instanceof BatonError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

const head = [
  "version: 1",
  "pipelines:",
  "  p:",
  "    nodes:",
  "      train: { run: touch $BATON_OUTPUT_DIR/m.pt }",
];

describe("release: nodes", () => {
  it("resolve to a task node that runs no command, its files bound to the input `files`", () => {
    const project = parseProjectText(
      yaml(
        ...head,
        "      deploy:",
        "        needs: train",
        "        release: { name: mnist-model, files: \"${{ needs.train.outputs['*.pt'] }}\" }",
      ),
      "baton.yaml",
    );
    const deploy = project.pipelines.p!.nodes.deploy!;
    expect(deploy).toMatchObject({
      kind: "task",
      release: { name: "mnist-model" },
      run: "release mnist-model",
      bindings: { files: "${{ needs.train.outputs['*.pt'] }}" },
      needs: [{ node: "train", condition: "success" }],
    });
  });

  it("refuse keys that mean running a command, a bad name, and expressions naming unknown nodes, located", () => {
    expect(
      problems(
        yaml(
          ...head,
          "      deploy:",
          "        run: echo hi",
          "        release: { name: m, files: x }",
          "      ship:",
          "        env: { A: b }",
          '        release: { name: "a/b", files: "${{ needs.nope.outputs[\'*\'] }}" }',
          "      fine:",
          "        release: { name: m, files: \"${{ needs.nope.outputs['*'] }}\" }",
        ),
      ),
    ).toEqual([
      "baton.yaml:8:9 pipelines.p.nodes.deploy.release: a node has either run: or release:, not both",
      'baton.yaml:10:9 pipelines.p.nodes.ship.env: env: cannot be used on a release node (it runs no command; it keeps release:.files as release "a/b")',
      'baton.yaml:11:26 pipelines.p.nodes.ship.release.name: invalid release name "a/b" (no control characters and none of . / \\ [ ] { } $ " \' `)',
      'baton.yaml:13:41 pipelines.p.nodes.fine.release.files: unknown node "nope" in needs.nope',
    ]);
  });
});

describe("Valohai's pipeline-creation JSON", () => {
  const server = { version: 1, steps: { prep: { params: { rows: 2 }, run: "echo" } } };

  it("maps nodes to steps (with overrides) or commands, and edges to Valohai edges", () => {
    const out = translateValohaiPipeline(
      {
        title: "Nightly Train",
        nodes: [
          {
            name: "prep",
            type: "execution",
            template: { step: "prep", parameters: { rows: 5 }, time_limit: 60 },
          },
          {
            name: "train",
            template: {
              command: ["python3 train.py {parameters}"],
              parameters: { lr: 0.1 },
              environment_variables: { A: 1 },
              image: "x",
            },
          },
        ],
        edges: [
          {
            source_node: "prep",
            source_type: "output",
            source_key: "*.csv",
            target_node: "train",
            target_type: "input",
            target_key: "data",
          },
        ],
      },
      server,
    );
    expect(out).toEqual({
      ok: true,
      value: {
        pipeline: "Nightly-Train",
        ignored: ["nodes[1].template.image"],
        definition: {
          version: 1,
          steps: { prep: server.steps.prep },
          pipelines: {
            "Nightly-Train": {
              nodes: [
                { name: "prep", step: "prep", with: { rows: 5 }, timeout: 60 },
                {
                  name: "train",
                  run: "python3 train.py ${{ args }}",
                  params: { lr: 0.1 },
                  env: { A: "1" },
                },
              ],
              edges: [["prep.output.*.csv", "train.input.data"]],
            },
          },
        },
      },
    });
  });
});
