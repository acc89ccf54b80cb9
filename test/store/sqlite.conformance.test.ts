import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { describeStoreConformance } from "./conformance.js";
import { checkClaimsFromFourProcesses } from "./multi-process-claims.js";

function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-conformance-"));
  return path.join(dir, ".baton", "baton.db");
}

describeStoreConformance(
  "sqlite",
  async () => SqliteStore.open(tempDb()),
  async () => {
    const db = tempDb();
    return [SqliteStore.open(db), SqliteStore.open(db)];
  },
);

describe("SqliteStore shared by several OS processes (needs dist/: npx tsc -p tsconfig.build.json)", () => {
  it("claims from four processes at once: no pool slot over-granted, each orphaned run claimed exactly once", async () => {
    await checkClaimsFromFourProcesses(tempDb(), async (db) => SqliteStore.open(db));
  }, 120_000);
});
