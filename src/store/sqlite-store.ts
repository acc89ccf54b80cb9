import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Database from "better-sqlite3";
import { BatonError } from "../errors.js";
import { ID_KINDS, type IdKind, parseIdQuery } from "../util/ids.js";
import { makeStateDir, makeStateFile, tightenPath } from "../util/state-mode.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import * as agents from "./sqlite-agents.js";
import { SqliteBus } from "./sqlite-bus.js";
import {
  changeNotification,
  insertNotification,
  selectNotifications,
  selectPendingNotifications,
  takeNotification,
} from "./sqlite-notifications.js";
import {
  insertRelease,
  selectReleaseBlobs,
  selectReleaseVersions,
  selectReleases,
} from "./sqlite-releases.js";
import * as T from "./sqlite-triggers.js";
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
import { TRANSITION_SOURCES, type TransitionRefusal, stateConflict } from "./task-states.js";

type Row = Record<string, unknown>;

/**
 * Keys that cached tasks of the kept runs reused: the results that computed them stay findable
 * (a lookup finds only computed results), so that what a kept run reused is reused again.
 */
const KEPT_CACHED_KEYS =
  "SELECT k.cache_key FROM tasks k WHERE k.run_id IN (SELECT id FROM keep_runs) AND k.cached = 1 AND k.cache_key IS NOT NULL";

/** At most how long a write nothing waits for stays pending (see SqliteStore.writeSoon). */
const WRITE_SOON_MS = 100;

