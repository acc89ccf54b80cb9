/**
 * Fuzz test of the pipeline-file reader and the expression evaluator: random and mutated
 * files (from examples/ and test/fixtures/valid), and random expressions. Whatever the input,
 * reading a file either returns a model or throws SPEC_INVALID whose every problem is located
 * (a line and column, or a key path); an expression either evaluates or throws an
 * ExpressionError. A fixed seed and number of cases make failures reproducible (the seed and
 * case are printed), and the whole run is bounded in time.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BatonError } from "../../src/errors.js";
import { ExpressionError, evaluateTemplate, parseTemplate } from "../../src/spec/expressions.js";
import { parseProjectText } from "../../src/spec/parse.js";
import { HOSTILE_NAMES } from "../fixtures/hostile-names.js";

const SEED = Number(process.env.BATON_FUZZ_SEED ?? 20261205);
const CASES = Number(process.env.BATON_FUZZ_CASES ?? 1500);
/** Generous: the machine running the tests may be busy. */
const TOTAL_MS = 60_000;
const CASE_MS = 5_000;

/** mulberry32: a small, good-enough PRNG with a 32-bit state. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

const ROOT = path.resolve(import.meta.dirname, "../..");
function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .flatMap((e) => (e.isFile() && /\.ya?ml$/.test(e.name) ? [path.join(e.parentPath, e.name)] : []));
}
const SEEDS = [
  ...yamlFiles(path.join(ROOT, "examples")),
  ...yamlFiles(path.join(ROOT, "test/fixtures/valid")),
]
  .sort()
  .map((f) => fs.readFileSync(f, "utf8"))
  .filter((text) => text.includes("version:"));

const TOKENS = [
  ...HOSTILE_NAMES,
  "${{",
  "}}",
  "${{ params.",
  "${{ needs.",
  "${{ matrix.",
  "['*']",
  "needs: [",
  "nodes:",
  "params:",
  "matrix:",
  "foreach:",
  "with:",
  "- ",
  ": ",
  "{",
  "}",
  "[",
  "]",
  "'",
  '"',
  "&a",
  "*a",
  "<<: *a",
  "!!binary",
  "1e400",
  "-9007199254740993",
  "0x7fffffff",
  "NaN",
  ".inf",
  "~",
  "\t",
  "\u0000",
  "\uFFFF",
  "é",
];

function mutateLines(text: string, rng: Rng): string {
  const lines = text.split("\n");
  const steps = 1 + rng.int(4);
  for (let s = 0; s < steps; s++) {
    const i = rng.int(lines.length);
    switch (rng.int(8)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, lines[i] ?? "");
        break;
      case 2: {
        const j = rng.int(lines.length);
        [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
        break;
      }
      case 3: {
        // A hostile name in place of a word.
        lines[i] = (lines[i] ?? "").replace(/[A-Za-z_][A-Za-z0-9_-]*/, rng.pick(HOSTILE_NAMES));
        break;
      }
      case 4: {
        const line = lines[i] ?? "";
        const at = rng.int(line.length + 1);
        lines[i] = line.slice(0, at) + rng.pick(TOKENS) + line.slice(at);
        break;
      }
      case 5: {
        let bytes = "";
        for (let k = rng.int(8); k > 0; k--) bytes += String.fromCharCode(rng.int(0x3000));
        const line = lines[i] ?? "";
        const at = rng.int(line.length + 1);
        lines[i] = line.slice(0, at) + bytes + line.slice(at);
        break;
      }
      case 6: {
        // Deep nesting, as flow or block collections.
        const depth = 1 + rng.int(300);
        lines.splice(i, 0, rng.next() < 0.5 ? `x: ${"[".repeat(depth)}${"]".repeat(depth)}` : nested(depth));
        break;
      }
      default:
        lines[i] = (lines[i] ?? "").replace(
          /\d+/,
          rng.pick(["1e400", "99999999999999999999", "-0", "1.5e-400"]),
        );
    }
  }
  return lines.join("\n");
}

function nested(depth: number): string {
  let out = "";
  for (let d = 0; d < depth; d++) out += `${"  ".repeat(d)}k${d}:\n`;
  return out;
}

function randomFile(rng: Rng): string {
  const name = () => (rng.next() < 0.4 ? rng.pick(HOSTILE_NAMES) : rng.pick(["a", "b", "c", "train", "x-y"]));
  const expr = () => `\${{ ${randomExpression(rng, 3)} }}`;
  const nodes: string[] = [];
  for (let n = 1 + rng.int(5); n > 0; n--) {
    const parts = [`run: "echo ${expr().replaceAll('"', "'")}"`];
    if (rng.next() < 0.5) parts.push(`needs: [${name()}]`);
    if (rng.next() < 0.3) parts.push(`matrix: { ${name()}: [1, 2] }`);
    if (rng.next() < 0.3) parts.push(`with: { ${name()}: 1 }`);
    if (rng.next() < 0.2) parts.push(`pool: ${name()}`);
    nodes.push(`      ${name()}: { ${parts.join(", ")} }`);
  }
  return `version: 1\npipelines:\n  ${name()}:\n    params: { ${name()}: 1 }\n    nodes:\n${nodes.join("\n")}\n`;
}

