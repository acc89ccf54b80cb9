/**
 * Parameter values: checking them against declarations (`params:` in `baton.yaml`), parsing
 * `-p name=value` from the command line, and filling in defaults.
 */
import { BatonError, type Problem } from "../errors.js";
import { dict, own } from "../util/dict.js";
import { describeValue, quoteList, suggest } from "./problems.js";
import type { ParamSpec, ParamType } from "./types.js";

/** Every type a param may declare. */
export const PARAM_TYPES: readonly ParamType[] = ["string", "int", "float", "bool", "list", "json"];

/** What a value of this type looks like, for messages: `an integer`, `a list`. */
export function describeParamType(type: ParamType): string {
  switch (type) {
    case "string":
      return "a string";
    case "int":
      return "an integer";
    case "float":
      return "a number";
    case "bool":
      return "true or false";
    case "list":
      return "a list";
    case "json":
      return "a JSON value";
  }
}

/** Whether `value` is a value of `type` (as JSON data, not as command-line text). */
export function isParamValue(type: ParamType, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "int":
      return typeof value === "number" && Number.isInteger(value);
    case "float":
      return typeof value === "number" && Number.isFinite(value);
    case "bool":
      return typeof value === "boolean";
    case "list":
      return Array.isArray(value);
    case "json":
      return value !== undefined;
  }
}

/**
 * Checks a value against a declaration (type, then choices). Returns what is wrong, phrased
 * to follow the param's name (`expected an integer (type int), found "abc"`), or undefined.
 */
export function checkParamValue(spec: ParamSpec, value: unknown): string | undefined {
  if (!isParamValue(spec.type, value)) {
    return `expected ${describeParamType(spec.type)} (type ${spec.type}), found ${describeValue(value)}`;
  }
  if (spec.choices !== undefined && !isOneOf(value, spec.choices)) {
    return `${describeValue(value)} is not one of the choices ${quoteList(spec.choices)}`;
  }
  return checkBounds(spec, value);
}

/**
 * Checks `min` and `max` (of a number, or of each number in a list): `5 is greater than the
 * maximum 1 (max: 1)`, or undefined.
 */
export function checkBounds(spec: ParamSpec, value: unknown): string | undefined {
  if (spec.min === undefined && spec.max === undefined) return undefined;
  const items = Array.isArray(value) ? value : [value];
  for (const [i, item] of items.entries()) {
    if (typeof item !== "number") continue;
    const which = Array.isArray(value) ? ` (item ${i})` : "";
    if (spec.min !== undefined && item < spec.min)
      return `${item}${which} is less than the minimum ${spec.min} (min: ${spec.min})`;
    if (spec.max !== undefined && item > spec.max)
      return `${item}${which} is greater than the maximum ${spec.max} (max: ${spec.max})`;
  }
  return undefined;
}

/** Whether `value` equals one of `choices` (lists and maps compared as JSON). */
export function isOneOf(value: unknown, choices: readonly unknown[]): boolean {
  const key = JSON.stringify(value);
  return choices.some((c) => c === value || JSON.stringify(c) === key);
}

/**
 * The type a bare default implies (`lr: 0.1` -> float, `seed: 0` -> int, `lrs: [1, 2]` -> list).
 * `sourceText` is how the number was written, so that `1.0` is a float although it equals 1.
 */
export function inferParamType(value: unknown, sourceText?: string): ParamType {
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") {
    const writtenAsFloat = sourceText !== undefined && /[.eE]/.test(sourceText) && !/^0x/i.test(sourceText);
    return Number.isInteger(value) && !writtenAsFloat ? "int" : "float";
  }
  if (Array.isArray(value)) return "list";
  if (typeof value === "string") return "string";
  return "json";
}

const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOL_TEXT: Record<string, boolean> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  yes: true,
  no: false,
};

/**
 * Parses command-line text (`-p lr=0.1`) by the declared type: int takes integers only,
 * float any decimal number, bool true/false/1/0/yes/no, list and json take JSON (a list must
 * be a JSON array), string takes the text as is. Returns the value, or what is wrong.
 */
