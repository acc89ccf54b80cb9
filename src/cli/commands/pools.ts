import fs from "node:fs";
import os from "node:os";
import { ApiClient, findEndpoint } from "../../client/api-client.js";
import type { Store } from "../../store/store.js";
import { loadProject } from "../context.js";
import { locateFile, openExistingStore } from "../state.js";
import { table } from "../table.js";

/**
 * A pool as `baton pools --json` prints it. Without a server, `inUse` counts the slots the
 * folder's engines (`baton run`, `baton submit`) hold in its store (null if it has none yet),
 * and `queued` is null.
 */
export interface PoolRow {
  name: string;
  executor: string;
  slots: number;
  inUse: number | null;
  queued: number | null;
  declared?: boolean;
}

/**
 * `baton pools`: the pools tasks may be submitted to (`-P NAME`). From the running server (its
 * project file as it is now, with slots in use and tasks queued), or else from the project file.
 */
export async function poolsCommand(opts: { file: string; json?: boolean }): Promise<void> {
  const { workdir } = locateFile(opts.file);
  const endpoint = findEndpoint(workdir);
  let pools: PoolRow[];
  let source: string;
  if (endpoint) {
    pools = (await new ApiClient(endpoint).get<{ pools: PoolRow[] }>("/pools")).pools;
    source = `server ${endpoint.url}`;
  } else if (fs.existsSync(opts.file)) {
    const project = loadProject(opts.file);
    const held = await heldSlots(opts.file);
    pools = Object.values(project.pools).map((p) => ({
      ...row(p.name, p.slots),
      inUse: held ? (held[p.name] ?? 0) : null,
    }));
    source = held
      ? `${opts.file} (no server running: slots in use by this folder's engines)`
      : `${opts.file} (no server running: nothing in use)`;
  } else {
    pools = [row("local", os.availableParallelism())];
    source = `no ${opts.file} and no server: the default pool`;
  }
  process.stderr.write(`pools of ${source}\n`);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(pools, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    table(
      ["POOL", "EXECUTOR", "SLOTS", "IN USE", "QUEUED"],
      pools.map((p) => [
        p.declared === false ? `${p.name} (no longer declared)` : p.name,
        p.executor,
        String(p.slots),
        p.inUse === null ? "-" : String(p.inUse),
        p.queued === null ? "-" : String(p.queued),
      ]),
    ),
  );
}

/** Slots held per pool by live engines, from the folder's store (undefined: it has none yet). */
async function heldSlots(file: string): Promise<Record<string, number> | undefined> {
  let store: Store;
  try {
    store = await openExistingStore(file);
  } catch {
    return undefined;
  }
  try {
    return await store.countSlots(Date.now());
  } finally {
    await store.close();
  }
}

function row(name: string, slots: number): PoolRow {
  return { name, executor: "local", slots, inUse: null, queued: null };
}
