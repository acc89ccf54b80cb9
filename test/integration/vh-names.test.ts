/**
 * Names as people write them (`Three-Trainings Pipeline`, `Train model (MNIST)`) and params
 * rendered as Valohai renders them (`${{ args }}`), through real `baton` processes.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Server, startServer } from "../e2e/harness.js";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";
import { killStarted, waitForRun } from "../helpers/server.js";

afterAll(killStarted);

const PROJECT = `version: 1
pipelines:
  Three-Trainings Pipeline:
    params:
      learning rate: { type: float, default: 0.1, min: 0, max: 1 }
    nodes:
      Prepare data:
        run: echo prepared > "$BATON_OUTPUT_DIR/data.txt"
      Train model (MNIST):
        needs: [Prepare data]
        foreach: [a, b, c]
        params: { learning rate: { type: float, min: 0, max: 1 } }
        with: { learning rate: "\${{ params['learning rate'] }}" }
        run: echo "\${{ item }} $BATON_PARAM_LEARNING_RATE \${{ params['learning rate'] }}" > "$BATON_OUTPUT_DIR/model-\${{ item }}.pt"
      Evaluate:
        needs: [Train model (MNIST)]
        run: cat \${{ needs['Train model (MNIST)'].outputs['*'] }} > "$BATON_OUTPUT_DIR/eval.txt"
      Unrelated:
        run: "true"
`;

describe("names with spaces, through real processes", () => {
  it("runs a pipeline by name; fanned-out tasks are named NODE[i]; needs['...'] reads their outputs", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const r = await runJson(["Three-Trainings Pipeline", "-p", "learning rate=0.5"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.run.pipeline).toBe("Three-Trainings Pipeline");
    expect(r.json.tasks.map((t) => t.name).sort()).toEqual([
      "Evaluate",
      "Prepare data",
      "Train model (MNIST)[0]",
      "Train model (MNIST)[1]",
      "Train model (MNIST)[2]",
      "Unrelated",
    ]);
    const evaluated = fs.readFileSync(path.join(r.byName("Evaluate").outputDir, "eval.txt"), "utf8");
    expect(evaluated.split("\n").filter(Boolean).sort()).toEqual(["a 0.5 0.5", "b 0.5 0.5", "c 0.5 0.5"]);

    const ls = await runBaton(["ls", "--json"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = JSON.parse(ls.stdout) as Array<{ name: string; node: string; status: string }>;
    expect(listed.find((t) => t.name === "Train model (MNIST)[1]")).toMatchObject({
      node: "Train model (MNIST)",
      status: "succeeded",
    });
    const shown = await runBaton(["ls", r.json.run.id], dir);
    expect(shown.stdout).toContain("Train model (MNIST)[2]");
  }, 120_000);

  it('--target "Train model (MNIST)" runs that node and what it needs, nothing else', async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const r = await runJson(["Three-Trainings Pipeline", "--target", "Train model (MNIST)"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.tasks.map((t) => t.name).sort()).toEqual([
      "Prepare data",
      "Train model (MNIST)[0]",
      "Train model (MNIST)[1]",
      "Train model (MNIST)[2]",
    ]);
  }, 120_000);

  it("-p outside max is refused before the run starts: exit 2, naming the param, value and bound", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const r = await runBaton(["run", "Three-Trainings Pipeline", "-p", "learning rate=5"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'param "learning rate" of pipeline "Three-Trainings Pipeline": 5 is greater than the maximum 1 (max: 1)',
    );
    expect(fs.existsSync(path.join(dir, ".baton", "runs"))).toBe(false);
  }, 60_000);

  it("baton graph quotes the names (mermaid and dot)", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const mermaid = await runBaton(["graph", "Three-Trainings Pipeline"], dir);
    expect(mermaid.code, mermaid.stderr).toBe(0);
    expect(mermaid.stdout).toContain('["Train model (MNIST) [foreach]"]');
    const dot = await runBaton(["graph", "Three-Trainings Pipeline", "--format", "dot"], dir);
    expect(dot.stdout).toContain('"Prepare data" -> "Train model (MNIST)";');
  }, 60_000);

  it("baton submit -n takes a name with spaces", async () => {
    const dir = makeProject({ "baton.yaml": "version: 1\n" });
    const r = await runBaton(["submit", "-n", "Train model (MNIST)", "--", "true"], dir);
    expect(r.code, r.stderr).toBe(0);
    const ls = await runBaton(["ls", "--json"], dir);
    expect((JSON.parse(ls.stdout) as Array<{ name: string }>).map((t) => t.name)).toEqual([
      "Train model (MNIST)",
    ]);
    const bad = await runBaton(["submit", "-n", "a/b", "--", "true"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"/" is not allowed');
  }, 60_000);
});

describe("params rendered as Valohai does, through real processes", () => {
  it("printf '%s\\n' ${{ args }} prints each argument on its own line", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      show args:
        params:
          lr: 0.1
          epochs: 3
          name: two words
          fast: { type: bool, default: true, pass-true-as: --fast, pass-false-as: --slow }
          verbose: { type: bool, default: false }
          layers: { type: list, default: [1, 2], multiple: repeat, pass-as: "--layer {v}" }
          tags: { type: list, default: [a, b c], multiple: separate, multiple-separator: ";" }
          note: { type: string, optional: true }
          quiet mode: { type: string, default: "x", pass-as: "-q={v}" }
        run: |
          printf '%s\\n' \${{ args }} > "$BATON_OUTPUT_DIR/args.txt"
          printf '%s\\n' \${{ arg.name }} \${{ arg.note }} \${{ quote(params.name) }} > "$BATON_OUTPUT_DIR/one.txt"
`,
    });
    const r = await runJson(["p"], dir);
    expect(r.code, r.stderr).toBe(0);
    const out = r.byName("show args").outputDir;
    expect(fs.readFileSync(path.join(out, "args.txt"), "utf8").split("\n")).toEqual([
      "--lr=0.1",
      "--epochs=3",
      "--name=two words",
      "--fast",
      "--layer",
      "1",
      "--layer",
      "2",
      "--tags=a;b c",
      "-q=x",
      "",
    ]);
    expect(fs.readFileSync(path.join(out, "one.txt"), "utf8")).toBe("--name=two words\ntwo words\n");
  }, 60_000);
});

describe("min and max of with: values computed at launch", () => {
  it("a value over max fails that task, naming the param, value and bound; the others run", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      Train model:
        foreach: [1, 5]
        params: { batch size: { type: int, max: 3 } }
        with: { batch size: "\${{ item }}" }
        run: echo \${{ arg['batch size'] }}
`,
    });
    const r = await runJson(["p"], dir);
    expect(r.code).toBe(1);
    expect(r.byName("Train model[0]").status).toBe("succeeded");
    const failed = r.byName("Train model[1]");
    expect(failed.status).toBe("failed");
    const shown = await runBaton(["show", failed.id], dir);
    expect(shown.stdout).toContain('param "batch size" of');
    expect(shown.stdout).toContain("5 is greater than the maximum 3 (max: 3)");
  }, 60_000);
});

describe("baton server: names with spaces in the API", () => {
  let s: Server | undefined;
  afterAll(async () => {
    await s?.stop();
  });

  it('registers, lists and runs "Three-Trainings Pipeline"; POST /tasks takes such a name', async () => {
    s = await startServer({
      "baton.yaml": "version: 1\npipelines:\n  here:\n    nodes:\n      a: { run: echo }\n",
    });
    const definition = {
      version: 1,
      pipelines: {
        "Three-Trainings Pipeline": {
          params: { "learning rate": { type: "float", default: 0.1, max: 1 } },
          nodes: { "Train model (MNIST)": { foreach: [1, 2], run: "echo ${{ params['learning rate'] }}" } },
        },
      },
    };
    const reg = await s.api<{ pipeline: { name: string } }>("/api/v1/pipelines", {
      name: "Three-Trainings Pipeline",
      definition,
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const list = await s.api<{ pipelines: Array<{ name: string; params: Array<{ name: string }> }> }>(
      "/api/v1/pipelines",
    );
    const listed = list.body.pipelines.find((p) => p.name === "Three-Trainings Pipeline");
    expect(listed?.params.map((p) => p.name)).toEqual(["learning rate"]);

    const tooBig = await s.api("/api/v1/runs", {
      pipeline: "Three-Trainings Pipeline",
      params: { "learning rate": 2 },
    });
    expect(tooBig.status).toBe(400);
    expect(JSON.stringify(tooBig.body)).toContain("2 is greater than the maximum 1 (max: 1)");

    const started = await s.api<{ run: { id: string } }>("/api/v1/runs", {
      pipeline: "Three-Trainings Pipeline",
      params: { "learning rate": 0.5 },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const done = await waitForRun(s, started.body.run.id, (d) => d.run.status !== "running", {
      timeoutMs: 60_000,
    });
    expect(done.run.status).toBe("succeeded");
    expect(done.tasks.map((t: { name: string }) => t.name).sort()).toEqual([
      "Train model (MNIST)[0]",
      "Train model (MNIST)[1]",
    ]);

    const task = await s.api<{ ids: string[] }>("/api/v1/tasks", {
      name: "Train model (MNIST)",
      command: "true",
    });
    expect(task.status, JSON.stringify(task.body)).toBe(201);
    const shown = await s.api<{ name: string }>(`/api/v1/tasks/${task.body.ids[0]}`);
    expect(JSON.stringify(shown.body)).toContain('"name":"Train model (MNIST)"');
  }, 120_000);
});