/**
 * The default store: one SQLite file (`.baton/baton.db`) in WAL mode, safe for several
 * `baton` processes on one machine. Statements are prepared once; each transition is one
 * short transaction, so a crash leaves either the old or the new state, never half of one.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<typeof prepare>;
  private pending: Array<{
    fn: () => unknown;
    resolve: (value: unknown) => void;
    reject: (err: unknown) => void;
  }> = [];
  private flushScheduled = false;
  /** Set while only writes nothing waits for are pending (see {@link writeSoon}). */
  private soonTimer: NodeJS.Timeout | undefined;
  private readonly completeStmts = new Map<string, Database.Statement>();
  private readonly bus: SqliteBus;

  private constructor(db: Database.Database) {
    this.db = db;
    this.stmts = prepare(db);
    this.bus = new SqliteBus(db, (fn) => this.write(fn));
  }

  /**
   * Opens (creating if needed) the database file and brings its schema up to date.
   *
   * Several `baton` processes may open a new database at the same moment. Switching it to
   * WAL and creating the schema take locks that SQLite sometimes refuses at once instead
   * of waiting (a lock upgrade that would deadlock), so a busy open is retried whole, with
   * jitter, until the busy timeout has passed.
   */
  static open(file: string): SqliteStore {
    // How long a write waits for another process's lock before giving up with a clear error.
    const timeoutMs = Number(process.env.BATON_DB_BUSY_TIMEOUT_MS) || 10_000;
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      let db: Database.Database | undefined;
      try {
        if (attempt === 1) prepareFiles(file);
        db = new Database(file, { timeout: timeoutMs, nativeBinding: nativeAddon() });
        if (db.pragma("journal_mode", { simple: true }) !== "wal") db.pragma("journal_mode = WAL");
        db.pragma("synchronous = NORMAL");
        // A run of 10,000 tasks rewrites the same index pages many times over. Checkpointing
        // (and syncing) every 40 MB of log instead of SQLite's 4 MB copies each page back once
        // per many commits instead of once per few; the log is cut back to 64 MB afterwards.
        db.pragma("wal_autocheckpoint = 10000");
        db.pragma("journal_size_limit = 67108864");
        db.pragma("foreign_keys = ON");
        // Up to 64 MB of pages kept between statements, not SQLite's 2 MB: a rerun looks up and
        // writes tens of thousands of rows all over the task indexes, and a page read again
        // from the file costs a system call each time. Taken only as pages are read.
        db.pragma("cache_size = -65536");
        migrate(db);
        return new SqliteStore(db);
      } catch (err) {
        db?.close();
        if (err instanceof BatonError) throw err;
        if (isBusy(err) && Date.now() < deadline) {
          sleepSync(Math.min(200, 5 * attempt) + Math.random() * 20);
          continue;
        }
        const reason = err instanceof Error ? err.message : String(err);
        throw new BatonError("STORE_UNAVAILABLE", `cannot open the state database ${file}: ${reason}`, {
          cause: err,
        });
      }
    }
  }

  async createRun(run: NewRun): Promise<void> {
    await this.write(() =>
      this.stmts.insertRun.run({
        ...run,
        params: JSON.stringify(run.params),
        options: JSON.stringify(run.options),
        status: "running",
        engineId: run.engineId ?? null,
      }),
    );
  }

  async finishRun(
    id: string,
    status: Exclude<RunStatus, "running">,
    endedAt: number,
    error: string | null = null,
  ): Promise<void> {
    await this.write(() => this.stmts.finishRun.run({ id, status, endedAt, error }));
  }

  async claimRun(id: string, engineId: string, from?: string | null | typeof ANY_EXPIRED): Promise<boolean> {
    const mode = from === undefined ? 0 : from !== null && typeof from === "object" ? 2 : 1;
    const fromId = typeof from === "string" ? from : null;
    return this.write(() => {
      if (this.stmts.claimRun.run({ id, engineId, mode, from: fromId, now: Date.now() }).changes !== 1)
        return false;
      // What the previous owner held for this run's tasks is not held any more.
      this.stmts.releaseRunSlots.run({ runId: id, engineId });
      return true;
    });
  }

  async registerEngine(e: EngineRow): Promise<void> {
    await this.write(() => this.stmts.registerEngine.run(e));
  }

  async renewEngineLease(id: string, leaseExpiresAt: number): Promise<boolean> {
    return this.write(() => this.stmts.renewEngine.run({ id, leaseExpiresAt }).changes === 1);
  }

  async endEngineLease(id: string, at: number): Promise<void> {
    await this.write(() => {
      this.stmts.endEngine.run({ id, at });
      this.stmts.releaseEngineSlots.run(id);
    });
  }

  async getEngine(id: string): Promise<EngineRow | undefined> {
    const row = this.stmts.getEngine.get(id) as Row | undefined;
    return row && toEngine(row);
  }

  async claimSlots(
    pool: string,
    slots: number,
    engineId: string,
    taskIds: string[],
    now: number,
  ): Promise<string[]> {
    return this.write(() => {
      let held = (this.stmts.countPoolSlots.get(pool, now) as Row).n as number;
      const granted: string[] = [];
      for (const taskId of taskIds) {
        const mine = this.stmts.slotOf.get(taskId) as Row | undefined;
        if (mine && mine.engine_id === engineId && mine.pool === pool) {
          granted.push(taskId);
          continue;
        }
        if (held >= slots) break;
        this.stmts.insertSlot.run({ taskId, pool, engineId, at: now });
        held++;
        granted.push(taskId);
      }
      return granted;
    });
  }

  async transferSlot(fromTaskId: string, toTaskId: string, now: number): Promise<boolean> {
    return this.write(
      () => this.stmts.transferSlot.run({ from: fromTaskId, to: toTaskId, at: now }).changes === 1,
    );
  }

  async releaseSlots(taskIds: string[]): Promise<void> {
    await this.write(() => {
      for (const id of taskIds) this.stmts.releaseSlot.run(id);
    });
  }

  async countSlots(now: number): Promise<Record<string, number>> {
    const rows = this.stmts.countSlots.all(now) as Row[];
    return Object.fromEntries(rows.map((r) => [r.pool as string, r.n as number]));
  }

  async addTasks(tasks: NewTask[]): Promise<void> {
    await this.write(() => this.insertTasks(tasks));
  }

  async addSubmittedTasks(run: NewRun | null, tasks: NewTask[], deps: TaskDep[]): Promise<void> {
    await this.write(() => {
      if (run) {
        this.stmts.insertRun.run({
          ...run,
          params: JSON.stringify(run.params),
          options: JSON.stringify(run.options),
          status: "running",
          engineId: run.engineId ?? null,
        });
      }
      this.insertTasks(tasks);
      for (const d of deps) this.stmts.insertDep.run(d);
    });
  }

  async findTasksByIdempotencyKey(key: string): Promise<TaskRow[]> {
    return (this.stmts.byIdempotencyKey.all(key) as Row[]).map(toTask);
  }

  async findSiblings(parentId: string | null, name: string): Promise<TaskRow[]> {
    const shardPattern = `${name.replace(/[!%_]/g, (c) => `!${c}`)}[%]`;
    const rows = (
      parentId === null
        ? this.stmts.topLevelByName.all(name, shardPattern)
        : this.stmts.childByName.all(parentId, name, shardPattern)
    ) as Row[];
    // The latest submission of that name: one task, or all the shards it started together.
    const latest = rows[0];
    if (!latest) return [];
    return rows.filter((r) => r.created_at === latest.created_at).map(toTask);
  }

  async listSiblingNames(parentId: string | null, limit: number): Promise<string[]> {
    const rows = (
      parentId === null ? this.stmts.topLevelNames.all(limit) : this.stmts.childNames.all(parentId, limit)
    ) as Row[];
    return rows.map((r) => r.name as string);
  }

  async getTaskStates(ids: string[]): Promise<TaskState[]> {
    const rows = this.selectIn(
      ids,
      (list) => `SELECT t.id, t.name, t.status, t.run_id, r.status AS run_status, r.engine_pid, r.engine_id,
             e.id AS e_id, e.host AS e_host, e.boot_id AS e_boot_id, e.pid AS e_pid,
             e.started_at AS e_started_at, e.lease_expires_at AS e_lease_expires_at
           FROM tasks t JOIN runs r ON r.id = t.run_id LEFT JOIN engines e ON e.id = r.engine_id
           WHERE t.id IN (${list})`,
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

  /**
   * The rows of `sql(list)` for all `ids`, where `list` is the placeholders of one chunk: SQLite
   * limits the number of bound parameters per statement. Each chunk's rows keep the SQL's order.
   */
  private selectIn(ids: string[], sql: (list: string) => string): Row[] {
    const out: Row[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      out.push(...(this.db.prepare(sql(chunk.map(() => "?").join(","))).all(...chunk) as Row[]));
    }
    return out;
  }

  async listTaskDeps(taskId: string): Promise<TaskDep[]> {
    return (this.stmts.depsOf.all(taskId) as Row[]).map((r) => ({
      taskId: r.task_id as string,
      needsTaskId: r.needs_task_id as string,
      condition: r.condition as TaskDep["condition"],
    }));
  }

  private insertTasks(tasks: NewTask[]): void {
    const now = Date.now();
    for (const t of tasks) {
      // By position (this runs for every task of a run).
      this.stmts.insertTask.run(...taskInsertValues(t, now));
      const labels = t.submit?.labels;
      if (labels && typeof labels === "object") {
        for (const [key, value] of Object.entries(labels)) {
          if (typeof value === "string") this.stmts.insertLabel.run({ taskId: t.id, key, value });
        }
      }
    }
  }

  async queueTask(id: string, command: string, params: Record<string, unknown>): Promise<void> {
    await this.writeTransition(() => {
      if (this.stmts.queueTask.run({ id, command, params: JSON.stringify(params) }).changes === 1) return;
      return this.refusal(id, TRANSITION_SOURCES.queue, "queued", "queue it");
    });
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
    await this.writeTransition(() => {
      const change = this.stmts.holdTask.run({
        id,
        command,
        params: JSON.stringify(params),
        approval: JSON.stringify(approval),
      });
      if (change.changes === 1) return;
      return this.refusal(id, TRANSITION_SOURCES.hold, "waiting", "hold it for approval");
    });
  }

  async decideApproval(id: string, d: ApprovalDecision): Promise<TaskRow> {
    await this.writeTransition(() => {
      const row = this.stmts.getTask.get(id) as Row | undefined;
      const before = row ? parseJson<ApprovalRecord | null>(row.approval, null) : null;
      const approval: ApprovalRecord = {
        state: d.approved ? "approved" : "rejected",
        message: before?.message ?? "",
        requestedAt: before?.requestedAt ?? d.at,
        by: d.by,
        at: d.at,
        comment: d.comment,
      };
      const error = `rejected by ${d.by}${d.comment ? `: ${d.comment}` : ""}`;
      const change = d.approved
        ? this.stmts.approveTask.run({ id, approval: JSON.stringify(approval) })
        : this.stmts.rejectTask.run({ id, approval: JSON.stringify(approval), error, endedAt: d.at });
      if (change.changes === 1) return;
      const to = d.approved ? "queued" : "failed";
      return this.refusal(id, TRANSITION_SOURCES.decide, to, d.approved ? "approve it" : "reject it");
    });
    return (await this.getTask(id))!;
  }

  async endTaskWithoutRunning(
    id: string,
    status: "skipped" | "cancelled",
    reason: string,
    at: number,
  ): Promise<void> {
    await this.writeTransition(() => {
      if (this.stmts.endTaskWithoutRunning.run({ id, status, error: reason, endedAt: at }).changes === 1)
        return;
      return this.refusal(
        id,
        TRANSITION_SOURCES.endWithoutRunning,
        status,
        `end it ${status} without running`,
      );
    });
  }

  async startAttempt(
    a: Omit<AttemptRow, "endedAt" | "exitCode" | "signal" | "reason" | "message" | "handle">,
  ): Promise<void> {
    await this.writeTransition(() => {
      // The status first: a refused start writes no attempt.
      if (
        this.stmts.taskStarted.run({ id: a.taskId, attempts: a.number, startedAt: a.startedAt }).changes !== 1
      )
        return this.refusal(a.taskId, TRANSITION_SOURCES.start, "running", `start attempt ${a.number}`);
      this.stmts.insertAttempt.run(a);
    });
  }

  async setAttemptHandle(
    taskId: string,
    number: number,
    where: { handle: string; pid: number | null; pidStart: string | null },
    options?: { soon?: boolean },
  ): Promise<void> {
    const { handle, pid, pidStart } = where;
    const fn = () => this.stmts.setAttemptHandle.run({ taskId, number, handle, pid, pidStart });
    await (options?.soon ? this.writeSoon(fn) : this.write(fn));
  }

  async setQueueReason(taskId: string, reason: string | null): Promise<void> {
    await this.write(() => this.stmts.setQueueReason.run({ taskId, reason }));
  }

  async reopenTasks(runId: string, taskIds: string[]): Promise<void> {
    await this.writeTransition(() => {
      // All of them checked before any is changed: either every task is reopened or none.
      const from: readonly string[] = TRANSITION_SOURCES.reopen;
      for (const id of taskIds) {
        const row = this.stmts.taskStatusInRun.get({ id, runId }) as Row | undefined;
        if (!row) {
          const refusal = { from: TRANSITION_SOURCES.reopen, to: "pending" as const, actual: undefined };
          return new Refused({ taskId: id, ...refusal, action: `reopen it in run ${runId}` });
        }
        if (!from.includes(row.status as string))
          return this.refusal(id, TRANSITION_SOURCES.reopen, "pending", `reopen it in run ${runId}`, row);
      }
      for (const id of taskIds) {
        this.stmts.deleteOutputs.run(id);
        this.stmts.reopenTask.run({ id, runId });
      }
      this.stmts.reopenRun.run(runId);
    });
  }

  async finishAttemptForRetry(taskId: string, number: number, end: AttemptEnd): Promise<void> {
    await this.writeTransition(() => {
      if (
        this.stmts.requeueTask.run({ id: taskId, exitCode: end.exitCode, error: end.message }).changes !== 1
      )
        return this.refusal(taskId, TRANSITION_SOURCES.retry, "queued", `end attempt ${number} for a retry`);
      this.stmts.finishAttempt.run({ taskId, number, ...end });
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
    await this.writeTransition(() => {
      if (!this.completeRow(taskId, from, c)) {
        const what = attempt ? `end attempt ${attempt.number} as ${c.status}` : `end it ${c.status}`;
        return this.refusal(taskId, from, c.status, what);
      }
      if (attempt) this.stmts.finishAttempt.run({ taskId, number: attempt.number, ...attempt.end });
    });
  }

  /**
   * Ends a task row as `c` says, if its status is one of `from`, and records its outputs; false
   * when the status was another (nothing written). Positional parameters: this runs for every
   * task, and binding by name costs a property lookup per column.
   */
  private completeRow(taskId: string, from: readonly TaskStatus[], c: TaskCompletion): boolean {
    const changed = this.completeStmt(from).run(...completionValues(c), taskId).changes;
    if (changed !== 1) return false;
    for (const o of c.outputs) this.stmts.insertOutput.run(taskId, o.path, o.sha256, o.size);
    return true;
  }

  /** `completeTask`'s UPDATE for one set of allowed predecessors (few sets: prepared once each). */
  private completeStmt(from: readonly TaskStatus[]): Database.Statement {
    const key = from.join(",");
    let stmt = this.completeStmts.get(key);
    if (!stmt) {
      stmt = this.db.prepare(`${COMPLETE_TASK_SQL} AND status IN (${sqlList(from)})`);
      this.completeStmts.set(key, stmt);
    }
    return stmt;
  }

  /**
   * A refused transition, found inside a write: what the task's status is, returned (not
   * thrown) so that the other writes of the batch commit; {@link writeTransition} throws it.
   */
  private refusal(
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    action: string,
    row: Row | undefined = this.stmts.taskStatus.get(taskId) as Row | undefined,
  ): Refused {
    return new Refused({ taskId, from, to, action, actual: row?.status as TaskStatus | undefined });
  }

  /** A write that may be a refused transition: throws STATE_CONFLICT (or STORE_NOT_FOUND) after it. */
  private async writeTransition(fn: () => Refused | undefined): Promise<void> {
    const result = await this.write(fn);
    if (result instanceof Refused) throw stateConflict(result.refusal);
  }

  async getRun(id: string): Promise<RunRow | undefined> {
    const row = this.stmts.getRun.get(id) as Row | undefined;
    return row && toRun(row);
  }

  async listRuns(filter: RunFilter = {}): Promise<RunRow[]> {
    if (filter.parentTaskId) return (this.stmts.listChildRuns.all(filter.parentTaskId) as Row[]).map(toRun);
    if (filter.parentRunId) return (this.stmts.listRunChildren.all(filter.parentRunId) as Row[]).map(toRun);
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.pipeline !== undefined) {
      where.push("pipeline = ?");
      args.push(filter.pipeline);
    }
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => "?").join(",")})`);
      args.push(...filter.status);
    }
    if (filter.before) {
      // Row-value comparison: walks the created_at indexes (which end in the rowid) from the
      // cursor on. Ties in creation time keep insertion order: ids made in one millisecond
      // do not sort like their creation.
      where.push("(created_at, rowid) < (?, (SELECT rowid FROM runs WHERE id = ?))");
      args.push(filter.before.createdAt, filter.before.id);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 50) as Row[]).map(toRun);
  }

  async listRunningRoots(): Promise<RunRow[]> {
    return (this.stmts.listRunningRoots.all() as Row[]).map(toRun);
  }

  async getTask(id: string): Promise<TaskRow | undefined> {
    const row = this.stmts.getTask.get(id) as Row | undefined;
    return row && toTask(row);
  }

  async countTasks(runId: string): Promise<Partial<Record<TaskStatus, number>>> {
    const rows = this.db
      .prepare("SELECT status, COUNT(*) AS n FROM tasks WHERE run_id = ? GROUP BY status")
      .all(runId) as Array<{ status: TaskStatus; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async listTasks(filter: TaskFilter): Promise<TaskRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.run) {
      where.push("run_id = ?");
      args.push(filter.run);
    }
    if (filter.parent) {
      where.push("parent_id = ?");
      args.push(filter.parent);
    }
    if (filter.status?.length) {
      where.push(`status IN (${filter.status.map(() => "?").join(",")})`);
      args.push(...filter.status);
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY rowid`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(toTask);
  }

  async listTaskViewRows(runId: string): Promise<TaskViewRow[]> {
    return (this.stmts.taskViewRows.all(runId) as Row[]).map(toTaskViewRow);
  }

  async queryTasks(query: TaskQuery): Promise<TaskRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (query.run !== undefined) add("t.run_id = ?", query.run);
    if (query.parent !== undefined) add("t.parent_id = ?", query.parent);
    if (query.name !== undefined) add("t.name = ?", query.name);
    if (query.status?.length) add(`t.status IN (${query.status.map(() => "?").join(",")})`, ...query.status);
    if (query.pipeline !== undefined)
      add("t.run_id IN (SELECT id FROM runs WHERE pipeline = ?)", query.pipeline);
    for (const label of query.labels ?? []) {
      if (label.value === undefined) {
        add("t.id IN (SELECT task_id FROM task_labels WHERE key = ?)", label.key);
      } else {
        add("t.id IN (SELECT task_id FROM task_labels WHERE key = ? AND value = ?)", label.key, label.value);
      }
    }
    const sql = `SELECT t.* FROM tasks t ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY t.created_at DESC, t.rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, query.limit) as Row[]).map(toTask);
  }

  async addMetricPoints(taskId: string, attempt: number, points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    await this.write(() => {
      for (const [seq, p] of points.entries()) {
        this.stmts.insertMetricPoint.run({
          taskId,
          attempt,
          seq,
          name: p.name,
          step: p.step,
          value: JSON.stringify(p.value ?? null),
          at: p.at,
        });
      }
    });
  }

  async listMetricPoints(taskId: string, attempt: number, name?: string): Promise<MetricPoint[]> {
    const rows = (
      name === undefined
        ? this.stmts.metricPoints.all(taskId, attempt)
        : this.stmts.metricPointsNamed.all(taskId, attempt, name)
    ) as Row[];
    return rows.map((r) => ({
      name: r.name as string,
      step: (r.step as number | null) ?? null,
      value: parseJson(r.value, null),
      at: r.at as number,
    }));
  }

  async listAttempts(taskId: string): Promise<AttemptRow[]> {
    return (this.stmts.listAttempts.all(taskId) as Row[]).map(toAttempt);
  }

  async listOutputs(taskIds: string[]): Promise<OutputRow[]> {
    const rows = this.selectIn(
      taskIds,
      (list) =>
        `SELECT task_id, path, sha256, size FROM outputs WHERE task_id IN (${list}) ORDER BY task_id, path`,
    );
    return rows.map((r) => ({
      taskId: r.task_id as string,
      path: r.path as string,
      sha256: r.sha256 as string,
      size: r.size as number,
    }));
  }

  async findCachedResult(cacheKey: string): Promise<CachedResult | undefined> {
    const row = this.stmts.findCached.get(cacheKey) as Row | undefined;
    if (!row) return undefined;
    const hit = toCachedResult(row);
    for (const r of this.stmts.outputsOf.all(hit.taskId) as Row[]) hit.outputs.push(toCachedOutput(r));
    return hit;
  }

  async findCachedResults(cacheKeys: string[]): Promise<Map<string, CachedResult>> {
    const found = new Map<string, CachedResult>();
    if (cacheKeys.length === 0) return found;
    // One statement for all the keys, each answered as findCached answers it, with the hit's
    // outputs: a row per output (in path order), or one without for a hit that kept none.
    for (const r of this.stmts.findCachedMany.all(JSON.stringify([...new Set(cacheKeys)])) as Row[]) {
      const key = r.lookup_key as string;
      let hit = found.get(key);
      if (!hit) {
        hit = toCachedResult(r);
        found.set(key, hit);
      }
      if (r.path !== null) hit.outputs.push(toCachedOutput(r));
    }
    return found;
  }

  async completeCachedTasks(
    hits: Array<{ taskId: string; completion: TaskCompletion & { status: "cached" } }>,
  ): Promise<Array<BatonError | null>> {
    if (hits.length === 0) return [];
    const from = TRANSITION_SOURCES.completeWithout.cached;
    const results = await this.write(() =>
      hits.map(({ taskId, completion: c }) =>
        this.completeRow(taskId, from, c) ? undefined : this.refusal(taskId, from, "cached", "end it cached"),
      ),
    );
    return results.map((r) => (r ? stateConflict(r.refusal) : null));
  }

  async findPreviousTask(task: TaskRow): Promise<TaskRow | undefined> {
    const row = this.stmts.findPrevious.get({ runId: task.runId, name: task.name }) as Row | undefined;
    return row && toTask(row);
  }

  async getFileHash(key: string): Promise<string | undefined> {
    const row = this.stmts.getFileHash.get(key) as Row | undefined;
    return row?.sha256 as string | undefined;
  }

  async setFileHash(key: string, sha256: string): Promise<void> {
    await this.write(() => this.stmts.setFileHash.run({ key, sha256, at: Date.now() }));
  }

  async listCacheEntries(limit: number): Promise<CacheEntry[]> {
    const rows = this.db
      .prepare(
        `SELECT t.cache_key, t.id, t.name, t.run_id, r.pipeline, t.ended_at,
                (SELECT COUNT(*) FROM outputs o WHERE o.task_id = t.id) AS files,
                (SELECT COALESCE(SUM(size), 0) FROM outputs o WHERE o.task_id = t.id) AS bytes
         FROM tasks t JOIN runs r ON r.id = t.run_id
         WHERE t.cache_key IS NOT NULL AND t.cached = 0 AND t.status = 'succeeded'
           AND t.rowid = (SELECT MAX(rowid) FROM tasks u
                          WHERE u.cache_key = t.cache_key AND u.cached = 0 AND u.status = 'succeeded')
         ORDER BY t.ended_at DESC LIMIT ?`,
      )
      .all(limit) as Row[];
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
    let changes = 0;
    await this.write(() => {
      if (!keepRuns) {
        changes = this.db
          .prepare("UPDATE tasks SET cache_key = NULL WHERE cache_key IS NOT NULL")
          .run().changes;
        return;
      }
      this.db.exec("CREATE TEMP TABLE IF NOT EXISTS keep_runs (id TEXT PRIMARY KEY)");
      this.db.exec("DELETE FROM keep_runs");
      const add = this.db.prepare("INSERT OR IGNORE INTO keep_runs (id) VALUES (?)");
      this.db.transaction(() => {
        for (const id of keepRuns) add.run(id);
        changes = this.db
          .prepare(
            `UPDATE tasks SET cache_key = NULL
             WHERE cache_key IS NOT NULL AND run_id NOT IN (SELECT id FROM keep_runs)
               AND NOT (cached = 0 AND cache_key IN (${KEPT_CACHED_KEYS}))`,
          )
          .run().changes;
      })();
    });
    return changes;
  }

  async blobsOfRuns(runIds: string[]): Promise<Set<string>> {
    const rows = this.selectIn(
      runIds,
      (list) =>
        `SELECT DISTINCT o.sha256 FROM outputs o JOIN tasks t ON t.id = o.task_id WHERE t.run_id IN (${list})`,
    );
    return new Set(rows.map((r) => r.sha256 as string));
  }

  async recentRunTrees(count: number): Promise<string[]> {
    const rows = this.db
      .prepare(
        `WITH RECURSIVE tree(id) AS (
           SELECT id FROM (SELECT id FROM runs WHERE parent_run_id IS NULL ORDER BY created_at DESC, rowid DESC LIMIT ?)
           UNION SELECT r.id FROM runs r JOIN tree ON r.parent_run_id = tree.id
         ) SELECT id FROM tree`,
      )
      .all(count) as Row[];
    return rows.map((r) => r.id as string);
  }

  async resolveId(text: string, only?: IdKind): Promise<{ kind: IdKind; id: string }> {
    const kinds = only ? [only] : ID_KINDS;
    const what = only ?? "run or task";
    // The id exactly as given (also any id an older version wrote).
    for (const kind of kinds) {
      if ((kind === "run" ? this.stmts.getRun : this.stmts.getTask).get(text)) return { kind, id: text };
    }
    const query = parseIdQuery(text);
    if (!query.ok) throw new BatonError("STORE_NOT_FOUND", query.message);
    const hits: Array<{ kind: IdKind; id: string; label: string }> = [];
    const counts = { run: 0, task: 0 };
    for (const kind of query.kinds.filter((k) => kinds.includes(k))) {
      // `run_<ulid>` ids and, from older databases, bare ULIDs: two ranges of the primary key.
      const ranges = [`${kind}_${query.ulid}`, query.ulid].flatMap((p) => [p, `${p}~`]);
      const where = "(id >= ? AND id < ?) OR (id >= ? AND id < ?)";
      const label = kind === "run" ? "'pipeline ' || pipeline" : "name";
      const table = kind === "run" ? "runs" : "tasks";
      const rows = this.db
        .prepare(`SELECT id, ${label} AS label FROM ${table} WHERE ${where} ORDER BY rowid LIMIT 6`)
        .all(...ranges) as Row[];
      counts[kind] =
        rows.length < 2
          ? rows.length
          : ((this.db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`).get(...ranges) as Row)
              .n as number);
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

  // Messages between engines (see sqlite-bus.ts).
  async publish(messages: BusMessage[]): Promise<void> {
    await this.bus.publish(messages);
  }

  async subscribe(member: string, handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    return this.bus.subscribe(member, handler);
  }

  async busMembers(now: number): Promise<string[]> {
    return this.bus.members(now);
  }

  async close(): Promise<void> {
    if (this.db.open) this.bus.close();
    if (this.pending.length > 0) this.flush();
    if (this.db.open) this.db.close();
  }

  /**
   * Runs a write. Writes issued in the same turn of the event loop share one transaction; every
   * caller's promise resolves only once its write is committed, so "persist, then act" still
   * holds. `fn` may run several statements: it is always applied whole or not at all.
   */
  // Notifications (see sqlite-notifications.ts).
  async addNotification(row: NotificationRow): Promise<void> {
    await this.write(() => insertNotification(this.db, row));
  }

  async updateNotification(id: string, update: NotificationUpdate): Promise<void> {
    await this.write(() => changeNotification(this.db, id, update));
  }

  async listNotifications(runId: string): Promise<NotificationRow[]> {
    return selectNotifications(this.db, runId);
  }

  async listPendingNotifications(): Promise<NotificationRow[]> {
    return selectPendingNotifications(this.db);
  }

  async claimNotification(id: string, from: string | null, engineId: string): Promise<boolean> {
    return this.write(() => takeNotification(this.db, id, from, engineId));
  }

  // Remote agents (see sqlite-agents.ts).
  async offerAgentWork(work: NewAgentWork): Promise<void> {
    return this.write(() => agents.insertAgentWork(this.db, work));
  }

  async claimAgentWork(
    agent: string,
    pools: string[],
    token: string,
    now: number,
    leaseUntil: number,
  ): Promise<AgentClaimRow | undefined> {
    return this.write(() => agents.claimWork(this.db, agent, pools, token, now, leaseUntil));
  }

  async getAgentClaim(key: string): Promise<AgentClaimRow | undefined> {
    return agents.selectClaim(this.db, key);
  }

  async listClaimedAgentWork(): Promise<AgentClaimRow[]> {
    return agents.selectClaimed(this.db);
  }

  async renewAgentClaims(
    claims: Array<{ key: string; token: string }>,
    leaseUntil: number,
  ): Promise<AgentClaimRow[]> {
    return this.write(() => agents.renewClaims(this.db, claims, leaseUntil));
  }

  async finishAgentClaim(key: string, token: string, result: string): Promise<boolean> {
    return this.write(() => agents.finishClaim(this.db, key, token, result));
  }

  async expireAgentClaim(key: string, now: number): Promise<boolean> {
    return this.write(() => agents.expireClaim(this.db, key, now));
  }

  async cancelAgentClaim(key: string): Promise<AgentClaimRow | undefined> {
    return this.write(() => agents.cancelClaim(this.db, key));
  }

  async recordAgent(agent: AgentRow): Promise<void> {
    return this.write(() => agents.upsertAgent(this.db, agent));
  }

  async listAgents(since: number): Promise<AgentRow[]> {
    return agents.selectAgents(this.db, since);
  }

  async createAgentToken(token: AgentTokenRow): Promise<void> {
    return this.write(() => agents.insertToken(this.db, token));
  }

  async listAgentTokens(): Promise<AgentTokenRow[]> {
    return agents.selectTokens(this.db);
  }

  async findAgentToken(hash: string): Promise<AgentTokenRow | undefined> {
    return agents.selectToken(this.db, hash);
  }

  async touchAgentToken(id: string, at: number): Promise<void> {
    return this.write(() => agents.touchToken(this.db, id, at));
  }

  async deleteAgentToken(id: string): Promise<boolean> {
    return this.write(() => agents.deleteToken(this.db, id));
  }

  // Releases (see sqlite-releases.ts).
  async recordRelease(release: NewRelease): Promise<number> {
    return this.write(() => insertRelease(this.db, release));
  }

  async listReleases(): Promise<ReleaseSummary[]> {
    return selectReleases(this.db);
  }

  async getReleaseVersions(name: string): Promise<ReleaseVersion[]> {
    return selectReleaseVersions(this.db, name);
  }

  async releaseBlobs(): Promise<Set<string>> {
    return selectReleaseBlobs(this.db);
  }
  // Triggers (see sqlite-triggers.ts).
  async ensureTrigger(name: string, createdAt: number): Promise<TriggerStateRow> {
    return this.write(() => T.ensureTrigger(this.db, name, createdAt));
  }

  async listTriggerStates(): Promise<TriggerStateRow[]> {
    return T.selectTriggerStates(this.db);
  }

  async putTriggerDefinition(
    name: string,
    definition: Record<string, unknown>,
    createdAt: number,
  ): Promise<void> {
    await this.write(() => T.putTriggerDefinition(this.db, name, definition, createdAt));
  }

  async deleteTrigger(name: string): Promise<boolean> {
    return this.write(() => T.deleteTrigger(this.db, name));
  }

  async setTriggerPaused(name: string, paused: boolean, at: number): Promise<void> {
    await this.write(() => T.setTriggerPaused(this.db, name, paused, at));
  }

  async claimTriggerFire(fire: TriggerFireRow): Promise<boolean> {
    return this.write(() => T.claimTriggerFire(this.db, fire));
  }

  async updateTriggerFire(
    trigger: string,
    slot: string,
    from: TriggerFireRow["outcome"],
    to: Pick<TriggerFireRow, "outcome" | "runId" | "message">,
  ): Promise<boolean> {
    return this.write(() => T.updateTriggerFire(this.db, trigger, slot, from, to));
  }

  async listTriggerFires(
    trigger: string,
    limit: number,
    outcome?: TriggerFireRow["outcome"],
  ): Promise<TriggerFireRow[]> {
    return T.selectTriggerFires(this.db, trigger, limit, outcome);
  }

  async hasTriggerFire(trigger: string, slot: string): Promise<boolean> {
    return T.hasTriggerFire(this.db, trigger, slot);
  }

  private write<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * A write nothing waits for: it goes out with the next batch, or on its own after
   * {@link WRITE_SOON_MS}. Each commit costs a write of every page it touched, so a write that can
   * wait (a started process's pid) rides along with the next one (that task's end, or the next
   * task's start) instead of taking a commit of its own.
   */
  private writeSoon<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled && this.soonTimer === undefined) {
        this.soonTimer = setTimeout(() => this.flush(), WRITE_SOON_MS);
        // What is pending when the engine closes is written by close().
        this.soonTimer.unref();
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    clearTimeout(this.soonTimer);
    this.soonTimer = undefined;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    const results: unknown[] = [];
    try {
      // IMMEDIATE: take the write lock up front, waiting for it under the busy timeout. A
      // deferred transaction that reads first and then writes can be refused at once (WAL's
      // busy-snapshot) when another process committed in between.
      this.db
        .transaction(() => {
          for (const item of batch) results.push(item.fn());
        })
        .immediate();
    } catch (err) {
      // The batch was rolled back whole. A store that cannot be written fails every write; a
      // write that failed on its own (a constraint, bad data) must not take the others with
      // it, so each is applied again in a transaction of its own.
      if (batch.length === 1 || isStoreLevel(err)) {
        for (const item of batch) item.reject(storeError(err));
        return;
      }
      for (const item of batch) {
        try {
          item.resolve(this.db.transaction(item.fn).immediate());
        } catch (itemErr) {
          item.reject(storeError(itemErr));
        }
      }
      return;
    }
    for (const [i, item] of batch.entries()) item.resolve(results[i]);
  }
}

