import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LocalExecutor } from "../executors/local-executor.js";
import { SqliteStore } from "../store/sqlite-store.js";
import type { EngineRow } from "../store/store.js";
import { Engine } from "./engine.js";
import { stateLayoutFor } from "./layout.js";
import { openLocalEngine } from "./local.js";
import { bootId, isOwnerLive, ownerLabel, runOwner } from "./ownership.js";

const DEAD_PID = 2 ** 22 + 12345; // above Linux's pid_max: never a live process

function engine(extra: Partial<EngineRow> = {}): EngineRow {
  return {
    id: "eng_x",
    host: os.hostname(),
    bootId: bootId(),
    pid: process.pid,
    startedAt: 1,
    leaseExpiresAt: Date.now() + 60_000,
    ...extra,
  };
}

const owned = { engineId: "eng_x", enginePid: 1 };
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe("isOwnerLive: one rule for whether a run is still driven", () => {
  it("is live while the lease lasts and the process runs", () => {
    expect(isOwnerLive(owned, engine())).toBe(true);
  });

  it("is gone once the lease has expired, even if the process runs", () => {
    expect(isOwnerLive(owned, engine({ leaseExpiresAt: Date.now() - 1 }))).toBe(false);
  });

  it("is gone at once when it ran on this machine (same host and boot) and its process is gone", () => {
    expect(isOwnerLive(owned, engine({ pid: DEAD_PID }))).toBe(false);
  });

  it("on another machine, or after a reboot, only the lease counts", () => {
    expect(isOwnerLive(owned, engine({ pid: DEAD_PID, host: "elsewhere" }))).toBe(true);
    expect(isOwnerLive(owned, engine({ pid: DEAD_PID, bootId: "another-boot" }))).toBe(true);
  });

  it("an unrecorded engine is gone; a run recorded before engine ids falls back to its pid", () => {
    expect(isOwnerLive(owned, undefined)).toBe(false);
    expect(isOwnerLive({ engineId: null, enginePid: process.pid }, undefined)).toBe(true);
    expect(isOwnerLive({ engineId: null, enginePid: DEAD_PID }, undefined)).toBe(false);
    expect(isOwnerLive({ engineId: null, enginePid: null }, undefined)).toBe(false);
  });

  it("names the engine usefully", () => {
    expect(ownerLabel(owned, engine({ pid: 123, host: "h" }))).toBe("engine eng_x (pid 123 on host h)");
    expect(ownerLabel({ engineId: null, enginePid: 9 }, undefined)).toBe("process 9");
  });
});

describe("an engine's lease in the store", () => {
  it("is registered at start, renewed while it runs, and ended by close", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-lease-"));
    vi.stubEnv("BATON_ENGINE_LEASE_MS", "300");
    const local = openLocalEngine(dir);
    vi.unstubAllEnvs();
    const { engine: e, layout } = local;
    expect(e.id).toMatch(/^eng_[0-9A-Z]{26}$/);
    const other = SqliteStore.open(layout.database);
    cleanups.push(() => other.close());
    await new Promise((r) => setTimeout(r, 50));
    const first = await other.getEngine(e.id);
    expect(first).toMatchObject({ pid: process.pid, host: os.hostname(), bootId: bootId() });
    // Well past the first lease: renewed meanwhile, so still live.
    await new Promise((r) => setTimeout(r, 900));
    const later = (await other.getEngine(e.id))!;
    expect(later.leaseExpiresAt).toBeGreaterThan(first!.leaseExpiresAt);
    expect(isOwnerLive({ engineId: e.id, enginePid: process.pid }, later)).toBe(true);
    await local.close();
    const ended = (await other.getEngine(e.id))!;
    expect(isOwnerLive({ engineId: e.id, enginePid: process.pid }, ended)).toBe(false);
    expect((await runOwner(other, { engineId: e.id, enginePid: process.pid })).label).toContain(e.id);
  });

  it("an engine stopped past its lease adds no submitted task to a run another engine took over", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-lease-"));
    const layout = stateLayoutFor(dir).prepare();
    const store = SqliteStore.open(layout.database);
    const executor = new LocalExecutor({ layout });
    const lost: string[][] = [];
    const e = new Engine({
      store,
      executor,
      layout,
      workdir: dir,
      leaseMs: 60_000,
      onLeaseLost: (ids) => lost.push(ids),
    });
    cleanups.push(async () => {
      vi.useRealTimers();
      await executor.shutdown();
      await e.close();
      await store.close();
    });
    const [parent] = await e.submit({ name: "parent", command: "sleep 20", cwd: dir });
    const runId = (await store.getTask(parent!))!.runId;
    // Its process is stopped longer than its lease; meanwhile another engine takes the run over.
    const now = Date.now();
    await store.registerEngine({ ...engine({ id: "eng_other" }), leaseExpiresAt: now + 600_000 });
    expect(await store.claimRun(runId, "eng_other")).toBe(true);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now + 61_000);
    // Woken, before its lease timer fires, it is asked to record a child of the parent: it refuses.
    await expect(
      e.submit({ name: "child", command: "true", parentTaskId: parent, cwd: dir }),
    ).rejects.toThrow(/lease expired and another engine took over its runs/);
    expect(lost).toEqual([[runId]]);
    expect((await store.listTasks({ run: runId })).map((t) => t.name)).toEqual(["parent"]);
  });
});
