/**
 * ClearML's "pipeline from decorators" with the TypeScript SDK.
 *
 * ClearML: functions decorated with `@PipelineDecorator.component(return_values=[...])` run as
 * tasks when the function decorated with `@PipelineDecorator.pipeline(...)` calls them; the
 * pipeline's logic is plain code (the DAG follows from which return value goes where).
 * Baton: TypeScript has no decorators on functions, and a step is a command, so `component()`
 * below wraps one function of functions.py into an async function that submits it as a task
 * (`python3 functions.py NAME`), waits for it and returns its output file; the pipeline
 * function is a controller that calls them. Its decisions are code too: here, train again with
 * a larger learning rate when the accuracy is too low.
 *
 *   npx tsx examples/clearml/from-decorators.ts [--lr 0.3] [--threshold 0.9] [--workdir DIR]
 *
 * Every task is keyed by the controller run and the step: killed and started again with the
 * same options, it reattaches to the tasks it had started (give --id KEY for a fresh run).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, type Controller } from "baton";

const { values } = parseArgs({
  options: {
    lr: { type: "string", default: "0.3" },
    threshold: { type: "string", default: "0.9" },
    id: { type: "string" },
    workdir: { type: "string" },
  },
});
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));
const say = (line: string) => process.stderr.write(`from-decorators: ${line}\n`);

/**
 * `@PipelineDecorator.component(return_values=[returns])` on the function `fn` of functions.py:
 * calling the result runs `fn` as a task (with `input`, an earlier component's return value,
 * and `params` as its keyword arguments) and resolves with the path of its return value.
 */
function component(ctl: Controller, fn: string, returns: string) {
  let calls = 0;
  return async (
    input: string | null,
    params: Record<string, unknown> = {},
  ): Promise<{ file: string; metrics: Record<string, unknown> }> => {
    const step = `${fn}-${calls++}`; // stable from one run of the program to the next
    const task = await ctl.submit(step, {
      name: fn,
      command: `python3 functions.py ${fn}${input === null ? "" : ` ${JSON.stringify(input)}`}`,
      params,
    });
    const info = await task.wait();
    say(`${fn} ${JSON.stringify(params)}: ${info.status} (task ${task.id})`);
    if (info.status !== "succeeded") throw new Error(`${fn} ${info.status}: ${info.error ?? "see its log"}`);
    const output = (await task.outputs()).find((o) => o.path === `${returns}.json`);
    if (!output) throw new Error(`${fn} returned no ${returns}.json`);
    return { file: output.file, metrics: await task.metrics() };
  };
}

const baton = await Baton.connect({ workdir });
try {
  const lr = Number(values.lr);
  const threshold = Number(values.threshold);
  const ctl = baton.controller("from-decorators", { id: values.id, inputs: { lr, threshold } });
  const stepOne = component(ctl, "step_one", "data_frame");
  const stepTwo = component(ctl, "step_two", "processed_data");
  const stepThree = component(ctl, "step_three", "model");

  // @PipelineDecorator.pipeline(name="from-decorators"): the logic is code.
  const dataFrame = await stepOne(null, { rows: 240 });
  const processed = await stepTwo(dataFrame.file, { test_size: 0.25 });
  let model = await stepThree(processed.file, { lr });
  let accuracy = Number(model.metrics.accuracy);
  const tried = [{ lr, accuracy }];
  if (accuracy < threshold) {
    say(`accuracy ${accuracy} < ${threshold}: training again with lr=${lr * 4}`);
    model = await stepThree(processed.file, { lr: lr * 4 });
    accuracy = Number(model.metrics.accuracy);
    tried.push({ lr: lr * 4, accuracy });
  }
  process.stdout.write(
    `${JSON.stringify({ controller: ctl.key, tried, accuracy, model: model.file }, null, 2)}\n`,
  );
} finally {
  await baton.close();
}
