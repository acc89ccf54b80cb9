/**
 * Parsing `${{ }}` templates once per distinct string, for validation. Wraps
 * `expressions.ts` so that a bug there becomes a problem in the file, not a crash.
 */
import {
  ExpressionError,
  type Reference,
  collectReferences,
  isTemplate,
  parseTemplate,
} from "./expressions.js";

/** A template as the validator sees it: its references, or why it does not parse. */
export interface ParsedTemplate {
  references: Reference[];
  error?: { message: string; offset: number | undefined };
}

/** Parses templates, remembering results (the same `run:` is often shared by many nodes). */
export class TemplateCache {
  private readonly cache = new Map<string, ParsedTemplate>();

  parse(source: string): ParsedTemplate {
    let parsed = this.cache.get(source);
    if (parsed === undefined) {
      parsed = parseOnce(source);
      this.cache.set(source, parsed);
    }
    return parsed;
  }
}

function parseOnce(source: string): ParsedTemplate {
  try {
    const template = parseTemplate(source);
    return { references: collectReferences(template) };
  } catch (err) {
    if (err instanceof ExpressionError) {
      // The problem is placed at its file line and column; a column inside the string would confuse.
      const message = err.message.replace(/ at (line \d+, )?column \d+/g, "");
      return { references: [], error: { message, offset: err.offset } };
    }
    const message = err instanceof Error ? err.message : String(err);
    return {
      references: [],
      error: { message: `could not read this expression: ${message}`, offset: undefined },
    };
  }
}

/** Whether a string holds `${{`. */
export function hasTemplate(value: string): boolean {
  return isTemplate(value);
}

/** Every string inside a value (lists and maps walked) that holds a template, with its sub-path. */
export function templateStrings(
  value: unknown,
  path: Array<string | number> = [],
): Array<{ value: string; path: Array<string | number> }> {
  if (typeof value === "string") return hasTemplate(value) ? [{ value, path }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => templateStrings(v, [...path, i]));
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => templateStrings(v, [...path, k]));
  }
  return [];
}
