import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { workdirFileRel } from "../artifacts/inputs.js";
import { urlFileRel } from "../artifacts/url-inputs.js";
import { BatonError, formatProblem } from "../errors.js";
import { classifyInputSource } from "./input-sources.js";
import { parseProjectText } from "./parse.js";

describe("Task I/O keys", () => {
  it("resolve from defaults to steps to nodes: no-output-timeout as written, image, compat, input layout", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "defaults: { no-output-timeout: 10m, image: python:3.11 }",
        "steps:",
        "  s:",
        "    run: 'true'",
        "    compat: valohai",
        "    inputs:",
        "      data: { default: 'https://example.com/d/train.csv', keep-directories: suffix, filename: t.csv }",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      a: { step: s, no-output-timeout: 90 }",
        "      b: { run: 'true', image: 'ghcr.io/x/y:1', no-output-timeout: null }",
      ),
      "baton.yaml",
    );
    const a = project.pipelines.p?.nodes.a;
    const b = project.pipelines.p?.nodes.b;
    if (a?.kind !== "task" || b?.kind !== "task") throw new Error("task nodes expected");
    expect(a.noOutputTimeout).toEqual({ ms: 90_000, text: "90s" });
    expect(a.image).toBe("python:3.11");
    expect(a.compat).toBe("valohai");
    expect(a.inputs.data).toEqual({
      default: ["https://example.com/d/train.csv"],
      optional: false,
      keepDirectories: "suffix",
      filename: "t.csv",
    });
    expect(b.noOutputTimeout).toBeUndefined();
    expect(b.image).toBe("ghcr.io/x/y:1");
    expect(b.compat).toBeUndefined();
    expect(project.defaults.noOutputTimeout).toEqual({ ms: 600_000, text: "10m" });
  });

  it("reports bad values where they are written", () => {
    const found = problems(
      yaml(
        "version: 1",
        "steps:",
        "  s:",
        "    run: 'true'",
        "    compat: kubeflow",
        "    inputs:",
        "      data: { default: 'gs://b/k', keep-directories: some, filename: a/b }",
        "pipelines:",
        "  p:",
        "    nodes:",
        "      a: { step: s, no-output-timeout: 0 }",
      ),
    );
    expect(found.join("\n")).toMatch(/baton\.yaml:5:\d+ steps\.s\.compat: .*valohai/);
    expect(found.join("\n")).toMatch(/baton\.yaml:7:\d+ steps\.s\.inputs\.data\.keep-directories: .*none/);
    expect(found.join("\n")).toMatch(
      /baton\.yaml:11:\d+ pipelines\.p\.nodes\.a\.no-output-timeout: .*longer than 0/,
    );
  });

  it("tells URLs, paths and unsupported schemes apart without I/O", () => {
    expect(classifyInputSource("data/*.csv").kind).toBe("path");
    expect(classifyInputSource("https://x.org/a.csv").kind).toBe("url");
    expect(classifyInputSource("HTTP://x.org/a.csv").kind).toBe("url");
    expect(classifyInputSource("s3://bucket/key")).toEqual({ kind: "unsupported", scheme: "s3" });
    expect(classifyInputSource("azure://acct/c/b")).toEqual({ kind: "unsupported", scheme: "azure" });
  });

  it("lays URL and workdir files out as keep-directories says", () => {
    const url = new URL("https://example.com/sets/mnist%20v2/train.csv?sig=1");
    expect(urlFileRel(url, undefined)).toBe("train.csv");
    expect(urlFileRel(url, "none")).toBe("train.csv");
    expect(urlFileRel(url, "suffix")).toBe("train.csv");
    expect(urlFileRel(url, "full")).toBe("sets/mnist v2/train.csv");
    expect(urlFileRel(new URL("https://example.com/"), "none")).toBe("example.com");
    const file = { abs: "/w/data/a/x.txt", base: "/w/data" };
    expect(workdirFileRel("/w", file, undefined)).toBe("x.txt");
    expect(workdirFileRel("/w", file, "none")).toBe("x.txt");
    expect(workdirFileRel("/w", file, "full")).toBe("data/a/x.txt");
    expect(workdirFileRel("/w", file, "suffix")).toBe("a/x.txt");
  });
});
