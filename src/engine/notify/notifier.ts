/**
 * Sends the `notify:` entries of a run: when it ends (success, failure, cancelled) and when one
 * of its tasks starts waiting for approval. The engine that drives the run sends them, so CLI
 * runs and server runs alike notify. Each delivery is recorded in the store before it is sent
 * (status pending → delivered | failed, attempts, last status code, last error); sending never
 * blocks the run nor changes its outcome. A webhook or mail that fails for a network error, a
 * timeout, HTTP 5xx/429 or an SMTP 4xx reply is tried again with exponential backoff.
 */
import { createHmac } from "node:crypto";
import { stat } from "node:fs/promises";
import os from "node:os";
import type { Workspace } from "../../executors/workspace.js";
import { evaluateValue } from "../../spec/expressions.js";
import { notifyContext } from "../../spec/notify.js";
import { checkWebhook } from "../../spec/schema.js";
import type { NotifyEvent, NotifySpec } from "../../spec/types.js";
import type { NotificationRow, RunRow, Store } from "../../store/store.js";
import { ulid } from "../../util/ulid.js";
import { type NotifyFacts, emailSubject, plainText, slackPayload } from "./message.js";

/** Attempts per delivery, and the wait before each retry (doubling from the first). */
export const NOTIFY_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 1000;
/** How long one attempt may take. */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** How much of a failed task's log the notification shows. */
const LOG_TAIL_LINES = 20;
const LOG_TAIL_BYTES = 4096;
/** Failed tasks listed in one notification. */
const MAX_FAILED_TASKS = 20;

/** What is sent, as recorded in the store (so that another engine can finish a delivery). */
type Request =
  | { kind: "webhook"; url: string; headers: Record<string, string>; body: string }
  | { kind: "email"; to: string[]; subject: string; text: string };

/** An attempt's result. `retry`: worth trying again (network, timeout, 5xx, 429, SMTP 4xx). */
interface Outcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  retry: boolean;
}

export interface NotifierOptions {
  store: Store;
  workspace: Workspace;
  engineId: string;
  /** Where templates (`${{ env.X }}`) and the SMTP configuration are read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Deliveries of one engine. */
export class Notifier {
  /** `smtp://user:pass@host:port` (BATON_SMTP_URL, `baton server --smtp`); undefined: no e-mail. */
  smtpUrl: string | undefined;
  /** The sender of e-mails (BATON_SMTP_FROM, default `baton@HOSTNAME`). */
  smtpFrom: string;
  /** The web UI's address, for links to a run (the server's URL, else BATON_URL); null: none. */
  baseUrl: string | null;
  /** Where the notifier says what it could not do (the server's log). */
  log: (line: string) => void = (line) => process.stderr.write(`baton: ${line}\n`);
  private readonly store: Store;
  private readonly workspace: Workspace;
  private readonly engineId: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly inflight = new Set<Promise<void>>();
  private readonly stop = new AbortController();
  private saidNoSmtp = false;

  constructor(options: NotifierOptions) {
    this.store = options.store;
    this.workspace = options.workspace;
    this.engineId = options.engineId;
    this.env = options.env ?? process.env;
    this.smtpUrl = this.env.BATON_SMTP_URL || undefined;
    this.smtpFrom = this.env.BATON_SMTP_FROM || `baton@${os.hostname()}`;
    this.baseUrl = this.env.BATON_URL || null;
  }

  /** Deliveries not finished yet (sent or waiting for a retry) by this engine. */
  get pending(): number {
    return this.inflight.size;
  }

  /** A run ended: sends the entries of `notify` whose `on` has its outcome. Never throws. */
  runEnded(runId: string, notify: readonly NotifySpec[]): void {
    if (notify.length === 0) return;
    this.track(async () => {
      const run = await this.store.getRun(runId);
      if (!run || run.status === "running") return;
      const event: NotifyEvent =
        run.status === "succeeded" ? "success" : run.status === "failed" ? "failure" : "cancelled";
      const entries = notify.filter((n) => n.on.includes(event));
      if (entries.length === 0) return;
      const facts = await this.facts(run, event);
      await Promise.all(entries.map((n) => this.send(run.id, event, n, facts)));
    });
  }

  /** A task of the run started waiting for approval. Never throws. */
  approvalRequested(
    runId: string,
    notify: readonly NotifySpec[],
    task: { id: string; name: string; message: string },
  ): void {
    const entries = notify.filter((n) => n.on.includes("approval"));
    if (entries.length === 0) return;
    this.track(async () => {
      const run = await this.store.getRun(runId);
      if (!run) return;
      const facts = { ...(await this.facts(run, "approval")), failedTasks: [], task };
      await Promise.all(entries.map((n) => this.send(run.id, "approval", n, facts)));
    });
  }

