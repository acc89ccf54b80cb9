/**
 * `${{ ... }}` expressions, GitHub-Actions style (docs/pipeline-file.md).
 *
 * A hand-written tokenizer, a Pratt parser and a tree-walking evaluator: no `eval`, no
 * `new Function`, no access to prototypes. Templates are parsed once (at validate time, so
 * syntax errors and unknown functions surface early) and evaluated many times, once per task.
 *
 * Grammar, loosest binding first:
 *   expr    := or
 *   or      := and ("||" and)*
 *   and     := eq ("&&" eq)*
 *   eq      := cmp (("==" | "!=") cmp)*
 *   cmp     := unary (("<" | "<=" | ">" | ">=") unary)*
 *   unary   := ("!" | "-") unary | postfix
 *   postfix := primary ("." NAME | "[" expr "]")*
 *   primary := NUMBER | STRING | true | false | null | NAME | NAME "(" args ")" | "(" expr ")"
 */
import { BatonError, didYouMean } from "../errors.js";

/** A parsed expression (AST). Opaque to callers: build one with {@link parseExpression}. */
export type Expr = { readonly kind: string };

/** One piece of a template: literal text, or a parsed `${{ }}` expression. */
export type TemplatePart =
  | { kind: "text"; text: string }
  /** `offset` is where the expression's source starts inside the template string. */
  | { kind: "expr"; source: string; expr: Expr; offset: number };

/** A parsed template: the original string and its parts, in order. */
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

/** A syntax error (`EXPR_SYNTAX`, found when parsing) or an evaluation error (`EXPR_EVAL`). */
export class ExpressionError extends BatonError {
  /** Offset inside the template source where the problem is, when known. */
  readonly offset: number | undefined;
  constructor(code: "EXPR_SYNTAX" | "EXPR_EVAL", message: string, offset?: number) {
    super(code, message);
    this.offset = offset;
  }
}

// ---------------------------------------------------------------------------------------------
// AST

type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";

/** Canonical names of the built-in functions (calls are matched case-insensitively). */
export type FunctionName =
  | "contains"
  | "startsWith"
  | "endsWith"
  | "format"
  | "join"
  | "toJSON"
  | "fromJSON"
  | "length"
  | "quote";

/** A piece of a `format()` string: literal text or the index of an argument. */
type FormatPiece = string | number;

/**
 * Where a node was written: `start` is where its text begins (a `(` included), `offset` where it
 * is reported (a name chain is reported at its root), `text` what error messages quote.
 */
type At = { start: number; offset: number; text: string };

type Node = At &
  (
    | { kind: "literal"; value: string | number | boolean | null }
    | { kind: "name"; name: string }
    /** `a.b`, `a['b']`, `a[0]`: the key is known at parse time. */
    | { kind: "member"; object: Node; key: string | number }
    /** `a[expr]`: the key is computed. */
    | { kind: "index"; object: Node; index: Node }
    | { kind: "not" | "neg"; operand: Node }
    | { kind: "and" | "or"; left: Node; right: Node }
    | { kind: "compare"; op: CompareOp; left: Node; right: Node }
    /** `format` holds a literal format string, split once at parse time. */
    | { kind: "call"; fn: FunctionName; args: Node[]; format?: FormatPiece[] }
  );

/** Arity of each function: [min, max] arguments. */
const FUNCTIONS: Record<FunctionName, readonly [number, number]> = {
  contains: [2, 2],
  startsWith: [2, 2],
  endsWith: [2, 2],
  format: [1, Number.POSITIVE_INFINITY],
  join: [1, 2],
  toJSON: [1, 1],
  fromJSON: [1, 1],
  length: [1, 1],
  quote: [1, 1],
};

/** Names of the built-in functions, as documented. */
export const KNOWN_FUNCTIONS: readonly FunctionName[] = Object.keys(FUNCTIONS) as FunctionName[];

const FUNCTION_BY_LOWER_NAME = new Map<string, FunctionName>(
  KNOWN_FUNCTIONS.map((f) => [f.toLowerCase(), f]),
);

// ---------------------------------------------------------------------------------------------
// Tokenizer

type Token =
  | { type: "num"; value: number; start: number; end: number }
  | { type: "str"; value: string; start: number; end: number }
  | { type: "ident"; value: string; start: number; end: number }
  | { type: "op"; value: string; start: number; end: number }
  | { type: "eof"; value: ""; start: number; end: number };

