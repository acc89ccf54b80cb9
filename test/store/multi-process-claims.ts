/**
 * The multi-process part of the Store conformance: four OS processes (claim-worker.mjs) claim
 * pool slots and orphaned runs from one database at once. Used by every adapter's test file.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { Store } from "../../src/store/store.js";
import { engineRow, runRow } from "./conformance.js";

const WORKER = fileURLToPath(new URL("./claim-worker.mjs", import.meta.url));

function runWorker(
  args: string[],
): Promise<{ runs: string[]; holds: Array<[number, number]>; maxSeen: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`worker exited ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

/**
 * No pool slot over-granted, each orphaned run claimed exactly once, when four processes claim
 * from the database `db` (a SQLite file or a postgres:// URL) that `open` opens.
 */
export async function checkClaimsFromFourProcesses(db: string, open: (db: string) => Promise<Store>) {
  const setup = await open(db);
  await setup.registerEngine(engineRow("eng_dead", { leaseExpiresAt: 1 }));
  const runIds = Array.from({ length: 20 }, (_, i) => `run_${i}`);
  for (const id of runIds) await setup.createRun(runRow(id, { engineId: "eng_dead" }));
  await setup.close();
  const slots = 3;
  const results = await Promise.all(
    [1, 2, 3, 4].map((n) => runWorker([db, `eng_w${n}`, String(slots), "60", ...runIds])),
  );
  // Each run claimed by exactly one process.
  const claimed = results.flatMap((r) => r.runs).sort();
  expect(claimed).toEqual([...runIds].sort());
  // Never more holders than slots, as seen by any process...
  for (const r of results) expect(r.maxSeen).toBeLessThanOrEqual(slots);
  // ...nor in the holding intervals each recorded (inside its real hold): a release at the same
  // millisecond as a grant is counted first.
  const events = results
    .flatMap((r) => r.holds)
    .flatMap(([a, b]) => [
      [a, 1],
      [b, -1],
    ])
    .sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let held = 0;
  let peak = 0;
  for (const [, d] of events) {
    held += d!;
    peak = Math.max(peak, held);
  }
  expect(peak).toBeLessThanOrEqual(slots);
  expect(results.reduce((n, r) => n + r.holds.length, 0)).toBeGreaterThan(0);
  const check = await open(db);
  const run = await check.getRun(runIds[0]!);
  expect(run?.engineId).toMatch(/^eng_w\d$/);
  await check.close();
}