  /**
   * Waits until every delivery of this engine has ended, at most `ms`; returns how many are
   * still pending then (they stay pending in the store: see {@link resumePending}).
   */
  async settle(ms: number): Promise<number> {
    if (this.inflight.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      (async () => {
        while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      })(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    return this.inflight.size;
  }

  /** Stops waiting for retries: what is not delivered stays pending in the store. */
  close(): void {
    this.stop.abort();
  }

  /**
   * Finishes the pending deliveries of engines that stopped (`dead(engineId)`), e.g. when a
   * server starts: each is claimed (one engine only) and sent from its next attempt on.
   * Returns how many were taken.
   */
  async resumePending(dead: (engineId: string | null) => Promise<boolean>): Promise<number> {
    let taken = 0;
    for (const row of await this.store.listPendingNotifications()) {
      if (row.engineId === this.engineId || !(await dead(row.engineId))) continue;
      if (!(await this.store.claimNotification(row.id, row.engineId, this.engineId))) continue;
      if (row.request === null) continue;
      taken++;
      const request = JSON.parse(row.request) as Request;
      this.track(() => this.deliver(row, request));
    }
    return taken;
  }

  private track(work: () => Promise<void>): void {
    const p: Promise<void> = work()
      .catch((err) => this.log(`notification not sent: ${(err as Error).message}`))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Records one delivery of entry `n`, then sends it. */
  private async send(runId: string, event: NotifyEvent, n: NotifySpec, facts: NotifyFacts): Promise<void> {
    const now = Date.now();
    const row: NotificationRow = {
      id: `ntf_${ulid()}`,
      runId,
      event,
      kind: n.email ? "email" : "webhook",
      target: n.email ? n.email.join(", ") : (n.webhook ?? ""),
      status: "pending",
      attempts: 0,
      lastStatusCode: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
      nextAttemptAt: now,
      engineId: this.engineId,
      request: null,
    };
    let request: Request;
    try {
      request = this.request(row.id, event, n, facts);
    } catch (err) {
      // Nothing can be sent (a template that does not evaluate, no SMTP server): failed, saying why.
      await this.store.addNotification({
        ...row,
        status: "failed",
        lastError: (err as Error).message,
        nextAttemptAt: null,
      });
      return;
    }
    row.request = JSON.stringify(request);
    await this.store.addNotification(row);
    await this.deliver(row, request);
  }

  /** What to send for entry `n`. @throws Error saying why nothing can be sent. */
  private request(id: string, event: NotifyEvent, n: NotifySpec, facts: NotifyFacts): Request {
    if (n.email) {
      if (!this.smtpUrl) {
        const reason = "no SMTP server configured (set BATON_SMTP_URL or baton server --smtp)";
        if (!this.saidNoSmtp) {
          this.saidNoSmtp = true;
          this.log(`e-mail notifications are not sent: ${reason}`);
        }
        throw new Error(reason);
      }
      return { kind: "email", to: n.email, subject: emailSubject(facts), text: plainText(facts) };
    }
    const url = this.evaluate(n.webhook ?? "", "webhook");
    const problem = checkWebhook(url);
    if (problem) throw new Error(problem);
    const body = JSON.stringify(n.format === "slack" ? slackPayload(facts) : facts);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "baton-notify",
      "x-baton-event": event,
      "x-baton-delivery": id,
    };
    if (n.secret !== undefined) {
      const secret = this.evaluate(n.secret, "secret");
      if (secret === "") throw new Error("secret is empty (is its environment variable set?)");
      headers["x-baton-signature"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    }
    return { kind: "webhook", url, headers, body };
  }

  private evaluate(template: string, what: string): string {
    try {
      const value = evaluateValue(template, notifyContext(this.env));
      return value === null || value === undefined ? "" : String(value);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message}`);
    }
  }

  /** Attempts a recorded delivery until it is delivered, refused, or out of attempts. */
  private async deliver(row: NotificationRow, request: Request): Promise<void> {
    let attempts = row.attempts;
    // A delivery that succeeds after failures keeps the last failure's error.
    let lastError = row.lastError;
    for (;;) {
      attempts++;
      const out = await (request.kind === "webhook" ? this.post(request) : this.mail(request));
      if (!out.ok) lastError = out.error;
      const now = Date.now();
      const last = attempts >= NOTIFY_ATTEMPTS || !out.retry;
      const wait = FIRST_BACKOFF_MS * 2 ** (attempts - 1);
      await this.store.updateNotification(row.id, {
        status: out.ok ? "delivered" : last ? "failed" : "pending",
        attempts,
        lastStatusCode: out.statusCode,
        lastError,
        updatedAt: now,
        nextAttemptAt: out.ok || last ? null : now + wait,
      });
      if (out.ok || last) return;
      if (!(await this.sleep(wait))) return;
    }
  }

  /** Resolves true after `ms`, false at once when the notifier is closed. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stop.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onStop = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.stop.signal.removeEventListener("abort", onStop);
        resolve(true);
      }, ms);
      this.stop.signal.addEventListener("abort", onStop, { once: true });
    });
  }

  private async post(r: Extract<Request, { kind: "webhook" }>): Promise<Outcome> {
    try {
      const res = await fetch(r.url, {
        method: "POST",
        headers: r.headers,
        body: r.body,
        redirect: "manual",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const text = await res.text().catch(() => "");
      if (res.status >= 200 && res.status < 300)
        return { ok: true, statusCode: res.status, error: null, retry: false };
      const error = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
      return { ok: false, statusCode: res.status, error, retry: res.status >= 500 || res.status === 429 };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const error =
        e.name === "TimeoutError"
          ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, statusCode: null, error, retry: true };
    }
  }

  private async mail(r: Extract<Request, { kind: "email" }>): Promise<Outcome> {
    if (!this.smtpUrl) {
      return { ok: false, statusCode: null, error: "no SMTP server configured", retry: false };
    }
    const nodemailer = await import("nodemailer");
    const transport = nodemailer.createTransport({
      url: this.smtpUrl,
      connectionTimeout: ATTEMPT_TIMEOUT_MS,
      greetingTimeout: ATTEMPT_TIMEOUT_MS,
      socketTimeout: ATTEMPT_TIMEOUT_MS,
    } as Parameters<typeof nodemailer.createTransport>[0]);
    try {
      await transport.sendMail({ from: this.smtpFrom, to: r.to, subject: r.subject, text: r.text });
      return { ok: true, statusCode: 250, error: null, retry: false };
    } catch (err) {
      const e = err as Error & { responseCode?: number; code?: string };
      const code = typeof e.responseCode === "number" ? e.responseCode : null;
      // SMTP 4xx is "try again later"; 5xx is final.
      return {
        ok: false,
        statusCode: code,
        error: redact(e.message, this.smtpUrl),
        retry: code === null || (code >= 400 && code < 500),
      };
    } finally {
      transport.close();
    }
  }

  /** The facts of `run` for `event`: times, its link, its failed tasks with their log tails. */
  private async facts(run: RunRow, event: NotifyEvent): Promise<NotifyFacts> {
    const tasks = event === "failure" ? await this.store.listTasks({ run: run.id }) : [];
    const failed = tasks.filter((t) => t.status === "failed").slice(0, MAX_FAILED_TASKS);
    const failedTasks = await Promise.all(
      failed.map(async (t) => ({
        id: t.id,
        name: t.name,
        error: t.error,
        exitCode: t.exitCode,
        logTail: await this.logTail(run.id, t.id, t.name),
      })),
    );
    return {
      event,
      run: {
        id: run.id,
        pipeline: run.pipeline,
        status: run.status,
        startedAt: new Date(run.createdAt).toISOString(),
        endedAt: run.endedAt === null ? null : new Date(run.endedAt).toISOString(),
        durationMs: run.endedAt === null ? null : run.endedAt - run.createdAt,
        url: this.baseUrl ? `${this.baseUrl.replace(/\/+$/, "")}/runs/${run.id}` : null,
        error: run.error,
      },
      failedTasks,
    };
  }

  /** The last lines of the task's last attempt's log ("" when it has none). */
  private async logTail(runId: string, taskId: string, name: string): Promise<string> {
    try {
      const attempts = await this.store.listAttempts(taskId);
      const last = attempts[attempts.length - 1];
      if (!last) return "";
      const ref = { runId, taskId, name, attempt: last.number };
      const size = await stat(this.workspace.logLocation(ref)).then(
        (s) => s.size,
        () => 0,
      );
      const chunk = await this.workspace.readLog(ref, Math.max(0, size - LOG_TAIL_BYTES), LOG_TAIL_BYTES);
      const lines = chunk.data.toString("utf8").replace(/\n$/, "").split("\n");
      return lines.slice(-LOG_TAIL_LINES).join("\n");
    } catch {
      return "";
    }
  }
}

/** `text` without the SMTP URL's password. */
export function redact(text: string, smtpUrl: string | undefined): string {
  if (!smtpUrl) return text;
  try {
    const password = decodeURIComponent(new URL(smtpUrl).password);
    return password ? text.split(password).join("***") : text;
  } catch {
    return text;
  }
}

/** The SMTP URL for messages: its password replaced by `***`. */
export function safeSmtpUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(not a URL)";
  }
}