function randomExpression(rng: Rng, depth: number): string {
  const leaf = () =>
    rng.pick([
      () => `params.${rng.pick(HOSTILE_NAMES)}`,
      () => `needs.${rng.pick(HOSTILE_NAMES)}.outputs['*']`,
      () => `matrix.${rng.pick(HOSTILE_NAMES)}`,
      () => `params['${rng.pick(HOSTILE_NAMES)}']`,
      () => String(rng.int(1000)),
      () => "'text'",
      () => "null",
      () => "true",
      () => "params.lr",
      () => "params.list[0]",
      () => rng.pick(TOKENS),
    ])();
  if (depth <= 0 || rng.next() < 0.3) return leaf();
  const sub = () => randomExpression(rng, depth - 1);
  return rng.pick([
    () => `${sub()} ${rng.pick(["==", "!=", "<", ">=", "&&", "||"])} ${sub()}`,
    () => `!${sub()}`,
    () => `(${sub()})`,
    () =>
      `${rng.pick(["contains", "format", "join", "toJSON", "fromJSON", "length", "startsWith"])}(${sub()}, ${sub()})`,
    () => `${sub()}[${sub()}]`,
    () => `${sub()}.${rng.pick(HOSTILE_NAMES)}`,
  ])();
}

function fileCase(rng: Rng): string {
  const r = rng.next();
  if (r < 0.15) return randomFile(rng);
  const base = rng.pick(SEEDS);
  if (r < 0.2) return base;
  return mutateLines(base, rng);
}

/** Reads a file; fails with the seed and case when it throws anything but located problems. */
function checkFile(text: string, where: string): void {
  try {
    parseProjectText(text, "baton.yaml");
  } catch (err) {
    if (!(err instanceof BatonError) || err.code !== "SPEC_INVALID") {
      throw new Error(
        `${where}: threw ${err instanceof Error ? err.stack : String(err)}\n--- file ---\n${text}`,
      );
    }
    expect(err.problems.length, `${where}: no problems\n${text}`).toBeGreaterThan(0);
    for (const p of err.problems) {
      const located =
        (p.line !== undefined && p.column !== undefined) || (p.path !== undefined && p.path !== "");
      if (!located)
        throw new Error(`${where}: problem not located: ${JSON.stringify(p)}\n--- file ---\n${text}`);
    }
  }
}

const CONTEXT = {
  params: { lr: 0.1, list: [1, 2, 3], constructor: "own" },
  matrix: { toString: 1 },
  needs: {},
  env: {},
};

function checkExpression(source: string, where: string): void {
  try {
    evaluateTemplate(parseTemplate(source), CONTEXT);
  } catch (err) {
    if (!(err instanceof ExpressionError)) {
      throw new Error(
        `${where}: ${JSON.stringify(source)} threw ${err instanceof Error ? err.stack : String(err)}`,
      );
    }
  }
}

describe(`fuzz (seed ${SEED}, ${CASES} cases)`, () => {
  it("reading any file gives a model or located problems, in bounded time", () => {
    expect(SEEDS.length).toBeGreaterThan(3);
    const rng = prng(SEED);
    const started = performance.now();
    for (let i = 0; i < CASES; i++) {
      const where = `seed ${SEED}, file case ${i} (BATON_FUZZ_SEED=${SEED})`;
      const text = fileCase(rng);
      const t0 = performance.now();
      checkFile(text, where);
      const took = performance.now() - t0;
      if (took > CASE_MS) throw new Error(`${where}: took ${Math.round(took)} ms\n${text}`);
      if (performance.now() - started > TOTAL_MS)
        throw new Error(`${where}: the fuzz run exceeded ${TOTAL_MS} ms`);
    }
  }, 120_000);

  it("evaluating any expression gives a value or an expression error", () => {
    const rng = prng(SEED ^ 0x5eed);
    const started = performance.now();
    for (let i = 0; i < CASES * 4; i++) {
      const where = `seed ${SEED}, expression case ${i}`;
      const source =
        rng.next() < 0.1
          ? rng.pick(TOKENS) + randomExpression(rng, 4)
          : `\${{ ${randomExpression(rng, 4)} }}`;
      checkExpression(source, where);
      if (performance.now() - started > TOTAL_MS)
        throw new Error(`${where}: the fuzz run exceeded ${TOTAL_MS} ms`);
    }
  }, 120_000);
});
