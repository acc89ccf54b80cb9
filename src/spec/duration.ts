/**
 * Durations as users write them in `baton.yaml` (`timeout: 2h`, `backoff: 10s`), in milliseconds.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)/y;
const PLAIN_NUMBER = /^(\d+(?:\.\d+)?|\.\d+)$/;

/**
 * Parses a duration into milliseconds: `500ms`, `10s`, `1m30s`, `2h`, `1.5h`, `1d`, or a
 * plain number of seconds (`30`, `"30"`, `0.5`). Parts may be separated by spaces
 * (`1h 30m`); each unit may appear once. Returns `undefined` when the text is not a
 * duration (negative, empty, unknown unit), so that the caller can say where it was written.
 */
export function parseDuration(s: string | number): number | undefined {
  if (typeof s === "number") {
    return Number.isFinite(s) && s >= 0 ? Math.round(s * 1000) : undefined;
  }
  const text = s.trim();
  if (text === "") return undefined;
  if (PLAIN_NUMBER.test(text)) return Math.round(Number(text) * 1000);
  let total = 0;
  let at = 0;
  const seen = new Set<string>();
  while (at < text.length) {
    while (text[at] === " ") at++;
    if (at >= text.length) break;
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (!m) return undefined;
    const unit = m[2]!;
    if (seen.has(unit)) return undefined;
    seen.add(unit);
    total += Number(m[1]) * UNIT_MS[unit]!;
    at = PART.lastIndex;
  }
  return Math.round(total);
}

/** How durations are written, for error messages. */
export const DURATION_HINT = "write e.g. 500ms, 10s, 1m30s, 2h, 1d, or a number of seconds";
