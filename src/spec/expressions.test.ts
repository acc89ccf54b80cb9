import { describe, expect, it } from "vitest";
import {
  DynamicLookup,
  ExpressionError,
  KNOWN_FUNCTIONS,
  collectExpressionReferences,
  collectReferences,
  evaluateExpression,
  evaluateTemplate,
  evaluateValue,
  isTemplate,
  isTruthy,
  parseExpression,
  parseTemplate,
  renderValue,
  shellQuote,
} from "./expressions.js";

const outputs = new DynamicLookup((key) => {
  if (key === "*.npz") return ["data/train set.npz", "data/test.npz"];
  if (key === "model*") return ["model.pt"];
  return undefined;
}, "the outputs of preprocess");

function context(): Record<string, unknown> {
  return {
    params: { lr: 0.1, lrs: [0.1, 0.01], "learning-rate": 3, name: "it's", empty: "", flag: false, n: "5" },
    item: 7,
    matrix: { config: "base", input: "DL50.raw" },
    needs: {
      preprocess: { outputs, status: "success" },
      "find-best": { status: "failed", metrics: { accuracy: 0.93, loss: 0.2 } },
    },
  };
}

/** Parses and evaluates a template against the standard context. */
function ev(source: string, ctx: Record<string, unknown> = context()): unknown {
  return evaluateTemplate(parseTemplate(source), ctx);
}

/** The ExpressionError thrown by `fn`, failing the test if none is. */
function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExpressionError) return err;
    throw err;
  }
  throw new Error("expected an ExpressionError");
}

describe("isTemplate", () => {
  it("is true iff the string contains ${{", () => {
    expect(isTemplate("a ${{ b }}")).toBe(true);
    expect(isTemplate("${{")).toBe(true);
    expect(isTemplate("$HOME {{ x }} ${ y }")).toBe(false);
    expect(isTemplate("")).toBe(false);
  });
});

describe("parseTemplate", () => {
  it("splits text and expressions, with trimmed sources and offsets", () => {
    const t = parseTemplate("python train.py --lr ${{  params.lr }} --x");
    expect(t.source).toBe("python train.py --lr ${{  params.lr }} --x");
    expect(t.parts.map((p) => p.kind)).toEqual(["text", "expr", "text"]);
    expect(t.parts[0]).toEqual({ kind: "text", text: "python train.py --lr " });
    const e = t.parts[1]!;
    expect(e.kind === "expr" && e.source).toBe("params.lr");
    expect(e.kind === "expr" && e.offset).toBe(26);
    expect(t.parts[2]).toEqual({ kind: "text", text: " --x" });
  });

  it("returns a single text part for plain strings and no parts for the empty string", () => {
    expect(parseTemplate("echo hi").parts).toEqual([{ kind: "text", text: "echo hi" }]);
    expect(parseTemplate("").parts).toEqual([]);
  });

  it("does not end an expression at }} inside a quoted string", () => {
    const t = parseTemplate("${{ 'a}}b' }} and ${{ \"}}\" }}");
    expect(t.parts.filter((p) => p.kind === "expr").map((p) => p.kind === "expr" && p.source)).toEqual([
      "'a}}b'",
      '"}}"',
    ]);
    expect(evaluateTemplate(t, {})).toBe("a}}b and }}");
    expect(ev("${{ format('{0}}}', 1) }}")).toBe("1}");
  });

  it("accepts expressions spanning lines", () => {
    expect(ev("${{\n  params.lr\n}}")).toBe(0.1);
  });
});

