/**
 * ClearML's "pipeline from functions" with the TypeScript SDK.
 *
 * ClearML: `add_function_step(name, function, function_kwargs, function_return,
 * cache_executed_step)`, where a kwarg `"${step_one.data_frame}"` is the return value of an
 * earlier step. Baton: a step is a command, so each function runs as its own task through
 * functions.py (`python3 functions.py step_one`); its return value is an output file
 * (`data_frame.json`) that the next step takes as an input. The kwargs are the step's params;
 * caching is on by default (a step whose command, params and input files are unchanged is
 * reused).
 *
 *   npx tsx examples/clearml/from-functions.ts [--lr 1] [--workdir DIR]
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, pipeline } from "baton";

const { values } = parseArgs({
  options: { lr: { type: "string", default: "1" }, workdir: { type: "string" } },
});
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));

const fromFunctions = pipeline("from-functions")
  .params({ rows: { type: "int", default: 240 }, lr: { type: "float", default: 1 } })
  // add_function_step(name="step_one", function=step_one, function_kwargs={"rows": "${pipeline.rows}"},
  //                   function_return=["data_frame"], cache_executed_step=True)
  .step("step_one", {
    run: "python3 functions.py step_one",
    params: { rows: { type: "int" } },
    with: { rows: "${{ params.rows }}" },
    outputs: ["data_frame.json"],
  })
  // function_kwargs={"data_frame": "${step_one.data_frame}", "test_size": 0.25}
  .step("step_two", {
    run: "python3 functions.py step_two ${{ inputs.data_frame }}",
    needs: ["step_one"],
    params: { test_size: 0.25 },
    inputs: { data_frame: "${{ needs.step_one.outputs['data_frame.json'] }}" },
    outputs: ["processed_data.json"],
  })
  // function_kwargs={"data": "${step_two.processed_data}", "lr": "${pipeline.lr}"}
  .step("step_three", {
    run: "python3 functions.py step_three ${{ inputs.data }}",
    needs: ["step_two"],
    params: { lr: { type: "float" } },
    with: { lr: "${{ params.lr }}" },
    inputs: { data: "${{ needs.step_two.outputs['processed_data.json'] }}" },
    outputs: ["model.json"],
  });

const baton = await Baton.connect({ workdir });
try {
  const run = await baton.run(fromFunctions, { params: { lr: Number(values.lr) } });
  process.stderr.write(`from-functions: run ${run.id}\n`);
  const result = await run.wait();
  const last = result.tasks.find((t) => t.name === "step_three");
  // The pipeline's result: the last step's return value, read through the API.
  const handle = last ? await baton.task(last.id) : undefined;
  const model =
    handle && result.status === "succeeded"
      ? JSON.parse((await handle.readOutput("model.json")).toString())
      : null;
  process.stdout.write(
    `${JSON.stringify(
      {
        run: result.id,
        status: result.status,
        tasks: result.tasks.map((t) => ({ name: t.name, status: t.status })),
        model,
      },
      null,
      2,
    )}\n`,
  );
  process.exitCode = result.status === "succeeded" ? 0 : 1;
} finally {
  await baton.close();
}
