import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

describe("baton run: files, params and metrics flow through a real pipeline", () => {
  it("passes output files downstream and prints the documented --json shape", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  main:
    params: { greeting: { type: string, default: hello } }
    nodes:
      make:
        run: |
          echo "\${{ params.greeting }} world" > "$BATON_OUTPUT_DIR/greeting.txt"
          echo '{"words": 2}' >> "$BATON_METRICS"
      shout:
        needs: [make]
        inputs: { text: "\${{ needs.make.outputs['*.txt'] }}" }
        run: tr a-z A-Z < \${{ inputs.text }} > "$BATON_OUTPUT_DIR/loud.txt"; echo "words=\${{ needs.make.metrics.words }}" >> "$BATON_OUTPUT_DIR/loud.txt"
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.run).toMatchObject({ pipeline: "main", status: "succeeded" });
    expect(r.json.tasks.map((t) => t.name)).toEqual(["make", "shout"]);
    const make = r.byName("make");
    expect(Object.keys(make).sort()).toEqual(
      [
        "approval",
        "attempts",
        "cached",
        "endedAt",
        "exitCode",
        "id",
        "image",
        "labels",
        "metrics",
        "name",
        "node",
        "outputDir",
        "outputs",
        "parent",
        "queueReason",
        "run",
        "startedAt",
        "status",
      ].sort(),
    );
    expect(make).toMatchObject({
      status: "succeeded",
      exitCode: 0,
      attempts: 1,
      cached: false,
      metrics: { words: 2 },
      parent: null,
      node: "make",
      run: r.json.run.id,
    });
    expect(make.outputs).toEqual([path.join(make.outputDir, "greeting.txt")]);
    const loud = r.byName("shout").outputs[0]!;
    expect(fs.readFileSync(loud, "utf8")).toBe("HELLO WORLD\nwords=2\n");
    // Progress goes to stderr, never to stdout.
    expect(r.stderr).toContain("shout succeeded");
  });

  it("takes -p values by the param's type and rejects unknown params with exit 2", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    params:
      n: { type: int, default: 1 }
      names: { type: list, default: [a] }
    nodes:
      fan:
        foreach: \${{ params.names }}
        run: echo "\${{ item }} \${{ params.n }}" > "$BATON_OUTPUT_DIR/out.txt"
`,
    });
    const ok = await runJson(["-p", "n=7", "-p", 'names=["x","y"]'], dir);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json.tasks.map((t) => t.name)).toEqual(["fan[0]", "fan[1]"]);
    expect(fs.readFileSync(ok.byName("fan[1]").outputs[0]!, "utf8")).toBe("y 7\n");

    const unknown = await runBaton(["run", "-p", "m=3"], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no param "m" \(did you mean "n"\?\)/);
    const wrongType = await runBaton(["run", "-p", "n=abc"], dir);
    expect(wrongType.code).toBe(2);
    expect(wrongType.stderr).toMatch(/"n"/);
  });

  it("names matrix tasks as docs/pipeline-file.md says and gives downstream the union of their outputs", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  qa:
    nodes:
      images:
        matrix: { input: [a.raw, b.raw], config: [base, fast] }
        run: echo "\${{ matrix.input }}/\${{ matrix.config }}" > "$BATON_OUTPUT_DIR/result.txt"
      summary:
        needs: [images]
        run: cat \${{ needs.images.outputs['result.txt'] }} | sort > "$BATON_OUTPUT_DIR/all.txt"; ls \${{ needs.images.output_dirs }} | grep -c result.txt > "$BATON_OUTPUT_DIR/count.txt"
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.tasks.map((t) => t.name)).toEqual([
      "images[input=a.raw,config=base]",
      "images[input=a.raw,config=fast]",
      "images[input=b.raw,config=base]",
      "images[input=b.raw,config=fast]",
      "summary",
    ]);
    const [all, count] = r.byName("summary").outputs;
    expect(fs.readFileSync(all!, "utf8")).toBe("a.raw/base\na.raw/fast\nb.raw/base\nb.raw/fast\n");
    expect(fs.readFileSync(count!, "utf8").trim()).toBe("4");
  });

  it("sets the documented environment and runs in the folder holding baton.yaml", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
steps:
  show:
    params: { learning-rate: { type: float, default: 0.5 }, tags: { type: list, default: [x, y] } }
    run: env | grep '^BATON_' | sort > "$BATON_OUTPUT_DIR/env.txt"; pwd > "$BATON_OUTPUT_DIR/pwd.txt"; ls "$BATON_INPUTS_DIR/data" > "$BATON_OUTPUT_DIR/inputs.txt"
    inputs: { data: { default: "data/*.csv" } }
pipelines:
  p:
    nodes:
      show: { step: show }
`,
      "data/one.csv": "a,b\n",
      "data/two.csv": "c,d\n",
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const task = r.byName("show");
    const env = Object.fromEntries(
      fs
        .readFileSync(path.join(task.outputDir, "env.txt"), "utf8")
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(env).toMatchObject({
      BATON_RUN_ID: r.json.run.id,
      BATON_TASK_ID: task.id,
      BATON_TASK_NAME: "show",
      BATON_OUTPUT_DIR: task.outputDir,
      BATON_PARAM_LEARNING_RATE: "0.5",
      BATON_PARAM_TAGS: '["x","y"]',
    });
    expect(env.BATON_METRICS).toBeTruthy();
    expect(fs.existsSync(env.BATON_PIPELINE_DIR!)).toBe(true);
    expect(fs.readFileSync(path.join(task.outputDir, "pwd.txt"), "utf8").trim()).toBe(fs.realpathSync(dir));
    expect(fs.readFileSync(path.join(task.outputDir, "inputs.txt"), "utf8")).toBe("one.csv\ntwo.csv\n");
  });
});
