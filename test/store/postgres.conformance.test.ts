import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from "../../src/store/migrations.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import { describeStoreConformance, engineRow, runRow } from "./conformance.js";

// Skips (saying why) only when PostgreSQL is not installed; with BATON_REQUIRE_POSTGRES=1 (CI) that throws.
const missing = missingPostgres();
if (missing) console.warn(`postgres.conformance: skipped: ${missing}`);

let server: TestPostgres;
beforeAll(async () => {
  if (!missing) server = await startPostgres();
}, 120_000);
afterAll(async () => {
  await server?.stop();
}, 60_000);

describe.skipIf(missing)("PostgreSQL", () => {
  // Each test gets a new, empty database.
  describeStoreConformance("postgres", async () =>
    PostgresStore.connect(await server.createDatabase("conf")),
  );

  it("has a migration for every SQLite migration, under the same numbers", () => {
    expect(POSTGRES_MIGRATIONS.length).toBe(SQLITE_MIGRATIONS.length);
  });

  it("migrates once when several stores open a new database at once", async () => {
    const url = await server.createDatabase("mig");
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.connect(url)));
    await stores[0]!.createRun(runRow("run_a"));
    for (const s of stores) expect((await s.getRun("run_a"))?.pipeline).toBe("p");
    await Promise.all(stores.map((s) => s.close()));
  }, 60_000);
});

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

describe.skipIf(missing)(
  "PostgresStore shared by several OS processes (needs dist/: npx tsc -p tsconfig.build.json)",
  () => {
    it("claims from four processes at once: no pool slot over-granted, each orphaned run claimed exactly once", async () => {
      const db = await server.createDatabase("claim");
      const setup = await PostgresStore.connect(db);
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
      // ...nor in the holding intervals each recorded (inside its real hold).
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
      const check = await PostgresStore.connect(db);
      const run = await check.getRun(runIds[0]!);
      expect(run?.engineId).toMatch(/^eng_w\d$/);
      await check.close();
    }, 120_000);
  },
);
