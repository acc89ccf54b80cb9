/**
 * The hand-written shape checks of spec/fast-shape.ts against the zod schemas they stand in
 * for: what a check vouches for, zod takes with no issue and gives back equal; and every file
 * (good and bad) reads to the same model, or the same messages, with the checks as without.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import {
  plainDefaults,
  plainNode,
  plainOnError,
  plainParam,
  plainPipelineShell,
  plainPool,
  plainProjectShell,
  plainStep,
  setHandChecks,
} from "../../src/spec/fast-shape.js";
import { parsePipelineDefinition, parseProjectText } from "../../src/spec/parse.js";
import {
  DefaultsSchema,
  NodeSchema,
  OnErrorSchema,
  ParamSchema,
  PipelineShellSchema,
  PoolSchema,
  ProjectShellSchema,
  StepSchema,
} from "../../src/spec/schema.js";
import { REPO, docBlocks, yamlFiles } from "../helpers/spec-corpus.js";

/** Every pipeline file the tests and docs hold: fixtures (good and bad) and the docs' examples. */
function corpus(): Array<[string, string]> {
  const files = yamlFiles(join(REPO, "test", "fixtures")).map((f): [string, string] => [
    f.slice(REPO.length),
    readFileSync(f, "utf8"),
  ]);
  return [...files, ...docBlocks()];
}

type Check = (value: unknown) => boolean;
interface Schema {
  safeParse(value: unknown): { success: boolean; data?: unknown };
}

/** Each check with its schema. */
const PAIRS: Array<[string, Check, () => Schema]> = [
  ["project", plainProjectShell, ProjectShellSchema],
  ["pipeline", plainPipelineShell, PipelineShellSchema],
  ["node", plainNode, NodeSchema],
  ["step", plainStep, StepSchema],
  ["defaults", plainDefaults, DefaultsSchema],
  ["pool", plainPool, PoolSchema],
  ["param", plainParam, ParamSchema],
  ["on-error", plainOnError, OnErrorSchema],
];

/** The parts of a file's data, by the schema each is checked against. */
function parts(data: unknown): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [["project", data]];
  const rec = (v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const root = rec(data);
  if (root.defaults !== undefined) out.push(["defaults", root.defaults]);
  for (const v of Object.values(rec(root.pools))) out.push(["pool", v]);
  for (const v of Object.values(rec(root.steps))) {
    out.push(["step", v]);
    for (const p of Object.values(rec(rec(v).params))) out.push(["param", p]);
  }
  for (const v of Object.values(rec(root.pipelines))) {
    out.push(["pipeline", v]);
    out.push(["on-error", rec(v)["on-error"]]);
    for (const p of Object.values(rec(rec(v).params))) out.push(["param", p]);
    for (const n of Object.values(rec(rec(v).nodes))) {
      out.push(["node", n]);
      for (const p of Object.values(rec(rec(n).params))) out.push(["param", p]);
    }
  }
  return out;
}

/** What the check says is what zod says: when it vouches, zod succeeds and gives the same data. */
function expectAgrees(kind: string, value: unknown): boolean {
  const [, check, schema] = PAIRS.find(([k]) => k === kind)!;
  if (!check(value)) return false;
  const parsed = schema().safeParse(value);
  expect(parsed.success, `${kind} ${JSON.stringify(value)}`).toBe(true);
  expect(parsed.data).toEqual(value);
  return true;
}

