/**
 * Uses every part of the SDK's public surface as a program would, so that `tsc` proves the
 * built types (`dist/index.d.ts`) compile under strict settings with `noUncheckedIndexedAccess`.
 * Never run: only type-checked. (It imports the build by path: the repository's own tsconfig,
 * which sees this folder too, cannot resolve the package by its name. The examples, checked in
 * the same program, import it as `baton`.)
 */
import {
  type AfterContext,
  Baton,
  BatonError,
  type BeforeContext,
  type ConnectOptions,
  type Controller,
  type Metrics,
  type Pipeline,
  type PipelineDefinition,
  type Problem,
  type RunHandle,
  type RunResult,
  type StepOptions,
  type StepResult,
  type TaskHandle,
  type TaskInfo,
  type TaskOutput,
  type TaskStatus,
  isTerminalStatus,
  pipeline,
} from "../../dist/index.js";

export async function designExample(id: string): Promise<void> {
  // docs/sdk.md, as written there (with the metric's type said where it is read).
  const baton = await Baton.connect();
  const p = pipeline("sweep")
    .step("prep", { run: "python prep.py" })
    .step("train", { run: "python train.py --lr ${{ params.lr }}", needs: ["prep"], foreach: [0.1, 0.01] });
  const run = await baton.run(p, { params: {} });
  await run.wait();
  const template = await baton.task(id);
  const t = await baton.clone(template, { params: { lr: 0.1 } });
  await t.wait();
  if ((await t.metrics<{ accuracy: number }>()).accuracy < 0.9) {
    await baton.clone(template, { params: { lr: 0.01 } });
  }
  const accuracy = await t.metric("accuracy");
  if (accuracy !== undefined && accuracy > 0.5) console.log(accuracy.toFixed(2));
  await baton.close();
}

export async function everything(): Promise<RunResult> {
  const options: ConnectOptions = {
    workdir: ".",
    embedded: true,
    pollIntervalMs: 100,
    pools: { gpu: { slots: 1 } },
  };
  const baton = await Baton.connect(options);
  const mode: "server" | "embedded" = baton.mode;
  console.log(mode, baton.url, baton.workdir);

  const before = (ctx: BeforeContext): void => {
    const lr = ctx.params.lr;
    if (typeof lr === "number" && lr > 1) ctx.skip("too large");
    ctx.env.SEED = String(ctx.index);
    const upstream: StepResult | undefined = ctx.needs.prep;
    if (upstream?.status === "failed") ctx.skip(upstream.reason ?? "prep failed");
  };
  const after = async (ctx: AfterContext): Promise<void> => {
    const status: TaskStatus = ctx.status;
    const files: readonly TaskOutput[] = ctx.outputs;
    const first = files[0];
    if (first) console.log(first.path, first.file, first.sha256, first.size);
    const log: string = await ctx.task.log();
    console.log(status, ctx.metrics.accuracy, log.length, ctx.info.exitCode, ctx.reattached);
  };
  const train: StepOptions = {
    run: "python train.py --lr ${{ params.lr }}",
    needs: { prep: "success" },
    foreach: "${{ params.lrs }}",
    params: { lr: { type: "float", default: 0.1 } },
    with: { lr: "${{ item }}" },
    inputs: { data: "${{ needs.prep.outputs['*.csv'] }}" },
    retries: { limit: 1, backoff: "1s" },
    timeout: "10m",
    cache: false,
    pool: "gpu",
    env: { MODE: "fast" },
    before,
    after,
    continueOnFailure: true,
    concurrency: 1,
  };
  const child: Pipeline = pipeline("child").step("x", { run: "echo", matrix: { a: [1, 2], b: ["x"] } });
  const p = pipeline("all")
    .params({ lrs: { type: "list", default: [0.1, 0.3] }, note: "hi", n: 3, flag: true })
    .pool("gpu", { slots: 1, resources: { gpu: 1 } })
    .defaults({ retries: 0, timeout: null })
    .template("tpl", { run: "echo ${{ params.m }}", params: { m: 1 }, outputs: "*.txt" })
    .step("prep", { run: "python prep.py", outputs: ["*.csv"] })
    .step("train", train)
    .step("use", {
      step: "tpl",
      with: { m: 2 },
      if: "${{ needs.train.status == 'succeeded' }}",
      needs: "train",
    })
    .step("sub", { pipeline: child, needs: ["use"] });
  const definition: PipelineDefinition = p.toDefinition();
  const nodes = definition.pipelines.all?.nodes;
  console.log(nodes ? Object.keys(nodes) : [], p.isControlled, p.stepNames, p.validate().project.file);

  const run: RunHandle = await baton.run(p, { params: { lrs: [0.2] }, controllerId: "all-1" });
  const kind: "engine" | "controller" = run.kind;
  console.log(kind, run.id, run.pipeline, run.status, await run.refresh());
  const result = await run.wait({ signal: AbortSignal.timeout(60_000) });
  for (const [name, step] of Object.entries(result.steps ?? {})) {
    for (const task of step.tasks)
      console.log(name, task.name, task.status, task.metrics.accuracy, task.task?.id);
  }
  const tasks: TaskHandle[] = await run.tasks();
  const firstTask = tasks[0];
  if (firstTask) {
    const info: TaskInfo = await firstTask.wait({ pollIntervalMs: 50 });
    const attempt = info.attemptsDetail[0];
    console.log(info.command, info.params, attempt?.logUrl, isTerminalStatus(info.status));
    const metrics: Metrics = await firstTask.metrics();
    const bytes: Buffer = await firstTask.readOutput("model.json");
    console.log(metrics, bytes.length, firstTask.toJSON(), firstTask.reattached);
    await firstTask.followLog((text) => process.stdout.write(text));
    const copy = await firstTask.clone({ params: { lr: 0.5 }, name: "copy", pool: "gpu" });
    await copy.cancel();
  }
  await run.cancel();

  const submitted = await baton.submit({
    command: "python train.py",
    name: "train",
    params: { lr: 0.1 },
    env: { A: "1" },
    labels: { team: "ml" },
    priority: 1,
    retries: 2,
    timeoutMs: 60_000,
    afterSuccess: [],
    cwd: "sub",
    idempotencyKey: "k",
    parentTaskId: null,
  });
  const listed: TaskHandle[] = await baton.tasks({
    status: ["running", "queued"],
    limit: 10,
    run: submitted.run,
  });
  const byName: RunHandle = await baton.run("train-eval", { targets: ["train"], from: [], noCache: true });
  console.log(listed.length, byName.id, (await baton.getRun(byName.id)).status);

  const ctl: Controller = baton.controller("sweep", { inputs: { grid: [1, 2] } });
  const tpl = await ctl.submit("template", { command: "python train.py" });
  const cloned = await ctl.clone("train-0", tpl, { params: { lr: 1 } });
  const nested = await ctl.run(child, { params: {}, step: "child" });
  console.log(ctl.key, ctl.keyOf("x"), ctl.tasks.length, cloned.id, nested.status);

  try {
    pipeline("bad")
      .step("a", { run: "echo", needs: ["b"] })
      .validate();
  } catch (err) {
    if (err instanceof BatonError && err.code === "SPEC_INVALID") {
      const problems: Problem[] = err.problems;
      for (const problem of problems) console.log(problem.file, problem.line, problem.column, problem.path);
    }
  }
  await baton.close();
  return result;
}
