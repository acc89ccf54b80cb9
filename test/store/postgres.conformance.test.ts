import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from "../../src/store/migrations.js";
import { PostgresStore } from "../../src/store/postgres-store.js";
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
  },
);
