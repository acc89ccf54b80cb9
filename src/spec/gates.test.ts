import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { BatonError, formatProblem } from "../errors.js";
import { parseProjectText } from "./parse.js";
import type { TaskNodeSpec } from "./types.js";

function node(text: string, name: string): TaskNodeSpec {
  const spec = parseProjectText(text, "baton.yaml").pipelines.p?.nodes[name];
  if (spec?.kind !== "task") throw new Error(`${name} is not a task node`);
  return spec;
}

describe("gates: on-error, approval, actions", () => {
  it("resolves on-error: node over step over pipeline over defaults; stop-next when none", () => {
    const text = yaml(
      "version: 1",
      "defaults: { on-error: retry }",
      "steps:",
      "  s: { run: echo s, on-error: continue }",
      "pipelines:",
      "  p:",
      "    on-error: stop-all",
      "    nodes:",
      "      own: { run: echo a, on-error: stop-next }",
      "      fromStep: { step: s }",
      "      fromPipeline: { run: echo c }",
      "  q:",
      "    nodes:",
      "      fromDefaults: { run: echo d }",
    );
    expect(node(text, "own").onError).toBe("stop-next");
    expect(node(text, "fromStep").onError).toBe("continue");
    expect(node(text, "fromPipeline").onError).toBe("stop-all");
    const q = parseProjectText(text, "baton.yaml").pipelines.q?.nodes.fromDefaults as TaskNodeSpec;
    expect(q.onError).toBe("retry");
    const plain = yaml("version: 1", "pipelines:", "  p:", "    nodes:", "      a: { run: echo a }");
    expect(node(plain, "a").onError).toBe("stop-next");
  });

  it("resolves approval and actions, the node's over its step's", () => {
    const text = yaml(
      "version: 1",
      "steps:",
      "  s:",
      "    run: echo s",
      "    approval: deploy?",
      "    actions: [{ when: node-complete, if: metrics.acc < 0.8, then: stop-pipeline }]",
      "pipelines:",
      "  p:",
      "    nodes:",
      "      a: { step: s }",
      "      b: { step: s, approval: false }",
      "      c: { run: echo c, approval: true, actions: [{ when: [node-starting], then: [require-approval, stop-pipeline] }] }",
    );
    expect(node(text, "a").approval).toBe("deploy?");
    const [action] = node(text, "a").actions ?? [];
    expect(node(text, "a").actions).toHaveLength(1);
    expect([action?.when, action?.if, action?.then]).toEqual([
      ["node-complete"],
      ["${{ metrics.acc < 0.8 }}"],
      ["stop-pipeline"],
    ]);
    expect(node(text, "b").approval).toBeUndefined();
    expect(node(text, "c").approval).toBe("");
    expect(node(text, "c").actions?.[0]?.then).toEqual(["require-approval", "stop-pipeline"]);
  });

  it("reports bad values at their place: on-error, when, then, require-approval after start, bad expressions", () => {
    const text = yaml(
      "version: 1",
      "pipelines:",
      "  p:",
      "    on-error: abort",
      "    nodes:",
      "      a:",
      "        run: echo a",
      "        on-error: contnue",
      "        approval: 3",
      "        actions:",
      "          - { when: node-done, then: stop-pipeline }",
      "          - { when: node-complete, then: halt }",
    );
    expect(problems(text)).toEqual([
      'baton.yaml:4:15 pipelines.p.on-error: expected one of "stop-all", "stop-next", "continue" or "retry", found "abort"',
      'baton.yaml:8:19 pipelines.p.nodes.a.on-error: expected one of "stop-all", "stop-next", "continue" or "retry", found "contnue" (did you mean "continue"?)',
      "baton.yaml:9:19 pipelines.p.nodes.a.approval: expected true, false or a message, found 3",
      'baton.yaml:11:21 pipelines.p.nodes.a.actions[0].when: expected one of "node-starting", "node-complete" or "node-error", found "node-done"',
      'baton.yaml:12:42 pipelines.p.nodes.a.actions[1].then: expected one of "stop-pipeline" or "require-approval", found "halt"',
    ]);
    const semantic = yaml(
      "version: 1",
      "pipelines:",
      "  p:",
      "    nodes:",
      "      a:",
      "        run: echo a",
      "        params: { lr: 0.1 }",
      "        actions:",
      "          - { when: [node-starting, node-complete], then: require-approval }",
      "          - { when: node-error, if: 'metrics.loss >', then: stop-pipeline }",
      "          - { when: node-complete, if: ['${{ params.lr > 0 }}', 'params.rate > 1'], then: stop-pipeline }",
      "          - { when: node-complete, if: 'inputs.x', then: stop-pipeline }",
    );
    const found = problems(semantic);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(
      /^baton\.yaml:9:59 pipelines\.p\.nodes\.a\.actions\[0\]\.then: require-approval is only allowed with when: node-starting/,
    );
    expect(found[1]).toMatch(/^baton\.yaml:10:\d+ pipelines\.p\.nodes\.a\.actions\[1\]\.if: /);
    expect(found[2]).toMatch(
      /^baton\.yaml:11:\d+ pipelines\.p\.nodes\.a\.actions\[2\]\.if\[1\]: node "a" has no param "rate"/,
    );
    expect(found[3]).toMatch(/actions\[3\]\.if: "inputs" is not available in if:/);
  });
});
