/**
 * A server's link to the other engines sharing its store (the Store's message bus): it relays
 * its engine's events to them while any other one listens, hands the events they relay to its
 * own `/events` streams, and carries cancel and approve to the engine that drives a run, acting
 * on the ones addressed to its own engine. docs/architecture.md, "Messages between engines".
 */
import { randomBytes } from "node:crypto";
import type { Engine, EngineEvent } from "../engine/engine.js";
import { runOwner } from "../engine/ownership.js";
import { BatonError, type ErrorCode, ensureBatonError } from "../errors.js";
import {
  type ApprovalDecision,
  type BusMessage,
  type RunRow,
  type Store,
  isTerminal,
} from "../store/store.js";
import type { DrivenRuns } from "./context.js";
import { HttpError } from "./http-errors.js";

/** What a server asks the engine driving a run to do. */
export type ControlRequest =
  | { op: "cancel-task"; taskId: string }
  | { op: "cancel-run"; runId: string }
  | { op: "decide"; taskId: string; decision: ApprovalDecision };

/** A control message: a request for engine `to`, or its answer to request `reply`. */
type ControlBody =
  | { to: string; id: string; request: ControlRequest }
  | { to: string; reply: string; ok: boolean; error?: { code: string; message: string } };

interface Answer {
  ok: boolean;
  error?: { code: string; message: string };
}

/** How long a route waits for the engine driving a run to answer before saying it did not (503). */
export const ANSWER_WAIT_MS = 5_000;
/** How long "does another engine listen?" is remembered before the store is asked again. */
const MEMBERS_CACHE_MS = 1_000;

export class BusRelay {
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly waiting = new Map<string, (answer: Answer) => void>();
  private outbox: EngineEvent[] = [];
  private flushing = false;
  private unsubscribe: (() => Promise<void>) | undefined;
  private others = { value: false, at: 0 };
  private warned = false;
  private stopped = false;
  /** Resolved once subscribed (or once subscribing failed: the server goes on without the bus). */
  readonly ready: Promise<void>;

  constructor(
    private readonly engine: Engine,
    private readonly store: Store,
    private readonly runs: DrivenRuns,
    private readonly log: (line: string) => void,
  ) {
    engine.on((event) => {
      for (const l of this.listeners) l(event);
      if (this.unsubscribe) this.queue(event);
    });
    this.ready = this.start();
  }

