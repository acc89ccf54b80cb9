/**
 * Shape checks by hand for the parts of a file written with plain fields only (a node with
 * `run:`, `needs:`, `with:`, ...; a pool with `slots:`), which is nearly every part of every
 * file. Each check says only "zod would take this as it is"; anything else (a wrong value, an
 * unknown key, a field these checks do not know, a `__proto__` key) answers no, and the caller
 * asks the zod schemas of `schema.ts`, which word every problem. So the schemas are built, and
 * zod runs, only for files that need them, and never once per node of a large file.
 *
 * What a check accepts must be exactly what its schema accepts with no issue: fast-shape.test.ts
 * compares both on every fixture.
 */

type Check = (value: unknown) => boolean;

let handChecks = true;

/** @internal For the tests: with `false`, every part goes to zod, as if no check vouched for it. */
export function setHandChecks(on: boolean): void {
  handChecks = on;
}

/** Whether `check` vouches for `value` (zod would take it as it is, with no issue). */
export function vouches(check: Check, value: unknown): boolean {
  return handChecks && check(value);
}

const PROTO = "__proto__";

/** A map as zod's records and objects take it (no `__proto__` key: zod treats it apart). */
function isMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, PROTO);
}

const isString: Check = (v) => typeof v === "string";
const isBool: Check = (v) => typeof v === "boolean";
/** zod's `z.number()`: finite. */
const isNumber: Check = (v) => typeof v === "number" && Number.isFinite(v);
/** zod's `z.number().int()`: a safe integer. */
const isInt: Check = (v) => Number.isSafeInteger(v);
const nullish =
  (check: Check): Check =>
  (v) =>
    v === null || check(v);
const either =
  (...checks: Check[]): Check =>
  (v) =>
    checks.some((c) => c(v));
const oneOf = (...values: string[]): Check => {
  const set = new Set(values);
  return (v) => typeof v === "string" && set.has(v);
};
const isArray: Check = (v) => Array.isArray(v);
const arrayOf =
  (check: Check): Check =>
  (v) => {
    if (!Array.isArray(v)) return false;
    for (let i = 0; i < v.length; i++) if (!check(v[i])) return false;
    return true;
  };
const recordOf =
  (check: Check): Check =>
  (v) => {
    if (!isMap(v)) return false;
    for (const k in v) if (!check(v[k])) return false;
    return true;
  };
const isAny: Check = () => true;

/** An object of these keys only, each optional, `required` ones present. */
function objectOf(shape: Readonly<Record<string, Check>>, required: readonly string[] = []): Check {
  const checks = new Map(Object.entries(shape));
  return (v) => {
    if (!isMap(v)) return false;
    for (const k in v) {
      const check = checks.get(k);
      const value = v[k];
      // An `undefined` value: zod's rules for it differ by key; let zod say.
      if (check === undefined || value === undefined || !check(value)) return false;
    }
    for (const k of required) if (v[k] === undefined) return false;
    return true;
  };
}

const globs = either(isString, arrayOf(isString));
/** A param: a bare default, or a declaration. */
const isParamDecl = objectOf({
  type: oneOf("string", "int", "float", "bool", "list", "json"),
  default: isAny,
  choices: isArray,
  description: isString,
  min: isNumber,
  max: isNumber,
  optional: isBool,
  "pass-as": isString,
  "pass-true-as": isString,
  "pass-false-as": isString,
  multiple: oneOf("separate", "repeat"),
  "multiple-separator": isString,
});
const isParam: Check = (v) =>
  v === null || isString(v) || isNumber(v) || isBool(v) || isArray(v) || isParamDecl(v);

const settings: Record<string, Check> = {
  pool: isString,
  retries: (v) => isInt(v) && (v as number) >= 0,
  cache: isBool,
  priority: isInt,
  env: nullish(recordOf(either(isString, isNumber, isBool))),
  image: (v) => typeof v === "string" && v.length >= 1,
  compat: oneOf("valohai"),
  "on-error": oneOf("stop-all", "stop-next", "continue", "retry"),
};

const nodeBody: Record<string, Check> = {
  needs: either(isString, arrayOf(isString), recordOf(oneOf("success", "failure", "always"))),
  if: either(isString, isBool),
  with: nullish(recordOf(isAny)),
  inputs: nullish(recordOf(globs)),
  params: nullish(recordOf(isParam)),
  outputs: globs,
  foreach: either(isArray, isString),
  matrix: recordOf(either(isArray, isString)),
  ...settings,
  approval: either(isBool, isString),
};

/** `NodeSchema` (a node in the map form). */
export const plainNode: Check = objectOf({
  run: isString,
  step: isString,
  pipeline: isString,
  ...nodeBody,
});

/** `StepSchema`. */
export const plainStep: Check = objectOf(
  {
    run: isString,
    inputs: nullish(recordOf(either(isString, arrayOf(isString)))),
    params: nullish(recordOf(isParam)),
    outputs: globs,
    ...settings,
    approval: either(isBool, isString),
  },
  ["run"],
);

/** `DefaultsSchema`. */
export const plainDefaults: Check = objectOf({ ...settings, notify: nullish(isArray) });

/** `PoolSchema`. */
export const plainPool: Check = objectOf({
  slots: (v) => isInt(v) && (v as number) >= 1,
  resources: nullish(recordOf(isNumber)),
  executor: oneOf("local", "slurm", "agent"),
});

/** `ParamSchema`. */
export const plainParam: Check = isParam;

/** `ProjectShellSchema` (the top level, its parts unchecked). */
export const plainProjectShell: Check = objectOf(
  {
    version: (v) => v === 1,
    defaults: isAny,
    pools: nullish(isMap),
    steps: nullish(isMap),
    pipelines: nullish(isMap),
  },
  ["version"],
);

/** `PipelineShellSchema` (a pipeline, its parts unchecked). */
export const plainPipelineShell: Check = objectOf(
  {
    params: nullish(isMap),
    nodes: either(isMap, isArray),
    edges: nullish(isArray),
    triggers: nullish(isArray),
    notify: nullish(isArray),
    "on-error": settings["on-error"] as Check,
  },
  ["nodes"],
);

/** `OnErrorSchema`. */
export const plainOnError: Check = settings["on-error"] as Check;
