/**
 * The same learning-rate sweep as `sweep.ts`, written as a static pipeline with `pipeline()`:
 * train every learning rate of the grid, pick the best model, evaluate it. The engine runs it
 * as one run (it is posted whole, since no step has hooks); what it cannot do is decide while
 * it runs: it trains the whole grid even when an early model was good enough.
 *
 *   npx tsx examples/controller/static-sweep.ts [--grid 0.01,0.03,0.1,0.3,0.6,0.8] [--workdir DIR]
 *
 * The same definition as this baton.yaml (see README.md), checked by the same rules.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Baton, pipeline } from "baton";

const { values } = parseArgs({
  options: {
    grid: { type: "string", default: "0.01,0.03,0.1,0.3,0.6,0.8" },
    workdir: { type: "string" },
  },
});
const workdir = path.resolve(values.workdir ?? path.dirname(fileURLToPath(import.meta.url)));

export const staticSweep = pipeline("lr-sweep-static")
  .params({ lrs: { type: "list", default: [0.01, 0.03, 0.1, 0.3, 0.6, 0.8] } })
  .step("train", {
    run: "python3 train.py",
    foreach: "${{ params.lrs }}",
    params: { lr: { type: "float" }, epochs: 40 },
    with: { lr: "${{ item }}" },
    outputs: ["model.json"],
  })
  .step("pick", {
    run: "python3 pick.py ${{ inputs.models }}",
    needs: ["train"],
    inputs: { models: "${{ needs.train.outputs['model.json'] }}" },
  })
  .step("evaluate", {
    run: "python3 evaluate.py ${{ inputs.best }}",
    needs: ["pick"],
    inputs: { best: "${{ needs.pick.outputs['model.json'] }}" },
  });

const baton = await Baton.connect({ workdir });
try {
  const run = await baton.run(staticSweep, { params: { lrs: values.grid.split(",").map(Number) } });
  process.stderr.write(`static sweep: run ${run.id}\n`);
  const result = await run.wait();
  const byName = new Map(result.tasks.map((t) => [t.name, t]));
  for (const t of result.tasks) {
    process.stderr.write(`static sweep: ${t.name}: ${t.status} ${JSON.stringify(t.metrics)}\n`);
  }
  const pick = byName.get("pick");
  const evaluation = byName.get("evaluate");
  process.stdout.write(
    `${JSON.stringify(
      {
        run: result.id,
        status: result.status,
        best: pick?.metrics ?? null,
        evaluation: evaluation?.metrics ?? null,
        trained: result.tasks.filter((t) => t.node === "train").length,
      },
      null,
      2,
    )}\n`,
  );
  process.exitCode = result.status === "succeeded" ? 0 : 1;
} finally {
  await baton.close();
}
