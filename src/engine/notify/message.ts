/**
 * What a notification says: the webhook's JSON body, Slack's incoming-webhook payload, and the
 * e-mail's subject and text, all from one {@link NotifyFacts}.
 */
import type { NotifyEvent } from "../../spec/types.js";

export interface FailedTaskFacts {
  id: string;
  name: string;
  error: string | null;
  exitCode: number | null;
  /** The last lines of its last attempt's log. */
  logTail: string;
}

/** The facts every notification of one event tells. */
export interface NotifyFacts {
  event: NotifyEvent;
  run: {
    id: string;
    pipeline: string;
    status: string;
    startedAt: string;
    endedAt: string | null;
    durationMs: number | null;
    /** The run's page in the web UI, when a server is known. */
    url: string | null;
    error: string | null;
  };
  failedTasks: FailedTaskFacts[];
  /** The task waiting for approval (event `approval`). */
  task?: { id: string; name: string; message: string };
}

/** `1h 2m 3s`, `4.2s`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}h ` : ""}${m}m ${s % 60}s`;
}

/** One line: what happened. */
export function headline(f: NotifyFacts): string {
  if (f.event === "approval" && f.task) {
    return `Task ${f.task.name} of pipeline ${f.run.pipeline} (run ${f.run.id}) is waiting for approval${f.task.message ? `: ${f.task.message}` : ""}`;
  }
  const took = f.run.durationMs === null ? "" : ` after ${formatDuration(f.run.durationMs)}`;
  return `Pipeline ${f.run.pipeline} ${f.run.status}${took} (run ${f.run.id})`;
}

/** Plain text: the headline, the link, each failed task with its error and log tail. */
export function plainText(f: NotifyFacts): string {
  const lines = [headline(f), ""];
  if (f.run.url) lines.push(`Run: ${f.run.url}`);
  lines.push(`Status: ${f.run.status}`, `Started: ${f.run.startedAt}`);
  if (f.run.endedAt) lines.push(`Ended: ${f.run.endedAt} (${formatDuration(f.run.durationMs)})`);
  if (f.run.error) lines.push(`Error: ${f.run.error}`);
  for (const t of f.failedTasks) {
    lines.push(
      "",
      `Task ${t.name} (${t.id}) failed${t.exitCode === null ? "" : ` with exit code ${t.exitCode}`}`,
    );
    if (t.error) lines.push(`  ${t.error}`);
    if (t.logTail) lines.push("  Last lines of its log:", ...t.logTail.split("\n").map((l) => `    ${l}`));
  }
  return `${lines.join("\n")}\n`;
}

export function emailSubject(f: NotifyFacts): string {
  if (f.event === "approval" && f.task) {
    return `[baton] ${f.run.pipeline}: ${f.task.name} waits for approval (${f.run.id})`;
  }
  return `[baton] ${f.run.pipeline} ${f.run.status} (${f.run.id})`;
}

/** Slack's mrkdwn needs &, < and > escaped. */
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const ICONS: Record<string, string> = {
  success: ":white_check_mark:",
  failure: ":x:",
  cancelled: ":no_entry_sign:",
  approval: ":raised_hand:",
};

/** A Slack incoming-webhook payload: `text` (the notification's fallback) and `blocks`. */
export function slackPayload(f: NotifyFacts): { text: string; blocks: unknown[] } {
  const text = `${ICONS[f.event] ?? ""} ${headline(f)}`.trim();
  const link = f.run.url ? ` · <${f.run.url}|open the run>` : "";
  const blocks: unknown[] = [
    { type: "section", text: { type: "mrkdwn", text: `${slackEscape(text)}${link}` } },
  ];
  for (const t of f.failedTasks.slice(0, 10)) {
    const head = `*${slackEscape(t.name)}* failed${t.exitCode === null ? "" : ` (exit code ${t.exitCode})`}${t.error ? `: ${slackEscape(t.error)}` : ""}`;
    const tail = t.logTail ? `\n\`\`\`${slackEscape(t.logTail.slice(-2500))}\`\`\`` : "";
    blocks.push({ type: "section", text: { type: "mrkdwn", text: `${head}${tail}`.slice(0, 2900) } });
  }
  return { text, blocks };
}
