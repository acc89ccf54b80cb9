import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

const yaml = `version: 1
pipelines:
  p:
    params: { lr: { type: float, default: 0.01 } }
    nodes:
      prep:
        inputs: { raw: "data/*.csv" }
        run: |
          echo prep >> ran.log
          cat \${{ inputs.raw }} > "$BATON_OUTPUT_DIR/data.txt"
      train:
        needs: [prep]
        inputs: { data: "\${{ needs.prep.outputs['data.txt'] }}" }
        with: { lr: "\${{ params.lr }}" }
        params: { lr: { type: float } }
        run: |
          echo train >> ran.log
          echo "lr=\${{ params.lr }}" > "$BATON_OUTPUT_DIR/model.txt"
          echo '{"loss": 0.5}' >> "$BATON_METRICS"
      report:
        needs: [train]
        run: |
          echo report >> ran.log
          cat \${{ needs.train.outputs['model.txt'] }} > "$BATON_OUTPUT_DIR/report.txt"
`;

const ran = (dir: string) => {
  const f = path.join(dir, "ran.log");
  const lines = fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
  fs.rmSync(f, { force: true });
  return lines;
};

describe("content cache: never do the same work twice", () => {
  it("a rerun with nothing changed starts no process and restores outputs and metrics", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    const first = await runJson([], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(ran(dir)).toEqual(["prep", "train", "report"]);
    const again = await runJson([], dir);
    expect(again.code).toBe(0);
    expect(ran(dir)).toEqual([]);
    expect(again.json.tasks.map((t) => [t.name, t.status, t.cached])).toEqual([
      ["prep", "cached", true],
      ["train", "cached", true],
      ["report", "cached", true],
    ]);
    expect(again.byName("train").metrics).toEqual({ loss: 0.5 });
    // Outputs are restored into the new run's own folder.
    const report = again.byName("report").outputs[0]!;
    expect(report.startsWith(again.byName("report").outputDir)).toBe(true);
    expect(fs.readFileSync(report, "utf8")).toBe("lr=0.01\n");
  });

  it("changing one param reruns only what depends on it, and show says what changed", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    await runJson([], dir);
    ran(dir);
    const r = await runJson(["-p", "lr=0.02"], dir);
    expect(r.code).toBe(0);
    expect(ran(dir)).toEqual(["train", "report"]);
    expect(r.byName("prep").status).toBe("cached");
    const show = await runBaton(["show", r.byName("train").id], dir);
    expect(show.stdout).toContain("param lr: 0.01 -> 0.02");
    const showReport = await runBaton(["show", r.byName("report").id], dir);
    expect(showReport.stdout).toContain(
      "upstream output: content of 1 file(s) or folder(s) named in the command changed",
    );
  });

  it("an input whose content changes reruns; touching it without change does not", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    await runJson([], dir);
    ran(dir);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, "data/a.csv"), later, later);
    await runJson([], dir);
    expect(ran(dir)).toEqual([]);
    fs.writeFileSync(path.join(dir, "data/a.csv"), "3,4\n");
    const r = await runJson([], dir);
    // prep's output changed, so train reruns; train's output did not, so report is reused.
    expect(ran(dir)).toEqual(["prep", "train"]);
    expect(r.byName("report").status).toBe("cached");
    const show = await runBaton(["show", r.byName("prep").id], dir);
    expect(show.stdout).toContain("input raw/a.csv: content changed");
  });

  it("--no-cache and cache: false run everything; failed tasks are never cached", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    await runJson([], dir);
    ran(dir);
    await runJson(["--no-cache"], dir);
    expect(ran(dir)).toEqual(["prep", "train", "report"]);

    const flaky = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      once:
        cache: false
        run: echo once >> ran.log
      fails:
        run: echo fails >> ran.log; exit 1
`,
    });
    await runJson([], flaky);
    expect(ran(flaky).sort()).toEqual(["fails", "once"]);
    const r = await runJson([], flaky);
    expect(ran(flaky).sort()).toEqual(["fails", "once"]);
    expect(r.byName("fails").status).toBe("failed");
  });

  it("--from NODE reruns it and everything downstream, reusing what is upstream", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    await runJson([], dir);
    ran(dir);
    const r = await runJson(["--from", "train"], dir);
    expect(r.code).toBe(0);
    expect(ran(dir)).toEqual(["train", "report"]);
    expect(r.byName("prep").status).toBe("cached");
  });

  it("--target NODE runs only it and what it needs", async () => {
    const dir = makeProject({ "baton.yaml": yaml, "data/a.csv": "1,2\n" });
    const r = await runJson(["--target", "train"], dir);
    expect(r.code).toBe(0);
    expect(r.json.tasks.map((t) => t.name)).toEqual(["prep", "train"]);
    expect(ran(dir)).toEqual(["prep", "train"]);
  });

  it("a task sees only its own params in BATON_PARAM_*, so its cache key covers all it can read", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
steps:
  show:
    params: { m: { type: int, default: 5 } }
    run: echo "n=\${BATON_PARAM_N:-unset} m=$BATON_PARAM_M" > "$BATON_OUTPUT_DIR/n.txt"
pipelines:
  p:
    params: { n: { type: int, default: 1 } }
    nodes:
      show: { step: show }
`,
    });
    const one = await runJson(["-p", "n=1"], dir);
    expect(fs.readFileSync(one.byName("show").outputs[0]!, "utf8")).toBe("n=unset m=5\n");
    // n is not the step's param: changing it changes nothing the step can see, so it is reused.
    const two = await runJson(["-p", "n=2"], dir);
    expect(two.byName("show").status).toBe("cached");
  });
});

