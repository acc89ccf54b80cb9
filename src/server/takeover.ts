/**
 * Takeover: a server picks up the runs of engines that died — at start, and then about every
 * second for as long as it runs — so that when one of several servers sharing a database dies,
 * another one drives its runs within the dead one's lease (docs/scale-out.md).
 *
 * Whether a run's engine is gone is `isOwnerLive` (engine/ownership.ts): its lease expired, or
 * it ran on this machine and its process is gone. Each orphaned root run is claimed with a
 * compare-and-set on its owner (`Store.claimRun`): of several servers sweeping at once, one
 * gets it and the others leave it. The one that gets it restores it as `baton resume` would:
 * processes still running on this host are adopted, lost ones retried or failed.
 */
import { ownerLiveness } from "../engine/ownership.js";
import { ensureBatonError } from "../errors.js";
import type { ServerContext } from "./context.js";

/** What one sweep did: the runs resumed here, and those that could not be (failed with why). */
export interface SweepResult {
  resumed: string[];
  failed: Array<{ id: string; error: string }>;
}

/**
 * How often a server looks for orphaned runs: every second, or more often under a lease of
 * less than 4 s (tests), so that takeover comes at most about a second after a lease expires.
 */
export function takeoverInterval(leaseMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(leaseMs / 4)));
}

/**
 * Picks up root runs left `running` by an engine that died: trees of submitted tasks through
 * the engine, pipeline runs from the definition they were started from. A run another server
 * picked up first is left to it; one that cannot be resumed is failed with the reason, so that
 * no sweep tries it again.
 */
export async function sweepOrphans(ctx: ServerContext, log: (line: string) => void): Promise<SweepResult> {
  // One read of the running runs and of their engines serves both kinds.
  const runs = await ctx.store.listRunningRoots();
  const live = ownerLiveness(ctx.store);
  // Trees of submitted tasks (`baton submit`): no pipeline, the engine's own tree.
  const { resumed, failed } = await ctx.engine.restoreOrphanedTrees(runs, live);
  for (const f of failed) log(`baton server: cannot resume run ${f.id}: ${f.error}`);
  for (const run of runs) {
    if (run.status !== "running" || run.parentRunId !== null || run.specFile === null) continue;
    if (run.engineId === ctx.engine.id || (await live(run))) continue;
    try {
      const project = ctx.catalog.forRun(run);
      ctx.runs.track(await ctx.engine.restoreRun(project, run, "resume"));
      resumed.push(run.id);
    } catch (err) {
      const e = ensureBatonError(err);
      // Another server picked it up first (servers sharing a database sweep at once).
      if (e.context.claimedElsewhere === true) continue;
      failed.push({ id: run.id, error: e.message });
      log(`baton server: cannot resume run ${run.id}: ${e.message}`);
      // Failed with the reason, so that the next sweep does not try (and fail) again.
      await ctx.engine.abandonRun(run.id, err).catch(() => undefined);
    }
  }
  return { resumed, failed };
}

/**
 * Runs `sweep` every `everyMs` (never two at once) until the returned stop is called, telling
 * `report` each run it took over. A sweep that fails (the database is unreachable for a moment)
 * is logged and tried again at the next tick.
 */
export function watchOrphans(
  sweep: () => Promise<SweepResult>,
  everyMs: number,
  report: (runId: string) => void,
  log: (line: string) => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let lastError = "";
  const tick = async () => {
    try {
      const { resumed } = await sweep();
      lastError = "";
      if (!stopped) for (const id of resumed) report(id);
    } catch (err) {
      const message = ensureBatonError(err).message;
      // Said once per distinct failure, not every second while the database is away.
      if (message !== lastError) log(`baton server: looking for runs to take over failed: ${message}`);
      lastError = message;
    }
    if (!stopped) {
      timer = setTimeout(tick, everyMs);
      timer.unref();
    }
  };
  timer = setTimeout(tick, everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