/** Errors of the database as a whole (locked, read-only, full, broken), not of one write. */
let addon: string | null | undefined;
/**
 * better-sqlite3's compiled addon, found from its package: its own search (the `bindings`
 * package) tries a dozen places, and from inside a bundle (scripts/bundle-cli.mjs) would look
 * in the wrong one. Undefined lets it search as usual.
 */
function nativeAddon(): string | undefined {
  if (addon === undefined) {
    try {
      const dir = path.dirname(createRequire(import.meta.url).resolve("better-sqlite3/package.json"));
      const file = path.join(dir, "build", "Release", "better_sqlite3.node");
      addon = fs.existsSync(file) ? file : null;
    } catch {
      addon = null;
    }
  }
  return addon ?? undefined;
}

function isStoreLevel(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    typeof code === "string" &&
    /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|CORRUPT|NOTADB|PERM)/.test(code)
  );
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"));
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function migrate(db: Database.Database): void {
  // An up-to-date database (every open but the first) is told by one read, with no write lock.
  if (schemaIsCurrent(db)) return;
  db.transaction(() =>
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    ),
  ).immediate();
  const applied = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
  for (const [i, sql] of SQLITE_MIGRATIONS.entries()) {
    const version = i + 1;
    if (applied.get(version)) continue;
    // Checked again under the write lock: two processes opening a new database at once must
    // not both apply the same migration.
    db.transaction(() => {
      if (applied.get(version)) return;
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(
        version,
        Date.now(),
      );
    }).immediate();
  }
}