export function parseParamText(
  type: ParamType,
  text: string,
): { ok: true; value: unknown } | { ok: false; message: string } {
  const shown = JSON.stringify(text);
  switch (type) {
    case "string":
      return { ok: true, value: text };
    case "int": {
      const t = text.trim();
      if (INT_TEXT.test(t) && Number.isSafeInteger(Number(t))) return { ok: true, value: Number(t) };
      return { ok: false, message: `expected an integer (type int), found ${shown}` };
    }
    case "float": {
      const t = text.trim();
      if (FLOAT_TEXT.test(t) && Number.isFinite(Number(t))) return { ok: true, value: Number(t) };
      return { ok: false, message: `expected a number (type float), found ${shown}` };
    }
    case "bool": {
      const value = BOOL_TEXT[text.trim().toLowerCase()];
      if (value !== undefined) return { ok: true, value };
      return {
        ok: false,
        message: `expected true or false (type bool; 1/0 and yes/no work too), found ${shown}`,
      };
    }
    case "list":
    case "json": {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        const example = type === "list" ? `'["a", "b"]'` : `'"text"' or '{"k": 1}'`;
        return { ok: false, message: `expected JSON (type ${type}, e.g. ${example}), found ${shown}` };
      }
      if (type === "list" && !Array.isArray(value)) {
        return { ok: false, message: `expected a JSON list (type list, e.g. '[1, 2]'), found ${shown}` };
      }
      return { ok: true, value };
    }
  }
}

/** Options of {@link resolveParams}. */
export interface ResolveParamsOptions {
  /** Values are command-line text (`-p k=v`) to parse by the declared type. */
  fromCli: boolean;
  /** What the params belong to, for messages: `pipeline "train-eval"`. */
  where: string;
}

/**
 * Checks given values against declarations and fills in defaults. Returns every declared
 * param (in declaration order) with its value.
 *
 * @throws BatonError `PARAM_INVALID` listing every unknown name (with a did-you-mean), value of
 *   the wrong type, value outside `choices`, and required param (no default) left out.
 */
export function resolveParams(
  decls: Record<string, ParamSpec>,
  given: Record<string, unknown>,
  opts: ResolveParamsOptions,
): Record<string, unknown> {
  const problems: Problem[] = [];
  const values: Record<string, unknown> = dict();
  const declared = Object.keys(decls);
  for (const [name, raw] of Object.entries(given)) {
    const spec = own(decls, name);
    if (spec === undefined) {
      const hint = declared.length === 0 ? " (it declares no params)" : suggest(name, declared);
      problems.push({ path: name, message: `${opts.where} has no param "${name}"${hint}` });
      continue;
    }
    let value = raw;
    if (opts.fromCli && typeof raw === "string") {
      const parsed = parseParamText(spec.type, raw);
      if (!parsed.ok) {
        problems.push({ path: name, message: `param "${name}" of ${opts.where}: ${parsed.message}` });
        continue;
      }
      value = parsed.value;
    }
    const wrong = checkParamValue(spec, value);
    if (wrong !== undefined) {
      problems.push({ path: name, message: `param "${name}" of ${opts.where}: ${wrong}` });
      continue;
    }
    values[name] = value;
  }
  const out: Record<string, unknown> = dict();
  for (const [name, spec] of Object.entries(decls)) {
    if (Object.hasOwn(values, name)) out[name] = values[name];
    else if (spec.default !== undefined) out[name] = spec.default;
    // An optional param left unset is left out: `args` and the environment do not show it.
    else if (spec.optional) continue;
    else if (!Object.hasOwn(given, name)) {
      const how = opts.fromCli ? `pass -p ${name}=VALUE` : "give a value";
      problems.push({
        path: name,
        message: `param "${name}" of ${opts.where} is required (type ${spec.type}, no default): ${how}`,
      });
    }
  }
  if (problems.length > 0) {
    throw new BatonError("PARAM_INVALID", problems.map((p) => p.message).join("\n"), {
      problems,
      context: { where: opts.where },
    });
  }
  return out;
}

/**
 * Splits `-p name=value` arguments (the value may itself contain `=`). A later value for the
 * same name replaces an earlier one.
 *
 * @throws BatonError `USAGE` when an argument has no `=` or no name before it.
 */
export function parseParamAssignments(args: string[]): Record<string, string> {
  const out: Record<string, string> = dict();
  for (const arg of args) {
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      throw new BatonError("USAGE", `-p ${JSON.stringify(arg)}: expected NAME=VALUE, e.g. -p lr=0.1`, {
        context: { arg },
      });
    }
    out[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return out;
}
