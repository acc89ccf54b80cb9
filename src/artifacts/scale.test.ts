import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContentStore } from "./cas.js";
import { materialiseInputs } from "./inputs.js";
import { type OutputFile, collectOutputs, restoreOutputs, selectOutputs } from "./outputs.js";

// The benchmark's shape: 10,000 tiny tasks with one output each, and one task whose input is
// all of them. Times are printed, not asserted: machines differ.
const N = 10_000;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-scale-"));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe(`${N} tiny tasks`, () => {
  it("collects one output per task, selects them all and materialises them as one input", async () => {
    const cas = new ContentStore(path.join(dir, "cas"));
    const produced: Array<{ abs: string; rel: string; producer: string }> = [];
    let t = performance.now();
    for (let i = 0; i < N; i++) {
      const out = path.join(dir, "runs", "r", `t${i}`, "output");
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, "result.json"), `{"i":${i}}`);
    }
    const writeMs = performance.now() - t;

    t = performance.now();
    for (let i = 0; i < N; i++) {
      const out = path.join(dir, "runs", "r", `t${i}`, "output");
      const [file] = await collectOutputs(out, ["*.json"], cas);
      produced.push({ abs: path.join(out, file!.path), rel: file!.path, producer: `work[${i}]` });
    }
    const collectMs = performance.now() - t;

    t = performance.now();
    const selected = selectOutputs(produced, "result*");
    const selectMs = performance.now() - t;
    expect(selected).toHaveLength(N);

    t = performance.now();
    const links = await materialiseInputs(path.join(dir, "inputs"), "all", selected);
    const materialiseMs = performance.now() - t;
    expect(links).toHaveLength(N);
    expect(fs.readFileSync(links[N - 1]!, "utf8")).toBe(`{"i":${N - 1}}`);

    console.log(
      `[artifacts scale] setup ${writeMs.toFixed(0)} ms; collectOutputs ${collectMs.toFixed(0)} ms ` +
        `(${((collectMs / N) * 1000).toFixed(0)} µs/task); selectOutputs ${selectMs.toFixed(1)} ms; ` +
        `materialiseInputs ${materialiseMs.toFixed(0)} ms for ${N} links in ${N} producer folders`,
    );
  });

  it("collects and restores one folder of 10,000 files", async () => {
    const cas = new ContentStore(path.join(dir, "cas2"));
    const out = path.join(dir, "big-output");
    for (let i = 0; i < N; i++) {
      const sub = path.join(out, `part${i % 100}`);
      if (i < 100) fs.mkdirSync(sub, { recursive: true });
      fs.writeFileSync(path.join(sub, `f${i}.txt`), String(i));
    }
    let t = performance.now();
    const files: OutputFile[] = await collectOutputs(out, [], cas);
    const collectMs = performance.now() - t;
    expect(files).toHaveLength(N);

    t = performance.now();
    await restoreOutputs(path.join(dir, "restored"), files, cas);
    const restoreMs = performance.now() - t;
    expect(fs.readFileSync(path.join(dir, "restored", "part7", "f7.txt"), "utf8")).toBe("7");

    console.log(
      `[artifacts scale] collectOutputs of one folder ${collectMs.toFixed(0)} ms, restoreOutputs ${restoreMs.toFixed(0)} ms (${N} files)`,
    );
  });
});
