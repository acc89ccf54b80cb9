import { spawn } from "node:child_process";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from "../../src/store/migrations.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
import { ANY_EXPIRED } from "../../src/store/store.js";
import { collect } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import { describeStoreConformance, runRow } from "./conformance.js";
import { checkClaimsFromFourProcesses } from "./multi-process-claims.js";

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
  describeStoreConformance(
    "postgres",
    async () => PostgresStore.connect(await server.createDatabase("conf")),
    async () => {
      const db = await server.createDatabase("bus");
      return [await PostgresStore.connect(db), await PostgresStore.connect(db)];
    },
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

describe.skipIf(missing)(
  "PostgresStore shared by several OS processes (needs dist/: npx tsc -p tsconfig.build.json)",
  () => {
    it("claims from four processes at once: no pool slot over-granted, each orphaned run claimed exactly once", async () => {
      const db = await server.createDatabase("claim");
      await checkClaimsFromFourProcesses(db, (url) => PostgresStore.connect(url));
    }, 120_000);

    it("a process stopped inside a transaction does not keep its run from being taken over, and survives being woken", async () => {
      const LEASE_MS = 2000;
      const url = await server.createDatabase("stopped");
      const store = await PostgresStore.connect(url);
      const now = Date.now();
      const engine = (id: string, leaseExpiresAt: number) =>
        store.registerEngine({ id, host: "h", bootId: "", pid: process.pid, startedAt: now, leaseExpiresAt });
      await engine("eng_stopped", now + LEASE_MS);
      await engine("eng_survivor", now + 600_000);
      await store.createRun(runRow("run_held", { engineId: "eng_stopped" }));
      const worker = spawn(
        process.execPath,
        [path.join(import.meta.dirname, "stopped-writer.mjs"), url, "run_held"],
        {
          env: { ...process.env, BATON_ENGINE_LEASE_MS: String(LEASE_MS) },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      const result = collect(worker);
      const locked = new Promise<void>((resolve) => {
        let seen = "";
        worker.stdout.on("data", (d) => {
          seen += d;
          if (seen.includes("locked\n")) resolve();
        });
      });
      try {
        await locked;
        // The stopped process's lease expires; the run is taken over once the database has ended
        // its transaction (at half the lease), not when the process is woken.
        let claimed = false;
        const started = Date.now();
        while (!claimed && Date.now() - started < LEASE_MS * 4) {
          claimed = await store.claimRun("run_held", "eng_survivor", ANY_EXPIRED);
          if (!claimed) await sleep(100);
        }
        expect(claimed, "the run of the stopped process was never taken over").toBe(true);
        expect((await store.getRun("run_held"))?.engineId).toBe("eng_survivor");
        worker.kill("SIGCONT");
        const { code, stdout, stderr } = await result;
        expect(code, stderr).toBe(0);
        // Its write failed (nothing of it was applied), and the process went on.
        expect(JSON.parse(stdout.split("\n")[1]!).error).toMatch(
          /cannot use the state database .*connection/,
        );
        expect((await store.getRun("run_held"))?.engineId).toBe("eng_survivor");
      } finally {
        worker.kill("SIGKILL");
        await store.close();
      }
    }, 60_000);
  },
);
