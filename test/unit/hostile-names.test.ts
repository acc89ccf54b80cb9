/**
 * Names that are properties of JavaScript objects (`constructor`, `__proto__`...) in every
 * place of a pipeline file that takes a name, and in expressions: declared ones work like any
 * other name, unknown ones are problems located in the file.
 */
import { describe, expect, it } from "vitest";
import type { BatonError } from "../../src/errors.js";
import { evaluateTemplate, parseTemplate } from "../../src/spec/expressions.js";
import { parseProjectText } from "../../src/spec/parse.js";
import type { TaskNodeSpec } from "../../src/spec/types.js";
import { HOSTILE_NAMES } from "../fixtures/hostile-names.js";

function parse(text: string) {
  return parseProjectText(text, "baton.yaml");
}

/** The problems of a file that must not parse; fails when it parses or throws something else. */
function problems(text: string) {
  try {
    parse(text);
  } catch (err) {
    const e = err as BatonError;
    expect(e.code, String(err)).toBe("SPEC_INVALID");
    return e.problems;
  }
  throw new Error("expected the file to be refused");
}

const task = (node: unknown) => node as TaskNodeSpec;

describe.each(HOSTILE_NAMES)("the name %s", (name) => {
  it("names a pipeline, a step, a node, a pool and a need", () => {
    const project = parse(`version: 1
pools:
  ${name}: { slots: 1 }
steps:
  ${name}: { run: echo step }
pipelines:
  ${name}:
    nodes:
      ${name}: { step: ${name}, pool: ${name} }
      after: { run: echo after, needs: [${name}] }
      always: { run: echo always, needs: { ${name}: always } }
`);
    expect(Object.hasOwn(project.pipelines, name)).toBe(true);
    expect(Object.keys(project.pipelines)).toEqual([name]);
    const pipeline = project.pipelines[name]!;
    expect(Object.keys(pipeline.nodes)).toEqual([name, "after", "always"]);
    expect(Object.keys(project.steps)).toEqual([name]);
    expect(Object.keys(project.pools)).toContain(name);
    expect(task(pipeline.nodes[name]).pool).toBe(name);
    expect(pipeline.nodes.after!.needs).toEqual([{ node: name, condition: "success" }]);
    expect(pipeline.nodes.always!.needs).toEqual([{ node: name, condition: "always" }]);
  });

  it("names a param, a matrix key, an input, an env variable and a with: value", () => {
    const project = parse(`version: 1
steps:
  s:
    run: "cat \${{ inputs.${name} }} \${{ params.${name} }}"
    inputs: { ${name}: "*.txt" }
    params: { ${name}: 1 }
pipelines:
  p:
    params: { ${name}: { type: int, default: 2 } }
    nodes:
      a:
        run: "echo \${{ params.${name} }} \${{ matrix.${name} }} \${{ env.${name} }}"
        matrix: { ${name}: [1, 2] }
        env: { ${name}: x }
      b: { step: s, with: { ${name}: 3 } }
      c:
        needs: [a]
        run: "cat \${{ needs.a.outputs['*'] }} \${{ needs.a.metrics.${name} }}"
`);
    const pipeline = project.pipelines.p!;
    expect(Object.keys(pipeline.params)).toEqual([name]);
    expect(pipeline.params[name]).toEqual({ type: "int", default: 2 });
    const a = task(pipeline.nodes.a);
    expect(Object.keys(a.matrix!)).toEqual([name]);
    expect(Object.keys(a.params)).toEqual([name]);
    expect(Object.keys(a.env)).toEqual([name]);
    const b = task(pipeline.nodes.b);
    expect(Object.keys(b.with)).toEqual([name]);
    expect(Object.keys(b.inputs)).toEqual([name]);
    expect(Object.keys(project.steps.s!.params)).toEqual([name]);
  });

  it("is a located problem wherever it names nothing", () => {
    const found = problems(`version: 1
steps:
  s: { run: "echo \${{ inputs.${name} }}" }
pipelines:
  p:
    nodes:
      a: { run: "echo \${{ params.${name} }}", pool: ${name} }
      b: { step: ${name} }
      c: { pipeline: ${name} }
      d: { run: "echo \${{ matrix.${name} }}", matrix: { x: [1] } }
      e: { run: "echo \${{ needs.${name}.outputs['*'] }}" }
      f: { run: echo, needs: [${name}] }
`);
    const texts = found.map((p) => `${p.line}:${p.column} ${p.path} ${p.message}`);
    expect(texts).toEqual([
      `3:23 steps.s.run step "s" has no input "${name}" (it declares no inputs)`,
      `7:27 pipelines.p.nodes.a.run node "a" has no param "${name}" (it declares no params)`,
      expect.stringMatching(new RegExp(`^7:\\d+ pipelines.p.nodes.a.pool unknown pool "${name}"`)),
      expect.stringMatching(new RegExp(`^8:18 pipelines.p.nodes.b.step unknown step "${name}"`)),
      expect.stringMatching(new RegExp(`^9:22 pipelines.p.nodes.c.pipeline unknown pipeline "${name}"`)),
      expect.stringMatching(new RegExp(`^10:27 pipelines.p.nodes.d.run unknown matrix key "${name}"`)),
      expect.stringMatching(new RegExp(`^11:27 pipelines.p.nodes.e.run unknown node "${name}" in needs`)),
      expect.stringMatching(new RegExp(`^12:\\d+ pipelines.p.nodes.f.needs\\[0\\] unknown node "${name}"`)),
    ]);
  });

  it("is an unknown param, not a crash, in a with: value of a step node", () => {
    const found = problems(`version: 1
steps:
  s: { run: echo, params: { x: 1 } }
pipelines:
  p:
    nodes:
      a: { step: s, with: { ${name}: 2 } }
`);
    expect(found).toEqual([
      expect.objectContaining({
        line: 7,
        path: `pipelines.p.nodes.a.with.${name}`,
        message: `step "s" has no param "${name}" (its params: "x")`,
      }),
    ]);
  });

  it("reads only own data in expressions", () => {
    const read = (source: string, context: Record<string, unknown>) =>
      evaluateTemplate(parseTemplate(source), context);
    expect(() => read(`\${{ params.${name} }}`, { params: {} })).toThrow(/is not defined/);
    expect(() => read(`\${{ params['${name}'] }}`, { params: { x: 1 } })).toThrow(/is not defined/);
    expect(() => read(`\${{ matrix.${name} }}`, { matrix: [] })).toThrow(/is a list/);
    const params = JSON.parse(`{"${name}": "mine"}`) as Record<string, unknown>;
    expect(read(`\${{ params.${name} }}`, { params })).toBe("mine");
    expect(read(`v=\${{ params['${name}'] }}`, { params })).toBe("v=mine");
  });
});

describe("a __proto__ key", () => {
  it("keeps its place among the nodes and is not mistaken for a prototype", () => {
    const project = parse(`version: 1
pipelines:
  p:
    nodes:
      a: { run: echo a }
      __proto__: { run: echo proto, needs: [a] }
      z: { run: echo z, needs: [__proto__] }
`);
    const nodes = project.pipelines.p!.nodes;
    expect(Object.keys(nodes)).toEqual(["a", "__proto__", "z"]);
    expect(Object.hasOwn(nodes, "__proto__")).toBe(true);
    expect(task(nodes.__proto__).run).toBe("echo proto");
    expect(Object.getPrototypeOf(nodes)).not.toBe(nodes.__proto__);
  });

  it("is an unknown key, located, where the format has fixed keys", () => {
    const found = problems(`version: 1
pipelines:
  p:
    nodes:
      a: { run: echo, __proto__: 1 }
`);
    expect(found).toEqual([
      expect.objectContaining({
        line: 5,
        column: 23,
        message: expect.stringMatching(/^unknown key "__proto__"/),
      }),
    ]);
  });
});
