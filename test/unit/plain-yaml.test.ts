/**
 * The fast reader of plain YAML against the `yaml` package: for every file it accepts, the same
 * data and the same position of every key and value; the rest it leaves to the full parser.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LineCounter, parseDocument } from "yaml";
import { BatonError } from "../../src/errors.js";
import { plainSourceMap, yamlSourceMap } from "../../src/spec/locate.js";
import { parseProjectDocument, parseProjectText } from "../../src/spec/parse.js";
import { readPlainYaml } from "../../src/spec/plain-yaml.js";
import type { Path } from "../../src/spec/problems.js";
import { REPO, docBlocks, yamlFiles } from "../helpers/spec-corpus.js";

const repo = REPO;

function allPaths(value: unknown, path: Array<string | number> = [], out: Path[] = []): Path[] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => allPaths(v, [...path, i], out));
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) allPaths(v, [...path, k], out);
  return out;
}

/** Whether the fast reader took `text`; when it did, it must agree with yaml in every answer. */
function agrees(text: string): boolean {
  const plain = readPlainYaml(text);
  if (!plain) return false;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, uniqueKeys: false });
  expect(doc.errors).toEqual([]);
  const data = doc.toJS({ maxAliasCount: 1000 });
  expect(plain.data).toStrictEqual(data);
  const full = yamlSourceMap(doc, lineCounter, text);
  const fast = plainSourceMap(plain, text, () => full);
  for (const path of allPaths(data)) {
    for (const p of [path, [...path, "missing"], [...path, 7]]) {
      expect({ p, at: "key", pos: fast.position(p, "key") }).toEqual({
        p,
        at: "key",
        pos: full.position(p, "key"),
      });
      expect({ p, at: "value", pos: fast.position(p, "value") }).toEqual({
        p,
        at: "value",
        pos: full.position(p, "value"),
      });
      expect({ p, text: fast.text(p) }).toEqual({ p, text: full.text(p) });
    }
  }
  return true;
}

const CASES: Record<string, string> = {
  scalars: [
    "a: 1",
    "b: -2",
    "c: 0o17",
    "d: 0x1F",
    "e: 1.50",
    "f: 1e3",
    "g: .inf",
    "h: -.Inf",
    "i: .nan",
    "j: ~",
    "k: Null",
    "l: TRUE",
    "m: false",
    "n: 'it''s'",
    'o: "tab\\there \\"q\\" \\u00e9 \\\\ \\/"',
    "p: http://x:80/y # comment",
    "q: a#b",
    "r: -x",
    "s: :x",
    "t:",
    "u: 007",
    "v: +12",
    "w: 1.",
    "x: 12345678901234567890",
    "y: yes",
    "z: [1, 2.5, null, true, 'x', \"y\", { a: b }, [], {}]",
    "",
  ].join("\n"),
  nested: [
    "# a comment",
    "version: 1",
    "pipelines:",
    "  p:",
    "    nodes:",
    "      a: { run: echo a, needs: [b, c] }",
    "",
    "      b:",
    "        run: |",
    "          echo ${{ params.x }}",
    "",
    "          echo done",
    "",
    "        env:",
    "          X: '1'",
    "      c:",
    "        run: |-",
    "          tail",
    "        needs:",
    "        - a",
    "        - b",
    "    params:",
    "      lr: { type: float, default: 1.0 }",
    "      n:",
    "        default:",
    "  q:",
    "    nodes:",
    "      - name: x",
    "        run: echo",
    "      -",
    "        name: y",
    "        run: echo y",
    "      - name: z",
    "        needs:",
    "          - x",
    "      - plain",
    "      -",
    "      - [1, 2]",
    "      - 'q': 1",
    "trailing: x   ",
  ].join("\n"),
  "literal at end": "a:\n  run: |\n    x\n\n",
  "seq root": "- a\n- b: 1\n  c: 2\n",
};

/** Files the fast reader must leave to the full parser (errors, or YAML it does not read). */
const REFUSED: Record<string, string> = {
  "duplicate key": "a: 1\na: 2\n",
  anchor: "a: &x 1\nb: *x\n",
  merge: "a: { x: 1 }\nb:\n  <<: { x: 2 }\n",
  tag: "a: !!str 1\n",
  tab: "a:\n\tb: 1\n",
  "multi-line plain": "a: one\n  two\n",
  "multi-line flow": "a: [1,\n  2]\n",
  "folded scalar": "a: >\n  x\n",
  "bad indentation": "a:\n    b: 1\n  c: 2\n",
  "key in value": "a: b: c\n",
  "document marker": "---\na: 1\n",
  "unclosed quote": 'a: "x\n',
  "number key": "1: a\n",
  "proto key": "__proto__: 1\n",
  "flow trailing comma": "a: [1, 2, ]\n",
  crlf: "a: 1\r\nb: 2\r\n",
  empty: "",
  "only a comment": "# nothing\n",
  scalar: "just text\n",
  "bad flow indentation": "a:\n  b: { x: 1,\ny: 2 }\n",
};