const TWO_CHAR_OPS = new Set(["==", "!=", "<=", ">=", "&&", "||"]);
const ONE_CHAR_OPS = new Set(["(", ")", "[", "]", ".", ",", "!", "<", ">", "-"]);
/** Single characters people type by habit, with the operator they meant. */
const LOOKALIKE_OPS: Record<string, string> = { "=": "==", "&": "&&", "|": "||" };
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

// Regular expressions live at module level: they are compiled once, not per evaluation.
const DIGITS = /^[0-9]+$/;
const HEX4 = /^[0-9a-fA-F]{4}$/;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isIdentPart(c: number): boolean {
  // A hyphen is part of a name, as in GHA: `needs.find-best.status`.
  return isIdentStart(c) || isDigit(c) || c === 45;
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** "column 7", or "line 2, column 7" when the template spans lines. */
function where(source: string, offset: number): string {
  const lineStart = source.lastIndexOf("\n", offset - 1) + 1;
  const column = offset - lineStart + 1;
  if (lineStart === 0) return `column ${column}`;
  let line = 1;
  for (let i = source.indexOf("\n"); i !== -1 && i < offset; i = source.indexOf("\n", i + 1)) line++;
  return `line ${line}, column ${column}`;
}

/** `message` is given the position ("column 7"): a callback, since the user's text may hold any marker. */
function syntaxError(source: string, message: (at: string) => string, offset: number): ExpressionError {
  return new ExpressionError("EXPR_SYNTAX", message(where(source, offset)), offset);
}

/**
 * Reads a quoted string starting at `start` (on the quote). Single quotes escape a quote by
 * doubling it (GHA); double quotes use backslash escapes (JSON-like).
 */
function scanString(source: string, start: number, limit: number): { value: string; end: number } {
  const quote = source[start];
  let value = "";
  let i = start + 1;
  if (quote === "'") {
    for (;;) {
      const close = source.indexOf("'", i);
      if (close === -1 || close >= limit) break;
      value += source.slice(i, close);
      if (source[close + 1] === "'" && close + 1 < limit) {
        value += "'";
        i = close + 2;
        continue;
      }
      return { value, end: close + 1 };
    }
  } else {
    while (i < limit) {
      const ch = source[i]!;
      if (ch === '"') return { value, end: i + 1 };
      if (ch !== "\\") {
        value += ch;
        i++;
        continue;
      }
      const esc = source[i + 1];
      if (esc === undefined || i + 1 >= limit) break;
      if (esc === "u") {
        const hex = source.slice(i + 2, i + 6);
        if (!HEX4.test(hex)) {
          throw syntaxError(source, (at) => `invalid escape "\\u${hex}" at ${at}, expected 4 hex digits`, i);
        }
        value += String.fromCharCode(Number.parseInt(hex, 16));
        i += 6;
        continue;
      }
      const decoded = DOUBLE_QUOTE_ESCAPES[esc];
      if (decoded === undefined) {
        throw syntaxError(
          source,
          (at) => `unknown escape "\\${esc}" at ${at} (known: \\n \\t \\r \\0 \\\\ \\" \\' \\uXXXX)`,
          i,
        );
      }
      value += decoded;
      i += 2;
    }
  }
  throw syntaxError(
    source,
    (at) => `unterminated string starting at ${at} (missing closing ${quote})`,
    start,
  );
}

/** Splits `source[start, end)` into tokens; offsets are absolute in `source`. Ends with an `eof` token. */
function tokenize(source: string, start: number, end: number): Token[] {
  const tokens: Token[] = [];
  let i = start;
  while (i < end) {
    const c = source.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const begin = i;
    if (isDigit(c)) {
      while (i < end && isDigit(source.charCodeAt(i))) i++;
      if (source[i] === "." && i + 1 < end && isDigit(source.charCodeAt(i + 1))) {
        i++;
        while (i < end && isDigit(source.charCodeAt(i))) i++;
      }
      if (i < end && (source[i] === "e" || source[i] === "E")) {
        let j = i + 1;
        if (j < end && (source[j] === "+" || source[j] === "-")) j++;
        if (j < end && isDigit(source.charCodeAt(j))) {
          while (j < end && isDigit(source.charCodeAt(j))) j++;
          i = j;
        }
      }
      if (i < end && (isIdentPart(source.charCodeAt(i)) || source[i] === ".")) {
        let j = i;
        while (j < end && (isIdentPart(source.charCodeAt(j)) || source[j] === ".")) j++;
        throw syntaxError(source, (at) => `invalid number "${source.slice(begin, j)}" at ${at}`, begin);
      }
      tokens.push({ type: "num", value: Number(source.slice(begin, i)), start: begin, end: i });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < end && isIdentPart(source.charCodeAt(i))) i++;
      tokens.push({ type: "ident", value: source.slice(begin, i), start: begin, end: i });
      continue;
    }
    if (c === 39 || c === 34) {
      const s = scanString(source, i, end);
      tokens.push({ type: "str", value: s.value, start: begin, end: s.end });
      i = s.end;
      continue;
    }
    const two = source.slice(i, i + 2);
    if (i + 1 < end && TWO_CHAR_OPS.has(two)) {
      tokens.push({ type: "op", value: two, start: begin, end: i + 2 });
      i += 2;
      continue;
    }
    const one = source[i]!;
    if (ONE_CHAR_OPS.has(one)) {
      tokens.push({ type: "op", value: one, start: begin, end: i + 1 });
      i++;
      continue;
    }
    const meant = LOOKALIKE_OPS[one];
    if (meant !== undefined) {
      throw syntaxError(source, (at) => `unexpected "${one}" at ${at}, did you mean "${meant}"?`, begin);
    }
    const hint = one === "+" || one === "*" || one === "/" ? " (there is no arithmetic)" : "";
    throw syntaxError(source, (at) => `unexpected character "${one}" at ${at}${hint}`, begin);
  }
  tokens.push({ type: "eof", value: "", start: end, end });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parser (Pratt)

/** Binding power of infix operators: higher binds tighter. */
const INFIX_POWER: Record<string, number> = {
  "||": 1,
  "&&": 2,
  "==": 3,
  "!=": 3,
  "<": 4,
  "<=": 4,
  ">": 4,
  ">=": 4,
};
/** `!` and unary `-` bind tighter than every infix operator. */
const PREFIX_POWER = 5;

class Parser {
  private pos = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
  ) {}

  parseAll(): Node {
    const node = this.expression(0);
    const t = this.peek();
    if (t.type !== "eof") {
      const hint = t.type === "op" && t.value === "-" ? " (there is no arithmetic)" : "";
      throw this.unexpected(t, `an operator or the end of the expression${hint}`);
    }
    return node;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.type !== "eof") this.pos++;
    return t;
  }

  private isOp(t: Token, op: string): boolean {
    return t.type === "op" && t.value === op;
  }

  private describe(t: Token): string {
    return t.type === "eof" ? "end of expression" : `"${this.source.slice(t.start, t.end)}"`;
  }

  private unexpected(t: Token, expected: string): ExpressionError {
    return syntaxError(
      this.source,
      (at) => `unexpected ${this.describe(t)} at ${at}, expected ${expected}`,
      t.start,
    );
  }

  private expect(op: string, opener: Token): Token {
    const t = this.next();
    if (this.isOp(t, op)) return t;
    const what = `"${op}" to close the "${opener.value}" at ${where(this.source, opener.start)}`;
    throw this.unexpected(t, what);
  }

  private text(from: number, to: number): string {
    return this.source.slice(from, to);
  }

  private expression(minPower: number): Node {
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      if (t.type !== "op") return left;
      const power = INFIX_POWER[t.value];
      // `<=` keeps operators left-associative: `a == b == c` is `(a == b) == c`.
      if (power === undefined || power <= minPower) return left;
      this.next();
      const right = this.expression(power);
      const text = this.text(left.start, this.tokens[this.pos - 1]!.end);
      if (t.value === "&&" || t.value === "||") {
        left = {
          kind: t.value === "&&" ? "and" : "or",
          left,
          right,
          start: left.start,
          offset: left.offset,
          text,
        };
      } else {
        left = {
          kind: "compare",
          op: t.value as CompareOp,
          left,
          right,
          start: left.start,
          offset: left.offset,
          text,
        };
      }
    }
  }

  private prefix(): Node {
    const t = this.peek();
    if (this.isOp(t, "!") || this.isOp(t, "-")) {
      this.next();
      const operand = this.expression(PREFIX_POWER);
      const text = this.text(t.start, this.tokens[this.pos - 1]!.end);
      // Fold `-3` into a literal so that `a[-1]` and `-1` stay simple constants.
      if (t.value === "-" && operand.kind === "literal" && typeof operand.value === "number") {
        return { kind: "literal", value: -operand.value, start: t.start, offset: t.start, text };
      }
      return { kind: t.value === "!" ? "not" : "neg", operand, start: t.start, offset: t.start, text };
    }
    return this.postfix(this.primary());
  }

  private primary(): Node {
    const t = this.next();
    const text = this.text(t.start, t.end);
    switch (t.type) {
      case "num":
      case "str":
        return { kind: "literal", value: t.value, start: t.start, offset: t.start, text };
      case "ident":
        if (t.value === "true" || t.value === "false") {
          return { kind: "literal", value: t.value === "true", start: t.start, offset: t.start, text };
        }
        if (t.value === "null") {
          return { kind: "literal", value: null, start: t.start, offset: t.start, text };
        }
        if (this.isOp(this.peek(), "(")) return this.call(t);
        return { kind: "name", name: t.value, start: t.start, offset: t.start, text };
      case "op":
        if (t.value === "(") {
          const inner = this.expression(0);
          this.expect(")", t);
          // Keep the parentheses in the text so error messages quote what was written.
          return { ...inner, start: t.start, text: this.text(t.start, this.tokens[this.pos - 1]!.end) };
        }
        throw this.unexpected(t, "an expression");
      case "eof":
        throw this.unexpected(t, "an expression");
    }
  }

  private call(name: Token & { type: "ident" }): Node {
    const fn = FUNCTION_BY_LOWER_NAME.get(name.value.toLowerCase());
    if (fn === undefined) {
      const suggestion = didYouMean(name.value, KNOWN_FUNCTIONS);
      const hint = suggestion ? `did you mean "${suggestion}"? ` : "";
      throw syntaxError(
        this.source,
        (at) => `unknown function "${name.value}" at ${at} (${hint}known: ${KNOWN_FUNCTIONS.join(", ")})`,
        name.start,
      );
    }
    const open = this.next();
    const args: Node[] = [];
    if (!this.isOp(this.peek(), ")")) {
      for (;;) {
        args.push(this.expression(0));
        const t = this.next();
        if (this.isOp(t, ")")) break;
        if (!this.isOp(t, ",")) {
          throw this.unexpected(t, `"," or ")" to close the "(" at ${where(this.source, open.start)}`);
        }
      }
    } else {
      this.next();
    }
    const [min, max] = FUNCTIONS[fn];
    if (args.length < min || args.length > max) {
      const wanted =
        min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
      throw syntaxError(
        this.source,
        (at) =>
          `${fn}() at ${at} takes ${wanted} argument${min === 1 && max === 1 ? "" : "s"}, got ${args.length}`,
        name.start,
      );
    }
    const node: Node = {
      kind: "call",
      fn,
      args,
      start: name.start,
      offset: name.start,
      text: this.text(name.start, this.tokens[this.pos - 1]!.end),
    };
    const first = args[0];
    if (fn === "format" && first?.kind === "literal" && typeof first.value === "string") {
      // A literal format string is checked now, so `baton validate` reports `{2}` with 2 arguments.
      const pieces = splitFormat(first.value);
      if (typeof pieces === "string") {
        throw syntaxError(this.source, (at) => `format() at ${at}: ${pieces}`, first.offset);
      }
      const needed = pieces.reduce<number>((m, p) => (typeof p === "number" ? Math.max(m, p + 1) : m), 0);
      if (needed > args.length - 1) {
        throw syntaxError(
          this.source,
          (at) => `format() at ${at} uses {${needed - 1}} but has only ${args.length - 1} value argument(s)`,
          first.offset,
        );
      }
      node.format = pieces;
    }
    return node;
  }

  private postfix(node: Node): Node {
    for (;;) {
      const t = this.peek();
      if (this.isOp(t, ".")) {
        this.next();
        const name = this.next();
        if (name.type !== "ident") throw this.unexpected(name, 'a name after "."');
        node = {
          kind: "member",
          object: node,
          key: name.value,
          start: node.start,
          offset: node.offset,
          text: this.text(node.start, name.end),
        };
      } else if (this.isOp(t, "[")) {
        this.next();
        const index = this.expression(0);
        const close = this.expect("]", t);
        const text = this.text(node.start, close.end);
        // A literal key is static: it belongs to the reference path (`outputs['*.npz']`, `a[0]`).
        if (
          index.kind === "literal" &&
          (typeof index.value === "string" || typeof index.value === "number")
        ) {
          node = {
            kind: "member",
            object: node,
            key: index.value,
            start: node.start,
            offset: node.offset,
            text,
          };
        } else {
          node = { kind: "index", object: node, index, start: node.start, offset: node.offset, text };
        }
      } else {
        return node;
      }
    }
  }
}

