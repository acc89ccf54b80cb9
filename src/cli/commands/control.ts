import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiClient, type ApiEndpoint, findEndpoint } from "../../client/api-client.js";
import { hostStateDir } from "../../engine/layout.js";
import { runOwner } from "../../engine/ownership.js";
import { BatonError } from "../../errors.js";
import type { RunRow, Store } from "../../store/store.js";
import { isTerminal, rootRun } from "../../store/store.js";
import { engineFile } from "../embedded-api.js";
import { EXIT } from "../exit.js";
import { locateFile, openExistingStore } from "../state.js";
import { safeLine } from "../terminal.js";

/**
 * `baton cancel ID`: cancels a run, or a task with its subtree, through the engine that drives
 * it (a server, or the embedded engine of a `baton run`/`baton submit` in another terminal).
 */
export async function cancelCommand(
  id: string,
  opts: { file: string; db?: string; data?: string },
): Promise<void> {
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    const hit = await store.resolveId(id);
    const run = await rootRun(
      store,
      (await store.getRun(hit.kind === "run" ? hit.id : (await store.getTask(hit.id))!.runId))!,
    );
    const owner = await runOwner(store, run);
    const endpoint = driverOf(opts.file, run, owner);
    if (!endpoint) {
      throw new BatonError(
        "USAGE",
        run.status === "running"
          ? `run ${run.id} has no live engine (${owner.label} is gone): \`baton resume ${run.id}\` picks it up, or leave it`
          : `run ${run.id} has already ended (${run.status})`,
      );
    }
    const route = hit.kind === "run" ? `/runs/${hit.id}/cancel` : `/tasks/${hit.id}/cancel`;
    const result = await new ApiClient(endpoint).post<Record<string, unknown>>(route);
    process.stdout.write(`cancelled ${hit.kind} ${hit.id}${result.note ? ` (${result.note})` : ""}\n`);
  } finally {
    await store.close();
  }
}

/** `baton wait ID`: waits until a run or task has ended; exit 0 iff it succeeded. */
export async function waitCommand(
  id: string,
  opts: { file: string; db?: string; data?: string },
): Promise<void> {
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    const hit = await store.resolveId(id);
    for (;;) {
      if (hit.kind === "run") {
        const run = (await store.getRun(hit.id))!;
        if (run.status !== "running") {
          process.stdout.write(`run ${run.id} ${run.status}\n`);
          process.exitCode = run.status === "succeeded" ? EXIT.ok : EXIT.failed;
          return;
        }
      } else {
        const task = (await store.getTask(hit.id))!;
        if (isTerminal(task.status)) {
          process.stdout.write(`task ${task.id} ${safeLine(task.name)} ${task.status}\n`);
          process.exitCode = task.status === "succeeded" || task.status === "cached" ? EXIT.ok : EXIT.failed;
          return;
        }
      }
      await sleep(200);
    }
  } finally {
    await store.close();
  }
}

/** The API of the engine driving a run: its embedded engine's, else the folder's server. */
export function driverOf(
  file: string,
  run: RunRow,
  owner: { live: boolean; engine: { pid: number } | undefined },
): ApiEndpoint | undefined {
  if (run.status !== "running") return undefined;
  const stateDir = hostStateDir(locateFile(file).workdir);
  const pid = owner.engine?.pid ?? run.enginePid;
  if (owner.live && pid !== null) {
    try {
      const record = JSON.parse(fs.readFileSync(engineFile(stateDir, pid), "utf8")) as {
        url: string;
        tokenFile: string;
      };
      return { url: record.url, token: fs.readFileSync(record.tokenFile, "utf8").trim() };
    } catch {
      // Not an embedded engine: a server, found below.
    }
  }
  return findEndpoint(locateFile(file).workdir, {});
}