/** Whether every migration is recorded as applied (and no other version: then the full check runs). */
function schemaIsCurrent(db: Database.Database): boolean {
  try {
    const row = db.prepare("SELECT count(*) AS n, max(version) AS top FROM schema_migrations").get() as {
      n: number;
      top: number | null;
    };
    return row.n === SQLITE_MIGRATIONS.length && row.top === SQLITE_MIGRATIONS.length;
  } catch {
    // No schema_migrations table yet: a new database.
    return false;
  }
}

function prepare(db: Database.Database) {
  return {
    insertRun: db.prepare(
      `INSERT INTO runs (id, pipeline, status, params, options, workdir, spec_file, parent_run_id, parent_task_id, created_at, engine_pid, engine_id)
       VALUES (@id, @pipeline, @status, @params, @options, @workdir, @specFile, @parentRunId, @parentTaskId, @createdAt, @enginePid, @engineId)`,
    ),
    finishRun: db.prepare(
      "UPDATE runs SET status = @status, ended_at = @endedAt, error = @error WHERE id = @id",
    ),
    // mode 0: whoever drives it; 1: only from engine @from (null: none); 2: only if its engine's
    // lease has expired (or it has none).
    claimRun: db.prepare(
      `UPDATE runs SET engine_id = @engineId, engine_pid = (SELECT pid FROM engines WHERE id = @engineId),
         status = 'running', ended_at = NULL
       WHERE id = @id AND (@mode = 0 OR (@mode = 1 AND engine_id IS @from) OR (@mode = 2 AND (engine_id IS NULL
         OR NOT EXISTS (SELECT 1 FROM engines e WHERE e.id = runs.engine_id AND e.lease_expires_at > @now))))`,
    ),
    releaseRunSlots: db.prepare(
      `DELETE FROM slots WHERE engine_id IS NOT @engineId
         AND task_id IN (SELECT id FROM tasks WHERE run_id = @runId)`,
    ),
    registerEngine: db.prepare(
      `INSERT OR REPLACE INTO engines (id, host, boot_id, pid, started_at, lease_expires_at)
       VALUES (@id, @host, @bootId, @pid, @startedAt, @leaseExpiresAt)`,
    ),
    renewEngine: db.prepare("UPDATE engines SET lease_expires_at = @leaseExpiresAt WHERE id = @id"),
    endEngine: db.prepare("UPDATE engines SET lease_expires_at = MIN(lease_expires_at, @at) WHERE id = @id"),
    getEngine: db.prepare("SELECT * FROM engines WHERE id = ?"),
    releaseEngineSlots: db.prepare("DELETE FROM slots WHERE engine_id = ?"),
    countPoolSlots: db.prepare(
      "SELECT COUNT(*) AS n FROM slots s JOIN engines e ON e.id = s.engine_id WHERE s.pool = ? AND e.lease_expires_at > ?",
    ),
    countSlots: db.prepare(
      `SELECT s.pool, COUNT(*) AS n FROM slots s JOIN engines e ON e.id = s.engine_id
       WHERE e.lease_expires_at > ? GROUP BY s.pool`,
    ),
    slotOf: db.prepare("SELECT pool, engine_id FROM slots WHERE task_id = ?"),
    insertSlot: db.prepare(
      "INSERT OR REPLACE INTO slots (task_id, pool, engine_id, acquired_at) VALUES (@taskId, @pool, @engineId, @at)",
    ),
    releaseSlot: db.prepare("DELETE FROM slots WHERE task_id = ?"),
    transferSlot: db.prepare("UPDATE slots SET task_id = @to, acquired_at = @at WHERE task_id = @from"),
    taskStatus: db.prepare("SELECT status FROM tasks WHERE id = ?"),
    taskStatusInRun: db.prepare("SELECT status FROM tasks WHERE id = @id AND run_id = @runId"),
    insertTask: db.prepare(
      `INSERT INTO tasks (${TASK_INSERT_COLUMNS}) VALUES (${TASK_INSERT_COLUMNS.split(",")
        .map(() => "?")
        .join(", ")})`,
    ),
    insertLabel: db.prepare(
      "INSERT OR IGNORE INTO task_labels (task_id, key, value) VALUES (@taskId, @key, @value)",
    ),
    insertMetricPoint: db.prepare(
      `INSERT OR REPLACE INTO metric_points (task_id, attempt, seq, name, step, value, at)
       VALUES (@taskId, @attempt, @seq, @name, @step, @value, @at)`,
    ),
    metricPoints: db.prepare(
      "SELECT name, step, value, at FROM metric_points WHERE task_id = ? AND attempt = ? ORDER BY seq",
    ),
    metricPointsNamed: db.prepare(
      "SELECT name, step, value, at FROM metric_points WHERE task_id = ? AND attempt = ? AND name = ? ORDER BY seq",
    ),
    queueTask: db.prepare(
      `UPDATE tasks SET status = 'queued', command = @command, params = @params
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.queue)})`,
    ),
    holdTask: db.prepare(
      `UPDATE tasks SET status = 'waiting', command = @command, params = @params, approval = @approval
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.hold)})`,
    ),
    approveTask: db.prepare(
      `UPDATE tasks SET status = 'queued', approval = @approval
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.decide)})`,
    ),
    rejectTask: db.prepare(
      `UPDATE tasks SET status = 'failed', approval = @approval, error = @error, ended_at = @endedAt
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.decide)})`,
    ),
    endTaskWithoutRunning: db.prepare(
      `UPDATE tasks SET status = @status, error = @error, ended_at = @endedAt
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.endWithoutRunning)})`,
    ),
    insertAttempt: db.prepare(
      `INSERT INTO attempts (task_id, number, status, pid, pid_start, started_at, log_path)
       VALUES (@taskId, @number, @status, @pid, @pidStart, @startedAt, @logPath)`,
    ),
    taskStarted: db.prepare(
      `UPDATE tasks SET status = 'running', attempts = @attempts, started_at = COALESCE(started_at, @startedAt), queue_reason = NULL
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.start)})`,
    ),
    setQueueReason: db.prepare(
      "UPDATE tasks SET queue_reason = @reason WHERE id = @taskId AND status = 'running'",
    ),
    setAttemptHandle: db.prepare(
      `UPDATE attempts SET handle = @handle, pid = @pid, pid_start = @pidStart WHERE task_id = @taskId AND number = @number
         AND (handle IS NULL OR substr(handle, 1, length(@handle) + 1) <> @handle || '@')`,
    ),
    finishAttempt: db.prepare(
      `UPDATE attempts SET status = @status, ended_at = @endedAt, exit_code = @exitCode, signal = @signal,
         reason = @reason, message = @message
       WHERE task_id = @taskId AND number = @number AND ended_at IS NULL`,
    ),
    requeueTask: db.prepare(
      `UPDATE tasks SET status = 'queued', exit_code = @exitCode, error = @error
       WHERE id = @id AND status IN (${sqlList(TRANSITION_SOURCES.retry)})`,
    ),
    insertOutput: db.prepare(
      "INSERT OR REPLACE INTO outputs (task_id, path, sha256, size) VALUES (?, ?, ?, ?)",
    ),
    getRun: db.prepare("SELECT * FROM runs WHERE id = ?"),
    deleteOutputs: db.prepare("DELETE FROM outputs WHERE task_id = ?"),
    reopenTask: db.prepare(
      `UPDATE tasks SET status = 'pending', exit_code = NULL, error = NULL, ended_at = NULL, cached = 0,
         cached_from = NULL, metrics = NULL
       WHERE id = @id AND run_id = @runId AND status IN (${sqlList(TRANSITION_SOURCES.reopen)})`,
    ),
    reopenRun: db.prepare("UPDATE runs SET status = 'running', ended_at = NULL WHERE id = ?"),
    listChildRuns: db.prepare("SELECT * FROM runs WHERE parent_task_id = ? ORDER BY rowid"),
    listRunChildren: db.prepare("SELECT * FROM runs WHERE parent_run_id = ? ORDER BY rowid"),
    // The literal 'running' lets SQLite use the partial index runs_running.
    listRunningRoots: db.prepare(
      "SELECT * FROM runs WHERE status = 'running' AND parent_run_id IS NULL ORDER BY created_at, rowid",
    ),
    getTask: db.prepare("SELECT * FROM tasks WHERE id = ?"),
    outputsOf: db.prepare("SELECT path, sha256, size FROM outputs WHERE task_id = ? ORDER BY path"),
    taskViewRows: db.prepare(`SELECT ${TASK_VIEW_COLUMNS} FROM tasks WHERE run_id = ? ORDER BY rowid`),
    findCached: db.prepare(
      `SELECT ${CACHED_RESULT_COLUMNS}
       FROM tasks WHERE cache_key = ? AND cached = 0 AND status = 'succeeded' ORDER BY ended_at DESC LIMIT 1`,
    ),
    // findCached for a JSON list of keys (the same index walk for each), joined with the
    // outputs of each hit: one row per output.
    findCachedMany: db.prepare(
      `WITH hit AS (
         SELECT k.value AS lookup_key, (
           SELECT rowid FROM tasks WHERE cache_key = k.value AND cached = 0 AND status = 'succeeded'
           ORDER BY ended_at DESC LIMIT 1) AS hit_rowid
         FROM json_each(?) k)
       SELECT hit.lookup_key, ${CACHED_RESULT_COLUMNS.replace(/(\w+)/g, "t.$1")}, o.path, o.sha256, o.size
       FROM hit JOIN tasks t ON t.rowid = hit.hit_rowid LEFT JOIN outputs o ON o.task_id = t.id
       ORDER BY hit.lookup_key, o.path`,
    ),
    // Runs of the pipeline are walked from the latest earlier one back (by creation time, then
    // insertion order: the pipeline index ends in the rowid, so no sort), reading each one's
    // tasks until one matches; ids do not sort by creation and are not compared.
    findPrevious: db.prepare(
      `SELECT t.* FROM runs r CROSS JOIN tasks t ON t.run_id = r.id
       WHERE r.pipeline = (SELECT pipeline FROM runs WHERE id = @runId)
         AND (r.created_at, r.rowid) < (SELECT created_at, rowid FROM runs WHERE id = @runId)
         AND t.name = @name AND t.cache_parts IS NOT NULL
       ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1`,
    ),
    insertDep: db.prepare(
      "INSERT OR IGNORE INTO task_deps (task_id, needs_task_id, condition) VALUES (@taskId, @needsTaskId, @condition)",
    ),
    depsOf: db.prepare("SELECT * FROM task_deps WHERE task_id = ?"),
    byIdempotencyKey: db.prepare("SELECT * FROM tasks WHERE idempotency_key = ? ORDER BY rowid"),
    topLevelByName: db.prepare(
      `SELECT * FROM tasks
       WHERE parent_id IS NULL AND node IS NULL AND (name = ? OR name LIKE ? ESCAPE '!')
       ORDER BY rowid DESC LIMIT 1000`,
    ),
    childByName: db.prepare(
      "SELECT * FROM tasks WHERE parent_id = ? AND (name = ? OR name LIKE ? ESCAPE '!') ORDER BY rowid DESC LIMIT 1000",
    ),
    topLevelNames: db.prepare(
      "SELECT DISTINCT name FROM tasks WHERE parent_id IS NULL AND node IS NULL ORDER BY rowid DESC LIMIT ?",
    ),
    childNames: db.prepare("SELECT DISTINCT name FROM tasks WHERE parent_id = ? ORDER BY rowid LIMIT ?"),
    getFileHash: db.prepare("SELECT sha256 FROM file_hashes WHERE key = ?"),
    setFileHash: db.prepare(
      "INSERT INTO file_hashes (key, sha256, checked_at) VALUES (@key, @sha256, @at) ON CONFLICT (key) DO UPDATE SET sha256 = excluded.sha256, checked_at = excluded.checked_at",
    ),
    listAttempts: db.prepare("SELECT * FROM attempts WHERE task_id = ? ORDER BY number"),
  };
}

