/**
 * examples/clearml/ runs as its README says: ClearML's three pipeline styles (from tasks, from
 * functions, from decorators) and the custom controller, in TypeScript (tsx, `baton` resolved
 * to the build, on the embedded engine) and in Python (PYTHONPATH=python, against a real
 * `baton server` started in the folder). Each runs in a fresh copy of the example's folder.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { type Json, killStarted, startServer, track } from "../helpers/server.js";
import { REPO, runScriptToEnd, storedTasks } from "../sdk/helpers.js";

const EXAMPLE = path.join(REPO, "examples", "clearml");
const PYTHON_DIR = path.join(REPO, "python");

afterAll(killStarted);

/** A fresh folder holding the example's scripts and baton.yaml, as a user's checkout of it. */
function exampleFolder(): string {
  const dir = makeProject({});
  for (const f of fs.readdirSync(EXAMPLE)) {
    if (f.endsWith(".py") || f === "baton.yaml") fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
  }
  return dir;
}

/** `npx tsx examples/clearml/FILE --workdir DIR ARGS`; its stdout parsed as JSON, and its stderr. */
async function tsExample(file: string, dir: string, args: string[] = [], env: Record<string, string> = {}) {
  const { stdout, stderr } = await runScriptToEnd(path.join(EXAMPLE, file), ["--workdir", dir, ...args], env);
  return { out: JSON.parse(stdout) as Json, stderr };
}

/** `PYTHONPATH=python python3 FILE ARGS` in DIR (no BATON_* of this process); stdout as JSON. */
function pyExample(file: string, dir: string, args: string[] = []) {
  const env: Record<string, string | undefined> = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
  for (const key of Object.keys(env)) if (key.startsWith("BATON_")) delete env[key];
  const child = track(
    spawn("python3", [file, ...args], { cwd: dir, env: { ...env, PYTHONPATH: PYTHON_DIR } }),
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise<{ out: Json; stderr: string }>((resolve, reject) =>
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`python3 ${file} exited with ${code}:\n${stdout}\n${stderr}`));
      else resolve({ out: JSON.parse(stdout), stderr });
    }),
  );
}

const THREE = (names: string[], status = "succeeded") => names.map((name) => ({ name, status }));

describe("examples/clearml in TypeScript (embedded engine)", () => {
  it("runs the three pipeline styles, then the controller clones the template and stops early on its accuracy", async () => {
    const dir = exampleFolder();

    // From tasks: the base tasks as reusable steps, with the pre/post execute callbacks.
    const tasks = await tsExample("from-tasks.ts", dir);
    expect(tasks.out).toMatchObject({
      status: "succeeded",
      tasks: THREE(["stage_data", "stage_process", "stage_train"]),
      accuracy: 0.65,
    });
    expect(tasks.stderr).toContain('about to run stage_process with {"test_size":0.25,"random_state":42}');
    expect(tasks.stderr).toContain("stage_process ended succeeded, outputs test.csv train.csv");

    // From functions: each function a task, its return value a file the next one takes.
    const functions = await tsExample("from-functions.ts", dir);
    expect(functions.out).toMatchObject({
      status: "succeeded",
      tasks: THREE(["step_one", "step_two", "step_three"]),
      model: { lr: 1, epochs: 20, accuracy: 0.9167 },
    });

    // From decorators: the pipeline's logic is code, and it decides to train again.
    const decorators = await tsExample("from-decorators.ts", dir);
    expect(decorators.out.tried).toEqual([
      { lr: 0.3, accuracy: 0.7667 },
      { lr: 1.2, accuracy: 0.9 },
    ]);
    expect(decorators.stderr).toContain("accuracy 0.7667 < 0.9: training again with lr=1.2");
    expect(fs.existsSync(decorators.out.model)).toBe(true);

    // The custom controller: the template is from-tasks' stage_train, found by pipeline and name.
    const controller = await tsExample("controller.ts", dir);
    const template = (await storedTasks(dir)).find((t) => t.name === "stage_train")!;
    expect(controller.out.template).toBe(template.id);
    expect(controller.out.decision).toBe("stopped early at lr=1");
    expect(controller.out.trials.map((t: { lr: number; accuracy: number }) => [t.lr, t.accuracy])).toEqual([
      [0.03, 0.55],
      [0.3, 0.7667],
      [1, 0.9167],
    ]);
    // What `baton ls` shows: three clones, all succeeded; lr=2 was never trained.
    const clones = (await storedTasks(dir)).filter((t) => t.name.startsWith("stage_train lr="));
    expect(clones.map((t) => [t.name, t.status]).sort()).toEqual([
      ["stage_train lr=0.03", "succeeded"],
      ["stage_train lr=0.3", "succeeded"],
      ["stage_train lr=1", "succeeded"],
    ]);
  }, 300_000);
});