describe("plain YAML reader", () => {
  for (const [name, text] of Object.entries(CASES)) {
    it(`reads ${name} as yaml does`, () => {
      expect(agrees(text)).toBe(true);
    });
  }

  for (const [name, text] of Object.entries(REFUSED)) {
    it(`leaves ${name} to the full parser`, () => {
      expect(readPlainYaml(text)).toBeUndefined();
    });
  }

  it("agrees with yaml on every fixture and docs example it reads", () => {
    const files: Array<[string, string]> = [
      ...yamlFiles(join(repo, "test", "fixtures")).map((f): [string, string] => [f, readFileSync(f, "utf8")]),
      ...docBlocks(),
    ];
    let read = 0;
    for (const [name, text] of files) {
      try {
        if (agrees(text)) read++;
      } catch (err) {
        throw new Error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    // Most of them are plain YAML.
    expect(read).toBeGreaterThan(files.length / 2);
  });

  it("gives the same model as the full parser for every valid fixture", () => {
    const files = [
      ...yamlFiles(join(repo, "test", "fixtures", "valid")),
      ...yamlFiles(join(repo, "test", "fixtures", "valohai", "converted")),
    ];
    let read = 0;
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      if (readPlainYaml(text)) read++;
      let full: unknown;
      try {
        full = parseProjectDocument(text, "baton.yaml");
      } catch (err) {
        if (!(err instanceof BatonError)) throw err;
        full = err.message;
      }
      let fast: unknown;
      try {
        fast = parseProjectText(text, "baton.yaml");
      } catch (err) {
        if (!(err instanceof BatonError)) throw err;
        fast = err.message;
      }
      expect({ f, model: fast }).toEqual({ f, model: full });
    }
    expect(read).toBeGreaterThan(0);
  });
});

describe("positions in a large map", () => {
  it("are found in any order, again and again, as the full parser places them", () => {
    // 30 keys: more than a small map's scan; looked up backwards, by jumps and twice in a row.
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const text = `m:\n${keys.map((k, i) => `  ${k}: { v: ${i} }`).join("\n")}\n`;
    const plain = readPlainYaml(text)!;
    const lineCounter = new LineCounter();
    const full = yamlSourceMap(parseDocument(text, { lineCounter }), lineCounter, text);
    const fast = plainSourceMap(plain, text, () => full);
    const order = [...keys.keys()].reverse().concat([0, 0, 1, 17, 3, 29, 28, 29, 5, 6, 6, 7]);
    for (const i of order) {
      for (const p of [
        ["m", `k${i}`],
        ["m", `k${i}`, "v"],
        ["m", `x${i}`],
      ]) {
        expect({ p, pos: fast.position(p, "key") }).toEqual({ p, pos: full.position(p, "key") });
      }
    }
  });
});

describe("a large pipeline", () => {
  /** 20,000 nodes in chains of 10, as bench/validate-scale.mjs writes them. */
  function plain(n: number, line: (i: number) => string): string {
    const lines = ["version: 1", "pipelines:", "  flat:", "    nodes:"];
    for (let i = 0; i < n; i++) lines.push(line(i));
    return `${lines.join("\n")}\n`;
  }
  const node = (i: number) =>
    i % 10 ? `      n${i}: { needs: [n${i - 1}], run: "echo ${i}" }` : `      n${i}: { run: "echo ${i}" }`;

  it("reports the one error deep inside a 20,000-node file at its line and column", () => {
    // Line 4 + i + 1 holds node i; node 17,345 needs a node that does not exist.
    const text = plain(20_000, (i) =>
      i === 17_345 ? `      n${i}: { needs: [n${i - 1}, nope], run: "echo" }` : node(i),
    );
    expect(readPlainYaml(text)).toBeDefined();
    let err: unknown;
    try {
      parseProjectText(text, "baton.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).message).toBe(
      'baton.yaml:17350:33 pipelines.flat.nodes.n17345.needs[1]: unknown node "nope"',
    );
  }, 120_000);

  it("reads a 20,000-node file with the locations of the full parser", () => {
    const text = plain(20_000, node);
    const spec = parseProjectText(text, "baton.yaml");
    expect(Object.keys(spec.pipelines.flat!.nodes)).toHaveLength(20_000);
    expect(spec.pipelines.flat!.nodes.n19999!.loc).toEqual({ file: "baton.yaml", line: 20004, column: 7 });
    expect(spec).toEqual(parseProjectDocument(text, "baton.yaml"));
  }, 120_000);
});