/**
 * `completeTask`'s UPDATE, to which the allowed predecessors are appended. Its parameters are
 * bound by position, in the order they appear (see `SqliteStore.completeRow`).
 */
const COMPLETE_TASK_SQL = `UPDATE tasks SET status = ?, exit_code = ?, ended_at = ?, metrics = ?,
    error = ?, cached = ?, cache_key = COALESCE(?, cache_key),
    cache_parts = COALESCE(?, cache_parts), cached_from = ?, command = COALESCE(?, command),
    params = COALESCE(?, params), output_dir = COALESCE(?, output_dir)
  WHERE id = ?`;

/** Statuses as an SQL list (`'pending','queued'`); they are constants, never user input. */
export function sqlList(statuses: readonly TaskStatus[]): string {
  return statuses.length === 0 ? "NULL" : statuses.map((s) => `'${s}'`).join(",");
}

/** A transition a write refused (see `SqliteStore.refusal`). */
class Refused {
  constructor(readonly refusal: TransitionRefusal) {}
}

export function toEngine(r: Row): EngineRow {
  return {
    id: r.id as string,
    host: r.host as string,
    bootId: r.boot_id as string,
    pid: r.pid as number,
    startedAt: r.started_at as number,
    leaseExpiresAt: r.lease_expires_at as number,
  };
}

