import fs from "node:fs";
import path from "node:path";
import type { SubmitRequest } from "../../engine/engine.js";
import { openEngineOn } from "../../engine/local.js";
import { dbFromEnv } from "../../store/open-store.js";
import { loadProject } from "../context.js";
import { startEmbeddedApi } from "../embedded-api.js";
import { EXIT, claimSignals } from "../exit.js";
import { printTaskLog } from "./logs.js";
import { exitCodeOf, printIds } from "./submit.js";

/** No server: run the task (or the tasks of `--each`) here, with an API for its own submits, until its whole tree ends. */
export async function submitEmbedded(requests: SubmitRequest[], wait: boolean, log: boolean): Promise<void> {
  const file = path.resolve("baton.yaml");
  const project = fs.existsSync(file) ? loadProject(file) : undefined;
  const workdir = project?.workdir ?? process.cwd();
  const { engine, store, close } = await openEngineOn(workdir, dbFromEnv(undefined), {
    pools: project?.pools,
  });
  const api = await startEmbeddedApi(engine, store, workdir, project);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void engine.cancelAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  claimSignals();
  try {
    const ids = await engine.submitMany(requests);
    printIds(ids, wait);
    const first = (await store.getTask(ids[0]!))!;
    const ended = new Promise<void>((resolve) => {
      engine.on((e) => {
        if (e.type === "run-ended" && e.runId === first.runId) resolve();
      });
    });
    // Follows the log across attempts until the task ends; the tree may go on after it.
    if (wait && log) await printTaskLog(store, first, true, false);
    await ended;
    const tasks = await Promise.all(ids.map(async (id) => (await store.getTask(id))!));
    const code = exitCodeOf(tasks);
    process.exitCode = interrupted
      ? EXIT.interrupted
      : wait
        ? code
        : code === EXIT.ok
          ? EXIT.ok
          : EXIT.failed;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await api.close();
    await close();
  }
}
