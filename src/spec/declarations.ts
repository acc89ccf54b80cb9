import { dict, own } from "../util/dict.js";
/**
 * Param and input declarations (`params:`, `inputs:` of steps, nodes and pipelines), and
 * checks of literal param values (`with:`, trigger `with:`) against them.
 */
import { type ParamDecls, type ResolveContext, asRecord } from "./drafts.js";
import { plainParam } from "./fast-shape.js";
import { checkInputSources } from "./input-sources.js";
import {
  checkBounds,
  checkParamValue,
  describeParamType,
  inferParamType,
  isOneOf,
  isParamValue,
} from "./params.js";
import { type Path, checkName, describeValue, quoteList, suggest } from "./problems.js";
import { type InputDeclarationFile, type ParamFile, ParamSchema } from "./schema.js";
import { checkPlainShape } from "./shape.js";
import { templateStrings } from "./templates.js";
import type { InputSpec, ParamSpec } from "./types.js";

/** Declarations of a `params:` map. Broken declarations are left out and listed in `unknown`. */
export function resolveParamDecls(raw: unknown, path: Path, ctx: ResolveContext): ParamDecls {
  const params: Record<string, ParamSpec> = dict();
  const unknown = new Set<string>();
  for (const [name, value] of Object.entries(asRecord(raw) ?? {})) {
    const p = [...path, name];
    const nameProblem = checkName("param", name);
    if (nameProblem) ctx.problems.key(p, nameProblem);
    const shaped = checkPlainShape(plainParam, ParamSchema, value, p, ctx.problems);
    const spec = shaped.data !== undefined ? resolveParamDecl(shaped.data, p, ctx) : undefined;
    if (spec && shaped.clean) params[name] = spec;
    else unknown.add(name);
  }
  return { params, unknown };
}

function resolveParamDecl(raw: ParamFile, path: Path, ctx: ResolveContext): ParamSpec | undefined {
  if (raw === null) return { type: "string" };
  if (typeof raw !== "object" || Array.isArray(raw)) {
    return { type: inferParamType(raw, ctx.source.text(path)), default: raw };
  }
  const type =
    raw.type ??
    (raw.default !== undefined
      ? inferParamType(raw.default, ctx.source.text([...path, "default"]))
      : "string");
  const spec: ParamSpec = { type };
  let ok = true;
  if (raw.default !== undefined) {
    spec.default = raw.default;
    if (!isParamValue(type, raw.default)) {
      ctx.problems.value(
        [...path, "default"],
        `default must be ${describeParamType(type)} (type ${type}), found ${describeValue(raw.default)}`,
      );
      ok = false;
    }
  }
  if (raw.choices !== undefined) {
    spec.choices = raw.choices;
    if (raw.choices.length === 0) {
      ctx.problems.value([...path, "choices"], "choices must list at least one value");
      ok = false;
    }
    raw.choices.forEach((choice, i) => {
      if (!isParamValue(type, choice)) {
        ctx.problems.value(
          [...path, "choices", i],
          `choice must be ${describeParamType(type)} (type ${type}), found ${describeValue(choice)}`,
        );
        ok = false;
      }
    });
    if (ok && raw.default !== undefined && raw.choices.length > 0 && !isOneOf(raw.default, raw.choices)) {
      ctx.problems.value(
        [...path, "default"],
        `default ${describeValue(raw.default)} is not one of the choices ${quoteList(raw.choices)}`,
      );
      ok = false;
    }
  }
  if (raw.description !== undefined) spec.description = raw.description;
  if (!resolveRendering(raw, spec, path, ctx)) ok = false;
  if (ok && raw.default !== undefined) {
    const outside = checkBounds(spec, raw.default);
    if (outside) {
      ctx.problems.value([...path, "default"], `default ${outside}`);
      ok = false;
    }
  }
  return ok ? spec : undefined;
}

/**
 * The keys of params rendered as Valohai does: `min`, `max`, `optional`, `pass-as`,
 * `pass-true-as`, `pass-false-as`, `multiple`, `multiple-separator`. Reports keys that do not
 * fit the param's type; returns false when one does not.
 */