export function parseJson<T>(text: unknown, fallback: T): T {
  return typeof text === "string" ? (JSON.parse(text) as T) : fallback;
}

export function toRun(r: Row): RunRow {
  return {
    id: r.id as string,
    pipeline: r.pipeline as string,
    status: r.status as RunStatus,
    params: parseJson(r.params, {}),
    options: parseJson(r.options, {}),
    workdir: r.workdir as string,
    specFile: (r.spec_file as string | null) ?? null,
    parentRunId: (r.parent_run_id as string | null) ?? null,
    parentTaskId: (r.parent_task_id as string | null) ?? null,
    createdAt: r.created_at as number,
    endedAt: (r.ended_at as number | null) ?? null,
    enginePid: (r.engine_pid as number | null) ?? null,
    engineId: (r.engine_id as string | null) ?? null,
    error: (r.error as string | null) ?? null,
  };
}

/** The columns {@link toCachedResult} reads. */
export const CACHED_RESULT_COLUMNS = "id, output_dir, metrics, cached_from";

/** A cache hit of a row of {@link CACHED_RESULT_COLUMNS}, its outputs still to be added. */
export function toCachedResult(r: Row): CachedResult {
  return {
    taskId: r.id as string,
    cachedFrom: (r.cached_from as string | null) ?? null,
    outputDir: r.output_dir as string,
    metrics: parseJson(r.metrics, {}),
    outputs: [],
  };
}

