import fs from "node:fs";
import { runOwner } from "../../engine/ownership.js";
import { BatonError } from "../../errors.js";
import { type RunRow, type RunStatus, type Store, rootRun } from "../../store/store.js";
import { loadProject } from "../context.js";
import { drive, driveRun } from "../drive.js";
import { locateFile, openExistingStore } from "../state.js";

/**
 * `baton resume RUN`: continues a run whose engine died, adopting task processes still alive:
 * a pipeline run, or a tree of submitted tasks.
 */
export async function resumeCommand(
  id: string,
  opts: { file: string; db?: string; data?: string; json?: boolean },
): Promise<void> {
  const run = await findRun(opts, id, async (r, store) => {
    if (r.status !== "running")
      throw new BatonError("USAGE", `run ${r.id} is ${r.status}: nothing to resume (see \`baton retry\`)`);
    const owner = await runOwner(store, r);
    if (owner.live) throw new BatonError("USAGE", `run ${r.id} is still driven by a live ${owner.label}`);
  });
  if (run.specFile === null) {
    await resumeTree(run, opts);
    return;
  }
  const project = loadProject(pipelineFileOf(run));
  await driveRun(project, (engine) => engine.restoreRun(project, run, "resume"), opts);
}

/** A tree of submitted tasks, driven here to its end (with the folder's pools, if it has a baton.yaml). */
async function resumeTree(
  run: RunRow,
  opts: { file: string; db?: string; data?: string; json?: boolean },
): Promise<void> {
  const located = locateFile(opts.file);
  const project = fs.existsSync(located.file) ? loadProject(located.file) : undefined;
  await drive(
    { workdir: located.workdir, project },
    async (engine) => {
      // Listening first: a tree whose tasks had all ended ends while it is restored.
      const done = new Promise<RunStatus>((resolve) => {
        engine.on((e) => {
          if (e.type === "run-ended" && e.runId === run.id) resolve(e.status);
        });
      });
      await engine.restoreTree(run);
      return { runId: run.id, done };
    },
    opts,
  );
}

/** `baton retry RUN [--failed-only]`: new attempts for a finished run's tasks, in the same run. */
export async function retryCommand(
  id: string,
  opts: { file: string; db?: string; data?: string; failedOnly?: boolean; json?: boolean },
): Promise<void> {
  const run = await findRun(opts, id, async (r, store) => {
    if (r.status === "running" && (await runOwner(store, r)).live) {
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
      `run ${run.id} is a tree of submitted tasks (baton submit), not a pipeline run: retry works on pipeline runs only; submit the tree again`,
    );
  }
  return run.specFile;
}

/** The root run named by a run id, or by the id of one of its tasks. */
async function findRun(
  opts: { file: string; db?: string; data?: string },
  id: string,
  check: (run: RunRow, store: Store) => Promise<void>,
): Promise<RunRow> {
  const store: Store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    const hit = await store.resolveId(id);
    const run = await rootRun(
      store,
      (await store.getRun(hit.kind === "run" ? hit.id : (await store.getTask(hit.id))!.runId))!,
    );
    await check(run, store);
    return run;
  } finally {
    await store.close();
  }
}
