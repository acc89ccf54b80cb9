/**
 * Renders a task's command again with other params (a clone with overrides), keeping what every
 * other expression rendered to the first time (`needs.*`, `inputs.*`, `item`, `run.*`, ...).
 *
 * The command template is matched against the command as it was resolved: the text around the
 * expressions and what the param expressions rendered with the old params must be found in it,
 * in order; the other expressions' renderings are read back from the gaps between them. Only
 * the expressions that read nothing but params (`params.X`, `args`, `arg.X`) are evaluated
 * again, with the new params.
 */
import { evaluateExpression, isTemplate, parseTemplate, renderValue } from "./expressions.js";
import { collectExpressionReferences } from "./expressions.js";
import { argsContext } from "./param-args.js";
import type { ParamSpec } from "./types.js";

/** Roots an expression may read and still be rendered again from params alone. */
const PARAM_ROOTS = new Set(["params", "args", "arg"]);

/** What {@link rerenderCommand} needs. */
export interface RerenderInput {
  /** The node's `run:` template. */
  template: string;
  /** The command the task ran: the template rendered with `before`. */
  resolved: string;
  /** The node's declared params (for `args` / `arg.X`). */
  decls: Readonly<Record<string, ParamSpec>>;
  /** The params the task saw (its run's, then its own). */
  before: Readonly<Record<string, unknown>>;
  /** The same with the overrides applied. */
  after: Readonly<Record<string, unknown>>;
}

/** The command rendered again, or why it cannot be. */
export type RerenderResult = { ok: true; command: string } | { ok: false; reason: string };

export function rerenderCommand(input: RerenderInput): RerenderResult {
  const { template, resolved, decls, before, after } = input;
  if (!isTemplate(template)) return { ok: true, command: resolved };
  const changed = new Set(
    Object.keys(after).filter((k) => !Object.hasOwn(before, k) || !sameValue(before[k], after[k])),
  );
  if (changed.size === 0) return { ok: true, command: resolved };
  const oldContext = { params: before, ...argsContext(decls, before) };
  const newContext = { params: after, ...argsContext(decls, after) };
  const render = (v: unknown) => (typeof v === "string" ? v : renderValue(v));

  type Piece = { kind: "fixed"; old: string; now: string } | { kind: "kept" };
  const pieces: Piece[] = [];
  let differs = false;
  for (const part of parseTemplate(template).parts) {
    if (part.kind === "text") {
      pieces.push({ kind: "fixed", old: part.text, now: part.text });
      continue;
    }
    const refs = collectExpressionReferences(part.expr);
    const readsParams = refs.some((r) => PARAM_ROOTS.has(r.root));
    if (refs.every((r) => PARAM_ROOTS.has(r.root))) {
      let old: string;
      let now: string;
      try {
        old = render(evaluateExpression(part.expr, oldContext));
        now = render(evaluateExpression(part.expr, newContext));
      } catch (err) {
        return { ok: false, reason: `\${{ ${part.source} }}: ${(err as Error).message}` };
      }
      if (old !== now) differs = true;
      pieces.push({ kind: "fixed", old, now });
    } else if (readsParams && refs.some((r) => readsChanged(r, changed))) {
      return {
        ok: false,
        reason: `\${{ ${part.source} }} mixes params with values of the original run; it cannot be rendered again`,
      };
    } else {
      pieces.push({ kind: "kept" });
    }
  }
  if (!differs) return { ok: true, command: resolved };

  // Read the kept expressions' renderings back from the resolved command.
  let pattern = "^";
  let lastKept = false;
  for (const p of pieces) {
    if (p.kind === "fixed") {
      pattern += escapeRegExp(p.old);
      lastKept = false;
    } else if (!lastKept) {
      pattern += "([\\s\\S]*?)";
      lastKept = true;
    } else {
      pattern += "()";
    }
  }
  const match = new RegExp(`${pattern}$`).exec(resolved);
  if (!match) {
    return {
      ok: false,
      reason: "its command no longer matches the run: of its node (was the pipeline file edited since?)",
    };
  }
  let out = "";
  let group = 1;
  for (const p of pieces) out += p.kind === "fixed" ? p.now : (match[group++] ?? "");
  return { ok: true, command: out };
}

/** Whether a reference reads a param whose value changes (`args` reads them all). */
function readsChanged(
  ref: { root: string; path: Array<string | number> },
  changed: ReadonlySet<string>,
): boolean {
  if (ref.root === "args") return true;
  if (ref.root !== "params" && ref.root !== "arg") return false;
  const name = ref.path[0];
  return typeof name !== "string" || changed.has(name);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