export function toCachedOutput(r: Row): CachedResult["outputs"][number] {
  return { path: r.path as string, sha256: r.sha256 as string, size: r.size as number };
}

/**
 * Fills `found` with the hit found for each cache key (`keyColumn` of each row names its key),
 * and returns the outputs list of each of those tasks, by task id, for the caller to fill.
 */
export function cachedResultsOf(
  rows: Row[],
  keyColumn: string,
  found: Map<string, CachedResult>,
): Map<string, CachedResult["outputs"]> {
  const outputsOf = new Map<string, CachedResult["outputs"]>();
  for (const row of rows) {
    const hit = toCachedResult(row);
    // Two keys of one task (never in practice) share its outputs list.
    hit.outputs = outputsOf.get(hit.taskId) ?? hit.outputs;
    outputsOf.set(hit.taskId, hit.outputs);
    found.set(row[keyColumn] as string, hit);
  }
  return outputsOf;
}

/**
 * What a completion writes to the task's row, by position: status, exit_code, ended_at,
 * metrics, error, cached, cache_key, cache_parts, cached_from, command, params, output_dir (the
 * order of both stores' UPDATE).
 */
export function completionValues(c: TaskCompletion): unknown[] {
  return [
    c.status,
    c.exitCode,
    c.endedAt,
    JSON.stringify(c.metrics),
    c.error,
    c.status === "cached" ? 1 : 0,
    c.cacheKey ?? null,
    c.cacheParts ? JSON.stringify(c.cacheParts) : null,
    c.status === "cached" ? (c.cachedFrom ?? null) : null,
    c.command ?? null,
    c.params ? JSON.stringify(c.params) : null,
    c.outputDir ?? null,
  ];
}

