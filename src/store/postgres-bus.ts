/**
 * Messages between engines sharing one PostgreSQL database (the Store's publish/subscribe):
 * `pg_notify('baton_bus', …)` with several messages in one payload, split so that each stays
 * under PostgreSQL's 8000-byte limit, and one connection of its own that `LISTEN`s, connected
 * again (after a delay) when it drops. Subscribers are recorded in `bus_members`.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { BUS_MEMBER_TTL_MS, type BusMessage } from "./store.js";

const CHANNEL = "baton_bus";
/** PostgreSQL refuses payloads of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7900;
/** Characters of base64 per piece of a message too long for one payload. */
const PIECE_CHARS = 7000;
const RECONNECT_MS = 1000;

type Db = Pick<pg.PoolClient, "query">;
type Write = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
type Query = (sql: string, args?: unknown[]) => Promise<Array<Record<string, unknown>>>;

/**
 * One payload: `{"s": serial, "m": [messages]}`, or a piece of one message too long for a
 * payload, `{"s": serial, "p": [index, count], "d": base64}`. The serial makes every payload of a
 * transaction distinct (PostgreSQL delivers identical ones only once) and names the pieces.
 */
interface Payload {
  s: string;
  m?: BusMessage[];
  p?: [number, number];
  d?: string;
}

/** Splits messages into NOTIFY payloads, in order. */
export function packPayloads(messages: BusMessage[], serial: () => string): string[] {
  const out: string[] = [];
  let batch: string[] = [];
  let batchBytes = 0;
  // `{"s":"…","m":[]}` with a serial of up to 40 characters.
  const overhead = 64;
  const flush = () => {
    if (batch.length === 0) return;
    out.push(`{"s":${JSON.stringify(serial())},"m":[${batch.join(",")}]}`);
    batch = [];
    batchBytes = 0;
  };
  for (const m of messages) {
    const text = JSON.stringify(m);
    const bytes = Buffer.byteLength(text);
    if (bytes + overhead > MAX_PAYLOAD_BYTES) {
      flush();
      const data = Buffer.from(text).toString("base64");
      const count = Math.ceil(data.length / PIECE_CHARS);
      const s = serial();
      for (let i = 0; i < count; i++) {
        const piece: Payload = { s, p: [i, count], d: data.slice(i * PIECE_CHARS, (i + 1) * PIECE_CHARS) };
        out.push(JSON.stringify(piece));
      }
      continue;
    }
    if (batchBytes + bytes + 1 + overhead > MAX_PAYLOAD_BYTES) flush();
    batch.push(text);
    batchBytes += bytes + 1;
  }
  flush();
  return out;
}

interface Subscription {
  member: string;
  handler: (message: BusMessage) => void;
}

export class PostgresBus {
  private readonly subs = new Set<Subscription>();
  private client: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;
  private counter = 0;
  private readonly tag = randomBytes(6).toString("hex");
  /** Pieces of long messages, by serial, until the last one came. */
  private readonly pieces = new Map<string, string[]>();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly write: Write,
    private readonly query: Query,
  ) {}

  async publish(messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const payloads = packPayloads(messages, () => `${this.tag}:${++this.counter}`);
    // In one transaction: delivered at commit, in this order, after the writes issued before.
    await this.write(async (db) => {
      for (const p of payloads) await db.query("SELECT pg_notify($1, $2)", [CHANNEL, p]);
    });
  }

  async subscribe(member: string, handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("the store is closed");
    await this.listen();
    const sub: Subscription = { member, handler };
    this.subs.add(sub);
    await this.seen(member);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => {
        for (const m of new Set([...this.subs].map((s) => s.member))) void this.seen(m).catch(() => {});
      }, BUS_MEMBER_TTL_MS / 3);
      this.heartbeat.unref();
    }
    return async () => {
      if (!this.subs.delete(sub)) return;
      if (this.subs.size === 0) this.stopListening();
      if (!this.closed) await this.leave(member).catch(() => {});
    };
  }

  async members(now: number): Promise<string[]> {
    const rows = await this.query("SELECT member FROM bus_members WHERE seen_at > $1 ORDER BY member", [
      now - BUS_MEMBER_TTL_MS,
    ]);
    return rows.map((r) => r.member as string);
  }

  /** Ends every subscription: members leave (with the writes still to come), the listener closes. */
  close(): void {
    if (this.closed) return;
    const members = new Set([...this.subs].map((s) => s.member));
    this.subs.clear();
    for (const m of members) void this.leave(m).catch(() => {});
    this.closed = true;
    this.stopListening();
  }

  private seen(member: string): Promise<void> {
    return this.write(async (db) => {
      await db.query(
        "INSERT INTO bus_members (member, seen_at) VALUES ($1, $2) ON CONFLICT (member) DO UPDATE SET seen_at = EXCLUDED.seen_at",
        [member, Date.now()],
      );
    });
  }

  private leave(member: string): Promise<void> {
    return this.write(async (db) => {
      await db.query("DELETE FROM bus_members WHERE member = $1", [member]);
    });
  }

  /** Connects the listening connection if it is not (the first subscription, or after it dropped). */
  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const client = new pg.Client(this.config);
    this.client = client;
    client.on("notification", (n) => {
      if (n.channel === CHANNEL && n.payload !== undefined) this.receive(n.payload);
    });
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    const listening = (async () => {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    })();
    this.listening = listening;
    listening.catch(() => {
      client.end().catch(() => {});
      this.lost(client);
    });
    return listening;
  }

  /** The listening connection failed or dropped: connect again after a while, while anyone listens. */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = undefined;
    this.pieces.clear();
    if (this.closed || this.subs.size === 0 || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed && this.subs.size > 0) void this.listen().catch(() => {});
    }, RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private stopListening(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.subs.size === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
    const client = this.client;
    this.client = undefined;
    this.listening = undefined;
    client?.end().catch(() => {});
  }

  private receive(text: string): void {
    let payload: Payload;
    try {
      payload = JSON.parse(text) as Payload;
    } catch {
      return;
    }
    let messages: BusMessage[];
    if (payload.m) {
      messages = payload.m;
    } else if (payload.p && typeof payload.d === "string") {
      const [index, count] = payload.p;
      const got = this.pieces.get(payload.s) ?? [];
      got[index] = payload.d;
      if (got.filter((p) => p !== undefined).length < count) {
        this.pieces.set(payload.s, got);
        return;
      }
      this.pieces.delete(payload.s);
      try {
        messages = [JSON.parse(Buffer.from(got.join(""), "base64").toString("utf8")) as BusMessage];
      } catch {
        return;
      }
    } else {
      return;
    }
    for (const m of messages) {
      for (const sub of [...this.subs]) {
        try {
          sub.handler(m);
        } catch {
          // A handler's failure is its own; the next messages still come.
        }
      }
    }
  }
}
