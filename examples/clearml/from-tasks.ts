/**
 * ClearML's "pipeline from tasks" with the TypeScript SDK.
 *
 * ClearML: `PipelineController(name, project)`, `add_parameter(...)`, then
 * `add_step(name, parents, base_task_project, base_task_name, parameter_override,
 * pre_execute_callback, post_execute_callback)` for each step, and `start_locally()`.
 * Baton: `pipeline(name)`, `.params(...)`, the base tasks as reusable steps (`.template`, the
 * `steps:` of baton.yaml), one `.step(name, { step, needs, with, inputs, before, after })` per
 * add_step, and `baton.run(...)`. It is the `from-tasks` pipeline of baton.yaml, written in code.
 *
 *   npx tsx examples/clearml/from-tasks.ts [--lr 0.1] [--workdir DIR]
 *
 * Embedded engine, or the server of the folder (BATON_URL, or `baton server` started there).
 * Prints the run's result as JSON on stdout, the callbacks' lines on stderr.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, pipeline } from "baton";

const { values } = parseArgs({
  options: { lr: { type: "string", default: "0.1" }, workdir: { type: "string" } },
});
// The steps run `python3 stage_data.py`...: in this folder (or a copy of its scripts).
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));
const say = (line: string) => process.stderr.write(`from-tasks: ${line}\n`);

const fromTasks = pipeline("from-tasks")
  // PipelineController.add_parameter(...)
  .params({
    rows: { type: "int", default: 240 },
    test_size: { type: "float", default: 0.25 },
    lr: { type: "float", default: 0.1 },
  })
  // The base tasks (ClearML: tasks already in the project, found by project and name).
  .template("stage_data", {
    run: "python3 stage_data.py",
    params: { rows: { type: "int", default: 240 }, seed: { type: "int", default: 7 } },
    outputs: ["dataset.csv"],
  })
  .template("process_dataset", {
    run: "python3 process.py ${{ inputs.dataset }}",
    inputs: { dataset: {} },
    params: { test_size: { type: "float", default: 0.25 }, random_state: { type: "int", default: 42 } },
    outputs: ["train.csv", "test.csv"],
  })
  .template("train_model", {
    run: "python3 train.py ${{ inputs.train }} ${{ inputs.test }}",
    inputs: { train: {}, test: {} },
    params: { lr: { type: "float", default: 0.1 }, epochs: { type: "int", default: 20 } },
    outputs: ["model.json"],
  })
  // add_step(name="stage_data", base_task_name=..., parameter_override={...})
  .step("stage_data", { step: "stage_data", with: { rows: "${{ params.rows }}" } })
  .step("stage_process", {
    step: "process_dataset",
    needs: ["stage_data"], // parents=["stage_data"]
    with: { test_size: "${{ params.test_size }}" },
    // ClearML: "${stage_data.artifacts.dataset.url}"
    inputs: { dataset: "${{ needs.stage_data.outputs['dataset.csv'] }}" },
    // pre_execute_callback: may change the params (return False in ClearML: ctx.skip here)
    before: (ctx) => {
      say(`about to run ${ctx.name} with ${JSON.stringify(ctx.params)}`);
    },
    // post_execute_callback
    after: (ctx) => {
      say(`${ctx.name} ended ${ctx.status}, outputs ${ctx.outputs.map((o) => o.path).join(" ")}`);
    },
  })
  .step("stage_train", {
    step: "train_model",
    needs: ["stage_process"],
    with: { lr: "${{ params.lr }}" },
    inputs: {
      train: "${{ needs.stage_process.outputs['train.csv'] }}",
      test: "${{ needs.stage_process.outputs['test.csv'] }}",
    },
  });

const baton = await Baton.connect({ workdir });
try {
  say(`${baton.mode === "embedded" ? "embedded engine" : "server"} at ${baton.url}`);
  const run = await baton.run(fromTasks, { params: { lr: Number(values.lr) } }); // start_locally()
  say(`run ${run.id}`);
  const result = await run.wait();
  const train = result.tasks.find((t) => t.name === "stage_train");
  process.stdout.write(
    `${JSON.stringify(
      {
        run: result.id,
        status: result.status,
        tasks: result.tasks.map((t) => ({ name: t.name, status: t.status })),
        accuracy: train?.metrics.accuracy ?? null,
      },
      null,
      2,
    )}\n`,
  );
  process.exitCode = result.status === "succeeded" ? 0 : 1;
} finally {
  await baton.close();
}
