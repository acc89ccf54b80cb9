import fs from "node:fs";
import os from "node:os";
import { ApiClient, findEndpoint } from "../../client/api-client.js";
import { loadProject, locateFile } from "../context.js";
import { table } from "../table.js";

/** A pool as `baton pools --json` prints it; `inUse` and `queued` are null when no server runs. */
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
    pools = Object.values(project.pools).map((p) => row(p.name, p.slots));
    source = `${opts.file} (no server running: nothing in use)`;
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

function row(name: string, slots: number): PoolRow {
  return { name, executor: "local", slots, inUse: null, queued: null };
}
