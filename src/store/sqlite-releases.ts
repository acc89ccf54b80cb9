/**
 * Releases (`release:` nodes) in the SQLite store: tables `releases` (one row per version) and
 * `release_files` (its files, by content hash). Called by SqliteStore inside its write queue
 * (one transaction), so two engines adding a version of the same release never share a number.
 */
import type Database from "better-sqlite3";
import type { NewRelease, ReleaseSummary, ReleaseVersion } from "./store.js";

type Row = Record<string, unknown>;

/** Records the next version of `r.name`; a task that already recorded one gets its version back. */
export function insertRelease(db: Database.Database, r: NewRelease): number {
  const known = db.prepare("SELECT version FROM releases WHERE task_id = ?").get(r.taskId) as Row | undefined;
  if (known) return known.version as number;
  const last = db.prepare("SELECT MAX(version) AS v FROM releases WHERE name = ?").get(r.name) as Row;
  const version = ((last.v as number | null) ?? 0) + 1;
  db.prepare("INSERT INTO releases (name, version, run_id, task_id, created_at) VALUES (?, ?, ?, ?, ?)").run(
    r.name,
    version,
    r.runId,
    r.taskId,
    r.createdAt,
  );
  const file = db.prepare(
    "INSERT INTO release_files (name, version, path, sha256, size) VALUES (?, ?, ?, ?, ?)",
  );
  for (const f of r.files) file.run(r.name, version, f.path, f.sha256, f.size);
  return version;
}

/** Every release with its latest version, by name. */
export function selectReleases(db: Database.Database): ReleaseSummary[] {
  const rows = db
    .prepare(
      `SELECT r.name, r.version, r.run_id, r.task_id, r.created_at,
              (SELECT COUNT(*) FROM releases c WHERE c.name = r.name) AS versions
       FROM releases r
       WHERE r.version = (SELECT MAX(version) FROM releases m WHERE m.name = r.name)
       ORDER BY r.name`,
    )
    .all() as Row[];
  return rows.map((row) => ({
    name: row.name as string,
    latestVersion: row.version as number,
    versions: row.versions as number,
    createdAt: row.created_at as number,
    runId: row.run_id as string,
    taskId: row.task_id as string,
  }));
}

/** The versions of release `name`, newest first, with their files (empty: no such release). */
export function selectReleaseVersions(db: Database.Database, name: string): ReleaseVersion[] {
  const versions = db
    .prepare("SELECT version, run_id, task_id, created_at FROM releases WHERE name = ? ORDER BY version DESC")
    .all(name) as Row[];
  const files = db
    .prepare("SELECT version, path, sha256, size FROM release_files WHERE name = ? ORDER BY version, path")
    .all(name) as Row[];
  return versions.map((v) => ({
    name,
    version: v.version as number,
    createdAt: v.created_at as number,
    runId: v.run_id as string,
    taskId: v.task_id as string,
    files: files
      .filter((f) => f.version === v.version)
      .map((f) => ({ path: f.path as string, sha256: f.sha256 as string, size: f.size as number })),
  }));
}

/** Content hashes of every released file (kept by `baton cache gc`). */
export function selectReleaseBlobs(db: Database.Database): Set<string> {
  const rows = db.prepare("SELECT DISTINCT sha256 FROM release_files").all() as Row[];
  return new Set(rows.map((r) => r.sha256 as string));
}