/** The columns a new task's row is inserted with, in the order of {@link taskInsertValues}. */
export const TASK_INSERT_COLUMNS =
  "id, run_id, name, node, parent_id, status, pool, priority, command, params, item, output_dir, error, created_at, ended_at, submit, idempotency_key, image";

/** The values of a new task's row, by position (both stores insert them so). */
export function taskInsertValues(t: NewTask, now: number): unknown[] {
  return [
    t.id,
    t.runId,
    t.name,
    t.node,
    t.parentId,
    t.status,
    t.pool,
    t.priority,
    t.command ?? null,
    JSON.stringify(t.params),
    t.item === undefined ? null : JSON.stringify(t.item),
    t.outputDir,
    t.error ?? null,
    now,
    t.status === "skipped" || t.status === "cancelled" ? now : null,
    t.submit ? JSON.stringify(t.submit) : null,
    t.idempotencyKey ?? null,
    t.image ?? null,
  ];
}

/** The columns {@link toTaskViewRow} reads (both stores select them for `listTaskViewRows`). */
export const TASK_VIEW_COLUMNS =
  "id, run_id, name, node, parent_id, status, queue_reason, exit_code, attempts, cached, started_at, ended_at, output_dir, metrics, image, submit, approval";

/** What a task's view shows of a row (all of a `taskViewRows` row; part of a whole task's row). */
export function toTaskViewRow(r: Row): TaskViewRow {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    name: r.name as string,
    node: (r.node as string | null) ?? null,
    parentId: (r.parent_id as string | null) ?? null,
    status: r.status as TaskStatus,
    queueReason: (r.queue_reason as string | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    attempts: r.attempts as number,
    cached: r.cached === 1,
    startedAt: (r.started_at as number | null) ?? null,
    endedAt: (r.ended_at as number | null) ?? null,
    outputDir: r.output_dir as string,
    metrics: parseJson(r.metrics, {}),
    image: (r.image as string | null) ?? null,
    submit: parseJson(r.submit, null),
    approval: parseJson(r.approval, null),
  };
}

export function toTask(r: Row): TaskRow {
  return {
    ...toTaskViewRow(r),
    pool: r.pool as string,
    priority: r.priority as number,
    command: (r.command as string | null) ?? null,
    params: parseJson(r.params, {}),
    item: parseJson(r.item, undefined),
    error: (r.error as string | null) ?? null,
    cacheKey: (r.cache_key as string | null) ?? null,
    cacheParts: parseJson(r.cache_parts, null),
    cachedFrom: (r.cached_from as string | null) ?? null,
    idempotencyKey: (r.idempotency_key as string | null) ?? null,
    createdAt: r.created_at as number,
  };
}

export function toAttempt(r: Row): AttemptRow {
  return {
    taskId: r.task_id as string,
    number: r.number as number,
    status: r.status as AttemptRow["status"],
    handle: (r.handle as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    pidStart: (r.pid_start as string | null) ?? null,
    startedAt: r.started_at as number,
    endedAt: (r.ended_at as number | null) ?? null,
    exitCode: (r.exit_code as number | null) ?? null,
    signal: (r.signal as string | null) ?? null,
    reason: (r.reason as AttemptRow["reason"]) ?? null,
    message: (r.message as string | null) ?? null,
    logPath: r.log_path as string,
  };
}

/** A locked, read-only or full database becomes a STORE_UNAVAILABLE error that says so. */
function storeError(err: unknown): unknown {
  const code = (err as { code?: string }).code ?? "";
  if (!code.startsWith("SQLITE_")) return err;
  const hint =
    code === "SQLITE_BUSY"
      ? "another process holds a lock on it for too long"
      : code === "SQLITE_READONLY"
        ? "it is read-only"
        : code === "SQLITE_FULL"
          ? "the disk is full"
          : (err as Error).message;
  return new BatonError("STORE_UNAVAILABLE", `cannot write the state database: ${hint} (${code})`, {
    cause: err,
  });
}

/**
 * The database's folder and files, private (see state-mode.ts) whatever the umask: the folder
 * is created (or an existing one tightened), the database file created before SQLite does, as
 * SQLite gives its `-wal` and `-shm` files the mode of the database; existing ones are tightened.
 */
function prepareFiles(file: string): void {
  const dir = path.dirname(file);
  makeStateDir(dir);
  tightenPath(dir, "dir");
  makeStateFile(file);
  for (const extra of [`${file}-wal`, `${file}-shm`]) tightenPath(extra, "file");
}
