/**
 * What a user of the client does, asserted the same way against an embedded engine and a
 * server: run a pipeline built in code, wait, read tasks, metrics, outputs and logs; submit a
 * template, clone it with overrides, once per idempotency key.
 */
import fs from "node:fs";
import { expect } from "vitest";
import { type Baton, pipeline } from "../../dist/index.js";
import { waitFor } from "../helpers/server.js";

/** Files of the project folder the flow runs in. */
export const FLOW_FILES = {
  "score.sh": `#!/bin/bash
set -eo pipefail
echo "scoring $1"
echo "{\\"accuracy\\": $1, \\"name\\": \\"$BATON_TASK_NAME\\"}" >> "$BATON_METRICS"
echo "model $1" > "$BATON_OUTPUT_DIR/model-$1.txt"
`,
};

export async function runPipelineFlow(baton: Baton): Promise<void> {
  const p = pipeline("flow")
    .params({ scores: { type: "list", default: [0.5, 0.7] } })
    .step("score", { run: "./score.sh ${{ item }}", foreach: "${{ params.scores }}" })
    .step("best", {
      run: 'echo "best of ${{ needs.score.metrics.accuracy }}"; cat ${{ inputs.models }} > "$BATON_OUTPUT_DIR/all.txt"',
      needs: ["score"],
      inputs: { models: "${{ needs.score.outputs['model-*.txt'] }}" },
    });
  const run = await baton.run(p, { params: { scores: [0.25, 0.75, 0.5] } });
  expect(run.kind).toBe("engine");
  expect(run.pipeline).toBe("flow");
  const result = await run.wait();
  expect(result.status).toBe("succeeded");
  expect(run.status).toBe("succeeded");
  expect(result.tasks.map((t) => t.name).sort()).toEqual(["best", "score[0]", "score[1]", "score[2]"]);

  const tasks = await run.tasks();
  const score1 = tasks.find((t) => t.name === "score[1]")!;
  expect(await score1.metrics()).toEqual({ accuracy: 0.75, name: "score[1]" });
  expect(await score1.metric("accuracy")).toBe(0.75);
  const { accuracy } = await score1.metrics<{ accuracy: number }>();
  expect(accuracy).toBeGreaterThan(0.5);
  const outputs = await score1.outputs();
  expect(outputs.map((o) => o.path)).toEqual(["model-0.75.txt"]);
  expect(fs.readFileSync(outputs[0]!.file, "utf8")).toBe("model 0.75\n");
  expect((await score1.readOutput("model-0.75.txt")).toString()).toBe("model 0.75\n");
  expect(await score1.log()).toMatch(/scoring 0.75/);

  const best = tasks.find((t) => t.name === "best")!;
  expect(await best.log()).toMatch(/best of 0.25 0.75 0.5/);
  expect((await best.readOutput("all.txt")).toString()).toBe("model 0.25\nmodel 0.75\nmodel 0.5\n");

  // The same task by id, and the run by id.
  const again = await baton.task(score1.id);
  expect(again.name).toBe("score[1]");
  expect(again.status).toBe("succeeded");
  expect((await baton.getRun(run.id)).status).toBe("succeeded");
  expect((await baton.tasks({ run: run.id })).length).toBe(4);
}

export async function cloneFlow(baton: Baton): Promise<void> {
  const template = await baton.submit({
    name: "template",
    command:
      'echo "lr=$BATON_PARAM_LR epochs=$BATON_PARAM_EPOCHS"; echo "{\\"lr\\": $BATON_PARAM_LR}" >> "$BATON_METRICS"',
    params: { lr: 0.1, epochs: 3 },
  });
  expect(template.reattached).toBe(false);
  expect((await template.wait()).status).toBe("succeeded");
  expect(await template.log()).toMatch(/lr=0.1 epochs=3/);

  // ClearML clone: override one param, keep the others.
  const clone = await baton.clone(template, { params: { lr: 0.5 }, name: "clone-a" });
  await clone.wait();
  expect(clone.name).toBe("clone-a");
  expect(await clone.log()).toMatch(/lr=0.5 epochs=3/);
  expect(await clone.metric("lr")).toBe(0.5);

  // With an idempotency key, the second clone is the first one.
  const key = `flow-${Date.now()}`;
  const keyed = await baton.clone(template.id, { params: { lr: 0.7 }, idempotencyKey: key });
  await keyed.wait();
  expect(await keyed.log()).toMatch(/lr=0.7 epochs=3/);
  const keyedAgain = await baton.clone(template, { params: { lr: 0.9 }, idempotencyKey: key });
  expect(keyedAgain.id).toBe(keyed.id);
  expect(keyedAgain.reattached).toBe(true);

  const submitted = await baton.submit({ command: "echo once", idempotencyKey: `${key}-submit` });
  const resubmitted = await baton.submit({ command: "echo twice", idempotencyKey: `${key}-submit` });
  expect(resubmitted.id).toBe(submitted.id);
  expect(resubmitted.reattached).toBe(true);
}

export async function cancelFlow(baton: Baton): Promise<void> {
  const long = await baton.submit({ name: "long", command: "sleep 30" });
  await waitFor("long to run", async () => (await long.refresh()).status === "running", {
    timeoutMs: 20_000,
  });
  await long.cancel();
  expect((await long.wait()).status).toBe("cancelled");
  // Cancelling a task that ended is no error.
  await long.cancel();

  const failing = await baton.run(pipeline("failing").step("boom", { run: "echo oops >&2; exit 3" }));
  const result = await failing.wait();
  expect(result.status).toBe("failed");
  const [boom] = await failing.tasks();
  const info = await boom!.wait();
  expect(info.exitCode).toBe(3);
  expect(await boom!.log()).toMatch(/oops/);
}
