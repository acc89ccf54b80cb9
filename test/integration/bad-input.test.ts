import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

describe("bad input gets a clear error naming the place", () => {
  it("a misspelt need: file:line:column, key path, did-you-mean, exit 2, nothing run", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      train:
        run: echo train > ran.log
      eval:
        needs: [trian]
        run: echo eval
`,
    });
    const r = await runBaton(["run"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'baton.yaml:8:17 pipelines.p.nodes.eval.needs[0]: unknown node "trian" (did you mean "train"?)',
    );
    expect(fs.existsSync(path.join(dir, "ran.log"))).toBe(false);
    const v = await runBaton(["validate"], dir);
    expect(v.code).toBe(2);
    expect(v.stderr).toBe(r.stderr);
  });

  it("validate reports every problem at once, and counts tasks of a good file", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      a:
        needs: [b]
        run: echo \${{ params.nope }}
      b:
        needs: [a]
        run: echo b
`,
    });
    const r = await runBaton(["validate"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cycle a -> b -> a|cycle b -> a -> b/);
    expect(r.stderr).toMatch(/baton.yaml:7:23 pipelines.p.nodes.a.run: node "a" has no param "nope"/);
    expect(r.stderr).toMatch(/2 problems found/);

    const good = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      a: { run: echo a, matrix: { x: [1, 2, 3], y: [a, b] } }
      b: { run: echo b, needs: [a] }
`,
    });
    const ok = await runBaton(["validate"], good);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("p: 2 nodes, 7 tasks");
  });

  it("a missing input file fails the task with the input's name and pattern; the rest of the run goes on", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      other:
        run: echo ok > "$BATON_OUTPUT_DIR/ok.txt"
      read:
        inputs: { raw: "data/*.csv" }
        run: cat \${{ inputs.raw }}
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.byName("other").status).toBe("succeeded");
    expect(r.byName("read")).toMatchObject({ status: "failed", attempts: 0 });
    const show = await runBaton(["show", r.byName("read").id], dir);
    expect(show.stdout).toMatch(/input "raw": no file matches "data\/\*\.csv"/);
  });

  it("a missing pipeline file is a usage error", async () => {
    const dir = makeProject({});
    const r = await runBaton(["run", "-f", "nope.yaml"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot read pipeline file nope.yaml: no such file");
  });

  it("an unwritable .baton/runs folder fails tasks clearly and keeps the store readable", async () => {
    // Tests run as root here, which ignores permissions: a file where the folder should be
    // makes the folder just as unwritable.
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      a: { run: echo a > "$BATON_OUTPUT_DIR/a.txt" }
`,
    });
    expect((await runBaton(["run"], dir)).code).toBe(0);
    const runs = path.join(dir, ".baton", "runs");
    fs.rmSync(runs, { recursive: true });
    fs.writeFileSync(runs, "not a folder");
    const r = await runBaton(["run"], dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/runs/);
    fs.rmSync(runs);
    const ls = await runBaton(["ls"], dir);
    expect(ls.code).toBe(0);
    expect(ls.stdout.split("\n").filter((l) => l.includes(" p ")).length).toBeGreaterThanOrEqual(1);
  });
});

describe("pipeline nodes start child runs", () => {
  it("runs the child pipeline with its params and hands its outputs downstream", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  child:
    params: { word: { type: string, default: x } }
    nodes:
      say:
        run: echo "\${{ params.word }}" > "$BATON_OUTPUT_DIR/word.txt"
  parent:
    nodes:
      sub:
        pipeline: child
        with: { word: hello }
      use:
        needs: [sub]
        run: cat \${{ needs.sub.outputs['word.txt'] }} > "$BATON_OUTPUT_DIR/got.txt"
`,
    });
    const r = await runJson(["parent"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.byName("sub").status).toBe("succeeded");
    expect(fs.readFileSync(r.byName("use").outputs[0]!, "utf8")).toBe("hello\n");
  });
});
