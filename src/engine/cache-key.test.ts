import { describe, expect, it } from "vitest";
import { cacheKey, canonicalJson } from "./cache-key.js";

describe("canonicalJson", () => {
  it("sorts object keys at every level, drops undefined members and keeps array order", () => {
    const value = {
      b: 1,
      a: [3, { z: null, y: undefined, é: 'x"y\n' }],
      c: { Z: 1, a: 2, _: [undefined, true] },
      "10": "ten",
      "9": "nine",
    };
    expect(canonicalJson(value)).toBe(
      '{"10":"ten","9":"nine","a":[3,{"z":null,"é":"x\\"y\\n"}],"b":1,"c":{"Z":1,"_":[null,true],"a":2}}',
    );
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson(undefined)).toBe("null");
  });

  it("gives equal text for equal values written in another order", () => {
    expect(canonicalJson({ x: { q: 1, p: [1, 2] }, w: "a" })).toBe(
      canonicalJson({ w: "a", x: { p: [1, 2], q: 1 } }),
    );
  });
});

describe("cacheKey", () => {
  it("is the key earlier versions computed for the same parts (their cached results stay reusable)", () => {
    const key = cacheKey({
      command: "python train.py --lr 0.1",
      params: { lr: 0.1, name: "x" },
      env: { A: "1" },
      inputs: { data: { "a.csv": "ab" } },
      deps: {},
      files: { "train.py": "cd" },
      resources: { gpu: 1 },
      outputs: ["*.pt"],
    });
    expect(key).toBe("2c32e764428bdd7ec3703146870b079e2e4e01e7eb31a12835baba30dd7b875f");
  });
});
