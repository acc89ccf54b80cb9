import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { BatonError, formatProblem } from "../errors.js";
import { parseProjectText } from "./parse.js";
import { bodyPathOf, translateValohaiPipeline } from "./valohai-api.js";

/** A node action `{ when, if, then }`. */
const action = (when: string, cond: string, then: string) => ({ when, if: cond, then });

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
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.pipeline).toBe("Nightly Train");
    expect(out.value.ignored).toEqual([]);
    expect(out.value.definition).toEqual({
      version: 1,
      steps: { prep: server.steps.prep },
      pipelines: {
        "Nightly Train": {
          "on-error": "stop-all",
          nodes: [
            { name: "prep", step: "prep", with: { rows: 5 }, timeout: 60, cache: false },
            {
              name: "train",
              run: "python3 train.py ${{ args }}",
              params: { lr: 0.1 },
              env: { A: "1" },
              compat: "valohai",
              image: "x",
              cache: false,
            },
          ],
          edges: [["prep.output.*.csv", "train.input.data"]],
        },
      },
    });
  });

  it("takes valohai-cli's spelling too, and a deployment node becomes a release: node", () => {
    const out = translateValohaiPipeline(
      {
        title: "Train and deploy",
        nodes: [
          {
            name: "Train model",
            type: "execution",
            "on-error": "continue",
            "reuse-executions": true,
            actions: [action("node-complete", "metadata.acc < 0.8", "stop-pipeline")],
            template: {
              step: "prep",
              "time-limit": 30,
              "environment-variables": { B: "2" },
              runtime_config: { no_output_timeout: 120, autorestart: true },
              commit: "main",
            },
          },
          { name: "deploy", type: "deployment", deployment: "digits", endpoints: ["predict"], aliases: [] },
        ],
        edges: [
          {
            source_node: "Train model",
            source_type: "output",
            source_key: "model*",
            target_node: "deploy",
            target_type: "file",
            target_key: "predict.model",
          },
        ],
      },
      server,
    );
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.ignored).toEqual([
      "nodes[0].template.commit",
      "nodes[0].template.runtime_config.autorestart",
      "nodes[1].endpoints",
      "nodes[1].aliases",
    ]);
    expect(
      (out.value.definition.pipelines as Record<string, { nodes: unknown[] }>)["Train and deploy"]!.nodes,
    ).toEqual([
      {
        name: "Train model",
        step: "prep",
        env: { B: "2" },
        timeout: 30,
        "no-output-timeout": 120,
        "on-error": "continue",
        cache: true,
        actions: [action("node-complete", "${{ metrics.acc < 0.8 }}", "stop-pipeline")],
      },
      {
        name: "deploy",
        needs: ["Train model"],
        release: { name: "digits", files: "${{ needs['Train model'].outputs['model*'] }}" },
      },
    ]);
    // A problem found in the definition is placed where it comes from in the body.
    const at = (p: string) => bodyPathOf(out.value.origins, p);
    expect(at('pipelines["Train and deploy"].nodes[0].with.rows')).toBe("nodes[0].template.parameters.rows");
    expect(at('pipelines["Train and deploy"].nodes[0].on-error')).toBe("nodes[0].on-error");
    expect(at('pipelines["Train and deploy"].nodes[0].no-output-timeout')).toBe(
      "nodes[0].template.runtime_config.no_output_timeout",
    );
    expect(at('pipelines["Train and deploy"].nodes[1].release.files')).toBe("nodes[1].deployment");
    expect(at('pipelines["Train and deploy"]')).toBe("title");
    expect(at("steps.prep.run")).toBeUndefined();
  });

  it("refuses a deployment node without files and edges that do not fit one, each at its path", () => {
    const out = translateValohaiPipeline(
      {
        nodes: [
          { name: "a", template: { command: "true" } },
          { name: "d", type: "deployment", deployment: "x" },
          { name: "e", type: "deployment" },
        ],
        edges: [
          {
            source_node: "a",
            source_type: "parameter",
            source_key: "p",
            target_node: "d",
            target_type: "file",
            target_key: "k",
          },
          {
            source_node: "d",
            source_type: "output",
            source_key: "*",
            target_node: "a",
            target_type: "input",
            target_key: "i",
          },
        ],
      },
      server,
    );
    expect(out).toEqual({
      ok: false,
      problems: [
        {
          path: "nodes[2].deployment",
          message: "a deployment node needs the deployment's name (a non-empty string)",
        },
        {
          path: "edges[0].source_type",
          message: 'an edge into deployment node "d" starts at an output, found "parameter"',
        },
        { path: "edges[1].source_node", message: 'deployment node "d" passes nothing on' },
        {
          path: "nodes[1]",
          message:
            'deployment node "d" gets no files: add an edge { source_type: "output", target_node: "d", target_type: "file" }',
        },
      ],
    });
  });
});
