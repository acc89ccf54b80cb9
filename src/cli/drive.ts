import { openEngineOn, type openLocalEngine } from "../engine/local.js";
import { RunController } from "../engine/run-controller.js";
import { runView, taskViews } from "../engine/task-view.js";
import type { ProjectSpec } from "../spec/types.js";
import { dbFromEnv } from "../store/open-store.js";
import type { RunStatus } from "../store/store.js";
import { startEmbeddedApi } from "./embedded-api.js";
import { EXIT, claimSignals } from "./exit.js";
import { ProgressReporter } from "./progress.js";
import type { ProjectFile } from "./state.js";

type LocalEngine = ReturnType<typeof openLocalEngine>;
type LocatedProject = ProjectSpec & ProjectFile;

/** A run being driven to its end: a pipeline run's controller, or a resumed tree of submitted tasks. */
export interface DrivenRun {
  runId: string;
  done: Promise<RunStatus>;
}

/**
 * Drives a run on the embedded engine to its end, as `run`, `resume` and `retry` do: live
 * progress on stderr, Ctrl-C/SIGTERM cancel cleanly (exit 130), `--json` at the end on stdout,
 * exit 0 iff the run succeeded.
 */
export function driveRun(
  project: LocatedProject,
  begin: (engine: LocalEngine["engine"]) => Promise<RunController>,
  opts: { json?: boolean; db?: string; data?: string },
): Promise<void> {
  return drive({ workdir: project.workdir, project }, begin, opts);
}

/**
 * {@link driveRun} for any run, in the folder `workdir` (whose `.baton/`, or the `--data` folder, holds the state),
 * with the pools and pipelines of `project` if there is one.
 */
export async function drive(
  where: { workdir: string; project?: LocatedProject | undefined },
  begin: (engine: LocalEngine["engine"]) => Promise<DrivenRun>,
  opts: { json?: boolean; db?: string; data?: string },
): Promise<void> {
  const { workdir, project } = where;
  // Signals are caught from the start: one that comes while the engine starts cancels the run as soon as it exists.
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write("\nbaton: interrupted, cancelling running tasks…\n");
    void engine.cancelAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  claimSignals();
  const {
    engine,
    store,
    close: closeEngine,
  } = await openEngineOn(workdir, dbFromEnv(opts.db), {
    pools: project?.pools,
    data: opts.data,
  });
  // The API's port is bound while the run is planned and cached results are reused; only the
  // first task launch waits for it (tasks get its URL). Fastify itself loads on the first request.
  const starting = startEmbeddedApi(engine, store, workdir, project);
  engine.launchGate = starting;
  const close = async () => {
    await (await starting).close();
    await closeEngine();
  };
  const progress = new ProgressReporter();
  engine.on((e) => progress.handle(e));
  try {
    const controller = await begin(engine);
    if (controller instanceof RunController) (await starting).track(controller);
    if (interrupted) void engine.cancelAll();
    const status = await controller.done;
    progress.stop();
    if (opts.json) {
      const run = (await store.getRun(controller.runId))!;
      const tasks = await store.listTaskViewRows(controller.runId);
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
    await settleNotifications(engine);
    await close();
  }
}

/**
 * Before an embedded run's process exits: waits for its notifications, at most
 * BATON_NOTIFY_WAIT_MS (30 s); what is still not delivered stays pending for a server to send.
 */
async function settleNotifications(engine: LocalEngine["engine"]): Promise<void> {
  if (engine.notifier.pending === 0) return;
  const ms = Number(process.env.BATON_NOTIFY_WAIT_MS ?? 30_000);
  const left = await engine.notifier.settle(Number.isFinite(ms) && ms >= 0 ? ms : 30_000);
  if (left > 0) {
    process.stderr.write(
      `baton: ${left} notification${left === 1 ? "" : "s"} not delivered yet: left pending (a baton server on this store sends ${left === 1 ? "it" : "them"})\n`,
    );
  }
}
