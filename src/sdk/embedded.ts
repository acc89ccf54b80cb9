/**
 * The engine embedded in the controller process, for `Baton.connect()` with no server: the same
 * engine `baton run` embeds (SQLite in `.baton/`, the local process pool), with its API on an
 * ephemeral loopback port, so that the SDK talks HTTP to it as to a server, and tasks can
 * submit children.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEmbeddedApi } from "../cli/embedded-api.js";
import { openLocalEngine } from "../engine/local.js";
import type { LocatedProject } from "../server/projects.js";
import { parseProjectText } from "../spec/parse.js";
import type { PoolSpec } from "../spec/types.js";

/** An embedded engine and its API. @internal */
export interface EmbeddedEngine {
  url: string;
  token: string;
  /** Cancels what still runs, then stops the API and the engine. */
  close(): Promise<void>;
}

/**
 * Opens the engine on `workdir/.baton/`. A `baton.yaml` in `workdir` is read, so its pipelines
 * can be started by name and its pools are the engine's. Orphaned task trees of an earlier
 * engine there (a controller that crashed with its embedded engine) are picked up.
 */
export async function startEmbeddedEngine(
  workdir: string,
  options: { pools?: Record<string, { slots?: number; resources?: Record<string, number> }> } = {},
): Promise<EmbeddedEngine> {
  const project = readProject(workdir);
  const pools: Record<string, PoolSpec> = {
    local: { name: "local", slots: os.availableParallelism(), resources: {} },
    ...project?.pools,
  };
  for (const [name, p] of Object.entries(options.pools ?? {})) {
    pools[name] = { name, slots: p.slots ?? 1, resources: p.resources ?? {} };
  }
  const local = openLocalEngine(workdir, { pools });
  let api: Awaited<ReturnType<typeof startEmbeddedApi>>;
  try {
    api = await startEmbeddedApi(local.engine, local.store, workdir, project);
  } catch (err) {
    await local.close();
    throw err;
  }
  // As `baton server` does at start: lone task trees whose engine died (a controller that
  // crashed with its embedded engine) are picked up, their live processes adopted.
  const { failed } = await local.engine.restoreOrphanedTrees();
  for (const f of failed) process.stderr.write(`baton sdk: cannot resume run ${f.id}: ${f.error}\n`);
  let closed: Promise<void> | undefined;
  return {
    url: api.url,
    token: api.token,
    close() {
      closed ??= (async () => {
        // The engine's close waits for its launcher processes to exit, which it no longer holds
        // the event loop for: without this, a top-level `await baton.close()` could find the
        // loop empty and Node would end the program with exit code 13 (unsettled await).
        const keepAlive = setInterval(() => undefined, 1000);
        try {
          await local.engine.cancelAll();
          await api.close();
          await local.close();
        } finally {
          clearInterval(keepAlive);
        }
      })();
      return closed;
    },
  };
}

function readProject(workdir: string): LocatedProject | undefined {
  const file = path.join(workdir, "baton.yaml");
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const project = parseProjectText(text, path.relative(process.cwd(), file) || file, {
    cpus: os.availableParallelism(),
  });
  return { ...project, file, workdir };
}
