/**
 * Where a project's state is, and opening it for the commands that only read it (`ls`, `show`,
 * `logs`, ...): none of these loads the pipeline file's parser.
 */
import fs from "node:fs";
import path from "node:path";
import { stateLayoutFor } from "../engine/layout.js";
import { BatonError } from "../errors.js";
import { dbFromEnv, isPostgresUrl, openStore, sqliteFile } from "../store/open-store.js";
import type { Store } from "../store/store.js";

export interface ProjectFile {
  /** Absolute path of the pipeline file. */
  file: string;
  /** The folder holding it: tasks run here and `.baton/` lives here. */
  workdir: string;
}

export function locateFile(file: string): ProjectFile {
  const abs = path.resolve(file);
  return { file: abs, workdir: path.dirname(abs) };
}

/**
 * Opens the store of an existing state folder (`.baton/`, or `data`: `--data`, else
 * BATON_DATA) for reading commands (`ls`, `show`, `logs`), or the database `db` (`--db`, else
 * BATON_DB) names: a SQLite file, or a `postgres://` URL.
 */
export async function openExistingStore(file: string, db?: string, data?: string): Promise<Store> {
  const named = dbFromEnv(db);
  if (named !== undefined && isPostgresUrl(named)) return openStore(named, "");
  const { workdir } = locateFile(file);
  const layout = stateLayoutFor(workdir, data);
  const database = sqliteFile(named) ?? layout.database;
  if (!fs.existsSync(database)) {
    throw new BatonError(
      "STORE_NOT_FOUND",
      named !== undefined
        ? `no state database ${database} (--db ${named})`
        : layout.given !== undefined
          ? `no runs yet in ${layout.given} (no ${database})`
          : `no runs yet in ${workdir} (no ${path.relative(process.cwd(), database) || database})`,
    );
  }
  return openStore(undefined, database);
}