/** Splits a `format()` string into text and argument indexes; returns an error message if malformed. */
function splitFormat(fmt: string): FormatPiece[] | string {
  const pieces: FormatPiece[] = [];
  let text = "";
  let i = 0;
  while (i < fmt.length) {
    const ch = fmt[i]!;
    if (ch === "{" && fmt[i + 1] === "{") {
      text += "{";
      i += 2;
    } else if (ch === "}" && fmt[i + 1] === "}") {
      text += "}";
      i += 2;
    } else if (ch === "{") {
      const close = fmt.indexOf("}", i);
      const digits = close === -1 ? "" : fmt.slice(i + 1, close);
      if (!DIGITS.test(digits)) {
        return `invalid placeholder at index ${i} of "${fmt}" (use {0}, {1}, ... and {{ }} for braces)`;
      }
      if (text) pieces.push(text);
      text = "";
      pieces.push(Number(digits));
      i = close + 1;
    } else if (ch === "}") {
      return `unmatched "}" at index ${i} of "${fmt}" (use "}}" for a literal brace)`;
    } else {
      text += ch;
      i++;
    }
  }
  if (text) pieces.push(text);
  return pieces;
}

/**
 * Parses a bare expression (no `${{ }}` around it), e.g. an `if:` condition.
 * Offsets in the AST and in errors are relative to `source`.
 */
