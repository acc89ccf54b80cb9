import pg from "pg";
import { BatonError } from "../errors.js";
import { ID_KINDS, type IdKind, parseIdQuery } from "../util/ids.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import * as agents from "./postgres-agents.js";
import { PostgresBus } from "./postgres-bus.js";
import {
  changeNotification,
  insertNotification,
  selectNotifications,
  selectPendingNotifications,
  takeNotification,
} from "./postgres-notifications.js";
import {
  insertRelease,
  selectReleaseBlobs,
  selectReleaseVersions,
  selectReleases,
} from "./postgres-releases.js";
import * as T from "./postgres-triggers.js";
import {
  CACHED_RESULT_COLUMNS,
  TASK_INSERT_COLUMNS,
  TASK_VIEW_COLUMNS,
  cachedResultsOf,
  completionValues,
  parseJson,
  sqlList,
  taskInsertValues,
  toAttempt,
  toCachedResult,
  toEngine,
  toRun,
  toTask,
  toTaskViewRow,
} from "./sqlite-store.js";
import type {
  ANY_EXPIRED,
  AgentClaimRow,
  AgentRow,
  AgentTokenRow,
  ApprovalDecision,
  ApprovalRecord,
  AttemptEnd,
  AttemptRow,
  BusMessage,
  CacheEntry,
  CachedResult,
  EngineRow,
  MetricPoint,
  NewAgentWork,
  NewRelease,
  NewRun,
  NewTask,
  NotificationRow,
  NotificationUpdate,
  OutputRow,
  ReleaseSummary,
  ReleaseVersion,
  RunFilter,
  RunRow,
  RunStatus,
  Store,
  TaskCompletion,
  TaskDep,
  TaskFilter,
  TaskQuery,
  TaskRow,
  TaskState,
  TaskStatus,
  TaskViewRow,
  TriggerFireRow,
  TriggerStateRow,
} from "./store.js";
import { engineLeaseMs } from "./store.js";
import { TRANSITION_SOURCES, stateConflict } from "./task-states.js";

type Row = Record<string, unknown>;
type Db = Pick<pg.PoolClient, "query">;

/** Where a `postgres://` URL points, without its password (for messages). */
export interface PostgresTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
  /** `postgres://USER@HOST:PORT/DB`: the URL as messages show it, never with the password. */
  display: string;
}

/** Whether `--db` names a PostgreSQL database (`postgres://` or `postgresql://`). */
export { isPostgresUrl } from "./open-store.js";

/**
 * Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`. A URL it cannot use is a USAGE error
 * naming what is wrong, never showing the password.
 */
export function parsePostgresUrl(text: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BatonError(
      "USAGE",
      `--db ${redact(text)}: not a valid URL (expected postgres://USER@HOST:PORT/DB)`,
    );
  }
  const shown = redact(text);
  if (!/^postgres(ql)?:$/i.test(url.protocol))
    throw new BatonError("USAGE", `--db ${shown}: expected a postgres:// URL`);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "")
    throw new BatonError("USAGE", `--db ${shown}: no host (expected postgres://USER@HOST:PORT/DB)`);
  const port = url.port === "" ? 5432 : Number(url.port);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/"))
    throw new BatonError("USAGE", `--db ${shown}: no database named (expected postgres://USER@HOST:PORT/DB)`);
  const user = decodeURIComponent(url.username) || process.env.PGUSER || "postgres";
  const password = url.password === "" ? undefined : decodeURIComponent(url.password);
  return {
    host,
    port,
    database,
    user,
    password,
    display: `postgres://${user}@${url.host}/${database}`,
  };
}

/** The URL with any password replaced by `***`. */
function redact(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, "$1:***@");
}

/** BIGINT columns (epoch milliseconds, counts) come back as numbers: they stay below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as never,
};

/** The advisory lock class of migrations, and of each pool's slots (keyed by the pool's hash). */
const MIGRATION_LOCK = 0x6261746f; // "bato"
const SLOT_LOCK_CLASS = 0x626e736c;

/**
 * The PostgreSQL store (`--db postgres://USER@HOST:PORT/DB`): the same tables, transitions and
 * answers as the SQLite store, for several engines (processes, machines) sharing one database.
 * Every transition is a compare-and-set (`UPDATE … WHERE status IN (…)`) inside a transaction;
 * runs are claimed under a row lock (`FOR UPDATE`, `SKIP LOCKED` when taking over an expired
 * engine's run) and pool slots under a per-pool advisory lock, so two engines never exceed a
 * pool. Writes of one store instance are applied one after the other, in the order issued.
 */