function resolveRendering(
  raw: Exclude<ParamFile, null | string | number | boolean | unknown[]>,
  spec: ParamSpec,
  path: Path,
  ctx: ResolveContext,
): boolean {
  let ok = true;
  const misplaced = (key: string, why: string) => {
    ctx.problems.key([...path, key], `${key} ${why} (this param is of type ${spec.type})`);
    ok = false;
  };
  const numeric = spec.type === "int" || spec.type === "float" || spec.type === "list";
  for (const key of ["min", "max"] as const) {
    if (raw[key] === undefined) continue;
    if (!numeric) misplaced(key, "applies to int, float and list params only");
    else spec[key] = raw[key];
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    ctx.problems.value([...path, "max"], `max ${spec.max} is smaller than min ${spec.min}`);
    ok = false;
  }
  if (raw.optional !== undefined) spec.optional = raw.optional;
  if (raw["pass-as"] !== undefined) spec.passAs = raw["pass-as"];
  if (raw["pass-true-as"] !== undefined) {
    if (spec.type !== "bool") misplaced("pass-true-as", "applies to bool params only");
    else spec.passTrueAs = raw["pass-true-as"];
  }
  if (raw["pass-false-as"] !== undefined) {
    if (spec.type !== "bool") misplaced("pass-false-as", "applies to bool params only");
    else spec.passFalseAs = raw["pass-false-as"];
  }
  if (raw.multiple !== undefined) {
    if (spec.type !== "list") misplaced("multiple", "applies to list params only");
    else spec.multiple = raw.multiple;
  }
  if (raw["multiple-separator"] !== undefined) {
    if (spec.multiple !== "separate") {
      ctx.problems.key(
        [...path, "multiple-separator"],
        "multiple-separator applies only with multiple: separate",
      );
      ok = false;
    } else spec.multipleSeparator = raw["multiple-separator"];
  }
  for (const key of ["pass-as", "pass-true-as", "pass-false-as"] as const) {
    const template = raw[key];
    if (template !== undefined && template.trim() === "")
      ctx.problems.value(
        [...path, key],
        `${key} is empty (leave it out, or give the words to pass, e.g. "--x={v}")`,
      );
  }
  return ok;
}

/** An input declaration: `{ default, optional, description }`, a default glob or list, or nothing. */
export function resolveInputDecl(raw: InputDeclarationFile): InputSpec {
  if (raw === null) return { optional: false };
  if (typeof raw === "string") return { default: [raw], optional: false };
  if (Array.isArray(raw)) return { default: [...raw], optional: false };
  const spec: InputSpec = { optional: raw.optional ?? false };
  if (raw.default !== undefined)
    spec.default = typeof raw.default === "string" ? [raw.default] : [...raw.default];
  if (raw.description !== undefined) spec.description = raw.description;
  if (raw["keep-directories"] !== undefined) spec.keepDirectories = raw["keep-directories"];
  if (raw.filename !== undefined) spec.filename = raw.filename;
  return spec;
}

/** Checks an input declaration's sources (URL schemes Baton can fetch) and `filename:`. */
export function checkInputDecl(
  input: string,
  spec: InputSpec,
  raw: InputDeclarationFile,
  path: Path,
  ctx: ResolveContext,
): void {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw))
    checkInputSources(input, raw.default, [...path, "default"], ctx.problems);
  else checkInputSources(input, raw ?? undefined, path, ctx.problems);
  if (spec.filename !== undefined) {
    const f = spec.filename;
    if (f === "." || f === ".." || f.includes("/") || f.includes("\0") || f.trim() !== f)
      ctx.problems.value(
        [...path, "filename"],
        `filename must be a plain file name, found ${describeValue(f)}`,
      );
  }
}

/** Checks literal param values (`with:`, trigger `with:`) against declarations. */
/** Options of {@link checkParamValues}. */
export interface ParamValuesOptions {
  /** Where each value was written. */
  paths: Record<string, Path>;
  /** Values set by Valohai edges: a wrong name points at the edge, not at a key. */
  fromEdges?: ReadonlySet<string>;
  /** Values must be literal (triggers start runs with no context to evaluate in). */
  literal?: boolean;
}

/**
 * Checks param values against declarations: the name must be declared (with a did-you-mean),
 * and a literal value must fit the type and choices. Template values are checked later.
 */
export function checkParamValues(
  values: Record<string, unknown>,
  decls: ParamDecls,
  owner: string,
  ctx: ResolveContext,
  opts: ParamValuesOptions,
): void {
  for (const [param, value] of Object.entries(values)) {
    const p = own(opts.paths, param) ?? [];
    if (decls.unknown.has(param)) continue;
    const spec = own(decls.params, param);
    if (!spec) {
      const declared = [...Object.keys(decls.params), ...decls.unknown];
      const hint =
        suggest(param, declared) ||
        (declared.length ? ` (its params: ${quoteList(declared, "and")})` : " (it declares no params)");
      const message = `${owner} has no param "${param}"${hint}`;
      if (opts.fromEdges?.has(param)) ctx.problems.value(p, message);
      else ctx.problems.key(p, message);
      continue;
    }
    if (templateStrings(value).length > 0) {
      if (opts.literal)
        ctx.problems.value(p, "expressions are not evaluated in triggers: give a literal value");
      continue;
    }
    const wrong = checkParamValue(spec, value);
    if (wrong) ctx.problems.value(p, `param "${param}": ${wrong}`);
  }
}