export function parseExpression(source: string): Expr {
  const trimmed = source.trim();
  if (trimmed === "") throw new ExpressionError("EXPR_SYNTAX", "empty expression", 0);
  return new Parser(source, tokenize(source, 0, source.length)).parseAll();
}

/** Finds the `}}` that closes the expression opened before `from`, skipping quoted strings. */
function findClose(source: string, open: number, from: number): number {
  let i = from;
  while (i < source.length) {
    const c = source.charCodeAt(i);
    if (c === 39 || c === 34) {
      i = scanString(source, i, source.length).end;
    } else if (c === 125 && source.charCodeAt(i + 1) === 125) {
      return i;
    } else {
      i++;
    }
  }
  throw syntaxError(source, (at) => `unterminated "\${{" at ${at} (missing "}}")`, open);
}

// ---------------------------------------------------------------------------------------------
// Templates

/** True iff the string contains `${{`, i.e. must be parsed as a template. */
export function isTemplate(source: string): boolean {
  return source.includes("${{");
}

/**
 * Parses a template into literal text and expressions.
 * @throws ExpressionError `EXPR_SYNTAX`, with `offset` inside `source`.
 */
export function parseTemplate(source: string): Template {
  const parts: TemplatePart[] = [];
  let pos = 0;
  for (;;) {
    const open = source.indexOf("${{", pos);
    if (open === -1) break;
    if (open > pos) parts.push({ kind: "text", text: source.slice(pos, open) });
    const innerStart = open + 3;
    const close = findClose(source, open, innerStart);
    let start = innerStart;
    let end = close;
    while (start < end && isSpace(source.charCodeAt(start))) start++;
    while (end > start && isSpace(source.charCodeAt(end - 1))) end--;
    if (start === end) throw syntaxError(source, (at) => `empty expression at ${at}`, open);
    const expr = new Parser(source, tokenize(source, start, end)).parseAll();
    parts.push({ kind: "expr", source: source.slice(start, end), expr, offset: start });
    pos = close + 2;
  }
  if (pos < source.length) parts.push({ kind: "text", text: source.slice(pos) });
  return { source, parts };
}