describe("examples/clearml in Python (against baton server)", () => {
  it("runs the three pipeline styles, then the controller clones the template and trains the best longer (and the TypeScript one stops early)", async () => {
    const dir = exampleFolder();
    const server = await startServer(dir);
    try {
      const tasks = await pyExample("from_tasks.py", dir);
      expect(tasks.out).toMatchObject({
        status: "succeeded",
        tasks: THREE(["stage_data", "stage_process", "stage_train"]),
        accuracy: 0.65,
      });
      // The loss of every epoch, as a series (ClearML's reported scalars).
      expect(tasks.out.loss_curve).toHaveLength(20);
      expect(tasks.out.loss_curve[19]).toBeLessThan(tasks.out.loss_curve[0]);

      const functions = await pyExample("from_functions.py", dir);
      expect(functions.out).toMatchObject({
        status: "succeeded",
        tasks: THREE(["step_one", "step_two", "step_three"]),
        model: { lr: 1, epochs: 20, accuracy: 0.9167 },
      });

      const decorators = await pyExample("from_decorators.py", dir);
      expect(decorators.out.tried).toEqual([
        { lr: 0.3, accuracy: 0.7667 },
        { lr: 1.2, accuracy: 0.9 },
      ]);
      const labelled = (await server.api("/api/v1/tasks?label=pipeline%3Dfrom-decorators")).body;
      const submitted = labelled.tasks as Array<{ name: string; status: string }>;
      expect(submitted.map((t) => t.name).sort()).toEqual([
        "step_one",
        "step_three",
        "step_three",
        "step_two",
      ]);
      expect(submitted.every((t) => t.status === "succeeded")).toBe(true);

      // No learning rate reaches 0.95: the whole grid is trained, then the best one longer.
      const controller = await pyExample("controller.py", dir, ["--threshold", "0.95"]);
      const template = (await server.api(`/api/v1/tasks/${controller.out.template}`)).body;
      expect(template).toMatchObject({ name: "stage_train", status: "succeeded" });
      expect(controller.out.decision).toBe("trained lr=1 longer");
      expect(
        controller.out.trials.map((t: { lr: number; epochs: number; accuracy: number }) => [
          t.lr,
          t.epochs,
          t.accuracy,
        ]),
      ).toEqual([
        [0.03, 20, 0.55],
        [0.3, 20, 0.7667],
        [1, 20, 0.9167],
        [2, 20, 0.85],
        [1, 80, 0.9167],
      ]);
      for (const trial of controller.out.trials as Array<{ task: string }>) {
        const clone = (await server.api(`/api/v1/tasks/${trial.task}`)).body;
        expect(clone.status).toBe("succeeded");
        expect(clone.labels).toMatchObject({ "baton.clone-of": template.id });
      }

      // The TypeScript controller against the same server finds the same template.
      const ts = await tsExample("controller.ts", dir, [], {
        BATON_URL: server.url,
        BATON_TOKEN: server.token,
      });
      expect(ts.out.template).toBe(template.id);
      expect(ts.out.decision).toBe("stopped early at lr=1");
    } finally {
      await server.stop();
    }
  }, 300_000);
});
