/**
 * Messages between engines sharing one SQLite file (the Store's publish/subscribe): a `bus`
 * table that publishers append to through the store's write batching and subscribers poll for
 * rows with a larger seq than they have seen. Rows older than a minute are deleted now and then.
 * A subscriber records its member id in `bus_members` and renews it while it polls.
 */
import type Database from "better-sqlite3";
import { BUS_MEMBER_TTL_MS, type BusMessage } from "./store.js";

/** How often a subscription reads new messages. */
const POLL_MS = 200;
/** Messages are kept this long (a subscriber that stalls longer misses them). */
const KEEP_MS = 60_000;
const PRUNE_EVERY_MS = 10_000;

type Write = <T>(fn: () => T) => Promise<T>;

interface Subscription {
  member: string;
  handler: (message: BusMessage) => void;
  lastSeq: number;
  timer: NodeJS.Timeout | undefined;
  seenAt: number;
}

export class SqliteBus {
  private readonly subs = new Set<Subscription>();
  private lastPrune = 0;
  private readonly stmts: {
    insert: Database.Statement;
    maxSeq: Database.Statement;
    after: Database.Statement;
    seen: Database.Statement;
    leave: Database.Statement;
    members: Database.Statement;
    prune: Database.Statement;
    pruneMembers: Database.Statement;
  };

  constructor(
    private readonly db: Database.Database,
    private readonly write: Write,
  ) {
    this.stmts = {
      insert: db.prepare("INSERT INTO bus (at, message) VALUES (?, ?)"),
      maxSeq: db.prepare("SELECT COALESCE(MAX(seq), 0) AS seq FROM bus"),
      after: db.prepare("SELECT seq, message FROM bus WHERE seq > ? ORDER BY seq LIMIT 1000"),
      seen: db.prepare(
        "INSERT INTO bus_members (member, seen_at) VALUES (?, ?) ON CONFLICT (member) DO UPDATE SET seen_at = excluded.seen_at",
      ),
      leave: db.prepare("DELETE FROM bus_members WHERE member = ?"),
      members: db.prepare("SELECT member FROM bus_members WHERE seen_at > ? ORDER BY member"),
      prune: db.prepare("DELETE FROM bus WHERE at < ?"),
      pruneMembers: db.prepare("DELETE FROM bus_members WHERE seen_at < ?"),
    };
  }

  async publish(messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const at = Date.now();
    const rows = messages.map((m) => JSON.stringify(m));
    await this.write(() => {
      for (const row of rows) this.stmts.insert.run(at, row);
    });
  }

  async subscribe(member: string, handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    const now = Date.now();
    const sub: Subscription = {
      member,
      handler,
      lastSeq: (this.stmts.maxSeq.get() as { seq: number }).seq,
      timer: undefined,
      seenAt: now,
    };
    await this.write(() => this.stmts.seen.run(member, now));
    this.subs.add(sub);
    this.schedule(sub);
    return async () => {
      if (!this.stop(sub)) return;
      if (this.db.open) await this.write(() => this.stmts.leave.run(member)).catch(() => {});
    };
  }

  async members(now: number): Promise<string[]> {
    return (this.stmts.members.all(now - BUS_MEMBER_TTL_MS) as Array<{ member: string }>).map(
      (r) => r.member,
    );
  }

  /** Ends every subscription (the store is closing); their members leave with the pending writes. */
  close(): void {
    for (const sub of [...this.subs]) {
      this.stop(sub);
      void this.write(() => this.stmts.leave.run(sub.member)).catch(() => {});
    }
  }

  private stop(sub: Subscription): boolean {
    if (!this.subs.delete(sub)) return false;
    clearTimeout(sub.timer);
    return true;
  }

  private schedule(sub: Subscription): void {
    sub.timer = setTimeout(() => this.poll(sub), POLL_MS);
    sub.timer.unref();
  }

  private poll(sub: Subscription): void {
    if (!this.subs.has(sub)) return;
    if (!this.db.open) {
      this.subs.delete(sub);
      return;
    }
    try {
      const rows = this.stmts.after.all(sub.lastSeq) as Array<{ seq: number; message: string }>;
      for (const row of rows) {
        sub.lastSeq = row.seq;
        if (!this.subs.has(sub)) return;
        try {
          sub.handler(JSON.parse(row.message) as BusMessage);
        } catch {
          // A handler's failure is its own; the next messages still come.
        }
      }
      const now = Date.now();
      if (now - sub.seenAt >= BUS_MEMBER_TTL_MS / 3) {
        sub.seenAt = now;
        void this.write(() => this.stmts.seen.run(sub.member, now)).catch(() => {});
      }
      if (now - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = now;
        void this.write(() => {
          this.stmts.prune.run(now - KEEP_MS);
          this.stmts.pruneMembers.run(now - KEEP_MS);
        }).catch(() => {});
      }
    } catch {
      // Busy or closing: read again next time.
    }
    if (this.subs.has(sub)) this.schedule(sub);
  }
}