export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  /** Connected and migrated; every method waits for it (and fails with its error). */
  private readonly ready: Promise<void>;
  /** Writes waiting for the next batch, and the batch loop while it runs (see {@link write}). */
  private readonly pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  private readonly config: pg.ClientConfig;
  private readonly bus: PostgresBus;

  private constructor(readonly target: PostgresTarget) {
    this.config = {
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: target.password,
      connectionTimeoutMillis: Number(process.env.BATON_DB_CONNECT_TIMEOUT_MS) || 10_000,
      // A process stopped in the middle of a transaction (SIGSTOP, a starved VM) would hold its
      // row locks for as long as it is stopped, and the server taking its runs over would wait on
      // them: the database ends such a transaction before the stopped engine's lease expires.
      idle_in_transaction_session_timeout: idleTransactionLimit(),
      types: TYPES,
    };
    this.pool = new pg.Pool({ ...this.config, max: 8 });
    // An idle connection the server dropped: the next query gets a new one.
    this.pool.on("error", () => {});
    this.ready = this.migrate();
    this.ready.catch(() => {});
    this.bus = new PostgresBus(
      this.config,
      (fn) => this.write(fn),
      (sql, args) => this.q(sql, args),
    );
  }

  /**
   * Opens the database `url` names; connecting and bringing the schema up to date happen in
   * the background, and the first call fails with their error (see {@link PostgresStore.connect}).
   * @throws USAGE for a URL it cannot use.
   */
  static open(url: string): PostgresStore {
    return new PostgresStore(parsePostgresUrl(url));
  }

  /** Opens the database and waits until it is connected and migrated. */
  static async connect(url: string): Promise<PostgresStore> {
    const store = PostgresStore.open(url);
    try {
      await store.ready;
    } catch (err) {
      await store.pool.end().catch(() => {});
      throw err;
    }
    return store;
  }

  /** Applies the migrations not applied yet, all under one advisory lock: servers starting at once wait for each other. */
  private async migrate(): Promise<void> {
    // A client of its own, not the pool's: one that fails to connect is closed here, whatever
    // the failure (the pool keeps the socket of a refused password open, and the process alive).
    const client = new pg.Client(this.config);
    try {
      await client.connect();
    } catch (err) {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      throw this.connectError(err);
    }
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      );
      const done = new Set(
        (await client.query("SELECT version FROM schema_migrations")).rows.map((r) => r.version as number),
      );
      for (const [i, sql] of POSTGRES_MIGRATIONS.entries()) {
        const version = i + 1;
        if (done.has(version)) continue;
        await client.query(sql);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
          version,
          Date.now(),
        ]);
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw this.connectError(err);
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** A connection or authentication failure as a STORE_CONNECT error naming host and port. */
  private connectError(err: unknown): unknown {
    if (err instanceof BatonError) return err;
    const t = this.target;
    const where = `PostgreSQL at ${t.host}:${t.port}`;
    const e = err as { code?: string; message?: string };
    const why =
      e.code === "ECONNREFUSED"
        ? "connection refused (is the server running, on that port?)"
        : e.code === "ENOTFOUND" || e.code === "EAI_AGAIN"
          ? "unknown host"
          : e.code === "28P01" || e.code === "28000"
            ? `authentication failed for user "${t.user}" (wrong password?)`
            : /password must be a string|password authentication/i.test(e.message ?? "")
              ? `it asks user "${t.user}" for a password and the URL gives none`
              : e.code === "3D000"
                ? `no database "${t.database}"`
                : e.code === "ETIMEDOUT" || /timeout/i.test(e.message ?? "")
                  ? "no answer (timed out)"
                  : undefined;
    if (why)
      return new BatonError("STORE_CONNECT", `cannot use ${where} (${t.display}): ${why}`, { cause: err });
    return new BatonError(
      "STORE_UNAVAILABLE",
      `cannot open the state database ${t.display}: ${this.scrub(e.message ?? String(err))}`,
      { cause: err },
    );
  }

  private scrub(message: string): string {
    const pw = this.target.password;
    return pw ? message.split(pw).join("***") : message;
  }

  private async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    await this.ready;
    try {
      return (await this.pool.query(sql, args)).rows;
    } catch (err) {
      throw this.storeError(err);
    }
  }

  private async one(sql: string, args: unknown[] = []): Promise<Row | undefined> {
    return (await this.q(sql, args))[0];
  }

  /** A lost database becomes STORE_UNAVAILABLE; errors of one statement are left as they are. */
  private storeError(err: unknown): unknown {
    if (err instanceof BatonError) return err;
    const code = (err as { code?: string }).code ?? "";
    if (/^(ECONN|ENOTFOUND|ETIMEDOUT|EPIPE|57P|08)/.test(code) || /terminated|connection/i.test(String(err)))
      return new BatonError(
        "STORE_UNAVAILABLE",
        `cannot use the state database ${this.target.display}: ${this.scrub((err as Error).message)}`,
        { cause: err },
      );
    return err;
  }

  /**
   * A write: `fn` in a transaction, committed before the promise resolves (persist, then act).
   * Writes run in the order issued. Those issued while another batch commits (or in one turn of
   * the event loop) are committed together in one transaction — one round trip for COMMIT and
   * one flush of the log instead of one each. If the batch fails because of one write (a refused
   * transition, a constraint), it is rolled back whole and each write is run again in a
   * transaction of its own, so only that write fails; if the database is lost, every write of
   * the batch fails with that reason.
   */
  private write<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve, reject } as PendingWrite);
      if (!this.flushing) {
        this.flushing = (async () => {
          await new Promise((r) => setImmediate(r));
          while (this.pending.length > 0) await this.commitBatch(this.pending.splice(0, MAX_BATCH));
          this.flushing = undefined;
        })();
      }
    });
  }

  private async commitBatch(batch: PendingWrite[]): Promise<void> {
    try {
      await this.ready;
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    if (batch.length > 1) {
      const results: unknown[] = [];
      const together = await this.transaction(async (db) => {
        results.length = 0;
        for (const w of batch) results.push(await w.fn(db));
      });
      if (together.ok) {
        batch.forEach((w, i) => w.resolve(results[i]));
        return;
      }
      if (isStoreUnavailable(together.error)) {
        for (const w of batch) w.reject(together.error);
        return;
      }
    }
    for (const w of batch) {
      const alone = await this.transaction(w.fn);
      if (alone.ok) w.resolve(alone.value);
      else w.reject(alone.error);
    }
  }

  /** `fn` in one transaction; run again after a deadlock or a serialization failure with another engine. */
  private async transaction<T>(
    fn: (db: Db) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        return { ok: false, error: this.storeError(err) };
      }
      // The database may end the connection between two statements (a transaction left idle
      // too long): the next statement fails with that, and the pool drops the connection.
      client.on("error", ignore);
      try {
        await client.query("BEGIN");
        const value = await fn(client);
        await client.query("COMMIT");
        return { ok: true, value };
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        const code = (err as { code?: string }).code;
        if ((code === "40001" || code === "40P01") && attempt < 10) continue;
        return { ok: false, error: this.storeError(err) };
      } finally {
        client.removeListener("error", ignore);
        client.release();
      }
    }
  }

  /**
   * A compare-and-set on a task's status: `sql` must change exactly the task's row, or
   * nothing was allowed and this throws STATE_CONFLICT (STORE_NOT_FOUND: no such task).
   */
  private async cas(
    db: Db,
    sql: string,
    args: unknown[],
    refusal: { taskId: string; from: readonly TaskStatus[]; to: TaskStatus; action: string },
  ): Promise<void> {
    if ((await db.query(sql, args)).rowCount === 1) return;
    const row = (await db.query("SELECT status FROM tasks WHERE id = $1", [refusal.taskId])).rows[0];
    throw stateConflict({ ...refusal, actual: row?.status as TaskStatus | undefined });
  }

  async createRun(run: NewRun): Promise<void> {
    await this.write((db) => insertRun(db, run));
  }

  async finishRun(
    id: string,
    status: Exclude<RunStatus, "running">,
    endedAt: number,
    error: string | null = null,
  ): Promise<void> {
    await this.write((db) =>
      db.query("UPDATE runs SET status = $2, ended_at = $3, error = $4 WHERE id = $1", [
        id,
        status,
        endedAt,
        error,
      ]),
    );
  }

  async claimRun(id: string, engineId: string, from?: string | null | typeof ANY_EXPIRED): Promise<boolean> {
    const expiredOnly = from !== undefined && from !== null && typeof from === "object";
    return this.write(async (db) => {
      // Taking over an expired engine's run: a run another engine has locked is being taken (or
      // written by its live owner), so it is skipped rather than waited for.
      const lock = expiredOnly ? "FOR UPDATE SKIP LOCKED" : "FOR UPDATE";
      const row = (await db.query(`SELECT engine_id FROM runs WHERE id = $1 ${lock}`, [id])).rows[0];
      if (!row) return false;
      const owner = (row.engine_id as string | null) ?? null;
      if (typeof from === "string" || from === null) {
        if (owner !== from) return false;
      } else if (expiredOnly && owner !== null) {
        const live = await db.query("SELECT 1 FROM engines WHERE id = $1 AND lease_expires_at > $2", [
          owner,
          Date.now(),
        ]);
        if ((live.rowCount ?? 0) > 0) return false;
      }
      await db.query(
        `UPDATE runs SET engine_id = $2, engine_pid = (SELECT pid FROM engines WHERE id = $2),
           status = 'running', ended_at = NULL WHERE id = $1`,
        [id, engineId],
      );
      // What the previous owner held for this run's tasks is not held any more.
      await db.query(
        "DELETE FROM slots WHERE engine_id <> $2 AND task_id IN (SELECT id FROM tasks WHERE run_id = $1)",
        [id, engineId],
      );
      return true;
    });
  }

  async registerEngine(e: EngineRow): Promise<void> {
    await this.write((db) =>
      db.query(
        `INSERT INTO engines (id, host, boot_id, pid, started_at, lease_expires_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET host = excluded.host, boot_id = excluded.boot_id, pid = excluded.pid,
           started_at = excluded.started_at, lease_expires_at = excluded.lease_expires_at`,
        [e.id, e.host, e.bootId, e.pid, e.startedAt, e.leaseExpiresAt],
      ),
    );
  }

  async renewEngineLease(id: string, leaseExpiresAt: number): Promise<boolean> {
    return this.write(
      async (db) =>
        (await db.query("UPDATE engines SET lease_expires_at = $2 WHERE id = $1", [id, leaseExpiresAt]))
          .rowCount === 1,
    );
  }

  async endEngineLease(id: string, at: number): Promise<void> {
    await this.write(async (db) => {
      await db.query("UPDATE engines SET lease_expires_at = LEAST(lease_expires_at, $2) WHERE id = $1", [
        id,
        at,
      ]);
      await db.query("DELETE FROM slots WHERE engine_id = $1", [id]);
    });
  }

  async getEngine(id: string): Promise<EngineRow | undefined> {
    const row = await this.one("SELECT * FROM engines WHERE id = $1", [id]);
    return row && toEngine(row);
  }

  async claimSlots(
    pool: string,
    slots: number,
    engineId: string,
    taskIds: string[],
    now: number,
  ): Promise<string[]> {
    return this.write(async (db) => {
      // One claimer of this pool at a time, across engines: the count below stays true until commit.
      await db.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [SLOT_LOCK_CLASS, pool]);
      const count = await db.query(
        "SELECT COUNT(*) AS n FROM slots s JOIN engines e ON e.id = s.engine_id WHERE s.pool = $1 AND e.lease_expires_at > $2",
        [pool, now],
      );
      let held = count.rows[0].n as number;
      const granted: string[] = [];
      for (const taskId of taskIds) {
        const mine = (await db.query("SELECT pool, engine_id FROM slots WHERE task_id = $1", [taskId]))
          .rows[0];
        if (mine && mine.engine_id === engineId && mine.pool === pool) {
          granted.push(taskId);
          continue;
        }
        if (held >= slots) break;
        await db.query(
          `INSERT INTO slots (task_id, pool, engine_id, acquired_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (task_id) DO UPDATE SET pool = excluded.pool, engine_id = excluded.engine_id,
             acquired_at = excluded.acquired_at`,
          [taskId, pool, engineId, now],
        );
        held++;
        granted.push(taskId);
      }
      return granted;
    });
  }

  async transferSlot(fromTaskId: string, toTaskId: string, now: number): Promise<boolean> {
    return this.write(
      async (db) =>
        (
          await db.query("UPDATE slots SET task_id = $2, acquired_at = $3 WHERE task_id = $1", [
            fromTaskId,
            toTaskId,
            now,
          ])
        ).rowCount === 1,
    );
  }

  async releaseSlots(taskIds: string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.write((db) => db.query("DELETE FROM slots WHERE task_id = ANY($1::text[])", [taskIds]));
  }

  async countSlots(now: number): Promise<Record<string, number>> {
    const rows = await this.q(
      `SELECT s.pool, COUNT(*) AS n FROM slots s JOIN engines e ON e.id = s.engine_id
       WHERE e.lease_expires_at > $1 GROUP BY s.pool`,
      [now],
    );
    return Object.fromEntries(rows.map((r) => [r.pool as string, r.n as number]));
  }

  async addTasks(tasks: NewTask[]): Promise<void> {
    await this.write((db) => insertTasks(db, tasks));
  }

  async addSubmittedTasks(run: NewRun | null, tasks: NewTask[], deps: TaskDep[]): Promise<void> {
    await this.write(async (db) => {
      if (run) await insertRun(db, run);
      await insertTasks(db, tasks);
      for (const d of deps) {
        await db.query(
          `INSERT INTO task_deps (task_id, needs_task_id, condition) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING`,
          [d.taskId, d.needsTaskId, d.condition],
        );
      }
    });
  }

  async findTasksByIdempotencyKey(key: string): Promise<TaskRow[]> {
    return (await this.q("SELECT * FROM tasks WHERE idempotency_key = $1 ORDER BY seq", [key])).map(toTask);
  }

  async findSiblings(parentId: string | null, name: string): Promise<TaskRow[]> {
    const shardPattern = `${name.replace(/[!%_]/g, (c) => `!${c}`)}[%]`;
    const rows =
      parentId === null
        ? await this.q(
            `SELECT * FROM tasks WHERE parent_id IS NULL AND node IS NULL AND (name = $1 OR name LIKE $2 ESCAPE '!')
             ORDER BY seq DESC LIMIT 1000`,
            [name, shardPattern],
          )
        : await this.q(
            `SELECT * FROM tasks WHERE parent_id = $1 AND (name = $2 OR name LIKE $3 ESCAPE '!')
             ORDER BY seq DESC LIMIT 1000`,
            [parentId, name, shardPattern],
          );
    // The latest submission of that name: one task, or all the shards it started together.
    const latest = rows[0];
    if (!latest) return [];
    return rows.filter((r) => r.created_at === latest.created_at).map(toTask);
  }

  async listSiblingNames(parentId: string | null, limit: number): Promise<string[]> {
    const rows =
      parentId === null
        ? await this.q(
            `SELECT name FROM tasks WHERE parent_id IS NULL AND node IS NULL
             GROUP BY name ORDER BY MAX(seq) DESC LIMIT $1`,
            [limit],
          )
        : await this.q(
            "SELECT name FROM tasks WHERE parent_id = $1 GROUP BY name ORDER BY MIN(seq) LIMIT $2",
            [parentId, limit],
          );
    return rows.map((r) => r.name as string);
  }

  async listTaskDeps(taskId: string): Promise<TaskDep[]> {
    return (await this.q("SELECT * FROM task_deps WHERE task_id = $1", [taskId])).map((r) => ({
      taskId: r.task_id as string,
      needsTaskId: r.needs_task_id as string,
      condition: r.condition as TaskDep["condition"],
    }));
  }

  async getTaskStates(ids: string[]): Promise<TaskState[]> {
    if (ids.length === 0) return [];
    const rows = await this.q(
      `SELECT t.id, t.name, t.status, t.run_id, r.status AS run_status, r.engine_pid, r.engine_id,
         e.id AS e_id, e.host AS e_host, e.boot_id AS e_boot_id, e.pid AS e_pid,
         e.started_at AS e_started_at, e.lease_expires_at AS e_lease_expires_at
       FROM tasks t JOIN runs r ON r.id = t.run_id LEFT JOIN engines e ON e.id = r.engine_id
       WHERE t.id = ANY($1::text[])`,
      [ids],
    );
    return rows.map((r) => ({
      id: r.id as string,
      name: r.name as string,
      status: r.status as TaskStatus,
      runId: r.run_id as string,
      runStatus: r.run_status as RunStatus,
      enginePid: (r.engine_pid as number | null) ?? null,
      engineId: (r.engine_id as string | null) ?? null,
      engine:
        r.e_id == null
          ? null
          : toEngine({
              id: r.e_id,
              host: r.e_host,
              boot_id: r.e_boot_id,
              pid: r.e_pid,
              started_at: r.e_started_at,
              lease_expires_at: r.e_lease_expires_at,
            }),
    }));
  }

  async queueTask(id: string, command: string, params: Record<string, unknown>): Promise<void> {
    await this.write((db) =>
      this.cas(
        db,
        `UPDATE tasks SET status = 'queued', command = $2, params = $3
         WHERE id = $1 AND status IN (${sqlList(TRANSITION_SOURCES.queue)})`,
        [id, command, JSON.stringify(params)],
        { taskId: id, from: TRANSITION_SOURCES.queue, to: "queued", action: "queue it" },
      ),
    );
  }

  async holdForApproval(
    id: string,
    command: string,
    params: Record<string, unknown>,
    message: string,
    at: number,
  ): Promise<void> {
    const approval: ApprovalRecord = {
      state: "waiting",
      message,
      requestedAt: at,
      by: null,
      at: null,
      comment: null,
    };
    await this.write((db) =>
      this.cas(
        db,
        `UPDATE tasks SET status = 'waiting', command = $2, params = $3, approval = $4
         WHERE id = $1 AND status IN (${sqlList(TRANSITION_SOURCES.hold)})`,
        [id, command, JSON.stringify(params), JSON.stringify(approval)],
        { taskId: id, from: TRANSITION_SOURCES.hold, to: "waiting", action: "hold it for approval" },
      ),
    );
  }

  async decideApproval(id: string, d: ApprovalDecision): Promise<TaskRow> {
    await this.write(async (db) => {
      const row = (await db.query("SELECT approval FROM tasks WHERE id = $1 FOR UPDATE", [id])).rows[0];
      const before = row ? parseJson<ApprovalRecord | null>(row.approval, null) : null;
      const approval: ApprovalRecord = {
        state: d.approved ? "approved" : "rejected",
        message: before?.message ?? "",
        requestedAt: before?.requestedAt ?? d.at,
        by: d.by,
        at: d.at,
        comment: d.comment,
      };
      const from = sqlList(TRANSITION_SOURCES.decide);
      const refusal = {
        taskId: id,
        from: TRANSITION_SOURCES.decide,
        to: (d.approved ? "queued" : "failed") as TaskStatus,
        action: d.approved ? "approve it" : "reject it",
      };
      if (d.approved) {
        await this.cas(
          db,
          `UPDATE tasks SET status = 'queued', approval = $2 WHERE id = $1 AND status IN (${from})`,
          [id, JSON.stringify(approval)],
          refusal,
        );
      } else {
        const error = `rejected by ${d.by}${d.comment ? `: ${d.comment}` : ""}`;
        await this.cas(
          db,
          `UPDATE tasks SET status = 'failed', approval = $2, error = $3, ended_at = $4
           WHERE id = $1 AND status IN (${from})`,
          [id, JSON.stringify(approval), error, d.at],
          refusal,
        );
      }
    });
    return (await this.getTask(id))!;
  }

  async endTaskWithoutRunning(
    id: string,
    status: "skipped" | "cancelled",
    reason: string,
    at: number,
  ): Promise<void> {
    const from = TRANSITION_SOURCES.endWithoutRunning;
    await this.write((db) =>
      this.cas(
        db,
        `UPDATE tasks SET status = $2, error = $3, ended_at = $4 WHERE id = $1 AND status IN (${sqlList(from)})`,
        [id, status, reason, at],
        { taskId: id, from, to: status, action: `end it ${status} without running` },
      ),
    );
  }

  async startAttempt(
    a: Omit<AttemptRow, "endedAt" | "exitCode" | "signal" | "reason" | "message" | "handle">,
  ): Promise<void> {
    const from = TRANSITION_SOURCES.start;
    await this.write(async (db) => {
      // The status first: a refused start writes no attempt.
      await this.cas(
        db,
        `UPDATE tasks SET status = 'running', attempts = $2, started_at = COALESCE(started_at, $3), queue_reason = NULL
         WHERE id = $1 AND status IN (${sqlList(from)})`,
        [a.taskId, a.number, a.startedAt],
        { taskId: a.taskId, from, to: "running", action: `start attempt ${a.number}` },
      );
      await db.query(
        `INSERT INTO attempts (task_id, number, status, pid, pid_start, started_at, log_path)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [a.taskId, a.number, a.status, a.pid, a.pidStart, a.startedAt, a.logPath],
      );
    });
  }

  async setAttemptHandle(
    taskId: string,
    number: number,
    where: { handle: string; pid: number | null; pidStart: string | null },
  ): Promise<void> {
    await this.write((db) =>
      db.query(
        `UPDATE attempts SET handle = $3::text, pid = $4, pid_start = $5 WHERE task_id = $1 AND number = $2
           AND (handle IS NULL OR substr(handle, 1, length($3::text) + 1) <> $3::text || '@')`,
        [taskId, number, where.handle, where.pid, where.pidStart],
      ),
    );
  }

  async setQueueReason(taskId: string, reason: string | null): Promise<void> {
    await this.write((db) =>
      db.query("UPDATE tasks SET queue_reason = $2 WHERE id = $1 AND status = 'running'", [taskId, reason]),
    );
  }

  async reopenTasks(runId: string, taskIds: string[]): Promise<void> {
    const from: readonly TaskStatus[] = TRANSITION_SOURCES.reopen;
    await this.write(async (db) => {
      // All of them checked before any is changed: either every task is reopened or none.
      for (const id of taskIds) {
        const row = (
          await db.query("SELECT status FROM tasks WHERE id = $1 AND run_id = $2 FOR UPDATE", [id, runId])
        ).rows[0];
        if (!row || !from.includes(row.status as TaskStatus)) {
          throw stateConflict({
            taskId: id,
            from,
            to: "pending",
            action: `reopen it in run ${runId}`,
            actual: row?.status as TaskStatus | undefined,
          });
        }
      }
      for (const id of taskIds) {
        await db.query("DELETE FROM outputs WHERE task_id = $1", [id]);
        await db.query(
          `UPDATE tasks SET status = 'pending', exit_code = NULL, error = NULL, ended_at = NULL, cached = 0,
             cached_from = NULL, metrics = NULL
           WHERE id = $1 AND run_id = $2 AND status IN (${sqlList(from)})`,
          [id, runId],
        );
      }
      await db.query("UPDATE runs SET status = 'running', ended_at = NULL WHERE id = $1", [runId]);
    });
  }

  async finishAttemptForRetry(taskId: string, number: number, end: AttemptEnd): Promise<void> {
    const from = TRANSITION_SOURCES.retry;
    await this.write(async (db) => {
      await this.cas(
        db,
        `UPDATE tasks SET status = 'queued', exit_code = $2, error = $3 WHERE id = $1 AND status IN (${sqlList(from)})`,
        [taskId, end.exitCode, end.message],
        { taskId, from, to: "queued", action: `end attempt ${number} for a retry` },
      );
      await finishAttempt(db, taskId, number, end);
    });
  }

  async completeTask(
    taskId: string,
    attempt: { number: number; end: AttemptEnd } | null,
    c: TaskCompletion,
  ): Promise<void> {
    const from: readonly TaskStatus[] = attempt
      ? TRANSITION_SOURCES.completeAttempt
      : TRANSITION_SOURCES.completeWithout[c.status];
    await this.write(async (db) => {
      await this.cas(
        db,
        `UPDATE tasks SET status = $2, exit_code = $3, ended_at = $4, metrics = $5, error = $6, cached = $7,
           cache_key = COALESCE($8, cache_key), cache_parts = COALESCE($9, cache_parts), cached_from = $10,
           command = COALESCE($11, command), params = COALESCE($12, params), output_dir = COALESCE($13, output_dir)
         WHERE id = $1 AND status IN (${sqlList(from)})`,
        [taskId, ...completionValues(c)],
        {
          taskId,
          from,
          to: c.status,
          action: attempt ? `end attempt ${attempt.number} as ${c.status}` : `end it ${c.status}`,
        },
      );
      if (attempt) await finishAttempt(db, taskId, attempt.number, attempt.end);
      for (const o of c.outputs) {
        await db.query(
          `INSERT INTO outputs (task_id, path, sha256, size) VALUES ($1, $2, $3, $4)
           ON CONFLICT (task_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size`,
          [taskId, o.path, o.sha256, o.size],
        );
      }
    });
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const row = await this.one("SELECT * FROM runs WHERE id = $1", [id]);
    return row && toRun(row);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRow[]> {
    if (filter.parentTaskId)
      return (
        await this.q("SELECT * FROM runs WHERE parent_task_id = $1 ORDER BY seq", [filter.parentTaskId])
      ).map(toRun);
    if (filter.parentRunId)
      return (
        await this.q("SELECT * FROM runs WHERE parent_run_id = $1 ORDER BY seq", [filter.parentRunId])
      ).map(toRun);
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (filter.pipeline !== undefined) where.push(`pipeline = ${arg(filter.pipeline)}`);
    if (filter.status?.length) where.push(`status = ANY(${arg(filter.status)}::text[])`);
    if (filter.before) {
      // Ties in creation time keep insertion order (seq): ids made in one millisecond do not
      // sort like their creation.
      where.push(
        `(created_at, seq) < (${arg(filter.before.createdAt)}, (SELECT seq FROM runs WHERE id = ${arg(filter.before.id)}))`,
      );
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, seq DESC LIMIT ${arg(filter.limit ?? 50)}`;
    return (await this.q(sql, args)).map(toRun);
  }

  async listRunningRoots(): Promise<RunRow[]> {
    // The literal 'running' lets PostgreSQL use the partial index runs_running.
    return (
      await this.q(
        "SELECT * FROM runs WHERE status = 'running' AND parent_run_id IS NULL ORDER BY created_at, seq",
      )
    ).map(toRun);
  }

  async getTask(id: string): Promise<TaskRow | undefined> {
    const row = await this.one("SELECT * FROM tasks WHERE id = $1", [id]);
    return row && toTask(row);
  }

  async countTasks(runId: string): Promise<Partial<Record<TaskStatus, number>>> {
    const rows = await this.q("SELECT status, COUNT(*) AS n FROM tasks WHERE run_id = $1 GROUP BY status", [
      runId,
    ]);
    return Object.fromEntries(rows.map((r) => [r.status as TaskStatus, r.n as number]));
  }

  async listTasks(filter: TaskFilter): Promise<TaskRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (filter.run) where.push(`run_id = ${arg(filter.run)}`);
    if (filter.parent) where.push(`parent_id = ${arg(filter.parent)}`);
    if (filter.status?.length) where.push(`status = ANY(${arg(filter.status)}::text[])`);
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq`;
    return (await this.q(sql, args)).map(toTask);
  }

  async listTaskViewRows(runId: string): Promise<TaskViewRow[]> {
    const rows = await this.q(`SELECT ${TASK_VIEW_COLUMNS} FROM tasks WHERE run_id = $1 ORDER BY seq`, [
      runId,
    ]);
    return rows.map(toTaskViewRow);
  }

  async queryTasks(query: TaskQuery): Promise<TaskRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (query.run !== undefined) where.push(`t.run_id = ${arg(query.run)}`);
    if (query.parent !== undefined) where.push(`t.parent_id = ${arg(query.parent)}`);
    if (query.name !== undefined) where.push(`t.name = ${arg(query.name)}`);
    if (query.status?.length) where.push(`t.status = ANY(${arg(query.status)}::text[])`);
    if (query.pipeline !== undefined)
      where.push(`t.run_id IN (SELECT id FROM runs WHERE pipeline = ${arg(query.pipeline)})`);
    for (const label of query.labels ?? []) {
      where.push(
        label.value === undefined
          ? `t.id IN (SELECT task_id FROM task_labels WHERE key = ${arg(label.key)})`
          : `t.id IN (SELECT task_id FROM task_labels WHERE key = ${arg(label.key)} AND value = ${arg(label.value)})`,
      );
    }
    const sql = `SELECT t.* FROM tasks t ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY t.created_at DESC, t.seq DESC LIMIT ${arg(query.limit)}`;
    return (await this.q(sql, args)).map(toTask);
  }

  async addMetricPoints(taskId: string, attempt: number, points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    await this.write(async (db) => {
      for (const [seq, p] of points.entries()) {
        await db.query(
          `INSERT INTO metric_points (task_id, attempt, seq, name, step, value, at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (task_id, attempt, seq) DO UPDATE SET name = excluded.name, step = excluded.step,
             value = excluded.value, at = excluded.at`,
          [taskId, attempt, seq, p.name, p.step, JSON.stringify(p.value ?? null), p.at],
        );
      }
    });
  }

  async listMetricPoints(taskId: string, attempt: number, name?: string): Promise<MetricPoint[]> {
    const rows =
      name === undefined
        ? await this.q(
            "SELECT name, step, value, at FROM metric_points WHERE task_id = $1 AND attempt = $2 ORDER BY seq",
            [taskId, attempt],
          )
        : await this.q(
            "SELECT name, step, value, at FROM metric_points WHERE task_id = $1 AND attempt = $2 AND name = $3 ORDER BY seq",
            [taskId, attempt, name],
          );
    return rows.map((r) => ({
      name: r.name as string,
      step: (r.step as number | null) ?? null,
      value: parseJson(r.value, null),
      at: r.at as number,
    }));
  }

  async listAttempts(taskId: string): Promise<AttemptRow[]> {
    return (await this.q("SELECT * FROM attempts WHERE task_id = $1 ORDER BY number", [taskId])).map(
      toAttempt,
    );
  }

  async listOutputs(taskIds: string[]): Promise<OutputRow[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.q(
      `SELECT task_id, path, sha256, size FROM outputs WHERE task_id = ANY($1::text[])
       ORDER BY task_id COLLATE "C", path COLLATE "C"`,
      [taskIds],
    );
    return rows.map((r) => ({
      taskId: r.task_id as string,
      path: r.path as string,
      sha256: r.sha256 as string,
      size: r.size as number,
    }));
  }

  async findCachedResult(cacheKey: string): Promise<CachedResult | undefined> {
    const row = await this.one(
      `SELECT ${CACHED_RESULT_COLUMNS} FROM tasks WHERE cache_key = $1 AND cached = 0 AND status = 'succeeded'
       ORDER BY ended_at DESC NULLS LAST, seq DESC LIMIT 1`,
      [cacheKey],
    );
    if (!row) return undefined;
    const hit = toCachedResult(row);
    for (const o of await this.listOutputs([hit.taskId])) hit.outputs.push(cachedOutput(o));
    return hit;
  }

  async findCachedResults(cacheKeys: string[]): Promise<Map<string, CachedResult>> {
    const found = new Map<string, CachedResult>();
    if (cacheKeys.length === 0) return found;
    // For each key the row findCachedResult gives for it, in one statement.
    const rows = await this.q(
      `SELECT DISTINCT ON (cache_key) cache_key, ${CACHED_RESULT_COLUMNS} FROM tasks
       WHERE cache_key = ANY($1::text[]) AND cached = 0 AND status = 'succeeded'
       ORDER BY cache_key, ended_at DESC NULLS LAST, seq DESC`,
      [[...new Set(cacheKeys)]],
    );
    const outputsOf = cachedResultsOf(rows, "cache_key", found);
    if (outputsOf.size === 0) return found;
    for (const o of await this.listOutputs([...outputsOf.keys()]))
      outputsOf.get(o.taskId)!.push(cachedOutput(o));
    return found;
  }

  async completeCachedTasks(
    hits: Array<{ taskId: string; completion: TaskCompletion & { status: "cached" } }>,
  ): Promise<Array<BatonError | null>> {
    if (hits.length === 0) return [];
    const from = TRANSITION_SOURCES.completeWithout.cached;
    return this.write(async (db) => {
      const results: Array<BatonError | null> = [];
      for (const { taskId, completion: c } of hits) {
        const updated = await db.query(
          `UPDATE tasks SET status = 'cached', exit_code = $2, ended_at = $3, metrics = $4, error = $5, cached = 1,
             cache_key = COALESCE($6, cache_key), cache_parts = COALESCE($7, cache_parts), cached_from = $8,
             command = COALESCE($9, command), params = COALESCE($10, params), output_dir = COALESCE($11, output_dir)
           WHERE id = $1 AND status IN (${sqlList(from)})`,
          [
            taskId,
            c.exitCode,
            c.endedAt,
            JSON.stringify(c.metrics),
            c.error,
            c.cacheKey ?? null,
            c.cacheParts ? JSON.stringify(c.cacheParts) : null,
            c.cachedFrom ?? null,
            c.command ?? null,
            c.params ? JSON.stringify(c.params) : null,
            c.outputDir ?? null,
          ],
        );
        if (updated.rowCount !== 1) {
          // Refused: this task stays as it is, the others of the write go on.
          const row = (await db.query("SELECT status FROM tasks WHERE id = $1", [taskId])).rows[0];
          const actual = row?.status as TaskStatus | undefined;
          results.push(stateConflict({ taskId, from, to: "cached", action: "end it cached", actual }));
          continue;
        }
        for (const o of c.outputs) {
          await db.query(
            `INSERT INTO outputs (task_id, path, sha256, size) VALUES ($1, $2, $3, $4)
             ON CONFLICT (task_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size`,
            [taskId, o.path, o.sha256, o.size],
          );
        }
        results.push(null);
      }
      return results;
    });
  }

  async findPreviousTask(task: TaskRow): Promise<TaskRow | undefined> {
    const row = await this.one(
      `SELECT t.* FROM runs r JOIN tasks t ON t.run_id = r.id
       WHERE r.pipeline = (SELECT pipeline FROM runs WHERE id = $1)
         AND (r.created_at, r.seq) < (SELECT created_at, seq FROM runs WHERE id = $1)
         AND t.name = $2 AND t.cache_parts IS NOT NULL
       ORDER BY r.created_at DESC, r.seq DESC LIMIT 1`,
      [task.runId, task.name],
    );
    return row && toTask(row);
  }

  async getFileHash(key: string): Promise<string | undefined> {
    const row = await this.one("SELECT sha256 FROM file_hashes WHERE key = $1", [key]);
    return row?.sha256 as string | undefined;
  }

  async setFileHash(key: string, sha256: string): Promise<void> {
    await this.write((db) =>
      db.query(
        `INSERT INTO file_hashes (key, sha256, checked_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, checked_at = excluded.checked_at`,
        [key, sha256, Date.now()],
      ),
    );
  }

  async listCacheEntries(limit: number): Promise<CacheEntry[]> {
    const rows = await this.q(
      `SELECT t.cache_key, t.id, t.name, t.run_id, r.pipeline, t.ended_at,
              (SELECT COUNT(*) FROM outputs o WHERE o.task_id = t.id) AS files,
              (SELECT COALESCE(SUM(size), 0) FROM outputs o WHERE o.task_id = t.id)::bigint AS bytes
       FROM tasks t JOIN runs r ON r.id = t.run_id
       WHERE t.cache_key IS NOT NULL AND t.cached = 0 AND t.status = 'succeeded'
         AND t.seq = (SELECT MAX(seq) FROM tasks u
                      WHERE u.cache_key = t.cache_key AND u.cached = 0 AND u.status = 'succeeded')
       ORDER BY t.ended_at DESC NULLS LAST LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      cacheKey: r.cache_key as string,
      taskId: r.id as string,
      name: r.name as string,
      runId: r.run_id as string,
      pipeline: r.pipeline as string,
      endedAt: (r.ended_at as number | null) ?? null,
      files: r.files as number,
      bytes: r.bytes as number,
    }));
  }

  async forgetCachedResults(keepRuns?: string[]): Promise<number> {
    return this.write(async (db) => {
      const result = keepRuns
        ? await db.query(
            // What cached tasks of the kept runs reused stays findable (lookups find computed results only).
            `UPDATE tasks SET cache_key = NULL
             WHERE cache_key IS NOT NULL AND NOT (run_id = ANY($1::text[]))
               AND NOT (cached = 0 AND cache_key IN (
                 SELECT k.cache_key FROM tasks k WHERE k.run_id = ANY($1::text[]) AND k.cached = 1 AND k.cache_key IS NOT NULL))`,
            [keepRuns],
          )
        : await db.query("UPDATE tasks SET cache_key = NULL WHERE cache_key IS NOT NULL");
      return result.rowCount ?? 0;
    });
  }

  async blobsOfRuns(runIds: string[]): Promise<Set<string>> {
    if (runIds.length === 0) return new Set();
    const rows = await this.q(
      "SELECT DISTINCT o.sha256 FROM outputs o JOIN tasks t ON t.id = o.task_id WHERE t.run_id = ANY($1::text[])",
      [runIds],
    );
    return new Set(rows.map((r) => r.sha256 as string));
  }

  async recentRunTrees(count: number): Promise<string[]> {
    const rows = await this.q(
      `WITH RECURSIVE tree(id) AS (
         SELECT id FROM (SELECT id FROM runs WHERE parent_run_id IS NULL ORDER BY created_at DESC, seq DESC LIMIT $1) roots
         UNION SELECT r.id FROM runs r JOIN tree ON r.parent_run_id = tree.id
       ) SELECT id FROM tree`,
      [count],
    );
    return rows.map((r) => r.id as string);
  }

  async resolveId(text: string, only?: IdKind): Promise<{ kind: IdKind; id: string }> {
    const kinds = only ? [only] : ID_KINDS;
    const what = only ?? "run or task";
    // The id exactly as given (also any id an older version wrote).
    for (const kind of kinds) {
      const table = kind === "run" ? "runs" : "tasks";
      if (await this.one(`SELECT 1 FROM ${table} WHERE id = $1`, [text])) return { kind, id: text };
    }
    const query = parseIdQuery(text);
    if (!query.ok) throw new BatonError("STORE_NOT_FOUND", query.message);
    const hits: Array<{ kind: IdKind; id: string; label: string }> = [];
    const counts = { run: 0, task: 0 };
    for (const kind of query.kinds.filter((k) => kinds.includes(k))) {
      // `run_<ulid>` ids and, from older databases, bare ULIDs.
      const prefixes = [`${kind}_${query.ulid}`, query.ulid];
      const where = "(starts_with(id, $1) OR starts_with(id, $2))";
      const label = kind === "run" ? "'pipeline ' || pipeline" : "name";
      const table = kind === "run" ? "runs" : "tasks";
      const rows = await this.q(
        `SELECT id, ${label} AS label FROM ${table} WHERE ${where} ORDER BY seq LIMIT 6`,
        prefixes,
      );
      counts[kind] =
        rows.length < 2
          ? rows.length
          : ((await this.one(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`, prefixes))!.n as number);
      for (const r of rows) hits.push({ kind, id: r.id as string, label: r.label as string });
    }
    if (hits.length === 1) return { kind: hits[0]!.kind, id: hits[0]!.id };
    if (hits.length === 0) {
      const other =
        only && query.kinds.length === 1 && query.kinds[0] !== only
          ? ` (${text} would be a ${query.kinds[0]})`
          : "";
      throw new BatonError("STORE_NOT_FOUND", `no ${what} with id "${text}"${other}`);
    }
    const total = counts.run + counts.task;
    const parts = (["run", "task"] as const)
      .filter((k) => counts[k] > 0)
      .map((k) => `${counts[k]} ${k}${counts[k] === 1 ? "" : "s"}`);
    const shown = hits.slice(0, 5).map((h) => `${h.id} (${h.label})`);
    if (total > shown.length) shown.push(`and ${total - shown.length} more`);
    throw new BatonError(
      "STORE_AMBIGUOUS",
      `"${text}" matches ${parts.join(" and ")}: ${shown.join(", ")}; give more characters`,
    );
  }

  // Notifications (see postgres-notifications.ts).
  async addNotification(row: NotificationRow): Promise<void> {
    await this.write((db) => insertNotification(db, row));
  }

  async updateNotification(id: string, update: NotificationUpdate): Promise<void> {
    await this.write((db) => changeNotification(db, id, update));
  }

  async listNotifications(runId: string): Promise<NotificationRow[]> {
    await this.ready;
    return selectNotifications(this.pool, runId);
  }

  async listPendingNotifications(): Promise<NotificationRow[]> {
    await this.ready;
    return selectPendingNotifications(this.pool);
  }

  async claimNotification(id: string, from: string | null, engineId: string): Promise<boolean> {
    return this.write((db) => takeNotification(db, id, from, engineId));
  }

  // Remote agents (see postgres-agents.ts).
  async offerAgentWork(work: NewAgentWork): Promise<void> {
    return this.write((db) => agents.insertAgentWork(db, work));
  }

  async claimAgentWork(
    agent: string,
    pools: string[],
    token: string,
    now: number,
    leaseUntil: number,
  ): Promise<AgentClaimRow | undefined> {
    return this.write((db) => agents.claimWork(db, agent, pools, token, now, leaseUntil));
  }

  async getAgentClaim(key: string): Promise<AgentClaimRow | undefined> {
    await this.ready;
    return agents.selectClaim(this.pool, key);
  }

  async listClaimedAgentWork(): Promise<AgentClaimRow[]> {
    await this.ready;
    return agents.selectClaimed(this.pool);
  }

  async renewAgentClaims(
    claims: Array<{ key: string; token: string }>,
    leaseUntil: number,
  ): Promise<AgentClaimRow[]> {
    return this.write((db) => agents.renewClaims(db, claims, leaseUntil));
  }

  async finishAgentClaim(key: string, token: string, result: string): Promise<boolean> {
    return this.write((db) => agents.finishClaim(db, key, token, result));
  }

  async expireAgentClaim(key: string, now: number): Promise<boolean> {
    return this.write((db) => agents.expireClaim(db, key, now));
  }

  async cancelAgentClaim(key: string): Promise<AgentClaimRow | undefined> {
    return this.write((db) => agents.cancelClaim(db, key));
  }

  async recordAgent(agent: AgentRow): Promise<void> {
    return this.write((db) => agents.upsertAgent(db, agent));
  }

  async listAgents(since: number): Promise<AgentRow[]> {
    await this.ready;
    return agents.selectAgents(this.pool, since);
  }

  async createAgentToken(token: AgentTokenRow): Promise<void> {
    return this.write((db) => agents.insertToken(db, token));
  }

  async listAgentTokens(): Promise<AgentTokenRow[]> {
    await this.ready;
    return agents.selectTokens(this.pool);
  }

  async findAgentToken(hash: string): Promise<AgentTokenRow | undefined> {
    await this.ready;
    return agents.selectToken(this.pool, hash);
  }

  async touchAgentToken(id: string, at: number): Promise<void> {
    return this.write((db) => agents.touchToken(db, id, at));
  }

  async deleteAgentToken(id: string): Promise<boolean> {
    return this.write((db) => agents.deleteToken(db, id));
  }

  // Releases (see postgres-releases.ts).
  async recordRelease(release: NewRelease): Promise<number> {
    return this.write((db) => insertRelease(db, release));
  }

  async listReleases(): Promise<ReleaseSummary[]> {
    await this.ready;
    return selectReleases(this.pool);
  }

  async getReleaseVersions(name: string): Promise<ReleaseVersion[]> {
    await this.ready;
    return selectReleaseVersions(this.pool, name);
  }

  async releaseBlobs(): Promise<Set<string>> {
    await this.ready;
    return selectReleaseBlobs(this.pool);
  }
  // Triggers (see postgres-triggers.ts).
  async ensureTrigger(name: string, createdAt: number): Promise<TriggerStateRow> {
    return this.write((db) => T.ensureTrigger(db, name, createdAt));
  }

  async listTriggerStates(): Promise<TriggerStateRow[]> {
    await this.ready;
    return T.selectTriggerStates(this.pool);
  }

  async putTriggerDefinition(
    name: string,
    definition: Record<string, unknown>,
    createdAt: number,
  ): Promise<void> {
    await this.write((db) => T.putTriggerDefinition(db, name, definition, createdAt));
  }

  async deleteTrigger(name: string): Promise<boolean> {
    return this.write((db) => T.deleteTrigger(db, name));
  }

  async setTriggerPaused(name: string, paused: boolean, at: number): Promise<void> {
    await this.write((db) => T.setTriggerPaused(db, name, paused, at));
  }

  async claimTriggerFire(fire: TriggerFireRow): Promise<boolean> {
    return this.write((db) => T.claimTriggerFire(db, fire));
  }

  async updateTriggerFire(
    trigger: string,
    slot: string,
    from: TriggerFireRow["outcome"],
    to: Pick<TriggerFireRow, "outcome" | "runId" | "message">,
  ): Promise<boolean> {
    return this.write((db) => T.updateTriggerFire(db, trigger, slot, from, to));
  }

  async listTriggerFires(
    trigger: string,
    limit: number,
    outcome?: TriggerFireRow["outcome"],
  ): Promise<TriggerFireRow[]> {
    await this.ready;
    return T.selectTriggerFires(this.pool, trigger, limit, outcome);
  }

  async hasTriggerFire(trigger: string, slot: string): Promise<boolean> {
    await this.ready;
    return T.hasTriggerFire(this.pool, trigger, slot);
  }

  // Messages between engines (see postgres-bus.ts).
  async publish(messages: BusMessage[]): Promise<void> {
    await this.bus.publish(messages);
  }

  async subscribe(member: string, handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    await this.ready;
    return this.bus.subscribe(member, handler);
  }

  async busMembers(now: number): Promise<string[]> {
    return this.bus.members(now);
  }

  /** Waits for the writes issued so far, then closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.bus.close();
    this.closed = true;
    await this.flushing;
    await this.pool.end();
  }
}

async function insertRun(db: Db, run: NewRun): Promise<void> {
  await db.query(
    `INSERT INTO runs (id, pipeline, status, params, options, workdir, spec_file, parent_run_id, parent_task_id,
       created_at, engine_pid, engine_id)
     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      run.id,
      run.pipeline,
      JSON.stringify(run.params),
      JSON.stringify(run.options),
      run.workdir,
      run.specFile,
      run.parentRunId,
      run.parentTaskId,
      run.createdAt,
      run.enginePid,
      run.engineId ?? null,
    ],
  );
}

async function insertTasks(db: Db, tasks: NewTask[]): Promise<void> {
  const now = Date.now();
  const placeholders = TASK_INSERT_COLUMNS.split(",").map((_, n) => `$${n + 1}`);
  for (const t of tasks) {
    await db.query(
      `INSERT INTO tasks (${TASK_INSERT_COLUMNS}) VALUES (${placeholders.join(", ")})`,
      taskInsertValues(t, now),
    );
    const labels = t.submit?.labels;
    if (labels && typeof labels === "object") {
      for (const [key, value] of Object.entries(labels)) {
        if (typeof value !== "string") continue;
        await db.query(
          "INSERT INTO task_labels (task_id, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          [t.id, key, value],
        );
      }
    }
  }
}

async function finishAttempt(db: Db, taskId: string, number: number, end: AttemptEnd): Promise<void> {
  await db.query(
    `UPDATE attempts SET status = $3, ended_at = $4, exit_code = $5, signal = $6, reason = $7, message = $8
     WHERE task_id = $1 AND number = $2 AND ended_at IS NULL`,
    [taskId, number, end.status, end.endedAt, end.exitCode, end.signal, end.reason, end.message],
  );
}

/** A write waiting for its batch (see PostgresStore.write). */
interface PendingWrite {
  fn: (db: Db) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** The most writes committed in one transaction. */
const MAX_BATCH = 500;

/** How long a transaction may sit idle before the database ends it: half an engine's lease, at least 1 s. */
function idleTransactionLimit(): number {
  return Math.max(1000, Math.floor(engineLeaseMs() / 2));
}

function ignore(): void {}

function isStoreUnavailable(err: unknown): boolean {
  return err instanceof BatonError && err.code === "STORE_UNAVAILABLE";
}

/** An output row as a cache hit lists it (its task is the hit's). */
function cachedOutput({ path, sha256, size }: OutputRow): CachedResult["outputs"][number] {
  return { path, sha256, size };
}
