import { describe, expect, it } from "vitest";
import { formatProblem } from "../errors.js";
import { convertCommand, convertCondition, importValohaiText } from "./valohai.js";

const params = new Map<string, unknown>([
  ["lr", {}],
  ["learning rate", {}],
]);

describe("convertCommand", () => {
  it("maps Valohai's placeholders to args, arg and quote", () => {
    expect(convertCommand("python3 t.py {parameters}", params)).toBe("python3 t.py ${{ args }}");
    expect(convertCommand("python3 t.py {params}", params)).toBe("python3 t.py ${{ args }}");
    expect(convertCommand("t {parameter:lr} {parameter-value:lr}", params)).toBe(
      "t ${{ arg.lr }} ${{ quote(params.lr) }}",
    );
    expect(convertCommand("t {parameter:learning rate}", params)).toBe("t ${{ arg['learning rate'] }}");
  });

  it("reports a placeholder naming no parameter", () => {
    const seen: string[] = [];
    convertCommand("t {parameter:lrr}", params, (m) => seen.push(m));
    expect(seen).toEqual(['placeholder {parameter:lrr} names no parameter of the step (did you mean "lr"?)']);
  });

  it("rewrites /valohai folders quoted for where they stand", () => {
    expect(convertCommand("cp a /valohai/outputs/b", params)).toBe('cp a "${VH_OUTPUTS_DIR}"/b');
    expect(convertCommand('cat "/valohai/inputs/d/x y.csv"', params)).toBe(
      'cat "${VH_INPUTS_DIR}/d/x y.csv"',
    );
    expect(convertCommand("cat '/valohai/inputs/d/x'", params)).toBe(`cat ''"\${VH_INPUTS_DIR}"'/d/x'`);
    expect(convertCommand("cd /valohai/repository && ls /valohai/config", params)).toBe(
      'cd "${VH_REPOSITORY_DIR}" && ls "${VH_CONFIG_DIR}"',
    );
    // Not a Valohai folder: a longer name, or part of another path.
    expect(convertCommand("ls /valohai/inputsx /x/valohai/inputs", params)).toBe(
      "ls /valohai/inputsx /x/valohai/inputs",
    );
  });
});

describe("convertCondition", () => {
  it("reads metadata and parameters as metrics and params", () => {
    expect(convertCondition("metadata.accuracy < 0.8 and parameter.lr > 0.1")).toBe(
      "metrics.accuracy < 0.8 && params.lr > 0.1",
    );
  });
});

describe("importValohaiText", () => {
  it("refuses a file that is not a list, with its place", () => {
    const r = importValohaiText("step: {}\n", "v.yaml");
    expect(r.document).toBeUndefined();
    expect(r.errors.map(formatProblem)).toEqual([
      'v.yaml:1:1: expected a list of "- step:", "- pipeline:", "- task:" and "- endpoint:" entries',
    ]);
  });

  it("makes one pipeline per step for a file of steps only", () => {
    const r = importValohaiText("- step: { name: hello, image: alpine, command: echo hi }\n", "v.yaml");
    expect(r.errors).toEqual([]);
    expect(r.document?.pipelines).toEqual({ hello: { nodes: { hello: { step: "hello", cache: false } } } });
  });
});