/** Every name read by an expression, in source order: `needs.train.outputs['*.npz']` etc. */
export function collectReferences(template: Template): Reference[] {
  const refs: Reference[] = [];
  for (const part of template.parts) if (part.kind === "expr") collectFrom(part.expr as Node, refs);
  return refs;
}

/** Like {@link collectReferences} for one parsed expression. */
export function collectExpressionReferences(expr: Expr): Reference[] {
  const refs: Reference[] = [];
  collectFrom(expr as Node, refs);
  return refs;
}

function collectFrom(node: Node, refs: Reference[]): void {
  switch (node.kind) {
    case "literal":
      return;
    case "name":
      refs.push({ root: node.name, path: [], offset: node.offset });
      return;
    case "member":
    case "index": {
      // Walk down to the root of the chain, remembering members from the outside in.
      const chain: Node[] = [];
      let root: Node = node;
      while (root.kind === "member" || root.kind === "index") {
        chain.push(root);
        root = root.object;
      }
      chain.reverse();
      if (root.kind === "name") {
        const path: Array<string | number> = [];
        let isStatic = true;
        for (const m of chain) {
          if (m.kind !== "member") isStatic = false;
          else if (isStatic) path.push(m.key);
        }
        refs.push({ root: root.name, path, offset: root.offset });
      } else {
        collectFrom(root, refs);
      }
      for (const m of chain) if (m.kind === "index") collectFrom(m.index, refs);
      return;
    }
    case "not":
    case "neg":
      collectFrom(node.operand, refs);
      return;
    case "and":
    case "or":
    case "compare":
      collectFrom(node.left, refs);
      collectFrom(node.right, refs);
      return;
    case "call":
      for (const a of node.args) collectFrom(a, refs);
      return;
  }
}