describe("literals", () => {
  it("parses numbers", () => {
    expect(ev("${{ 42 }}")).toBe(42);
    expect(ev("${{ 3.25 }}")).toBe(3.25);
    expect(ev("${{ -2 }}")).toBe(-2);
    expect(ev("${{ -0.5 }}")).toBe(-0.5);
    expect(ev("${{ 1e3 }}")).toBe(1000);
    expect(ev("${{ 2.5E-1 }}")).toBe(0.25);
    expect(ev("${{ - - 3 }}")).toBe(3);
  });

  it("parses single-quoted strings with '' as an escaped quote", () => {
    expect(ev("${{ 'hello' }}")).toBe("hello");
    expect(ev("${{ 'it''s' }}")).toBe("it's");
    expect(ev("${{ '' }}")).toBe("");
    expect(ev("${{ 'a \"b\" \\n' }}")).toBe('a "b" \\n');
  });

  it("parses double-quoted strings with backslash escapes", () => {
    expect(ev('${{ "a\\tb\\n" }}')).toBe("a\tb\n");
    expect(ev('${{ "say \\"hi\\" it\'s \\\\ \\u00e9" }}')).toBe('say "hi" it\'s \\ é');
  });

  it("parses true, false and null", () => {
    expect(ev("${{ true }}")).toBe(true);
    expect(ev("${{ false }}")).toBe(false);
    expect(ev("${{ null }}")).toBe(null);
  });
});

