import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { evaluateValue } from "../../src/spec/expressions.js";
import { argsContext, renderParamWords } from "../../src/spec/param-args.js";
import type { ParamSpec } from "../../src/spec/types.js";

/** What `sh -c` sees: each argument of `printf '%s\n' WORDS` on its own line. */
function shellArgs(words: string): string[] {
  const out = execFileSync("sh", ["-c", `printf '%s\\n' ${words}`], { encoding: "utf8" });
  return out.split("\n").slice(0, -1);
}

describe("params rendered as command-line words (args, arg)", () => {
  const table: Array<[string, ParamSpec, unknown, string[]]> = [
    ["a float, default pass-as", { type: "float" }, 0.1, ["--lr=0.1"]],
    ["a string with spaces stays one word", { type: "string" }, "two words", ["--lr='two words'"]],
    ["a string with a quote", { type: "string" }, "it's", ["--lr='it'\\''s'"]],
    ["pass-as with {v}", { type: "int", passAs: "-l {v}" }, 3, ["-l", "3"]],
    ["pass-as with {name} and {value}", { type: "int", passAs: "--{name}:{value}" }, 3, ["--lr:3"]],
    ["a true flag without pass-*-as", { type: "bool" }, true, ["--lr"]],
    ["a false flag without pass-*-as", { type: "bool" }, false, []],
    ["a true flag with pass-as", { type: "bool", passAs: "--fast" }, true, ["--fast"]],
    ["a true flag with pass-true-as", { type: "bool", passTrueAs: "--fast" }, true, ["--fast"]],
    ["a false flag with pass-true-as only", { type: "bool", passTrueAs: "--fast" }, false, []],
    ["a false flag with pass-false-as", { type: "bool", passFalseAs: "--slow" }, false, ["--slow"]],
    ["a true flag with pass-false-as only", { type: "bool", passFalseAs: "--slow" }, true, []],
    [
      "an unset flag with pass-false-as",
      { type: "bool", passFalseAs: "--slow", optional: true },
      undefined,
      ["--slow"],
    ],
    ["an optional param left unset", { type: "string", optional: true }, undefined, []],
    ["multiple: repeat", { type: "list", multiple: "repeat" }, [1, 2], ["--lr=1", "--lr=2"]],
    [
      "multiple: repeat, items with spaces",
      { type: "list", multiple: "repeat" },
      ["a b", "c"],
      ["--lr='a b'", "--lr=c"],
    ],
    ["multiple: separate", { type: "list", multiple: "separate" }, [1, 2], ["--lr=1,2"]],
    [
      "multiple: separate, own separator",
      { type: "list", multiple: "separate", multipleSeparator: ":" },
      ["a", "b"],
      ["--lr=a:b"],
    ],
    ["multiple: separate, empty list", { type: "list", multiple: "separate" }, [], []],
    ["a list without multiple: its JSON", { type: "list" }, [1, 2], ["--lr='[1,2]'"]],
    ["an empty string", { type: "string" }, "", ["--lr=''"]],
  ];
  it.each(table)("%s", (_what, spec, value, words) => {
    expect(renderParamWords("lr", spec, value)).toEqual(words);
  });

  it("renders every param in declaration order, and each by name", () => {
    const decls: Record<string, ParamSpec> = {
      lr: { type: "float", default: 0.1 },
      epochs: { type: "int", default: 3 },
      name: { type: "string" },
      fast: { type: "bool" },
      "learning rate": { type: "float", passAs: "--learning-rate={v}" },
      note: { type: "string", optional: true },
    };
    const ctx = argsContext(decls, {
      lr: 0.1,
      epochs: 3,
      name: "two words",
      fast: false,
      "learning rate": 1,
    });
    expect(ctx.args).toBe("--lr=0.1 --epochs=3 --name='two words' --learning-rate=1");
    expect(ctx.arg.name).toBe("--name='two words'");
    expect(ctx.arg.fast).toBe("");
    expect(ctx.arg.note).toBe("");
    expect(evaluateValue("run ${{ args }}", { ...ctx })).toBe(`run ${ctx.args}`);
    expect(evaluateValue("${{ arg['learning rate'] }} ${{ arg.epochs }}", { ...ctx })).toBe(
      "--learning-rate=1 --epochs=3",
    );
  });

  it("keeps each value one argument through sh -c (spaces, quotes, $, globs)", () => {
    const decls: Record<string, ParamSpec> = {
      name: { type: "string" },
      tricky: { type: "string", passAs: "-t {v}" },
      tags: { type: "list", multiple: "repeat", passAs: "--tag {v}" },
    };
    const { args } = argsContext(decls, {
      name: "two words",
      tricky: `it's "$HOME" *`,
      tags: ["a b", "c"],
    });
    expect(shellArgs(args)).toEqual([
      "--name=two words",
      "-t",
      `it's "$HOME" *`,
      "--tag",
      "a b",
      "--tag",
      "c",
    ]);
  });

  it("quote() makes one shell word of any value", () => {
    const ctx = { params: { a: "two words", b: "it's", n: 3, l: [1, "x y"], z: null } };
    expect(evaluateValue("${{ quote(params.a) }}", ctx)).toBe("'two words'");
    expect(evaluateValue("${{ quote(params.n) }}", ctx)).toBe("3");
    expect(evaluateValue("${{ quote(params.z) }}", ctx)).toBe("''");
    const words = evaluateValue("${{ quote(params.a) }} ${{ quote(params.b) }} ${{ quote(params.l) }}", ctx);
    expect(shellArgs(words as string)).toEqual(["two words", "it's", '[1,"x y"]']);
  });
});
