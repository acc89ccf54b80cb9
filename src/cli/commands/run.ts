import { openLocalEngine } from "../../engine/local.js";
import { runView, taskViews } from "../../engine/task-view.js";
import { BatonError } from "../../errors.js";
import { parseParamAssignments, resolveParams } from "../../spec/params.js";
import { loadProject, pickPipeline } from "../context.js";
import { EXIT } from "../main.js";
import { ProgressReporter } from "../progress.js";

export interface RunCommandOptions {
  file: string;
  param: string[];
  target: string[];
  from?: string;
  cache: boolean;
  detach?: boolean;
  json?: boolean;
}

/** `baton run`: runs a pipeline on the embedded engine and exits 0 iff it succeeded. */
export async function runCommand(pipelineName: string | undefined, opts: RunCommandOptions): Promise<void> {
  const project = loadProject(opts.file);
  const pipeline = pickPipeline(project, pipelineName);
  const params = resolveParams(pipeline.params, parseParamAssignments(opts.param), {
    fromCli: true,
    where: `pipeline "${pipeline.name}"`,
  });
  if (opts.detach) {
    throw new BatonError("USAGE", "--detach needs a running server (`baton server`); none is reachable");
  }
  for (const t of [...opts.target, ...(opts.from ? [opts.from] : [])]) {
    if (!pipeline.nodes[t])
      throw new BatonError("USAGE", `--target/--from ${t}: no node "${t}" in pipeline "${pipeline.name}"`);
  }

  const { engine, store, close } = openLocalEngine(project.workdir);
  const progress = new ProgressReporter();
  engine.on((e) => progress.handle(e));

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write("\nbaton: interrupted, cancelling running tasks…\n");
    void engine.cancelAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const controller = await engine.startRun(project, {
      pipeline: pipeline.name,
      params,
      workdir: project.workdir,
      specFile: project.file,
      targets: opts.target,
      from: opts.from ? [opts.from] : undefined,
      noCache: !opts.cache,
    });
    const status = await controller.done;
    progress.stop();
    if (opts.json) {
      const run = (await store.getRun(controller.runId))!;
      const tasks = await store.listTasks({ run: controller.runId });
      const outputs = await store.listOutputs(tasks.map((t) => t.id));
      process.stdout.write(
        `${JSON.stringify({ run: runView(run), tasks: taskViews(tasks, outputs) }, null, 2)}\n`,
      );
    }
    process.exitCode = interrupted ? EXIT.interrupted : status === "succeeded" ? EXIT.ok : EXIT.failed;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    progress.stop();
    await close();
  }
}