/**
 * Evaluates a template. A template that is exactly one `${{ }}` (no text at all around it)
 * yields the expression's raw value (list, number, object...); any other template yields a
 * string with each value rendered by {@link renderValue}. Text without expressions is returned as is.
 * @throws ExpressionError `EXPR_EVAL` (unknown name, missing member, type mismatch...).
 */
export function evaluateTemplate(template: Template, context: Record<string, unknown>): unknown {
  const { parts } = template;
  const only = parts[0];
  if (parts.length === 1 && only !== undefined && only.kind === "expr") {
    const value = evaluate(only.expr as Node, context);
    checkPlainValue(value, only.expr as Node);
    return value === undefined ? null : value;
  }
  let out = "";
  for (const part of parts) {
    if (part.kind === "text") {
      out += part.text;
    } else {
      const value = evaluate(part.expr as Node, context);
      checkPlainValue(value, part.expr as Node);
      out += renderValue(value);
    }
  }
  return out;
}

/** Templates are parsed once per distinct source, not once per task that evaluates them. */
const parsedTemplates = new Map<string, Template>();

/**
 * Evaluates the templates in a value from the pipeline file: a string (see
 * {@link evaluateTemplate}), or strings inside lists and maps; anything else is returned as is.
 * @throws ExpressionError `EXPR_EVAL`, as {@link evaluateTemplate}.
 */
export function evaluateValue(value: unknown, context: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    if (!isTemplate(value)) return value;
    let template = parsedTemplates.get(value);
    if (!template) {
      template = parseTemplate(value);
      parsedTemplates.set(value, template);
    }
    return evaluateTemplate(template, context);
  }
  if (Array.isArray(value)) return value.map((v) => evaluateValue(v, context));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = evaluateValue(v, context);
    return out;
  }
  return value;
}

/** Evaluates one parsed expression against a context and returns its raw value. */
export function evaluateExpression(expr: Expr, context: Record<string, unknown>): unknown {
  const value = evaluate(expr as Node, context);
  checkPlainValue(value, expr as Node);
  return value === undefined ? null : value;
}

/** JS-like truthiness: `false`, `0`, `NaN`, `""`, `null` are false; every list and object is true. */
export function isTruthy(value: unknown): boolean {
  return Boolean(value);
}

/** Characters that never need quoting in a shell word. */
const SHELL_SAFE = /^[A-Za-z0-9_\-./:=@%+,]+$/;

/** Quotes a string for a POSIX shell only when needed: `model.pt` stays, `it's` -> `'it'\''s'`. */
export function shellQuote(s: string): string {
  if (SHELL_SAFE.test(s)) return s;
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * How a value is interpolated into a command string. Strings are inserted as is (not quoted:
 * the pipeline author controls the quoting); lists become shell words, each quoted when needed,
 * so `${{ inputs.files }}` expands to separate arguments; objects become JSON; null is empty.
 */
export function renderValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return value;
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "undefined":
      return "";
    case "object":
      if (value === null) return "";
      if (Array.isArray(value)) {
        let out = "";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += " ";
          out += renderListItem(value[i]);
        }
        return out;
      }
      return toJson(value);
    default:
      throw new ExpressionError("EXPR_EVAL", `a ${typeof value} cannot be used in an expression`);
  }
}

function renderListItem(item: unknown): string {
  switch (typeof item) {
    case "string":
      return shellQuote(item);
    case "number":
    case "boolean":
    case "bigint":
      return String(item);
    case "undefined":
      // Keep the word so arguments do not shift.
      return "''";
    default:
      if (item === null) return "''";
      return shellQuote(toJson(item));
  }
}