describe("names and members", () => {
  it("reads roots, members and hyphenated names", () => {
    expect(ev("${{ item }}")).toBe(7);
    expect(ev("${{ params.learning-rate }}")).toBe(3);
    expect(ev("${{ needs.find-best.status }}")).toBe("failed");
    expect(ev("${{ needs.find-best.metrics.accuracy }}")).toBe(0.93);
  });

  it("reads indexes: string, number, computed and glob strings", () => {
    expect(ev("${{ params['learning-rate'] }}")).toBe(3);
    expect(ev("${{ params.lrs[1] }}")).toBe(0.01);
    expect(ev("${{ params.lrs['0'] }}")).toBe(0.1);
    expect(ev("${{ matrix[params.empty || 'config'] }}")).toBe("base");
    expect(ev("${{ needs.preprocess.outputs['*.npz'] }}")).toEqual(["data/train set.npz", "data/test.npz"]);
    expect(ev('${{ needs.preprocess.outputs["model*"][0] }}')).toBe("model.pt");
    expect(ev("${{ (params).lr }}")).toBe(0.1);
  });

  it("uses DynamicLookup.get for members of a lookup", () => {
    const seen: string[] = [];
    const lookup = new DynamicLookup((key) => {
      seen.push(key);
      return key.length;
    });
    const t = parseTemplate("${{ x.abc }} ${{ x['a b'] }} ${{ x[3] }}");
    expect(evaluateTemplate(t, { x: lookup })).toBe("3 3 1");
    expect(seen).toEqual(["abc", "a b", "3"]);
  });

  it("reports a lookup that returns undefined as not defined", () => {
    const err = errorOf(() => ev("${{ needs.preprocess.outputs['*.csv'] }}"));
    expect(err.code).toBe("EXPR_EVAL");
    expect(err.message).toContain(`"needs.preprocess.outputs['*.csv']" is not defined`);
    expect(err.message).toContain("the outputs of preprocess");
    const self = new DynamicLookup(() => undefined, "needs");
    expect(errorOf(() => ev("${{ needs.nope }}", { needs: self })).message).toBe(
      '"needs.nope" is not defined: "needs" has no member "nope"',
    );
  });

  it("refuses a lookup used as a whole value", () => {
    const err = errorOf(() => ev("${{ needs.preprocess.outputs }}"));
    expect(err.code).toBe("EXPR_EVAL");
    expect(err.message).toBe(
      '"needs.preprocess.outputs" (the outputs of preprocess) is computed on access and cannot be used as a value; read one of its members',
    );
    expect(() => ev("x ${{ needs.preprocess.outputs }}")).toThrow(ExpressionError);
    expect(() => ev("${{ toJSON(needs.preprocess) }}")).toThrow(/the outputs of preprocess/);
  });

  it("names an unknown root and lists the known ones", () => {
    const err = errorOf(() => ev("echo ${{ parms.lr }}"));
    expect(err.code).toBe("EXPR_EVAL");
    expect(err.message).toBe(
      'unknown name "parms" (did you mean "params"? known: params, item, matrix, needs)',
    );
    expect(err.offset).toBe(9);
  });

  it("names the full path of a missing member and the available keys", () => {
    const err = errorOf(() => ev("${{ needs.find-best.metrics.acuracy }}"));
    expect(err.code).toBe("EXPR_EVAL");
    expect(err.message).toBe(
      '"needs.find-best.metrics.acuracy" is not defined (did you mean "accuracy"?) (available: accuracy, loss)',
    );
    expect(errorOf(() => ev("${{ needs.train.status }}")).message).toContain('"needs.train" is not defined');
  });

  it("refuses members of null and of scalars", () => {
    expect(errorOf(() => ev("${{ x.y.z }}", { x: { y: null } })).message).toBe(
      '"x.y.z" cannot be read: "x.y" is null',
    );
    expect(errorOf(() => ev("${{ params.lr.x }}")).message).toContain('"params.lr" is a number');
    expect(errorOf(() => ev("${{ params.name.length }}")).code).toBe("EXPR_EVAL");
  });

  it("refuses bad list indexes", () => {
    expect(errorOf(() => ev("${{ params.lrs[2] }}")).message).toContain("out of range (length 2)");
    expect(errorOf(() => ev("${{ params.lrs[-1] }}")).message).toContain("out of range");
    expect(errorOf(() => ev("${{ params.lrs.length }}")).message).toContain("is a list");
    expect(errorOf(() => ev("${{ params.lrs[true] }}")).message).toContain("must be a string or a number");
  });

  it("never reads the prototype chain", () => {
    for (const src of [
      "${{ params.constructor }}",
      "${{ params['__proto__'] }}",
      "${{ params.__proto__ }}",
      "${{ params.toString }}",
      "${{ params.hasOwnProperty }}",
      "${{ params.lrs['constructor'] }}",
      "${{ params.lrs.map }}",
      "${{ needs['constructor']['constructor'] }}",
    ]) {
      const err = errorOf(() => ev(src));
      expect(err.code, src).toBe("EXPR_EVAL");
    }
    expect(errorOf(() => ev("${{ constructor }}")).message).toMatch(/^unknown name "constructor"/);
    expect(errorOf(() => ev("${{ toString }}")).message).toMatch(/^unknown name "toString"/);
  });

  it("refuses functions placed in the context", () => {
    const ctx = { f: () => 1, o: { g: () => 2 } };
    expect(errorOf(() => ev("${{ f }}", ctx)).message).toBe('"f" is not a value');
    expect(errorOf(() => ev("${{ o.g }}", ctx)).message).toBe('"o.g" is not a value');
  });

  it("reads own properties of null-prototype objects and JSON-made __proto__ keys as data", () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.a = 1;
    expect(ev("${{ x.a }}", { x: bare })).toBe(1);
    expect(ev("${{ fromJSON('{\"__proto__\": 5}')['__proto__'] }}")).toBe(5);
  });
});

