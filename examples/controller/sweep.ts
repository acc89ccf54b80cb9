/**
 * A hyperparameter search controller, ClearML style: submit a template training task once,
 * clone it over a grid of learning rates, stop as soon as one reaches the accuracy threshold,
 * train the best one longer if none did, then run a final evaluation of the best model.
 *
 *   npx tsx examples/controller/sweep.ts [--threshold 0.99] [--grid 0.01,0.03,0.1,0.3,0.6,0.8]
 *                                        [--step-seconds 0] [--id KEY] [--workdir DIR]
 *
 * It talks to the Baton server of the folder (BATON_URL, or `baton server` started there), or
 * starts the engine embedded in this process. Kill it at any point and start it again: it
 * reattaches to the tasks it had started (every submission is keyed by the controller run and
 * the step) instead of training them again. Progress goes to stderr; the result, as JSON, to
 * stdout.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, type TaskHandle } from "baton";

const { values } = parseArgs({
  options: {
    threshold: { type: "string", default: "0.99" },
    grid: { type: "string", default: "0.01,0.03,0.1,0.3,0.6,0.8" },
    "step-seconds": { type: "string", default: "0" },
    id: { type: "string" },
    workdir: { type: "string" },
  },
});
const threshold = Number(values.threshold);
const grid = values.grid.split(",").map(Number);
const stepSeconds = Number(values["step-seconds"]);
// The tasks run `python3 train.py`: in this folder (or a copy of its scripts).
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));
const say = (line: string) => process.stderr.write(`sweep: ${line}\n`);

interface Trial {
  lr: number;
  epochs: number;
  task: TaskHandle;
  accuracy: number | undefined;
}

const baton = await Baton.connect({ workdir });
try {
  say(`${baton.mode === "embedded" ? "embedded engine" : "server"} at ${baton.url}`);
  // Same name and inputs: the same controller run, which a restart reattaches to.
  const ctl = baton.controller("lr-sweep", { id: values.id, inputs: { grid, threshold, stepSeconds } });
  say(`controller run ${ctl.key}`);

  // The template: a training task with default params, submitted (and run, as a baseline) once.
  const template = await ctl.submit("template", {
    name: "train",
    command: "python3 train.py",
    params: { lr: 0.05, epochs: 40, step_seconds: stepSeconds },
  });
  report("template", template);
  await template.wait();

  const trials: Trial[] = [];
  const train = async (step: string, lr: number, epochs: number): Promise<Trial> => {
    const task = await ctl.clone(step, template, {
      name: `train-lr${lr}-e${epochs}`,
      params: { lr, epochs },
    });
    report(`lr=${lr} epochs=${epochs}`, task);
    const info = await task.wait();
    const accuracy = info.status === "succeeded" ? await task.metric("accuracy") : undefined;
    say(`lr=${lr} epochs=${epochs}: ${info.status}${accuracy === undefined ? "" : `, accuracy ${accuracy}`}`);
    const trial = { lr, epochs, task, accuracy };
    trials.push(trial);
    return trial;
  };

  // The grid, in order, until a model is good enough: what a static DAG cannot express.
  for (const [i, lr] of grid.entries()) {
    const trial = await train(`train-${i}`, lr, 40);
    if ((trial.accuracy ?? 0) >= threshold) {
      say(`accuracy ${trial.accuracy} >= ${threshold}: stopping the sweep early`);
      break;
    }
  }
  const ranked = () =>
    trials.filter((t) => t.accuracy !== undefined).sort((a, b) => b.accuracy! - a.accuracy!);
  let best = ranked()[0];
  if (!best) throw new Error("every training failed");
  // Not good enough: run again with other params (the best learning rate, trained longer).
  if (best.accuracy! < threshold) {
    say(`best accuracy ${best.accuracy} < ${threshold}: training lr=${best.lr} four times longer`);
    await train("train-longer", best.lr, best.epochs * 4);
    best = ranked()[0]!;
  }

  // The final evaluation of the best model, on held-out data.
  const model = (await best.task.outputs()).find((o) => o.path === "model.json");
  if (!model) throw new Error(`task ${best.task.id} left no model.json`);
  const evaluation = await ctl.submit("evaluate", {
    name: "evaluate",
    command: "python3 evaluate.py",
    params: { model: model.file },
  });
  report("evaluate", evaluation);
  const evaluated = await evaluation.wait();
  const { test_accuracy } = await evaluation.metrics<{ test_accuracy: number }>();
  say(
    `best lr=${best.lr} (epochs ${best.epochs}): accuracy ${best.accuracy}, test accuracy ${test_accuracy}`,
  );

  process.stdout.write(
    `${JSON.stringify(
      {
        controller: ctl.key,
        best: { lr: best.lr, epochs: best.epochs, accuracy: best.accuracy, task: best.task.id },
        evaluation: { task: evaluation.id, status: evaluated.status, testAccuracy: test_accuracy },
        trials: trials.map((t) => ({
          lr: t.lr,
          epochs: t.epochs,
          accuracy: t.accuracy ?? null,
          task: t.task.id,
        })),
      },
      null,
      2,
    )}\n`,
  );
  process.exitCode = evaluated.status === "succeeded" ? 0 : 1;
} finally {
  await baton.close();
}

function report(what: string, task: TaskHandle): void {
  say(`${what}: ${task.reattached ? "reattached to" : "started"} task ${task.id}`);
}