/** Lookups nested in an object must not turn into `{"description": ...}` in a command. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof DynamicLookup) throw notAValue(value.description, undefined);
  return value;
}

function toJson(value: unknown): string {
  return JSON.stringify(value, jsonReplacer) ?? "null";
}

// ---------------------------------------------------------------------------------------------
// Evaluator

function evalError(message: string, node: Node | undefined): ExpressionError {
  return new ExpressionError("EXPR_EVAL", message, node?.offset);
}

function notAValue(description: string, node: Node | undefined): ExpressionError {
  // Lookups often describe themselves by their path; do not say `"needs.x" (needs.x)`.
  const subject =
    node === undefined
      ? description
      : node.text === description
        ? `"${description}"`
        : `"${node.text}" (${description})`;
  return evalError(
    `${subject} is computed on access and cannot be used as a value; read one of its members`,
    node,
  );
}

/** A lookup or a function must never escape into a command line or a param. */
function checkPlainValue(value: unknown, node: Node): void {
  if (value instanceof DynamicLookup) throw notAValue(value.description, node);
  if (typeof value === "function") throw evalError(`"${node.text}" is not a value`, node);
}

function typeName(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (value instanceof DynamicLookup) return value.description;
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

const NUMERIC_STRING = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

/** The number a numeric string stands for (`"3"`, `" 1e3 "`), else undefined. */
function numericString(s: string): number | undefined {
  return NUMERIC_STRING.test(s) ? Number(s) : undefined;
}

/** Strict equality, except that a number equals a numeric string of the same value. */
function looseEquals(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (typeof a === "number" && typeof b === "string") return numericString(b) === a;
  if (typeof a === "string" && typeof b === "number") return numericString(a) === b;
  return a === b;
}

function compare(op: CompareOp, a: unknown, b: unknown, node: Node): boolean {
  if (op === "==") return looseEquals(a, b);
  if (op === "!=") return !looseEquals(a, b);
  let x: number | string | undefined;
  let y: number | string | undefined;
  if (typeof a === typeof b && (typeof a === "number" || typeof a === "string")) {
    x = a as number | string;
    y = b as number | string;
  } else if (typeof a === "number" && typeof b === "string") {
    x = a;
    y = numericString(b);
  } else if (typeof a === "string" && typeof b === "number") {
    x = numericString(a);
    y = b;
  }
  if (x === undefined || y === undefined) {
    throw evalError(`cannot compare ${typeName(a)} with ${typeName(b)} in "${node.text}"`, node);
  }
  switch (op) {
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}

function evaluate(node: Node, ctx: Record<string, unknown>): unknown {
  switch (node.kind) {
    case "literal":
      return node.value;
    case "name": {
      if (!Object.hasOwn(ctx, node.name)) {
        const known = Object.keys(ctx);
        const suggestion = didYouMean(node.name, known);
        const hint = suggestion ? `did you mean "${suggestion}"? ` : "";
        throw evalError(`unknown name "${node.name}" (${hint}known: ${known.join(", ") || "none"})`, node);
      }
      const value = ctx[node.name];
      if (typeof value === "function") throw evalError(`"${node.name}" is not a value`, node);
      return value;
    }
    case "member":
      return member(evaluate(node.object, ctx), node.key, node);
    case "index": {
      const key = evaluate(node.index, ctx);
      if (typeof key !== "string" && typeof key !== "number") {
        throw evalError(`"${node.text}": an index must be a string or a number, got ${typeName(key)}`, node);
      }
      return member(evaluate(node.object, ctx), key, node);
    }
    case "not":
      return !evaluate(node.operand, ctx);
    case "neg": {
      const v = evaluate(node.operand, ctx);
      const n = typeof v === "number" ? v : typeof v === "string" ? numericString(v) : undefined;
      if (n === undefined) throw evalError(`cannot negate ${typeName(v)} in "${node.text}"`, node);
      return -n;
    }
    case "and": {
      const left = evaluate(node.left, ctx);
      return left ? evaluate(node.right, ctx) : left;
    }
    case "or": {
      const left = evaluate(node.left, ctx);
      return left ? left : evaluate(node.right, ctx);
    }
    case "compare":
      return compare(node.op, evaluate(node.left, ctx), evaluate(node.right, ctx), node);
    case "call":
      return call(node, ctx);
  }
}

/** Reads one member: own data only, never the prototype chain. */
function member(obj: unknown, key: string | number, node: Node & { object: Node }): unknown {
  const parent = node.object.text;
  if (obj === null || obj === undefined) {
    throw evalError(`"${node.text}" cannot be read: "${parent}" is null`, node);
  }
  let value: unknown;
  if (obj instanceof DynamicLookup) {
    value = obj.get(String(key));
    if (value === undefined) {
      const what = obj.description === parent ? "" : ` (${obj.description})`;
      throw evalError(
        `"${node.text}" is not defined: "${parent}"${what} has no member ${JSON.stringify(key)}`,
        node,
      );
    }
  } else if (Array.isArray(obj)) {
    const index = typeof key === "number" ? key : numericString(key);
    if (index === undefined || !Number.isInteger(index)) {
      throw evalError(`"${node.text}" is not defined: "${parent}" is a list, index it with a number`, node);
    }
    if (index < 0 || index >= obj.length) {
      throw evalError(
        `"${node.text}" is not defined: index ${index} is out of range (length ${obj.length})`,
        node,
      );
    }
    value = obj[index];
  } else if (typeof obj === "object") {
    const k = String(key);
    if (!Object.hasOwn(obj, k)) {
      const keys = Object.keys(obj);
      let hint = "";
      if (keys.length === 0) {
        hint = ` ("${parent}" is empty)`;
      } else {
        const suggestion = didYouMean(k, keys);
        if (suggestion) hint += ` (did you mean "${suggestion}"?)`;
        if (keys.length <= 20) hint += ` (available: ${keys.join(", ")})`;
      }
      throw evalError(`"${node.text}" is not defined${hint}`, node);
    }
    value = (obj as Record<string, unknown>)[k];
  } else {
    throw evalError(`"${node.text}" cannot be read: "${parent}" is ${typeName(obj)}`, node);
  }
  if (typeof value === "function") throw evalError(`"${node.text}" is not a value`, node);
  return value;
}

/** A string argument; numbers and booleans are accepted and converted, as GHA does. */
function stringArg(fn: string, value: unknown, position: string, node: Node): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw evalError(`${fn}() expects a string as its ${position} argument, got ${typeName(value)}`, node);
}

function call(node: Node & { kind: "call" }, ctx: Record<string, unknown>): unknown {
  const args = node.args.map((a) => evaluate(a, ctx));
  const [a, b] = args;
  switch (node.fn) {
    case "contains":
      if (Array.isArray(a)) return a.some((x) => looseEquals(x, b));
      if (typeof a === "string") return a.includes(stringArg("contains", b, "second", node));
      throw evalError(
        `contains() expects a string or a list as its first argument, got ${typeName(a)}`,
        node,
      );
    case "startsWith":
      return stringArg("startsWith", a, "first", node).startsWith(stringArg("startsWith", b, "second", node));
    case "endsWith":
      return stringArg("endsWith", a, "first", node).endsWith(stringArg("endsWith", b, "second", node));
    case "format": {
      let pieces = node.format;
      if (pieces === undefined) {
        const split = splitFormat(stringArg("format", a, "first", node));
        if (typeof split === "string") throw evalError(`format(): ${split}`, node);
        pieces = split;
      }
      let out = "";
      for (const p of pieces) {
        if (typeof p === "string") {
          out += p;
          continue;
        }
        if (p + 1 >= args.length) {
          throw evalError(`format() uses {${p}} but has only ${args.length - 1} value argument(s)`, node);
        }
        const v = args[p + 1];
        checkPlainValue(v, node.args[p + 1]!);
        out += renderValue(v);
      }
      return out;
    }
    case "join": {
      const sep = args.length > 1 ? stringArg("join", b, "second", node) : ",";
      if (typeof a === "string") return a;
      if (!Array.isArray(a)) {
        throw evalError(`join() expects a list as its first argument, got ${typeName(a)}`, node);
      }
      let out = "";
      for (let i = 0; i < a.length; i++) {
        if (i > 0) out += sep;
        const item: unknown = a[i];
        // Items are not shell-quoted: join() is for building one word, e.g. `--lrs ${{ join(x, ',') }}`.
        out += item !== null && typeof item === "object" ? toJson(item) : renderValue(item);
      }
      return out;
    }
    case "toJSON":
      if (a instanceof DynamicLookup) throw notAValue(a.description, node.args[0]);
      return toJson(a);
    case "fromJSON": {
      const s = stringArg("fromJSON", a, "first", node);
      try {
        return JSON.parse(s) as unknown;
      } catch (err) {
        throw evalError(
          `fromJSON(): invalid JSON in "${node.args[0]!.text}": ${(err as Error).message}`,
          node,
        );
      }
    }
    case "length":
      if (typeof a === "string" || Array.isArray(a)) return a.length;
      throw evalError(`length() expects a string or a list, got ${typeName(a)}`, node);
    case "quote":
      // One shell word, as Valohai's {parameter-value:NAME}: null is the empty word, lists and maps JSON.
      if (a instanceof DynamicLookup) throw notAValue(a.description, node.args[0]);
      if (a === null || a === undefined) return "''";
      if (typeof a === "object") return shellQuote(toJson(a));
      return shellQuote(String(a));
  }
}