describe("operators", () => {
  it("negates with ! and -", () => {
    expect(ev("${{ !true }}")).toBe(false);
    expect(ev("${{ !params.empty }}")).toBe(true);
    expect(ev("${{ !!params.lrs }}")).toBe(true);
    expect(ev("${{ -params.lr }}")).toBe(-0.1);
    expect(ev("${{ -params.n }}")).toBe(-5);
    expect(errorOf(() => ev("${{ -matrix.config }}")).message).toContain("cannot negate a string");
  });

  it("compares numbers and strings", () => {
    expect(ev("${{ 1 < 2 }}")).toBe(true);
    expect(ev("${{ 2 <= 2 }}")).toBe(true);
    expect(ev("${{ 3 > 4 }}")).toBe(false);
    expect(ev("${{ 4 >= 5 }}")).toBe(false);
    expect(ev("${{ 'abc' < 'abd' }}")).toBe(true);
    expect(ev("${{ params.n > 4 }}")).toBe(true);
    expect(ev("${{ '10' > 9 }}")).toBe(true);
    expect(errorOf(() => ev("${{ params.lr < 'abc' }}")).message).toBe(
      "cannot compare a number with a string in \"params.lr < 'abc'\"",
    );
    expect(() => ev("${{ null < 1 }}")).toThrow(/cannot compare null with a number/);
  });

  it("tests equality strictly, except numbers against numeric strings", () => {
    expect(ev("${{ 1 == 1 }}")).toBe(true);
    expect(ev("${{ params.n == 5 }}")).toBe(true);
    expect(ev("${{ 5 == ' 5.0 ' }}")).toBe(true);
    expect(ev("${{ 5 == 'five' }}")).toBe(false);
    expect(ev("${{ 'a' == 'A' }}")).toBe(false);
    expect(ev("${{ true == 'true' }}")).toBe(false);
    expect(ev("${{ 0 == false }}")).toBe(false);
    expect(ev("${{ null == null }}")).toBe(true);
    expect(ev("${{ x == null }}", { x: undefined })).toBe(true);
    expect(ev("${{ '' == 0 }}")).toBe(false);
    expect(ev("${{ needs.find-best.status != 'success' }}")).toBe(true);
  });

  it("returns operand values from && and ||", () => {
    expect(ev("${{ params.empty || 'default' }}")).toBe("default");
    expect(ev("${{ params.name || 'default' }}")).toBe("it's");
    expect(ev("${{ params.lr && params.lrs }}")).toEqual([0.1, 0.01]);
    expect(ev("${{ params.flag && missing }}")).toBe(false);
    expect(ev("${{ params.lrs || missing }}")).toEqual([0.1, 0.01]);
    expect(() => ev("${{ params.flag || missing }}")).toThrow(/unknown name "missing"/);
  });

  it("applies GHA precedence: ! > comparison > equality > && > ||", () => {
    expect(ev("${{ true || false && false }}")).toBe(true);
    expect(ev("${{ (true || false) && false }}")).toBe(false);
    expect(ev("${{ 1 < 2 == 2 < 3 }}")).toBe(true);
    expect(ev("${{ !1 == 0 }}")).toBe(false);
    expect(ev("${{ !(1 == 0) }}")).toBe(true);
    expect(ev("${{ 1 == 1 && 2 == 2 || 3 == 4 }}")).toBe(true);
    expect(ev("${{ 0 || 1 == 1 }}")).toBe(true);
    expect(ev("${{ -1 < 0 }}")).toBe(true);
    expect(ev("${{ 1 == 1 == true }}")).toBe(true);
  });

  it("uses JS truthiness", () => {
    expect([0, "", null, false, undefined, Number.NaN].map(isTruthy)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect([1, "0", "false", [], {}].map(isTruthy)).toEqual([true, true, true, true, true]);
    expect(ev("${{ !fromJSON('[]') }}")).toBe(false);
  });
});

describe("functions", () => {
  it("contains: substring or list membership", () => {
    expect(ev("${{ contains('hello world', 'lo w') }}")).toBe(true);
    expect(ev("${{ contains('hello', 'H') }}")).toBe(false);
    expect(ev("${{ contains(params.lrs, 0.01) }}")).toBe(true);
    expect(ev("${{ contains(params.lrs, '0.1') }}")).toBe(true);
    expect(ev("${{ contains(params.lrs, 1) }}")).toBe(false);
    expect(ev("${{ contains('v12', 12) }}")).toBe(true);
    expect(() => ev("${{ contains(item, 7) }}")).toThrow(/expects a string or a list/);
  });

  it("startsWith and endsWith", () => {
    expect(ev("${{ startsWith(matrix.input, 'DL') }}")).toBe(true);
    expect(ev("${{ endsWith(matrix.input, '.raw') }}")).toBe(true);
    expect(ev("${{ endsWith(matrix.input, '.RAW') }}")).toBe(false);
    expect(() => ev("${{ startsWith(params.lrs, 'x') }}")).toThrow(/expects a string/);
  });

  it("format: positional placeholders and escaped braces", () => {
    expect(ev("${{ format('{0} and {1}', 'a', 2) }}")).toBe("a and 2");
    expect(ev("${{ format('{1}{0}{1}', 'x', 'y') }}")).toBe("yxy");
    expect(ev("${{ format('{{literal}} {0}', params.lrs) }}")).toBe("{literal} 0.1 0.01");
    expect(ev("${{ format(matrix.config) }}")).toBe("base");
    expect(() => ev("${{ format(x, 1) }}", { x: "{1}" })).toThrow(/uses \{1\} but has only 1/);
  });

  it("join: default comma, custom separator, strings pass through", () => {
    expect(ev("${{ join(params.lrs) }}")).toBe("0.1,0.01");
    expect(ev("${{ join(params.lrs, ' ') }}")).toBe("0.1 0.01");
    expect(ev("${{ join(fromJSON('[\"a b\", null, [1]]'), '|') }}")).toBe("a b||[1]");
    expect(ev("${{ join('abc', '-') }}")).toBe("abc");
    expect(() => ev("${{ join(item) }}")).toThrow(/expects a list/);
  });

  it("toJSON and fromJSON", () => {
    expect(ev("${{ toJSON(matrix) }}")).toBe('{"config":"base","input":"DL50.raw"}');
    expect(ev("${{ toJSON(params.lrs) }}")).toBe("[0.1,0.01]");
    expect(ev("${{ toJSON('x') }}")).toBe('"x"');
    expect(ev("${{ fromJSON('{\"a\": [1, 2]}').a[1] }}")).toBe(2);
    expect(ev("${{ fromJSON('3') }}")).toBe(3);
    const err = errorOf(() => ev("${{ fromJSON('{nope') }}"));
    expect(err.code).toBe("EXPR_EVAL");
    expect(err.message).toContain("invalid JSON");
  });

  it("length of strings and lists", () => {
    expect(ev("${{ length(params.lrs) }}")).toBe(2);
    expect(ev("${{ length(params.name) }}")).toBe(4);
    expect(ev("${{ length('') }}")).toBe(0);
    expect(() => ev("${{ length(item) }}")).toThrow(/expects a string or a list/);
  });

  it("matches function names case-insensitively", () => {
    expect(ev("${{ CONTAINS('abc', 'b') }}")).toBe(true);
    expect(ev("${{ Format('{0}', 1) }}")).toBe("1");
    expect(ev("${{ tojson(1) }}")).toBe("1");
  });

  it("rejects unknown functions at parse time, listing the known ones", () => {
    const err = errorOf(() => parseTemplate("echo ${{ lenght(params.lrs) }}"));
    expect(err.code).toBe("EXPR_SYNTAX");
    expect(err.offset).toBe(9);
    expect(err.message).toBe(
      `unknown function "lenght" at column 10 (did you mean "length"? known: ${KNOWN_FUNCTIONS.join(", ")})`,
    );
    expect(errorOf(() => parseTemplate("${{ eval('1') }}")).message).toMatch(/^unknown function "eval"/);
  });

  it("checks argument counts and literal format strings at parse time", () => {
    expect(errorOf(() => parseTemplate("${{ contains('a') }}")).message).toBe(
      "contains() at column 5 takes 2 arguments, got 1",
    );
    expect(errorOf(() => parseTemplate("${{ length() }}")).message).toBe(
      "length() at column 5 takes 1 argument, got 0",
    );
    expect(errorOf(() => parseTemplate("${{ join(a, b, c) }}")).message).toContain("takes 1 to 2 arguments");
    expect(errorOf(() => parseTemplate("${{ format() }}")).message).toContain("takes at least 1 argument");
    const err = errorOf(() => parseTemplate("${{ format('{0} {1}', x) }}"));
    expect(err.code).toBe("EXPR_SYNTAX");
    expect(err.offset).toBe(11);
    expect(err.message).toContain("uses {1} but has only 1 value argument");
    expect(errorOf(() => parseTemplate("${{ format('{x}', 1) }}")).message).toContain("invalid placeholder");
    expect(errorOf(() => parseTemplate("${{ format('a } b') }}")).message).toContain('unmatched "}"');
  });
});

describe("evaluateTemplate", () => {
  it("returns the raw value of a template that is exactly one expression", () => {
    expect(ev("${{ params.lrs }}")).toEqual([0.1, 0.01]);
    expect(ev("${{ item }}")).toBe(7);
    expect(ev("${{ matrix }}")).toEqual({ config: "base", input: "DL50.raw" });
    expect(ev("${{ params.flag }}")).toBe(false);
    expect(ev("${{ x }}", { x: undefined })).toBe(null);
  });

  it("returns a string as soon as there is any text, even whitespace", () => {
    expect(ev(" ${{ item }}")).toBe(" 7");
    expect(ev("${{ item }}\n")).toBe("7\n");
    expect(ev("${{ item }}${{ item }}")).toBe("77");
    expect(ev("--lrs ${{ params.lrs }} --m ${{ matrix }}")).toBe(
      '--lrs 0.1 0.01 --m {"config":"base","input":"DL50.raw"}',
    );
  });

  it("returns text without expressions unchanged", () => {
    expect(ev("echo $HOME {{ x }}")).toBe("echo $HOME {{ x }}");
    expect(ev("")).toBe("");
  });

  it("renders lists of paths as shell words", () => {
    expect(ev("python eval.py ${{ needs.preprocess.outputs['*.npz'] }}")).toBe(
      "python eval.py 'data/train set.npz' data/test.npz",
    );
  });

  it("evaluates one parsed template many times", () => {
    const t = parseTemplate("--lr ${{ item }}");
    const results = [1, 2, 3].map((item) => evaluateTemplate(t, { item }));
    expect(results).toEqual(["--lr 1", "--lr 2", "--lr 3"]);
  });

  it("does not read the context's prototype", () => {
    const ctx = Object.create({ inherited: 1 }) as Record<string, unknown>;
    ctx.own = 2;
    expect(ev("${{ own }}", ctx)).toBe(2);
    expect(errorOf(() => ev("${{ inherited }}", ctx)).message).toBe('unknown name "inherited" (known: own)');
  });
});

describe("evaluateValue", () => {
  it("evaluates templates in strings, lists and maps, and leaves other values alone", () => {
    const context = { item: 7, params: { lr: 0.1 } };
    expect(evaluateValue("plain", context)).toBe("plain");
    expect(evaluateValue("${{ item }}", context)).toBe(7);
    expect(
      evaluateValue({ lr: "${{ params.lr }}", args: ["-n", "${{ item }}x", 3], on: true }, context),
    ).toEqual({ lr: 0.1, args: ["-n", "7x", 3], on: true });
    expect(evaluateValue(null, context)).toBe(null);
  });
});

describe("renderValue and shellQuote", () => {
  it("renders scalars without quoting", () => {
    expect(renderValue("a b 'c'")).toBe("a b 'c'");
    expect(renderValue(3)).toBe("3");
    expect(renderValue(0.001)).toBe("0.001");
    expect(renderValue(true)).toBe("true");
    expect(renderValue(null)).toBe("");
    expect(renderValue(undefined)).toBe("");
  });

  it("renders objects as JSON", () => {
    expect(renderValue({ a: [1, "x"] })).toBe('{"a":[1,"x"]}');
  });

  it("renders lists as space-separated words, quoting only when needed", () => {
    expect(renderValue(["a.txt", "dir/b-c_d.npz", "k=v", "u@h:p", "50%", "+1,2"])).toBe(
      "a.txt dir/b-c_d.npz k=v u@h:p 50% +1,2",
    );
    expect(renderValue(["with space", "it's", "$HOME", "a*b", ""])).toBe(
      "'with space' 'it'\\''s' '$HOME' 'a*b' ''",
    );
    expect(renderValue([1, 2.5, false, null])).toBe("1 2.5 false ''");
    expect(renderValue([["x y"], { a: "b c" }])).toBe(`'["x y"]' '{"a":"b c"}'`);
    expect(renderValue([])).toBe("");
  });

  it("refuses lookups", () => {
    expect(() => renderValue(outputs)).toThrow(ExpressionError);
    expect(() => renderValue({ nested: outputs })).toThrow(/the outputs of preprocess/);
  });

  it("quotes with single quotes, escaping single quotes", () => {
    expect(shellQuote("plain-word_1.2")).toBe("plain-word_1.2");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a\nb")).toBe("'a\nb'");
    expect(shellQuote("`rm -rf`;$(x)")).toBe("'`rm -rf`;$(x)'");
  });
});

describe("syntax errors", () => {
  /** The error's code, offset and message for a template that must not parse. */
  function syntax(source: string): { offset: number | undefined; message: string } {
    const err = errorOf(() => parseTemplate(source));
    expect(err.code).toBe("EXPR_SYNTAX");
    return { offset: err.offset, message: err.message };
  }

  it("reports an unexpected token with its column", () => {
    expect(syntax("run ${{ (1 == ) }}")).toEqual({
      offset: 14,
      message: 'unexpected ")" at column 15, expected an expression',
    });
    expect(syntax("${{ a b }}")).toEqual({
      offset: 6,
      message: 'unexpected "b" at column 7, expected an operator or the end of the expression',
    });
    expect(syntax("${{ a. }}")).toEqual({
      offset: 6,
      message: 'unexpected end of expression at column 7, expected a name after "."',
    });
  });

  it("reports unclosed brackets, naming where they opened", () => {
    expect(syntax("${{ (a }}")).toEqual({
      offset: 6,
      message: 'unexpected end of expression at column 7, expected ")" to close the "(" at column 5',
    });
    expect(syntax("${{ a['x' }}").message).toContain('expected "]" to close the "[" at column 6');
    expect(syntax("${{ join(a b) }}").message).toBe(
      'unexpected "b" at column 12, expected "," or ")" to close the "(" at column 9',
    );
  });

  it("reports an unterminated ${{", () => {
    expect(syntax("echo ${{ params.lr")).toEqual({
      offset: 5,
      message: 'unterminated "${{" at column 6 (missing "}}")',
    });
    expect(syntax("a ${{ x }} b ${{ y } c").offset).toBe(13);
  });

  it("reports an unterminated string", () => {
    expect(syntax("${{ 'abc }}")).toEqual({
      offset: 4,
      message: "unterminated string starting at column 5 (missing closing ')",
    });
    expect(syntax('${{ "a\\" }}').offset).toBe(4);
  });

  it("reports an empty expression", () => {
    expect(syntax("x ${{ }}")).toEqual({ offset: 2, message: "empty expression at column 3" });
    expect(syntax("${{}}").message).toBe("empty expression at column 1");
  });

  it("reports unknown characters and lookalike operators", () => {
    expect(syntax("${{ a = 1 }}")).toEqual({
      offset: 6,
      message: 'unexpected "=" at column 7, did you mean "=="?',
    });
    expect(syntax("${{ a & b }}").message).toContain('did you mean "&&"?');
    expect(syntax("${{ a | b }}").message).toContain('did you mean "||"?');
    expect(syntax("${{ 1 + 2 }}").message).toBe(
      'unexpected character "+" at column 7 (there is no arithmetic)',
    );
    expect(syntax("${{ a - 1 }}").message).toContain("(there is no arithmetic)");
    expect(syntax("${{ a @ b }}").message).toBe('unexpected character "@" at column 7');
    expect(syntax("${{ a } }}").offset).toBe(6);
  });

  it("reports bad numbers and escapes", () => {
    expect(syntax("${{ 12abc }}").message).toBe('invalid number "12abc" at column 5');
    expect(syntax("${{ 1.2.3 }}").message).toBe('invalid number "1.2.3" at column 5');
    expect(syntax('${{ "\\q" }}').message).toContain('unknown escape "\\q" at column 6');
    expect(syntax('${{ "\\u12" }}').message).toContain("expected 4 hex digits");
  });

  it("counts lines in multi-line templates", () => {
    expect(syntax("echo start\necho ${{ a ) }}")).toEqual({
      offset: 22,
      message: 'unexpected ")" at line 2, column 12, expected an operator or the end of the expression',
    });
  });

  it("reports the offset in the whole template, not in the expression", () => {
    const source = "a ${{ x }} b ${{ y ) }}";
    expect(syntax(source).offset).toBe(source.indexOf(")"));
  });
});

describe("collectReferences", () => {
  it("collects roots and static paths with root offsets", () => {
    const t = parseTemplate(
      "python x.py --lr ${{ params.lr }} --data ${{ needs.preprocess.outputs['*.npz'] }}",
    );
    expect(collectReferences(t)).toEqual([
      { root: "params", path: ["lr"], offset: 21 },
      { root: "needs", path: ["preprocess", "outputs", "*.npz"], offset: 45 },
    ]);
  });

  it("includes literal number indexes and stops at the first computed index", () => {
    const t = parseTemplate("${{ a.b[0].c[x.y].d['e'] }}");
    expect(collectReferences(t)).toEqual([
      { root: "a", path: ["b", 0, "c"], offset: 4 },
      { root: "x", path: ["y"], offset: 13 },
    ]);
  });

  it("includes references in function arguments and operators, not function names", () => {
    const t = parseTemplate(
      "${{ contains(needs.find-best.status, 'ok') && !item || format('{0}', matrix.config) }}",
    );
    expect(collectReferences(t)).toEqual([
      { root: "needs", path: ["find-best", "status"], offset: 13 },
      { root: "item", path: [], offset: 47 },
      { root: "matrix", path: ["config"], offset: 69 },
    ]);
  });

  it("follows chains rooted in calls and parentheses", () => {
    expect(collectReferences(parseTemplate("${{ fromJSON(params.s).a }}"))).toEqual([
      { root: "params", path: ["s"], offset: 13 },
    ]);
    expect(collectReferences(parseTemplate("${{ (params).lr }}"))).toEqual([
      { root: "params", path: ["lr"], offset: 5 },
    ]);
  });

  it("returns nothing for literals and plain text", () => {
    expect(collectReferences(parseTemplate("echo ${{ 'x' }} ${{ 1 == 2 }}"))).toEqual([]);
    expect(collectReferences(parseTemplate("no expressions"))).toEqual([]);
  });

  it("reports every occurrence", () => {
    expect(collectReferences(parseTemplate("${{ item }} ${{ item }}")).map((r) => r.offset)).toEqual([4, 16]);
  });
});

describe("parseExpression and evaluateExpression", () => {
  it("parse bare expressions with offsets relative to the string", () => {
    const e = parseExpression("needs.find-best.status == 'failed'");
    expect(evaluateExpression(e, context())).toBe(true);
    expect(collectExpressionReferences(e)).toEqual([
      { root: "needs", path: ["find-best", "status"], offset: 0 },
    ]);
    expect(errorOf(() => parseExpression("a ==")).offset).toBe(4);
    expect(errorOf(() => parseExpression("  ")).message).toBe("empty expression");
    expect(errorOf(() => parseExpression("a }}")).code).toBe("EXPR_SYNTAX");
  });
});
