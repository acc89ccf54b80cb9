/** Times, durations, sizes and values as the UI shows them. */

/** `850ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m}m ${String(totalS % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Duration between two ISO times; an open end is `now`. Null when it has not started. */
export function durationBetween(start: string | null, end: string | null, now = Date.now()): number | null {
  if (!start) return null;
  const a = Date.parse(start);
  const b = end ? Date.parse(end) : now;
  return Number.isNaN(a) || Number.isNaN(b) ? null : Math.max(0, b - a);
}

/** `just now`, `5 min ago`, `3 h ago`, `yesterday 14:02`, or a date. */
export function formatRelative(iso: string | null, now = Date.now()): string {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  const s = Math.round((now - t) / 1000);
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 6 * 3600) return `${Math.floor(s / 3600)} h ago`;
  const d = new Date(t);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return `today ${time}`;
  const yesterday = new Date(now - 86_400_000);
  if (d.toDateString() === yesterday.toDateString()) return `yesterday ${time}`;
  return `${d.toLocaleDateString([], { month: "short", day: "numeric", year: d.getFullYear() === today.getFullYear() ? undefined : "numeric" })} ${time}`;
}

/** Full local date and time, for tooltips. */
export function formatTimestamp(iso: string | null): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString();
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A param or metric value in a cell: numbers with sensible precision, the rest as JSON. */
export function formatValue(v: unknown): string {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const abs = Math.abs(v);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(5)));
  }
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** A value cut to about `max` characters, long lists summarised: `[0, 1, 2, … 5000 items]`. */
export function formatShort(v: unknown, max = 48): string {
  if (Array.isArray(v) && v.length > 6) {
    const head = v.slice(0, 3).map((x) => formatValue(x));
    return `[${head.join(", ")}, … ${v.length} items]`;
  }
  const text = formatValue(v);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A short form of an id that still tells ids made in the same millisecond apart: the kind and
 * the first random characters of its ULID (`task_…XK3F9Q`; the time characters before them are
 * shared by every id of a run). A bare ULID of an older database, whose ids of one millisecond
 * differ only at the end, shows its last characters (`…3F9QK1`). Anything else (a prefix typed
 * in a URL) is shown as it is.
 */
export function shortId(id: string, n = 6): string {
  const kinded = /^([a-z]+)_([0-9A-Z]{26})$/.exec(id);
  if (kinded) return `${kinded[1]}_…${kinded[2]!.slice(10, 10 + n)}`;
  return /^[0-9A-Z]{26}$/.test(id) ? `…${id.slice(-n)}` : id;
}
