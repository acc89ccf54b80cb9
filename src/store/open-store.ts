/**
 * The one place `--db` (or BATON_DB) is read: a `postgres://USER@HOST:PORT/DB` URL opens the
 * PostgreSQL store, anything else names a SQLite file (`PATH`, `sqlite:PATH`, `sqlite://PATH`,
 * `file:PATH`); nothing opens the default `.baton/baton.db`.
 */
import path from "node:path";
import { BatonError } from "../errors.js";
import type { Store } from "./store.js";

/** Whether `db` names a PostgreSQL database (the `pg` driver is loaded only then). */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** `--db` as given, else BATON_DB, else undefined (the default SQLite file). */
export function dbFromEnv(db: string | undefined): string | undefined {
  return db ?? (process.env.BATON_DB || undefined);
}

/**
 * The SQLite file `db` names, or undefined when it names none (the default file, or PostgreSQL).
 * @throws USAGE for another kind of URL.
 */
export function sqliteFile(db: string | undefined): string | undefined {
  if (db === undefined || isPostgresUrl(db)) return undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(db)?.[1]?.toLowerCase();
  if (scheme === undefined) return path.resolve(db);
  if (scheme === "sqlite" || scheme === "file") {
    const rest = db.slice(scheme.length + 1).replace(/^\/\//, "");
    if (rest === "") throw new BatonError("USAGE", `--db ${db}: no file named`);
    return path.resolve(rest);
  }
  throw new BatonError(
    "USAGE",
    `--db ${db.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, "$1:***@")}: expected a SQLite file or a postgres://USER@HOST:PORT/DB URL`,
  );
}

/**
 * Opens the store `db` names (see the module's comment), or the SQLite file `defaultFile`;
 * a PostgreSQL store is connected and migrated before this resolves.
 * @throws USAGE (a URL it cannot use), STORE_CONNECT (refused, unknown host, wrong password).
 */
export async function openStore(db: string | undefined, defaultFile: string): Promise<Store> {
  if (db !== undefined && isPostgresUrl(db)) {
    const { PostgresStore } = await import("./postgres-store.js");
    return PostgresStore.connect(db);
  }
  const file = sqliteFile(db) ?? defaultFile;
  const { SqliteStore } = await import("./sqlite-store.js");
  return SqliteStore.open(file);
}
