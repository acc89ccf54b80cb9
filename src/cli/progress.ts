import type { EngineEvent } from "../engine/engine.js";
import type { TaskStatus } from "../store/store.js";
import { formatMs } from "../util/format-ms.js";
import { safeLine, safeText } from "./terminal.js";

/**
 * Live progress on stderr. On a terminal: a compact view redrawn in place (counts by status,
 * running tasks, elapsed time), with failures printed above it as they happen. Otherwise (a
 * file, CI, `BATON_PROGRESS=plain`): one line per state change. `BATON_PROGRESS=quiet`: nothing.
 */
export class ProgressReporter {
  private readonly mode: "tty" | "plain" | "quiet";
  private readonly started = Date.now();
  private readonly statuses = new Map<string, { name: string; status: TaskStatus }>();
  private readonly counts = new Map<TaskStatus, number>();
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  private dirty = false;
  /** Plain lines not written yet: they go out together once per turn of the event loop. */
  private pending = "";

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    const env = process.env.BATON_PROGRESS;
    this.mode = env === "quiet" ? "quiet" : env === "plain" || !out.isTTY ? "plain" : "tty";
    if (this.mode === "tty") {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
  }

  handle(event: EngineEvent): void {
    if (this.mode === "quiet") return;
    switch (event.type) {
      case "run-started":
        // Planned tasks count as pending until their first event.
        this.counts.set("pending", (this.counts.get("pending") ?? 0) + event.taskCount);
        this.line(
          `run ${event.runId} ${event.pipeline}${event.parentTaskId ? " (child run)" : ""}: ${event.taskCount} tasks planned`,
        );
        return;
      case "tasks-added":
        this.counts.set("pending", (this.counts.get("pending") ?? 0) + event.count);
        return;
      case "run-ended":
        this.line(
          `run ${event.runId} ${event.status} in ${formatMs(Date.now() - this.started)}${event.error ? `: ${safeLine(event.error)}` : ""}`,
        );
        return;
      case "task": {
        const previous = this.statuses.get(event.taskId);
        const was = previous?.status ?? "pending";
        this.counts.set(was, Math.max(0, (this.counts.get(was) ?? 1) - 1));
        this.statuses.set(event.taskId, { name: event.name, status: event.status });
        this.counts.set(event.status, (this.counts.get(event.status) ?? 0) + 1);
        const detail = event.queueReason
          ? `: ${safeLine(event.queueReason)}`
          : event.status === "running"
            ? ` (attempt ${event.attempt ?? 1})`
            : event.error
              ? `: ${event.error}`
              : event.exitCode !== undefined && event.exitCode !== null && event.status === "failed"
                ? ` (exit ${event.exitCode})`
                : "";
        // Gates: a task waiting for approval says how to approve it.
        const approve =
          event.status === "waiting"
            ? ` (approve: baton approve ${event.taskId}; reject: baton reject ${event.taskId})`
            : "";
        if (this.mode === "plain") {
          this.plain(`${safeLine(event.name)} ${event.status}${detail}${approve}`);
        } else if (event.status === "waiting") {
          this.line(`⏸ ${safeLine(event.name)} ${event.status}${detail}${approve}`);
        } else if (event.status === "failed") {
          this.line(`✗ ${safeLine(event.name)} failed${detail}`);
        } else {
          this.dirty = true;
        }
        return;
      }
    }
  }

  /** Stops redrawing and leaves the final counts on screen. */
  stop(): void {
    this.flush();
    if (this.timer) clearInterval(this.timer);
    if (this.mode === "tty") {
      this.dirty = true;
      this.draw();
    }
  }

  private line(text: string): void {
    if (this.mode === "quiet") return;
    if (this.mode === "tty") {
      this.clear();
      this.out.write(`${safeText(text)}\n`);
      this.dirty = true;
      this.draw();
    } else {
      this.plain(text);
    }
  }

  /** A run of 10,000 tasks makes 30,000 lines: one write per turn instead of one per line. */
  private plain(text: string): void {
    if (this.pending === "") {
      setImmediate(() => this.flush());
      process.once("exit", this.flush);
    }
    this.pending += `${clock()} ${safeText(text)}\n`;
  }

  private readonly flush = (): void => {
    if (this.pending === "") return;
    process.off("exit", this.flush);
    this.out.write(this.pending);
    this.pending = "";
  };

  private clear(): void {
    if (this.drawnLines > 0) {
      this.out.write(`\x1b[${this.drawnLines}F\x1b[J`);
      this.drawnLines = 0;
    }
  }

  private draw(): void {
    if (!this.dirty && this.drawnLines > 0) return;
    this.dirty = false;
    const order: TaskStatus[] = [
      "running",
      "queued",
      "pending",
      "succeeded",
      "cached",
      "failed",
      "skipped",
      "cancelled",
    ];
    const counts = order
      .map((s) => [s, this.counts.get(s) ?? 0] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(" · ");
    const running = [...this.statuses.values()].filter((t) => t.status === "running").map((t) => t.name);
    const width = Math.max(40, (this.out.columns ?? 80) - 1);
    const lines = [`${counts || "starting"}  ${formatMs(Date.now() - this.started)}`.slice(0, width)];
    for (const name of running.slice(0, 5)) lines.push(`  ▸ ${safeLine(name)}`.slice(0, width));
    if (running.length > 5) lines.push(`  … and ${running.length - 5} more running`);
    this.clear();
    this.out.write(`${lines.join("\n")}\n`);
    this.drawnLines = lines.length;
  }
}

/** `HH:MM:SS` (UTC) of now: made once a second, not once a line. */
function clock(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== clockSecond) {
    clockSecond = second;
    clockText = new Date(second * 1000).toISOString().slice(11, 19);
  }
  return clockText;
}
let clockSecond = -1;
let clockText = "";
