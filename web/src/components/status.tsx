/** Status colours, badges and counts: the same look everywhere a status is shown. */
import type { Counts, RunStatus, TaskStatus } from "../api/types";
import { TASK_STATUSES } from "../api/types";
import { totalOf } from "../lib/tasks";

export const STATUS_LABEL: Record<TaskStatus, string> = {
  pending: "Pending",
  waiting: "Waiting for approval",
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  skipped: "Skipped",
  cached: "Cached",
};

export function StatusBadge({ status, small }: { status: TaskStatus | RunStatus; small?: boolean }) {
  return (
    <span className={`badge badge-${status}${small ? " badge-sm" : ""}`} data-status={status}>
      <span className="badge-dot" />
      {STATUS_LABEL[status]}
    </span>
  );
}

export function StatusDot({ status, title }: { status: TaskStatus | RunStatus; title?: string }) {
  return <span className={`dot dot-${status}`} title={title ?? STATUS_LABEL[status]} />;
}

/** A stacked bar of tasks by status. */
export function CountsBar({ counts, height = 6 }: { counts: Counts; height?: number }) {
  const total = totalOf(counts);
  return (
    <div className="counts-bar" style={{ height }} aria-hidden="true">
      {total === 0 ? null : (
        <>
          {BAR_ORDER.map((s) =>
            counts[s] > 0 ? (
              <span
                key={s}
                className={`seg seg-${s}`}
                style={{ width: `${(counts[s] / total) * 100}%` }}
                title={`${counts[s]} ${STATUS_LABEL[s].toLowerCase()}`}
              />
            ) : null,
          )}
        </>
      )}
    </div>
  );
}

/** Done first, then what is in progress, then what is left: reads left to right. */
const BAR_ORDER: TaskStatus[] = [
  "succeeded",
  "cached",
  "failed",
  "cancelled",
  "skipped",
  "running",
  "waiting",
  "queued",
  "pending",
];

/** `12 succeeded · 1 failed · 3 running`, statuses with no task left out. */
export function CountsText({ counts, compact }: { counts: Counts; compact?: boolean }) {
  const parts = TASK_STATUSES.filter((s) => counts[s] > 0);
  if (parts.length === 0) return <span className="muted">no tasks</span>;
  return (
    <span className="counts-text">
      {parts.map((s) => (
        <span key={s} className={`count count-${s}`} title={STATUS_LABEL[s]}>
          <span className={`dot dot-${s}`} />
          {counts[s]}
          {compact ? null : ` ${STATUS_LABEL[s].toLowerCase()}`}
        </span>
      ))}
    </span>
  );
}
