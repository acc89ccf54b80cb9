/**
 * A task's log: fetched (or followed while the task runs) from `GET /tasks/:id/log`, coloured
 * from its ANSI codes, rendered as text nodes only (a log line can never inject HTML), and
 * virtualised so that megabytes of log stay smooth.
 */
import { type CSSProperties, useEffect, useRef, useState } from "react";
import { authHeaders, withToken } from "../api/client";
import type { Attempt } from "../api/types";
import { AnsiLog, type AnsiStyle, type Line } from "../lib/ansi";
import { formatBytes } from "../lib/format";
import { VirtualList } from "./virtual-list";

const LINE = 19;

export function spanStyle(style: AnsiStyle | null): CSSProperties | undefined {
  if (!style) return undefined;
  const css: CSSProperties = {};
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) {
    [fg, bg] = [bg ?? "#0f172a", fg ?? "#e2e8f0"];
  }
  if (fg) css.color = fg;
  if (bg) css.backgroundColor = bg;
  if (style.bold) css.fontWeight = 700;
  if (style.dim) css.opacity = 0.7;
  if (style.italic) css.fontStyle = "italic";
  if (style.underline || style.strike) {
    css.textDecoration = [style.underline ? "underline" : "", style.strike ? "line-through" : ""]
      .join(" ")
      .trim();
  }
  return css;
}

function LineView({ line }: { line: Line }) {
  return (
    <>
      {line.map((span, i) =>
        span.style ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: spans of a line have no identity but their place
          <span key={i} style={spanStyle(span.style)}>
            {span.text}
          </span>
        ) : (
          span.text
        ),
      )}
    </>
  );
}

/** The lines of a log, virtualised, with line numbers. */
export function LogLines({
  log,
  follow,
  onAtBottomChange,
}: {
  log: AnsiLog;
  follow: boolean;
  onAtBottomChange?: (atBottom: boolean) => void;
}) {
  const count = log.lineCount;
  const gutter = `${String(Math.max(count, 1)).length + 1}ch`;
  return (
    <VirtualList
      className="log-lines"
      count={count}
      rowHeight={LINE}
      overscan={20}
      stickToBottom={follow}
      onAtBottomChange={onAtBottomChange}
      initialHeight={400}
      label="Log"
      renderRow={(i) => (
        <div key={i} className="log-line" style={{ height: LINE }}>
          <span className="log-gutter" style={{ width: gutter }}>
            {i + 1}
          </span>
          <span className="log-text">
            <LineView line={log.line(i) ?? []} />
          </span>
        </div>
      )}
    />
  );
}

type LoadState = "loading" | "streaming" | "done" | "error";

export function LogView({
  taskId,
  attempts,
  live,
  attemptCount,
  attempt,
  onAttemptChange,
}: {
  taskId: string;
  attempts: Attempt[];
  /** The task has not ended: follow the latest attempt's log. */
  live: boolean;
  /** How many attempts the task has had: a new one restarts the log. */
  attemptCount: number;
  /** Attempt shown; null for the latest. */
  attempt: number | null;
  onAttemptChange: (n: number | null) => void;
}) {
  const [log, setLog] = useState<AnsiLog>(() => new AnsiLog());
  const [, setVersion] = useState(0);
  const [state, setState] = useState<LoadState>("loading");
  const [error, setError] = useState<string | null>(null);
  const [truncated, setTruncated] = useState<number | null>(null);
  const [follow, setFollow] = useState(true);
  const frame = useRef<number | null>(null);
  // Read when a fetch starts: the task ending must not refetch a log that was followed to its end.
  const liveRef = useRef(live);
  liveRef.current = live;

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new attempt (attemptCount) restarts the log
  useEffect(() => {
    const following = liveRef.current && attempt === null;
    const controller = new AbortController();
    const fresh = new AnsiLog();
    setLog(fresh);
    setState("loading");
    setError(null);
    setTruncated(null);
    const bump = () => {
      if (frame.current !== null) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = null;
        setVersion((v) => v + 1);
      });
    };
    const q = new URLSearchParams();
    if (attempt !== null) q.set("attempt", String(attempt));
    if (following) q.set("follow", "1");
    (async () => {
      const res = await fetch(`/api/v1/tasks/${encodeURIComponent(taskId)}/log?${q}`, {
        headers: authHeaders(),
        signal: controller.signal,
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
        throw new Error(body.error?.message ?? `log: HTTP ${res.status}`);
      }
      const cut = res.headers.get("x-baton-log-truncated");
      if (cut) setTruncated(Number(cut));
      setState(following ? "streaming" : "loading");
      const reader = res.body?.getReader();
      const decoder = new TextDecoder();
      if (!reader) {
        fresh.push(await res.text());
      } else {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          fresh.push(decoder.decode(value, { stream: true }));
          bump();
        }
        fresh.push(decoder.decode());
      }
      bump();
      setState("done");
    })().catch((err: unknown) => {
      if ((err as Error).name === "AbortError") return;
      setError((err as Error).message);
      setState("error");
    });
    return () => {
      controller.abort();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
    };
  }, [taskId, attempt, attemptCount]);
  const following = state === "streaming";

  const latest = attempts.at(-1)?.number ?? null;
  const shown = attempt ?? latest;
  const rawUrl = withToken(`/tasks/${taskId}/log${shown !== null ? `?attempt=${shown}` : ""}`);

  return (
    <div className="log-view">
      <div className="log-toolbar">
        {attempts.length > 1 ? (
          <select
            aria-label="Attempt"
            value={attempt === null ? "" : String(attempt)}
            onChange={(e) => onAttemptChange(e.target.value === "" ? null : Number(e.target.value))}
          >
            <option value="">Latest attempt ({latest})</option>
            {attempts.map((a) => (
              <option key={a.number} value={a.number}>
                Attempt {a.number} — {a.status}
                {a.exitCode !== null ? `, exit ${a.exitCode}` : ""}
              </option>
            ))}
          </select>
        ) : (
          <span className="muted small">{shown !== null ? `Attempt ${shown}` : "No attempt yet"}</span>
        )}
        {state === "streaming" ? (
          <span className="live-pill">
            <span className="live-dot" /> Live
          </span>
        ) : null}
        <span className="spacer" />
        <span className="muted small">
          {log.lineCount} line{log.lineCount === 1 ? "" : "s"}
        </span>
        {following ? (
          <label className="toggle">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            Follow
          </label>
        ) : null}
        <a className="btn btn-sm" href={rawUrl} target="_blank" rel="noreferrer">
          Raw
        </a>
      </div>
      {truncated ? (
        <div className="log-note">
          Showing the end of the log: the first {formatBytes(truncated)} were left out.
        </div>
      ) : null}
      {error ? <div className="alert alert-error">{error}</div> : null}
      <div className="log-box" data-testid="log">
        {log.lineCount === 0 ? (
          <div className="log-empty">
            {state === "loading"
              ? "Loading log…"
              : following
                ? "Waiting for output…"
                : "This attempt wrote nothing."}
          </div>
        ) : (
          <LogLines
            log={log}
            follow={following && follow}
            onAtBottomChange={(b) => following && setFollow(b)}
          />
        )}
      </div>
    </div>
  );
}
