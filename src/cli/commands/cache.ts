import { ContentStore } from "../../artifacts/cas.js";
import { stateLayoutFor } from "../../engine/layout.js";
import { iso } from "../../engine/task-view.js";
import { BatonError } from "../../errors.js";
import { locateFile, openExistingStore } from "../state.js";
import { table } from "../table.js";

export interface CacheOptions {
  file: string;
  /** `--db`: the state database (else BATON_DB, else `.baton/baton.db`). */
  db?: string;
  /** `--data`: the state folder (else BATON_DATA, else `.baton/`). */
  data?: string;
  keep?: string;
  limit?: string;
}

/**
 * `baton cache ls`: reusable results with their sizes and the store's total.
 * `baton cache clear`: forget every result and empty the content store (run folders stay).
 * `baton cache gc [--keep N]`: keep the last N runs' results, delete blobs nothing else references.
 */
export async function cacheCommand(action: string, opts: CacheOptions): Promise<void> {
  const { workdir } = locateFile(opts.file);
  const cas = new ContentStore(stateLayoutFor(workdir, opts.data).cas);
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    switch (action) {
      case "ls": {
        const entries = await store.listCacheEntries(Number(opts.limit ?? 50));
        const blobs = await storeSize(cas);
        process.stdout.write(
          table(
            ["KEY", "TASK", "PIPELINE", "FILES", "SIZE", "FROM"],
            entries.map((e) => [
              e.cacheKey.slice(0, 16),
              e.name,
              e.pipeline,
              String(e.files),
              bytes(e.bytes),
              `${iso(e.endedAt)?.slice(0, 19).replace("T", " ") ?? ""} (run ${e.runId})`,
            ]),
          ),
        );
        process.stdout.write(
          `${entries.length} reusable result(s); content store: ${blobs.count} blob(s), ${bytes(blobs.bytes)}\n`,
        );
        return;
      }
      case "clear": {
        const forgotten = await store.forgetCachedResults();
        // Releases keep their files: a released file is never the cache's to remove.
        const released = await store.releaseBlobs();
        let removed = 0;
        let freed = 0;
        for await (const blob of cas.listBlobs()) {
          if (!released.has(blob.sha256) && (await cas.remove(blob.sha256))) {
            removed++;
            freed += blob.size;
          }
        }
        process.stdout.write(
          `forgot ${forgotten} cached result(s); removed ${removed} blob(s), ${bytes(freed)}\n`,
        );
        return;
      }
      case "gc": {
        const keep = Number(opts.keep ?? 10);
        if (!Number.isInteger(keep) || keep < 0)
          throw new BatonError("USAGE", `--keep expects a whole number >= 0, got "${opts.keep}"`);
        const runs = await store.recentRunTrees(keep);
        const forgotten = await store.forgetCachedResults(runs);
        const referenced = await store.blobsOfRuns(runs);
        for (const sha256 of await store.releaseBlobs()) referenced.add(sha256);
        let removed = 0;
        let freed = 0;
        for await (const blob of cas.listBlobs()) {
          if (!referenced.has(blob.sha256) && (await cas.remove(blob.sha256))) {
            removed++;
            freed += blob.size;
          }
        }
        process.stdout.write(
          `kept the results of the last ${keep} run(s); forgot ${forgotten} older result(s); removed ${removed} blob(s), ${bytes(freed)}\n`,
        );
        return;
      }
      default:
        throw new BatonError("USAGE", `baton cache ${action}: expected ls, clear or gc`);
    }
  } finally {
    await store.close();
  }
}

async function storeSize(cas: ContentStore): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let total = 0;
  for await (const blob of cas.listBlobs()) {
    count++;
    total += blob.size;
  }
  return { count, bytes: total };
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}
