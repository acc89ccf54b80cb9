/**
 * Controller hooks: a pipeline whose steps have `before`, `after`, `continueOnFailure` or
 * `concurrency` is one engine run whose hooked tasks wait for this process's answers; the
 * controller run key is the run's idempotency key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AfterContext, Baton, pipeline } from "../../dist/index.js";
import { makeProject } from "../helpers/cli.js";
import { waitFor } from "../helpers/server.js";
import { storedTasks } from "./helpers.js";

/** `./train.sh LR`: prints it, writes a model file, reports `accuracy = LR * 2` as a metric. */
const FILES = {
  "train.sh": `#!/bin/bash
set -eo pipefail
echo "training lr=$1 mode=\${MODE:-none}"
echo "lr $1" > "$BATON_OUTPUT_DIR/model.txt"
python3 -c "import json,sys; print(json.dumps({'accuracy': round(float(sys.argv[1]) * 2, 4)}))" "$1" >> "$BATON_METRICS"
`,
};

describe("controller hooks", () => {
  let dir: string;
  let baton: Baton;
  beforeAll(async () => {
    dir = makeProject(FILES);
    baton = await Baton.connect({ workdir: dir, env: {} });
  });
  afterAll(async () => {
    await baton?.close();
  });

  it("before() changes a task's params and environment, or skips it; after() sees metrics and outputs", async () => {
    const seen: AfterContext[] = [];
    const p = pipeline("hooks-basic")
      .params({ lrs: { type: "list", default: [0.1, 0.2, 0.3] } })
      .step("train", {
        run: "./train.sh ${{ params.lr }}",
        foreach: "${{ params.lrs }}",
        params: { lr: { type: "float" } },
        with: { lr: "${{ item }}" },
        before: (ctx) => {
          if (ctx.index === 1) ctx.params.lr = 0.25;
          if (ctx.index === 2) ctx.skip("not this one");
          ctx.env.MODE = `m${ctx.index}`;
        },
        after: (ctx) => {
          seen.push(ctx);
        },
      });
    const run = await baton.run(p);
    expect(run.kind).toBe("controller");
    const result = await run.wait();
    expect(result.status).toBe("succeeded");
    const train = result.steps!.train!;
    expect(train.tasks.map((t) => [t.name, t.status, t.params.lr])).toEqual([
      ["train[0]", "succeeded", 0.1],
      ["train[1]", "succeeded", 0.25],
      ["train[2]", "skipped", 0.3],
    ]);
    expect(train.tasks[2]!.error).toBe("not this one");
    expect(await train.tasks[1]!.task!.log()).toMatch(/training lr=0.25 mode=m1/);

    expect(seen.map((c) => c.name).sort()).toEqual(["train[0]", "train[1]"]);
    const second = seen.find((c) => c.index === 1)!;
    expect(second.metrics).toEqual({ accuracy: 0.5 });
    expect(second.outputs.map((o) => o.path)).toEqual(["model.txt"]);
    expect(second.status).toBe("succeeded");
    expect(second.item).toBe(0.2);
    expect(second.params).toEqual({ lr: 0.25 });
    expect(second.reattached).toBe(false);
  });

  it("continueOnFailure: a failed step neither fails the run nor skips what needs it", async () => {
    const build = (continueOnFailure: boolean) =>
      pipeline(`cof-${continueOnFailure}`)
        .step("flaky", { run: "echo failing; exit 4", continueOnFailure })
        .step("next", { run: "echo next ran", needs: ["flaky"] })
        .step("alert", { run: "echo alert", needs: { flaky: "failure" } });
    const kept = await (await baton.run(build(true))).wait();
    expect(kept.status).toBe("succeeded");
    expect(kept.steps!.flaky!.status).toBe("failed");
    expect(kept.steps!.flaky!.tasks[0]!.info!.exitCode).toBe(4);
    expect(kept.steps!.next!.status).toBe("succeeded");
    expect(kept.steps!.alert!.status).toBe("skipped");

    // Without it: the engine's rules (needs: success is skipped, failure runs, the run fails).
    const plain = await (await baton.run(build(false))).wait();
    expect(plain.status).toBe("failed");
    expect(plain.steps!.next!.status).toBe("skipped");
    expect(plain.steps!.next!.reason).toMatch(/needs flaky/);
    expect(plain.steps!.alert!.status).toBe("succeeded");
  });

  it("concurrency: 1 lets an after() decision stop the rest of a sweep early", async () => {
    let best = 0;
    const p = pipeline("early-stop")
      .step("train", {
        run: "./train.sh ${{ item }}",
        foreach: [0.1, 0.3, 0.5, 0.7],
        concurrency: 1,
        before: (ctx) => {
          if (best >= 0.6) ctx.skip(`accuracy ${best} reached`);
        },
        after: (ctx) => {
          best = Math.max(best, Number(ctx.metrics.accuracy));
        },
      })
      .step("report", { run: "echo ${{ needs.train.metrics.accuracy }}", needs: ["train"] });
    const result = await (await baton.run(p)).wait();
    expect(result.steps!.train!.tasks.map((t) => t.status)).toEqual([
      "succeeded",
      "succeeded",
      "skipped",
      "skipped",
    ]);
    // As in any engine run: the list has one entry per task, empty for the skipped ones.
    expect(await result.steps!.report!.tasks[0]!.task!.log()).toMatch(/^0.2 0.6\s*$/m);
  });

  it("needs.X outputs and metrics reach the next step's command and inputs", async () => {
    const p = pipeline("passing")
      .step("train", { run: "./train.sh 0.4", after: () => undefined })
      .step("use", {
        run: 'echo "acc=${{ needs.train.metrics.accuracy }}"; cat ${{ inputs.model }}',
        needs: ["train"],
        inputs: { model: "${{ needs.train.outputs['model.txt'] }}" },
      });
    const result = await (await baton.run(p)).wait();
    expect(result.status).toBe("succeeded");
    expect(await result.steps!.use!.tasks[0]!.task!.log()).toMatch(/acc=0.8\nlr 0.4/);
  });

  it("a hook that throws fails its task; the run says which and why", async () => {
    const p = pipeline("throwing")
      .step("a", {
        run: "echo a",
        after: () => {
          throw new Error("metric too low");
        },
      })
      .step("b", {
        run: "echo b",
        before: () => {
          throw new Error("no config");
        },
      });
    const result = await (await baton.run(p)).wait();
    expect(result.status).toBe("failed");
    expect(result.steps!.a!.tasks[0]).toMatchObject({
      status: "failed",
      error: "after() threw: metric too low",
    });
    expect(result.steps!.a!.tasks[0]!.info!.status).toBe("succeeded");
    expect(result.steps!.b!.tasks[0]).toMatchObject({ status: "failed", error: "before() threw: no config" });
    expect(result.steps!.b!.tasks[0]!.task).toBeUndefined();
  });

  it("runs the hooks of nested pipelines too, in the same run tree", async () => {
    const child = pipeline("child-steps")
      .params({ lr: 0.1 })
      .step("fit", { run: "./train.sh ${{ params.lr }}", after: () => undefined });
    const p = pipeline("parent-steps")
      .step("prep", { run: "echo prep", after: () => undefined })
      .step("sub", { pipeline: child, needs: ["prep"], with: { lr: 0.45 } })
      .step("last", { run: "echo done", needs: ["sub"] });
    const run = await baton.run(p);
    const result = await run.wait();
    expect(result.status).toBe("succeeded");
    expect(result.steps!.sub!.tasks.map((t) => [t.name, t.metrics.accuracy])).toEqual([["fit", 0.9]]);
    // As in any engine run: the `pipeline:` node is a task too, and its child run's tasks follow.
    expect((await run.tasks()).map((t) => t.name).sort()).toEqual(["fit", "last", "prep", "sub"]);
  });

  it("the same pipeline and params again is a new run; the same resumeKey again reattaches to every task", async () => {
    const build = () => pipeline("again").step("a", { run: "./train.sh 0.15", after: () => undefined });
    const first = await (await baton.run(build())).wait();
    const second = await (await baton.run(build())).wait();
    expect(second.id).not.toBe(first.id);
    expect(second.steps!.a!.tasks[0]!.task!.id).not.toBe(first.steps!.a!.tasks[0]!.task!.id);
    expect(second.steps!.a!.tasks[0]!.reattached).toBe(false);
    expect(second.steps!.a!.tasks[0]!.status).toBe("cached");

    const keyed = await (await baton.run(build(), { resumeKey: "again-nightly" })).wait();
    expect([first.id, second.id]).not.toContain(keyed.id);
    const resumed = await (await baton.run(build(), { resumeKey: "again-nightly" })).wait();
    expect(resumed.id).toBe(keyed.id);
    expect(resumed.steps!.a!.tasks[0]!.task!.id).toBe(keyed.steps!.a!.tasks[0]!.task!.id);
    expect(resumed.steps!.a!.tasks[0]!.reattached).toBe(true);
    // The older name of the option is the same key.
    const byOldName = await (await baton.run(build(), { controllerId: "again-nightly" })).wait();
    expect(byOldName.id).toBe(keyed.id);
    expect((await storedTasks(dir)).filter((t) => t.runId === keyed.id)).toHaveLength(1);
  });

  it("cancel() stops submitting and cancels the tasks in flight", async () => {
    const p = pipeline("to-cancel")
      .step("slow", { run: "sleep 30", after: () => undefined })
      .step("later", { run: "echo never", needs: ["slow"] });
    const run = await baton.run(p, { controllerId: `cancel-${Date.now()}` });
    // In flight for real: the task's process runs when the cancel comes.
    await waitFor("slow to run", async () => {
      const tasks = await run.tasks();
      return tasks.find((t) => t.name === "slow" && t.status === "running");
    });
    await run.cancel();
    const result = await run.wait();
    expect(result.status).toBe("cancelled");
    expect(result.steps!.slow!.tasks[0]!.status).toBe("cancelled");
    expect(result.steps!.later!.status).toBe("cancelled");
  });

  it("refuses a run whose fan-out is over BATON_MAX_TASKS_PER_NODE, hooks or not, starting none of its tasks", async () => {
    process.env.BATON_MAX_TASKS_PER_NODE = "2";
    const limited = await Baton.connect({ workdir: makeProject(FILES), env: {} });
    try {
      const build = (hooked: boolean) =>
        pipeline("hooks-limit")
          .params({ xs: { type: "list", default: [1, 2, 3] } })
          .step("each", {
            run: "echo ${{ item }}",
            foreach: "${{ params.xs }}",
            ...(hooked ? { after: () => undefined } : {}),
          });
      const message =
        "body.definition.pipelines.hooks-limit.nodes.each.foreach: 3 tasks (3 from params.xs) exceeds the limit of 2 tasks per node (BATON_MAX_TASKS_PER_NODE)";
      await expect(limited.run(build(false))).rejects.toThrow(message);
      await expect(limited.run(build(true))).rejects.toThrow(message);
      expect(await limited.tasks()).toEqual([]);
    } finally {
      Reflect.deleteProperty(process.env, "BATON_MAX_TASKS_PER_NODE");
      await limited.close();
    }
  });
});
