import { describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import {
  checkParamValue,
  inferParamType,
  parseParamAssignments,
  parseParamText,
  resolveParams,
} from "./params.js";
import type { ParamSpec } from "./types.js";

const decls: Record<string, ParamSpec> = {
  lr: { type: "float", default: 0.001 },
  epochs: { type: "int", default: 10 },
  fast: { type: "bool", default: false },
  lrs: { type: "list", default: [0.1] },
  extra: { type: "json", default: {} },
  mode: { type: "string", choices: ["base", "full"], default: "base" },
  dataset: { type: "string" },
};

function thrown(fn: () => unknown): BatonError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BatonError) return err;
    throw err;
  }
  throw new Error("expected a BatonError");
}

describe("resolveParams from the command line", () => {
  const cli = { fromCli: true, where: 'pipeline "train"' };

  it("parses each value by its declared type and fills in defaults", () => {
    const values = resolveParams(
      decls,
      {
        lr: "0.1",
        epochs: "3",
        fast: "yes",
        lrs: "[1, 2]",
        extra: '{"a": 1}',
        mode: "full",
        dataset: "mnist",
      },
      cli,
    );
    expect(values).toEqual({
      lr: 0.1,
      epochs: 3,
      fast: true,
      lrs: [1, 2],
      extra: { a: 1 },
      mode: "full",
      dataset: "mnist",
    });
  });

  it("keeps declaration order and uses defaults for what is not given", () => {
    const values = resolveParams(decls, { dataset: "x" }, cli);
    expect(Object.keys(values)).toEqual(["lr", "epochs", "fast", "lrs", "extra", "mode", "dataset"]);
    expect(values.lr).toBe(0.001);
  });

  it.each([
    ["epochs", "1.5", 'param "epochs" of pipeline "train": expected an integer (type int), found "1.5"'],
    ["lr", "fast", 'param "lr" of pipeline "train": expected a number (type float), found "fast"'],
    [
      "fast",
      "maybe",
      'param "fast" of pipeline "train": expected true or false (type bool; 1/0 and yes/no work too), found "maybe"',
    ],
    [
      "lrs",
      "0.1,0.2",
      `param "lrs" of pipeline "train": expected JSON (type list, e.g. '["a", "b"]'), found "0.1,0.2"`,
    ],
    [
      "lrs",
      '{"a": 1}',
      `param "lrs" of pipeline "train": expected a JSON list (type list, e.g. '[1, 2]'), found "{\\"a\\": 1}"`,
    ],
    ["mode", "quick", 'param "mode" of pipeline "train": "quick" is not one of the choices "base" or "full"'],
  ])("rejects %s=%s", (name, value, message) => {
    const err = thrown(() => resolveParams(decls, { dataset: "x", [name]: value }, cli));
    expect(err.code).toBe("PARAM_INVALID");
    expect(err.message).toBe(message);
    expect(err.problems).toEqual([{ path: name, message }]);
  });

  it("names an unknown param with the closest declared one", () => {
    const err = thrown(() => resolveParams(decls, { dataset: "x", epoch: "3" }, cli));
    expect(err.message).toBe('pipeline "train" has no param "epoch" (did you mean "epochs"?)');
  });

  it("says how to give a required param", () => {
    const err = thrown(() => resolveParams(decls, {}, cli));
    expect(err.message).toBe(
      'param "dataset" of pipeline "train" is required (type string, no default): pass -p dataset=VALUE',
    );
  });

  it("reports every problem at once", () => {
    const err = thrown(() => resolveParams(decls, { lr: "x", nope: "1" }, cli));
    expect(err.problems.map((p) => p.path)).toEqual(["lr", "nope", "dataset"]);
  });

  it("takes string params as they are", () => {
    expect(resolveParams({ s: { type: "string" } }, { s: "[1, 2]" }, cli)).toEqual({ s: "[1, 2]" });
  });
});

describe("resolveParams from data (API, SDK)", () => {
  const api = { fromCli: false, where: 'pipeline "train"' };

  it("checks types without converting", () => {
    expect(resolveParams(decls, { lr: 1, dataset: "x" }, api).lr).toBe(1);
    const err = thrown(() => resolveParams(decls, { lr: "0.1", dataset: "x" }, api));
    expect(err.message).toBe('param "lr" of pipeline "train": expected a number (type float), found "0.1"');
  });

  it("says when nothing is declared", () => {
    const err = thrown(() => resolveParams({}, { lr: 1 }, api));
    expect(err.message).toBe('pipeline "train" has no param "lr" (it declares no params)');
  });
});

describe("parseParamText", () => {
  it.each([
    ["int", " 42 ", 42],
    ["int", "-3", -3],
    ["float", "1e-3", 0.001],
    ["float", ".5", 0.5],
    ["bool", "TRUE", true],
    ["bool", "0", false],
    ["bool", "no", false],
    ["json", '"text"', "text"],
    ["json", "null", null],
  ] as const)("parses %s %j", (type, text, value) => {
    expect(parseParamText(type, text)).toEqual({ ok: true, value });
  });

  it.each([
    ["int", "0x10"],
    ["int", "9007199254740993"],
    ["float", "1.2.3"],
    ["float", ""],
    ["json", "text"],
  ] as const)("rejects %s %j", (type, text) => {
    expect(parseParamText(type, text).ok).toBe(false);
  });
});

describe("checkParamValue and inferParamType", () => {
  it("checks type, then choices", () => {
    expect(checkParamValue({ type: "int" }, 1.5)).toBe("expected an integer (type int), found 1.5");
    expect(checkParamValue({ type: "list", choices: [[1], [2]] }, [2])).toBeUndefined();
    expect(checkParamValue({ type: "list", choices: [[1], [2]] }, [3])).toBe(
      "a list is not one of the choices [1] or [2]",
    );
  });

  it("infers a type from a bare default, reading how numbers were written", () => {
    expect(inferParamType(0.1)).toBe("float");
    expect(inferParamType(3)).toBe("int");
    expect(inferParamType(1, "1.0")).toBe("float");
    expect(inferParamType(true)).toBe("bool");
    expect(inferParamType(["a"])).toBe("list");
    expect(inferParamType("x")).toBe("string");
  });
});

describe("parseParamAssignments", () => {
  it("splits at the first =", () => {
    expect(parseParamAssignments(["lr=0.1", "expr=a=b", "empty="])).toEqual({
      lr: "0.1",
      expr: "a=b",
      empty: "",
    });
  });

  it("lets a later value win", () => {
    expect(parseParamAssignments(["lr=0.1", "lr=0.2"])).toEqual({ lr: "0.2" });
  });

  it("rejects an argument without a name or =", () => {
    const err = thrown(() => parseParamAssignments(["lr"]));
    expect(err.code).toBe("USAGE");
    expect(err.message).toBe('-p "lr": expected NAME=VALUE, e.g. -p lr=0.1');
    expect(thrown(() => parseParamAssignments(["=1"])).code).toBe("USAGE");
  });
});
