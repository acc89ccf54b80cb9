/**
 * The custom controller of ClearML's pipelines documentation, with the TypeScript SDK: get the
 * template task by project and name, clone it, set its parameters, enqueue it, wait, read its
 * last metrics, and decide what to run next.
 *
 * ClearML                                          Baton
 *   Task.get_task(project_name=, task_name=)         baton.tasks({ pipeline, name, status })[0]
 *   Task.clone(source_task=) + set_parameters(...)   baton.clone(template, { params, pool })
 *     + Task.enqueue(queue_name=)                      (a clone is submitted at once)
 *   task.wait_for_status()                           task.wait()
 *   task.get_last_scalar_metrics()                   task.metrics()
 *
 * The template is the `stage_train` task of the latest run of the `from-tasks` pipeline (run
 * from-tasks.ts, from_tasks.py or `baton run from-tasks` first). The controller clones it over
 * a grid of learning rates, stops as soon as one reaches the threshold, and otherwise trains
 * the best one four times longer.
 *
 *   npx tsx examples/clearml/controller.ts [--grid 0.03,0.3,1,2] [--threshold 0.9]
 *                                          [--pool NAME] [--workdir DIR]
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, type TaskHandle } from "baton";

const { values } = parseArgs({
  options: {
    grid: { type: "string", default: "0.03,0.3,1,2" },
    threshold: { type: "string", default: "0.9" },
    pool: { type: "string" },
    workdir: { type: "string" },
  },
});
const grid = values.grid.split(",").map(Number);
const threshold = Number(values.threshold);
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));
const say = (line: string) => process.stderr.write(`controller: ${line}\n`);

const baton = await Baton.connect({ workdir });
try {
  // Task.get_task(project_name="examples", task_name="Pipeline step 3 train model")
  const [template] = await baton.tasks({
    pipeline: "from-tasks",
    name: "stage_train",
    status: ["succeeded"],
    limit: 1,
  });
  if (!template)
    throw new Error("no succeeded stage_train task of pipeline from-tasks: run from-tasks.ts first");
  say(`template ${template.id} (accuracy ${await template.metric("accuracy")})`);

  const trials: Array<{ lr: number; epochs: number; accuracy: number | null; task: TaskHandle }> = [];
  const train = async (lr: number, epochs: number) => {
    // Task.clone + set_parameters({"General/lr": lr}) + Task.enqueue(queue_name=...)
    const task = await baton.clone(template, {
      params: { lr, epochs },
      name: `stage_train lr=${lr}`,
      pool: values.pool,
    });
    const info = await task.wait(); // wait_for_status()
    // get_last_scalar_metrics()
    const accuracy = info.status === "succeeded" ? ((await task.metric("accuracy")) ?? null) : null;
    say(`lr=${lr} epochs=${epochs}: ${info.status}, accuracy ${accuracy}`);
    trials.push({ lr, epochs, accuracy, task });
    return accuracy ?? 0;
  };

  // Decide on the metric: stop the sweep as soon as a model is good enough.
  let decision = "no model reached the threshold";
  for (const lr of grid) {
    if ((await train(lr, 20)) >= threshold) {
      decision = `stopped early at lr=${lr}`;
      break;
    }
  }
  const best = () => [...trials].sort((a, b) => (b.accuracy ?? 0) - (a.accuracy ?? 0))[0];
  if ((best()?.accuracy ?? 0) < threshold) {
    const { lr, epochs } = best()!;
    decision = `trained lr=${lr} longer`;
    say(`best accuracy ${best()?.accuracy} < ${threshold}: training lr=${lr} for ${epochs * 4} epochs`);
    await train(lr, epochs * 4);
  }
  const winner = best()!;
  say(`${decision}; best: lr=${winner.lr} epochs=${winner.epochs} accuracy ${winner.accuracy}`);
  process.stdout.write(
    `${JSON.stringify(
      {
        template: template.id,
        decision,
        best: { lr: winner.lr, epochs: winner.epochs, accuracy: winner.accuracy, task: winner.task.id },
        trials: trials.map((t) => ({ lr: t.lr, epochs: t.epochs, accuracy: t.accuracy, task: t.task.id })),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await baton.close();
}
