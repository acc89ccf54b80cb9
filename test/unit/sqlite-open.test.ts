import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SQLITE_MIGRATIONS } from "../../src/store/migrations.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";

const cleanup: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function dbFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-open-"));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, ".baton", "baton.db");
}

function versions(file: string): number[] {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]
    ).map((r) => r.version);
  } finally {
    db.close();
  }
}

describe("SqliteStore.open and the schema version", () => {
  it("opens an up-to-date database while another process holds its write lock (no migration check needs the lock)", async () => {
    const file = dbFile();
    await SqliteStore.open(file).close();
    // Another process in the middle of a long write (a big run recording its tasks).
    const writer = new Database(file);
    writer.exec("BEGIN IMMEDIATE");
    cleanup.push(() => {
      writer.exec("ROLLBACK");
      writer.close();
    });
    vi.stubEnv("BATON_DB_BUSY_TIMEOUT_MS", "300");
    cleanup.push(() => {
      vi.unstubAllEnvs();
    });
    const store = SqliteStore.open(file);
    cleanup.push(() => store.close());
    expect(await store.listRuns()).toEqual([]);
  });

  it("applies the migrations a database lacks, and only those", async () => {
    const file = dbFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    const applied = Math.max(1, SQLITE_MIGRATIONS.length - 2);
    for (let v = 1; v <= applied; v++) {
      old.exec(SQLITE_MIGRATIONS[v - 1]!);
      old.prepare("INSERT INTO schema_migrations VALUES (?, 1)").run(v);
    }
    old.close();
    await SqliteStore.open(file).close();
    expect(versions(file)).toEqual(SQLITE_MIGRATIONS.map((_, i) => i + 1));
    // Opened again: nothing more to apply, nothing applied twice.
    await SqliteStore.open(file).close();
    expect(versions(file)).toEqual(SQLITE_MIGRATIONS.map((_, i) => i + 1));
  });
});
