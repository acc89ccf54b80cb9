import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton, runJson } from "../helpers/cli.js";

/** What the task wrote: its `BATON_*` variables, by name. */
function seen(outputDir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(path.join(outputDir, "env.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

interface Listed {
  id: string;
  run: string;
  name: string;
  status: string;
  outputDir: string;
}

/** Each value points at the task's own folders and ids. */
function expectOwn(env: Record<string, string>, task: Listed, dir: string) {
  const runDir = path.join(fs.realpathSync(dir), ".baton", "runs", task.run);
  expect(env.BATON_RUN_ID).toBe(task.run);
  expect(env.BATON_TASK_ID).toBe(task.id);
  expect(env.BATON_TASK_NAME).toBe(task.name);
  expect(fs.realpathSync(env.BATON_OUTPUT_DIR!)).toBe(fs.realpathSync(task.outputDir));
  expect(env.BATON_OUTPUT_DIR).toBe(path.join(runDir, task.id, "output"));
  expect(env.BATON_INPUTS_DIR).toBe(path.join(runDir, task.id, "inputs"));
  expect(env.BATON_PIPELINE_DIR).toBe(path.join(runDir, "shared"));
  expect(env.BATON_METRICS).toBe(path.join(runDir, task.id, "attempt-1.metrics.jsonl"));
  expect(env.BATON_STATUS_FILE).toBe(path.join(runDir, task.id, "attempt-1.status"));
  expect(env.BATON_ATTEMPT).toBe("1");
  expect(env.BATON_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
}

const SHOW = "#!/bin/sh\nenv | grep '^BATON_' | sort > \"$BATON_OUTPUT_DIR/env.txt\"\n";

describe("what a task sees", () => {
  it("is the same set of BATON_* variables for a pipeline task, a submitted task and a nested one", async () => {
    const dir = fs.realpathSync(
      makeProject({
        "show-env.sh": SHOW,
        "nest.sh": '#!/bin/sh\nnode "$BATON_BIN" submit -n inner ./show-env.sh\n',
        "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      show: { run: ./show-env.sh, env: { SEED: "1" } }
`,
      }),
    );
    const env = { BATON_BIN };
    const run = await runJson([], dir, env);
    expect(run.code, run.stderr).toBe(0);
    const pipelineTask = run.byName("show") as unknown as Listed;
    // `baton ls --json`: the tasks of the latest run.
    const latest = async () => JSON.parse((await runBaton(["ls", "--json"], dir, env)).stdout) as Listed[];
    const submitted = await runBaton(["submit", "--wait", "-n", "alone", "./show-env.sh"], dir, env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const alone = (await latest()).find((t) => t.name === "alone")!;
    const nested = await runBaton(["submit", "--wait", "-n", "outer", "./nest.sh"], dir, env);
    expect(nested.code, nested.stderr).toBe(0);
    const inner = (await latest()).find((t) => t.name === "inner")!;
    expect(alone.status).toBe("succeeded");
    expect(inner.status).toBe("succeeded");

    const views = {
      pipeline: seen(pipelineTask.outputDir),
      submitted: seen(alone.outputDir),
      nested: seen(inner.outputDir),
    };
    const names = (e: Record<string, string>) => Object.keys(e).sort();
    expect(names(views.submitted)).toEqual(names(views.pipeline));
    expect(names(views.nested)).toEqual(names(views.pipeline));
    expectOwn(views.pipeline, pipelineTask, dir);
    expectOwn(views.submitted, alone, dir);
    expectOwn(views.nested, inner, dir);
    // Each its own: the nested task is not told its parent's folders.
    expect(views.nested.BATON_TASK_ID).not.toBe(views.submitted.BATON_TASK_ID);
  });

  it("refuses a BATON_* variable of Baton's own under env: in baton.yaml, naming where it is", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      show:
        run: echo hi > "$BATON_OUTPUT_DIR/hi.txt"
        env: { BATON_OUTPUT_DIR: /tmp/elsewhere, BATON_PROGRESS: plain }
`,
    });
    const r = await runBaton(["run"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /baton\.yaml:8:16 pipelines\.p\.nodes\.show\.env\.BATON_OUTPUT_DIR: BATON_OUTPUT_DIR is set by Baton for every task and cannot be overridden/,
    );
    // Only Baton's own: BATON_PROGRESS (for a `baton` the task runs) is not named.
    expect(r.stderr).not.toMatch(/env\.BATON_PROGRESS/);
    expect(fs.existsSync(path.join(dir, "elsewhere"))).toBe(false);
  });

  it("refuses -e BATON_TASK_ID=... at submission, and records nothing", async () => {
    const dir = makeProject({});
    const r = await runBaton(["submit", "-e", "BATON_TASK_ID=task_x", "-n", "t", "true"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /env\.BATON_TASK_ID: BATON_TASK_ID is set by Baton for every task and cannot be overridden/,
    );
    const runs = path.join(dir, ".baton", "runs");
    expect(fs.existsSync(runs) ? fs.readdirSync(runs) : []).toEqual([]);
  });
});

describe("the shell a command runs in", () => {
  it("is /bin/sh for a command that needs nothing of bash, bash for a pipe; both fail on the first error and record the exit status", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      plain:
        run: cat /proc/$$/comm > "$BATON_OUTPUT_DIR/shell.txt"
      piped:
        run: cat /proc/$$/comm | cat > "$BATON_OUTPUT_DIR/shell.txt"
      stops:
        needs: [plain, piped]
        run: false; echo not reached > "$BATON_OUTPUT_DIR/after.txt"
      pipe-fails:
        needs: [plain, piped]
        run: false | cat > "$BATON_OUTPUT_DIR/after.txt"
`,
    });
    const run = await runJson([], dir);
    expect(run.code).toBe(1);
    const shell = (name: string) =>
      fs.readFileSync(path.join(run.byName(name).outputDir, "shell.txt"), "utf8").trim();
    expect(shell("plain")).toBe("sh");
    expect(shell("piped")).toBe("bash");
    for (const name of ["stops", "pipe-fails"]) {
      const task = run.byName(name);
      expect({ name, status: task.status, exitCode: task.exitCode }).toEqual({
        name,
        status: "failed",
        exitCode: 1,
      });
      const status = path.join(path.dirname(task.outputDir), "attempt-1.status");
      expect(fs.readFileSync(status, "utf8").trim()).toBe("1");
    }
    expect(fs.existsSync(path.join(run.byName("stops").outputDir, "after.txt"))).toBe(false);
  });
});
