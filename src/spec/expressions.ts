/**
 * `${{ ... }}` expressions (GitHub-Actions style). API CONTRACT — implementation pending.
 * The helper implementing this file keeps these exported names and signatures.
 */
import { BatonError } from "../errors.js";

/** A parsed expression (AST). Opaque to callers. */
export type Expr = { readonly kind: string };

export type TemplatePart =
  | { kind: "text"; text: string }
  /** `offset` is where the expression's source starts inside the template string. */
  | { kind: "expr"; source: string; expr: Expr; offset: number };

export interface Template {
  source: string;
  parts: TemplatePart[];
}

/** A context value whose members are computed on access (e.g. `needs.x.outputs['*.npz']`). */
export class DynamicLookup {
  constructor(
    readonly get: (key: string) => unknown,
    readonly description = "object",
  ) {}
}

/** A name an expression reads: `needs.train.outputs` -> root `needs`, path ["train", "outputs"]. */
export interface Reference {
  root: string;
  /** Static member names/indexes after the root; stops at the first computed member. */
  path: Array<string | number>;
  /** Offset of the reference inside the template/expression source. */
  offset: number;
}

export class ExpressionError extends BatonError {
  /** Offset inside the template source where the problem is, when known. */
  readonly offset: number | undefined;
  constructor(code: "EXPR_SYNTAX" | "EXPR_EVAL", message: string, offset?: number) {
    super(code, message);
    this.offset = offset;
  }
}

export function isTemplate(_source: string): boolean {
  throw new Error("not implemented");
}
export function parseTemplate(_source: string): Template {
  throw new Error("not implemented");
}
export function collectReferences(_template: Template): Reference[] {
  throw new Error("not implemented");
}
export function evaluateTemplate(_template: Template, _context: Record<string, unknown>): unknown {
  throw new Error("not implemented");
}
export function renderValue(_value: unknown): string {
  throw new Error("not implemented");
}
