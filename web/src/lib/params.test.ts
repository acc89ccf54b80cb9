import { describe, expect, it } from "vitest";
import type { ParamDecl } from "../api/types";
import { paramOfProblemPath, paramText, parseParam, validateParams } from "./params";

const p = (type: ParamDecl["type"], extra: Partial<ParamDecl> = {}): ParamDecl => ({
  name: "x",
  type,
  required: false,
  ...extra,
});

describe("launch form params", () => {
  it("parses each type and says what is wrong", () => {
    expect(parseParam(p("int"), " 42 ")).toEqual({ ok: true, value: 42 });
    expect(parseParam(p("int"), "4.2")).toMatchObject({
      ok: false,
      error: expect.stringContaining("whole number"),
    });
    expect(parseParam(p("float"), "1e-3")).toEqual({ ok: true, value: 0.001 });
    expect(parseParam(p("float"), "abc")).toMatchObject({ ok: false });
    expect(parseParam(p("bool"), "true")).toEqual({ ok: true, value: true });
    expect(parseParam(p("bool"), "yes")).toMatchObject({ ok: false });
    expect(parseParam(p("string"), " spaced ")).toEqual({ ok: true, value: " spaced " });
    expect(parseParam(p("json"), '{"a": [1]}')).toEqual({ ok: true, value: { a: [1] } });
    expect(parseParam(p("json"), "{a}")).toMatchObject({ ok: false, error: expect.stringContaining("JSON") });
  });

  it("takes lists as JSON or as comma-separated values", () => {
    expect(parseParam(p("list"), "[0.1, 0.01]")).toEqual({ ok: true, value: [0.1, 0.01] });
    expect(parseParam(p("list"), "0.1, 0.01, a")).toEqual({ ok: true, value: [0.1, 0.01, "a"] });
    expect(parseParam(p("list"), '{"a":1}')).toMatchObject({ ok: true });
    expect(parseParam(p("list"), "[1,")).toMatchObject({ ok: false });
  });

  it("checks choices and required fields", () => {
    const choice = p("string", { choices: ["resnet", "vit"] });
    expect(parseParam(choice, "vit")).toEqual({ ok: true, value: "vit" });
    expect(parseParam(choice, "bert")).toMatchObject({ ok: false, error: 'expected one of "resnet", "vit"' });
    expect(parseParam(p("int", { required: true }), "")).toEqual({ ok: false, error: "required" });
    expect(parseParam(p("int"), "")).toEqual({ ok: true, value: undefined });
  });

  it("validates a whole form: values to send, errors by field", () => {
    const decls: ParamDecl[] = [
      { name: "lr", type: "float", required: true },
      { name: "epochs", type: "int", required: false, default: 3 },
      { name: "tag", type: "string", required: false },
    ];
    expect(validateParams(decls, { lr: "0.1", epochs: "5", tag: "" })).toEqual({
      values: { lr: 0.1, epochs: 5 },
      errors: {},
    });
    expect(validateParams(decls, { lr: "fast", epochs: "5" }).errors).toEqual({
      lr: "expected a number, like 0.01 or 1e-3",
    });
  });

  it("writes defaults back as field text", () => {
    expect(paramText({ type: "list" }, [0.1, "a"])).toBe('[0.1, "a"]');
    expect(paramText({ type: "json" }, { a: 1 })).toBe('{"a":1}');
    expect(paramText({ type: "bool" }, false)).toBe("false");
    expect(paramText({ type: "int" }, undefined)).toBe("");
  });

  it("maps a server problem to its field", () => {
    expect(paramOfProblemPath("body.params.lr")).toBe("lr");
    expect(paramOfProblemPath("body.pipeline")).toBeUndefined();
  });
});
