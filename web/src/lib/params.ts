/**
 * The launch form: text fields for a pipeline's declared params, and their parsing into the
 * JSON values `POST /runs` takes, checked before anything is sent (type, choices, required).
 */
import type { ParamDecl } from "../api/types";

/** The text a field starts with: the default (or a previous run's value) written out. */
export function paramText(decl: Pick<ParamDecl, "type">, value: unknown): string {
  if (value === undefined || value === null) return "";
  switch (decl.type) {
    case "list":
      return Array.isArray(value)
        ? `[${value.map((v) => JSON.stringify(v)).join(", ")}]`
        : JSON.stringify(value);
    case "json":
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

export type ParsedParam = { ok: true; value: unknown } | { ok: false; error: string };

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One list item typed as `1`, `0.5`, `true`, `"x"` or `x`. */
function listItem(text: string): unknown {
  const t = text.trim();
  try {
    return JSON.parse(t);
  } catch {
    return t;
  }
}

/** Parses a field's text as its param's type; empty text is no value (left to the default). */
export function parseParam(decl: ParamDecl, text: string): ParsedParam {
  const t = text.trim();
  if (t === "") {
    return decl.required ? { ok: false, error: "required" } : { ok: true, value: undefined };
  }
  let value: unknown;
  switch (decl.type) {
    case "string":
      value = text;
      break;
    case "int":
      if (!/^[-+]?\d+$/.test(t)) return { ok: false, error: "expected a whole number, like 3" };
      value = Number(t);
      if (!Number.isSafeInteger(value)) return { ok: false, error: "this number is too large" };
      break;
    case "float": {
      const n = Number(t);
      if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) || !Number.isFinite(n)) {
        return { ok: false, error: "expected a number, like 0.01 or 1e-3" };
      }
      value = n;
      break;
    }
    case "bool":
      if (t !== "true" && t !== "false") return { ok: false, error: "expected true or false" };
      value = t === "true";
      break;
    case "list":
      if (t.startsWith("[")) {
        try {
          value = JSON.parse(t);
        } catch {
          return { ok: false, error: 'expected a JSON list, like [0.1, 0.01] or ["a", "b"]' };
        }
        if (!Array.isArray(value)) return { ok: false, error: "expected a list" };
      } else {
        value = t.split(",").map(listItem);
      }
      break;
    case "json":
      try {
        value = JSON.parse(t);
      } catch (err) {
        return { ok: false, error: `not valid JSON: ${(err as Error).message}` };
      }
      break;
  }
  if (decl.choices && decl.choices.length > 0 && !decl.choices.some((c) => sameValue(c, value))) {
    return { ok: false, error: `expected one of ${decl.choices.map((c) => JSON.stringify(c)).join(", ")}` };
  }
  return { ok: true, value };
}

/** The params to send, or the problem of each field that is wrong. */
export function validateParams(
  decls: ParamDecl[],
  texts: Record<string, string>,
): { values: Record<string, unknown>; errors: Record<string, string> } {
  const values: Record<string, unknown> = Object.create(null);
  const errors: Record<string, string> = Object.create(null);
  for (const decl of decls) {
    const parsed = parseParam(decl, ownValue(texts, decl.name) ?? "");
    if (!parsed.ok) errors[decl.name] = parsed.error;
    else if (parsed.value !== undefined) values[decl.name] = parsed.value;
  }
  return { values, errors };
}

/**
 * `obj[key]` when it is `obj`'s own: a param may be called `constructor` or `toString`, which
 * a plain object would otherwise answer from its prototype.
 */
export function ownValue<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** `body.params.lr` (a server problem's path) -> `lr`. */
export function paramOfProblemPath(path: string | undefined): string | undefined {
  const m = /^body\.params\.([^.[\]]+)/.exec(path ?? "");
  return m?.[1];
}