  /** Every engine's events: this server's engine's, and those the others relay. */
  on(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => {});
  }

  /**
   * For a run (a root run) that another live engine drives: asks that engine to act, if it takes
   * messages (it is a server). Returns its id once it did; undefined when no live engine drives
   * the run, the one that does takes no messages, or it does not have the task (the caller then
   * answers as before).
   * @throws HttpError 503 when it did not answer within {@link ANSWER_WAIT_MS}.
   * @throws BatonError the engine's own refusal (STATE_CONFLICT: the task is not waiting).
   */
  async askOwner(run: RunRow, request: ControlRequest): Promise<string | undefined> {
    const to = run.engineId;
    if (!this.unsubscribe || to === null || to === this.engine.id) return undefined;
    const owner = await runOwner(this.store, run);
    if (!owner.live || !(await this.store.busMembers(Date.now())).includes(to)) return undefined;
    const answer = await this.ask(to, request);
    if (!answer) {
      throw new HttpError(
        503,
        "ENGINE_UNRESPONSIVE",
        `${owner.label} did not answer; its runs are taken over within the lease (BATON_ENGINE_LEASE_MS), try again`,
      );
    }
    if (answer.error) throw new BatonError(answer.error.code as ErrorCode, answer.error.message);
    return answer.ok ? to : undefined;
  }

  /** Asks engine `to` again without waiting for its answer (a cancel may be lost while a process starts). */
  async tell(to: string, request: ControlRequest): Promise<void> {
    const body: ControlBody = { to, id: newId(), request };
    await this.store.publish([{ from: this.engine.id, kind: "control", body }]).catch(() => {});
  }

  private async start(): Promise<void> {
    try {
      const unsubscribe = await this.store.subscribe(this.engine.id, (m) => this.receive(m));
      if (this.stopped) await unsubscribe();
      else this.unsubscribe = unsubscribe;
    } catch (err) {
      this.log(
        `baton server: no messages from other engines sharing the store (${(err as Error).message}): events show this server's engine only`,
      );
    }
  }

  private async ask(to: string, request: ControlRequest): Promise<Answer | undefined> {
    const id = newId();
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<Answer | undefined>((resolve) => {
      this.waiting.set(id, resolve);
      timer = setTimeout(() => resolve(undefined), ANSWER_WAIT_MS);
    });
    try {
      const body: ControlBody = { to, id, request };
      await this.store.publish([{ from: this.engine.id, kind: "control", body }]);
      return await answered;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  private receive(m: BusMessage): void {
    if (m.from === this.engine.id) return;
    if (m.kind === "event") {
      for (const l of this.listeners) l(m.body as EngineEvent);
      return;
    }
    const body = m.body as ControlBody;
    if (!body || body.to !== this.engine.id) return;
    if ("reply" in body) this.waiting.get(body.reply)?.({ ok: body.ok, error: body.error });
    else if ("request" in body) void this.act(m.from, body.id, body.request);
  }

  /** Does what another server asked of this engine, and answers. */
  private async act(from: string, id: string, request: ControlRequest): Promise<void> {
    let ok = false;
    let error: { code: string; message: string } | undefined;
    try {
      if (request.op === "cancel-task") ok = await this.engine.cancelTask(request.taskId);
      else if (request.op === "decide")
        ok = await this.engine.decideApproval(request.taskId, request.decision);
      else ok = await this.cancelRun(request.runId);
    } catch (err) {
      const e = ensureBatonError(err);
      error = { code: e.code, message: e.message };
    }
    const body: ControlBody = { to: from, reply: id, ok, ...(error ? { error } : {}) };
    await this.store.publish([{ from: this.engine.id, kind: "control", body }]).catch(() => {});
  }

  /** Cancels a root run this engine drives (the asking server waits for it to end). */
  private async cancelRun(runId: string): Promise<boolean> {
    const controller = this.runs.get(runId);
    if (controller) {
      void controller.cancel().catch(() => {});
      return true;
    }
    const tops = (await this.store.listTasks({ run: runId })).filter(
      (t) => t.parentId === null && !isTerminal(t.status),
    );
    let cancelled = false;
    for (const t of tops) if (await this.engine.cancelTask(t.id)) cancelled = true;
    return cancelled;
  }

  /** Events are published in batches (one per turn of the event loop), in order. */
  private queue(event: EngineEvent): void {
    this.outbox.push(event);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const batch = this.outbox.splice(0);
    try {
      if (batch.length > 0 && (await this.othersListen())) {
        await this.store.publish(batch.map((body) => ({ from: this.engine.id, kind: "event", body })));
      }
    } catch (err) {
      if (!this.warned && !this.stopped) {
        this.warned = true;
        this.log(`baton server: cannot relay events to other engines: ${(err as Error).message}`);
      }
    }
    if (this.outbox.length > 0 && this.unsubscribe) setImmediate(() => void this.flush());
    else {
      this.outbox = [];
      this.flushing = false;
    }
  }

  /** Whether another engine is subscribed: alone, nothing is published (nothing written). */
  private async othersListen(): Promise<boolean> {
    const now = Date.now();
    if (now - this.others.at >= MEMBERS_CACHE_MS) {
      const members = await this.store.busMembers(now);
      this.others = { value: members.some((m) => m !== this.engine.id), at: Date.now() };
    }
    return this.others.value;
  }
}

function newId(): string {
  return randomBytes(8).toString("hex");
}
