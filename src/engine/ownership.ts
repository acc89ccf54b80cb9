import fs from "node:fs";
import os from "node:os";
import type { EngineRow, RunRow, Store } from "../store/store.js";
import { isAlive } from "../util/process.js";

let cachedBootId: string | undefined;

/** This machine's kernel boot id ("" where there is none to read). */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}

/** Who a run (or a task's run) is recorded as driven by. */
export interface RunOwner {
  engineId: string | null;
  enginePid: number | null;
}

/**
 * THE rule for "is this run still driven?": its engine's lease has not expired, except that an
 * engine on this machine (same host and boot) whose process is gone is gone at once, so that
 * `baton resume` right after a crash need not wait for the lease. Runs recorded before engines
 * had ids fall back to their engine's pid. `engine` is the owner's row (if recorded).
 */
export function isOwnerLive(
  owner: RunOwner,
  engine: EngineRow | null | undefined,
  now = Date.now(),
): boolean {
  if (owner.engineId === null) return owner.enginePid !== null && isAlive(owner.enginePid);
  if (!engine || engine.leaseExpiresAt <= now) return false;
  const here = engine.host === os.hostname() && engine.bootId === bootId();
  return !(here && !isAlive(engine.pid));
}

/** Names the engine driving a run for messages: `engine eng_… (pid 123 on host h)`. */
export function ownerLabel(owner: RunOwner, engine: EngineRow | null | undefined): string {
  if (owner.engineId === null) return owner.enginePid === null ? "no engine" : `process ${owner.enginePid}`;
  if (!engine) return `engine ${owner.engineId}`;
  return `engine ${engine.id} (pid ${engine.pid} on host ${engine.host})`;
}

/** Whether a run's engine is live (see {@link isOwnerLive}), with a label naming it. */
export async function runOwner(
  store: Store,
  run: Pick<RunRow, "engineId" | "enginePid">,
): Promise<{ live: boolean; label: string; engine: EngineRow | undefined }> {
  const engine = run.engineId === null ? undefined : await store.getEngine(run.engineId);
  return { live: isOwnerLive(run, engine), label: ownerLabel(run, engine), engine };
}

/**
 * {@link runOwner}'s `live` for many runs at once (a sweep over every running run): each
 * engine's row is read once.
 */
export function ownerLiveness(
  store: Store,
): (run: Pick<RunRow, "engineId" | "enginePid">) => Promise<boolean> {
  const engines = new Map<string, Promise<EngineRow | undefined>>();
  return async (run) => {
    if (run.engineId === null) return isOwnerLive(run, undefined);
    let engine = engines.get(run.engineId);
    if (!engine) {
      engine = store.getEngine(run.engineId);
      engines.set(run.engineId, engine);
    }
    return isOwnerLive(run, await engine);
  };
}
