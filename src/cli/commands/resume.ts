import { BatonError } from "../../errors.js";
import type { RunRow, Store } from "../../store/store.js";
import { isAlive } from "../../util/process.js";
import { loadProject, openExistingStore } from "../context.js";
import { driveRun } from "../drive.js";

/** `baton resume RUN`: continues a run whose engine died, adopting task processes still alive. */
export async function resumeCommand(id: string, opts: { file: string; json?: boolean }): Promise<void> {
  const run = await findRun(opts.file, id, (r) => {
    if (r.status !== "running")
      throw new BatonError("USAGE", `run ${r.id} is ${r.status}: nothing to resume (see \`baton retry\`)`);
    if (r.enginePid !== null && r.enginePid !== process.pid && isAlive(r.enginePid)) {
      throw new BatonError("USAGE", `run ${r.id} is still driven by a live engine (pid ${r.enginePid})`);
    }
  });
  const project = loadProject(pipelineFileOf(run));
  await driveRun(project, (engine) => engine.restoreRun(project, run, "resume"), opts);
}

/** `baton retry RUN [--failed-only]`: new attempts for a finished run's tasks, in the same run. */
export async function retryCommand(
  id: string,
  opts: { file: string; failedOnly?: boolean; json?: boolean },
): Promise<void> {
  const run = await findRun(opts.file, id, (r) => {
    if (r.status === "running" && r.enginePid !== null && isAlive(r.enginePid)) {
      throw new BatonError("USAGE", `run ${r.id} is still running: wait for it or cancel it first`);
    }
  });
  const project = loadProject(pipelineFileOf(run));
  await driveRun(
    project,
    (engine) => engine.restoreRun(project, run, opts.failedOnly ? "retry-failed" : "retry-all"),
    opts,
  );
}

/** The pipeline file a run came from; submitted task trees have none. */
function pipelineFileOf(run: RunRow): string {
  if (!run.specFile) {
    throw new BatonError(
      "USAGE",
      `run ${run.id} is a tree of submitted tasks (baton submit), not a pipeline run: resume and retry work on pipeline runs only; submit the tree again`,
    );
  }
  return run.specFile;
}

/** The root run named by a run id, or by the id of one of its tasks. */
async function findRun(file: string, id: string, check: (run: RunRow) => void): Promise<RunRow> {
  const store: Store = openExistingStore(file);
  try {
    const hit = await store.resolveId(id);
    let run =
      hit.kind === "run"
        ? await store.getRun(hit.id)
        : await store.getRun((await store.getTask(hit.id))!.runId);
    while (run?.parentRunId) run = await store.getRun(run.parentRunId);
    check(run!);
    return run!;
  } finally {
    await store.close();
  }
}
