/**
 * Releases (`release:` nodes) in the PostgreSQL store, the same tables as sqlite-releases.ts.
 * `insertRelease` runs inside the store's write transaction; the release's name is locked
 * first (an advisory lock), so two engines adding a version of one release never share a number.
 */
import type pg from "pg";
import type { NewRelease, ReleaseSummary, ReleaseVersion } from "./store.js";

type Db = Pick<pg.PoolClient, "query">;

/** The advisory lock class of release names (keyed by the name's hash). */
const RELEASE_LOCK_CLASS = 0x626e726c;

/** Records the next version of `r.name`; a task that already recorded one gets its version back. */
export async function insertRelease(db: Db, r: NewRelease): Promise<number> {
  await db.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [RELEASE_LOCK_CLASS, r.name]);
  const known = (await db.query("SELECT version FROM releases WHERE task_id = $1", [r.taskId])).rows[0];
  if (known) return known.version as number;
  const last = (await db.query("SELECT MAX(version) AS v FROM releases WHERE name = $1", [r.name])).rows[0];
  const version = ((last?.v as number | null) ?? 0) + 1;
  await db.query(
    "INSERT INTO releases (name, version, run_id, task_id, created_at) VALUES ($1, $2, $3, $4, $5)",
    [r.name, version, r.runId, r.taskId, r.createdAt],
  );
  for (const f of r.files) {
    await db.query(
      "INSERT INTO release_files (name, version, path, sha256, size) VALUES ($1, $2, $3, $4, $5)",
      [r.name, version, f.path, f.sha256, f.size],
    );
  }
  return version;
}

/** Every release with its latest version, by name. */
export async function selectReleases(db: Db): Promise<ReleaseSummary[]> {
  const { rows } = await db.query(
    `SELECT r.name, r.version, r.run_id, r.task_id, r.created_at,
            (SELECT COUNT(*) FROM releases c WHERE c.name = r.name) AS versions
     FROM releases r
     WHERE r.version = (SELECT MAX(version) FROM releases m WHERE m.name = r.name)
     ORDER BY r.name COLLATE "C"`,
  );
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
export async function selectReleaseVersions(db: Db, name: string): Promise<ReleaseVersion[]> {
  const versions = (
    await db.query(
      "SELECT version, run_id, task_id, created_at FROM releases WHERE name = $1 ORDER BY version DESC",
      [name],
    )
  ).rows;
  const files = (
    await db.query(
      'SELECT version, path, sha256, size FROM release_files WHERE name = $1 ORDER BY version, path COLLATE "C"',
      [name],
    )
  ).rows;
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
export async function selectReleaseBlobs(db: Db): Promise<Set<string>> {
  const { rows } = await db.query("SELECT DISTINCT sha256 FROM release_files");
  return new Set(rows.map((r) => r.sha256 as string));
}
