/**
 * Syntax check of cron expressions (`triggers: - cron: "0 9 * * MON"`): five fields, or six
 * with seconds first (`0,30 * * * * *`).
 * Only the syntax is checked here; the scheduler computes fire times.
 */
import { didYouMean } from "../errors.js";

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Index of `names[0]` in the numeric range. */
  namesFrom?: number;
  hint: string;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const SECONDS: CronField = { name: "second", min: 0, max: 59, hint: "0-59" };

const FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59, hint: "0-59" },
  { name: "hour", min: 0, max: 23, hint: "0-23" },
  { name: "day-of-month", min: 1, max: 31, hint: "1-31 or ?" },
  { name: "month", min: 1, max: 12, names: MONTHS, namesFrom: 1, hint: "1-12 or JAN-DEC" },
  { name: "day-of-week", min: 0, max: 7, names: DAYS, namesFrom: 0, hint: "0-7 or SUN-SAT" },
];

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/**
 * Checks a cron expression: five fields (minute hour day-of-month month day-of-week), or six
 * with a seconds field first. Fields accept `*`, numbers, names (`JAN`, `MON`), ranges `a-b`,
 * steps (`*` or a range followed by `/n`) and comma lists; `?` is accepted in the day fields.
 * Returns a message saying what is wrong, or `undefined` when the expression is well formed.
 */
export function checkCron(expression: string): string | undefined {
  const text = expression.trim();
  const macro = MACROS[text.toLowerCase()];
  if (macro !== undefined) return `expected five cron fields, found "${text}" (write "${macro}" instead)`;
  const fields = text.split(/\s+/).filter((f) => f !== "");
  if (fields.length !== 5 && fields.length !== 6) {
    return `expected five cron fields (minute hour day-of-month month day-of-week), or six with seconds first, found ${fields.length} in "${text}"`;
  }
  const specs = fields.length === 6 ? [SECONDS, ...FIELDS] : FIELDS;
  for (let i = 0; i < fields.length; i++) {
    const spec = specs[i]!;
    const value = fields[i]!;
    if (!fieldIsValid(value, spec)) {
      const words = value.split(/[,\-/]/).filter((w) => /^[A-Za-z]+$/.test(w));
      const misspelt = words.find((w) => !spec.names?.includes(w.toUpperCase()));
      const close =
        misspelt !== undefined && spec.names ? didYouMean(misspelt.toUpperCase(), spec.names) : undefined;
      if (close !== undefined) return `${spec.name} field "${value}" is not valid (did you mean "${close}"?)`;
      return `${spec.name} field "${value}" is not valid (expected ${spec.hint}, *, a range a-b, a step */n, or a comma list)`;
    }
  }
  return undefined;
}

/** Whether `zone` is an IANA time zone name this machine knows (`Europe/Helsinki`, `UTC`). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function fieldIsValid(field: string, spec: CronField): boolean {
  if (field === "?" && (spec.name === "day-of-month" || spec.name === "day-of-week")) return true;
  return field.split(",").every((item) => itemIsValid(item, spec));
}

function itemIsValid(item: string, spec: CronField): boolean {
  const [range, step, extra] = item.split("/");
  if (range === undefined || extra !== undefined) return false;
  if (step !== undefined && !(/^\d+$/.test(step) && Number(step) >= 1)) return false;
  if (range === "*") return true;
  const bounds = range.split("-");
  if (bounds.length > 2) return false;
  const values = bounds.map((b) => cronValue(b, spec));
  if (values.some((v) => v === undefined)) return false;
  if (values.length === 2 && values[0]! > values[1]!) return false;
  return true;
}

function cronValue(token: string, spec: CronField): number | undefined {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  return index >= 0 ? index + (spec.namesFrom ?? 0) : undefined;
}