describe("content cache: many hits at once", () => {
  const fanYaml = `version: 1
pipelines:
  p:
    nodes:
      work:
        foreach: [1, 2, 3, 4, 5, 6]
        inputs: { src: "data/\${{ item }}.txt" }
        run: |
          echo work\${{ item }} >> ran.log
          cat \${{ inputs.src }} > "$BATON_OUTPUT_DIR/w\${{ item }}.txt"
      all:
        needs: [work]
        inputs: { parts: "\${{ needs.work.outputs['*'] }}" }
        run: |
          echo all >> ran.log
          cat \${{ inputs.parts }} | sort > "$BATON_OUTPUT_DIR/all.txt"
`;

  it("of many hits, one with its output deleted is restored and one with a changed input reruns with what needs it", async () => {
    const files: Record<string, string> = { "baton.yaml": fanYaml };
    for (let i = 1; i <= 6; i++) files[`data/${i}.txt`] = `v${i}\n`;
    const dir = makeProject(files);
    const first = await runJson([], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(ran(dir).sort()).toEqual(["all", "work1", "work2", "work3", "work4", "work5", "work6"]);
    const again = await runJson([], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(ran(dir)).toEqual([]);
    expect(again.json.tasks.map((t) => t.status)).toEqual(Array(7).fill("cached"));

    // One reused output deleted where it was, one input changed.
    const w2 = again.json.tasks.find(
      (t) => t.name.startsWith("work") && t.outputs.some((o) => o.endsWith("w2.txt")),
    )!;
    fs.rmSync(w2.outputs[0]!);
    fs.writeFileSync(path.join(dir, "data/4.txt"), "changed\n");
    const third = await runJson([], dir);
    expect(third.code, third.stderr).toBe(0);
    expect(ran(dir).sort()).toEqual(["all", "work4"]);
    const byFile = (name: string) => third.json.tasks.find((t) => t.outputs.some((o) => o.endsWith(name)))!;
    for (let i = 1; i <= 6; i++) expect(byFile(`w${i}.txt`).status).toBe(i === 4 ? "succeeded" : "cached");
    expect(byFile("all.txt").status).toBe("succeeded");
    expect(fs.readFileSync(byFile("w2.txt").outputs[0]!, "utf8")).toBe("v2\n");
    expect(fs.readFileSync(byFile("all.txt").outputs[0]!, "utf8")).toBe("changed\nv1\nv2\nv3\nv5\nv6\n");
  });
});

describe("content cache: files of the project the command names", () => {
  const files = {
    "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      step:
        run: python3 step.py --out "$BATON_OUTPUT_DIR/out.txt" >> ran.log
      odd:
        run: cat /etc/hostname missing.py lib > /dev/null 2>&1 || echo odd >> ran.log
`,
    "step.py": `import sys\nopen(sys.argv[2], "w").write("v1\\n")\nprint("step")\n`,
    "lib/keep.txt": "a folder named in a command is not hashed\n",
  };

  it("an edited step.py reruns its task and show names it; unchanged, cached; outside or missing files are fine", async () => {
    const dir = makeProject(files);
    const first = await runJson([], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(ran(dir).sort()).toEqual(["odd", "step"]);

    const same = await runJson([], dir);
    expect(same.code, same.stderr).toBe(0);
    expect(same.json.tasks.map((t) => [t.name, t.status])).toEqual([
      ["step", "cached"],
      ["odd", "cached"],
    ]);
    expect(ran(dir)).toEqual([]);

    fs.writeFileSync(
      path.join(dir, "step.py"),
      fs.readFileSync(path.join(dir, "step.py"), "utf8").replace("v1", "v2"),
    );
    const edited = await runJson([], dir);
    expect(edited.code, edited.stderr).toBe(0);
    expect(edited.byName("step").status).toBe("succeeded");
    expect(edited.byName("odd").status).toBe("cached");
    expect(ran(dir)).toEqual(["step"]);
    expect(fs.readFileSync(path.join(edited.byName("step").outputDir, "out.txt"), "utf8")).toBe("v2\n");
    const show = await runBaton(["show", edited.byName("step").id], dir);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("file step.py changed");
    expect(show.stdout).toMatch(/^ {2}file {5}step\.py$/m);
  });
});