/** The model, or the messages, of a file. */
function outcome(text: string): unknown {
  try {
    return { project: parseProjectText(text, "baton.yaml", { cpus: 4 }) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

afterEach(() => setHandChecks(true));

describe("hand-written shape checks", () => {
  it("vouch only for parts zod takes as they are, over every fixture and docs example", () => {
    let vouched = 0;
    for (const [, text] of corpus()) {
      const doc = parseDocument(text, { merge: true, uniqueKeys: false });
      if (doc.errors.length) continue;
      const data = doc.toJS({ maxAliasCount: 1000 });
      for (const [kind, value] of parts(data)) if (expectAgrees(kind, value)) vouched++;
    }
    expect(vouched).toBeGreaterThan(100);
  });

  it("leave to zod every value it refuses, or takes differently", () => {
    const refused: Array<[string, unknown]> = [
      ["node", null],
      ["node", []],
      ["node", { run: 1 }],
      ["node", { run: "x", neds: ["a"] }],
      ["node", { run: "x", needs: [1] }],
      ["node", { run: "x", needs: { a: "sometimes" } }],
      ["node", { run: "x", priority: 1.5 }],
      ["node", { run: "x", priority: 2 ** 60 }],
      ["node", { run: "x", retries: -1 }],
      ["node", { run: "x", env: { A: Number.POSITIVE_INFINITY } }],
      ["node", { run: "x", env: { A: null } }],
      ["node", { run: "x", image: "" }],
      ["node", { run: "x", pool: null }],
      ["node", { run: "x", matrix: null }],
      ["node", { run: "x", foreach: 3 }],
      ["node", { run: "x", if: 1 }],
      ["node", { run: "x", with: [] }],
      ["node", { run: "x", compat: "argo" }],
      ["node", { run: "x", "on-error": "stop" }],
      ["node", { run: "x", params: { a: { type: "float", default: 1, extra: 1 } } }],
      ["node", { run: "x", params: { a: { type: "double" } } }],
      ["node", { run: undefined }],
      ["node", JSON.parse('{"run": "x", "__proto__": 1}')],
      ["node", JSON.parse('{"run": "x", "with": {"__proto__": 1}}')],
      ["node", Object.create({ run: "x" })],
      ["step", {}],
      ["step", { run: "x", inputs: { a: null } }],
      ["pool", { slots: 0 }],
      ["pool", { slots: 1, resources: { gpu: "1" } }],
      ["pool", { slots: 1, executor: "k8s" }],
      ["defaults", { notify: {} }],
      ["param", Number.NaN],
      ["param", { type: "int", default: 1, min: "0" }],
      ["project", { pipelines: {} }],
      ["project", { version: 2, pipelines: {} }],
      ["project", { version: 1, pipeline: {} }],
      ["project", { version: 1, pipelines: [] }],
      ["pipeline", {}],
      ["pipeline", { nodes: "a" }],
      ["pipeline", { nodes: {}, edges: {} }],
      ["on-error", "stop"],
      ["on-error", undefined],
    ];
    for (const [kind, value] of refused) {
      const [, check] = PAIRS.find(([k]) => k === kind)!;
      expect(check(value), `${kind} ${JSON.stringify(value)}`).toBe(false);
    }
    const taken: Array<[string, unknown]> = [
      ["node", {}],
      ["node", { run: "x", needs: "a", with: null, env: { A: 1, B: true, C: "c" } }],
      ["node", { step: "s", needs: { a: "always" }, foreach: [{ x: 1 }], if: true, priority: -3 }],
      ["node", { pipeline: "p", with: { a: [1, { b: 2 }] }, matrix: { a: [1], b: "${{ params.b }}" } }],
      ["node", { run: "x", params: { a: 1, b: [1], c: null, d: { type: "float", default: 0.1 } } }],
      ["step", { run: "x", outputs: ["*.txt"], cache: false, retries: 2, approval: "ok?" }],
      ["pool", { slots: 3, resources: { gpu: 1 }, executor: "local" }],
      ["defaults", { pool: "local", notify: null }],
      ["project", { version: 1, pools: null, pipelines: { p: {} } }],
      ["pipeline", { nodes: [], params: {}, edges: null, "on-error": "continue" }],
      ["on-error", "retry"],
    ];
    for (const [kind, value] of taken) expect(expectAgrees(kind, value), JSON.stringify(value)).toBe(true);
  });

  it("give every file the same model or the same messages as zod alone", () => {
    const files = corpus();
    expect(files.length).toBeGreaterThan(40);
    for (const [name, text] of files) {
      setHandChecks(false);
      const slow = outcome(text);
      setHandChecks(true);
      expect(outcome(text), name).toStrictEqual(slow);
    }
  });

  it("give a JSON definition the same model or messages as zod alone", () => {
    const definitions: unknown[] = [
      { version: 1, pipelines: { p: { nodes: { a: { run: "echo" }, b: { run: "echo", needs: ["a"] } } } } },
      { version: 1, pipelines: { p: { nodes: { a: { run: "echo", needs: ["nope"], priority: 1.5 } } } } },
      JSON.parse('{"version": 1, "pipelines": {"p": {"nodes": {"__proto__": {"run": "echo"}}}}}'),
      { version: 1, pipelines: { p: { nodes: { a: { run: "echo", with: { x: 1 }, pool: "gpu" } } } } },
    ];
    for (const d of definitions) {
      const run = () => {
        try {
          return { project: parsePipelineDefinition(d, "def") };
        } catch (err) {
          return { error: (err as Error).message };
        }
      };
      setHandChecks(false);
      const slow = run();
      setHandChecks(true);
      expect(run(), JSON.stringify(d)).toStrictEqual(slow);
    }
  });
});
