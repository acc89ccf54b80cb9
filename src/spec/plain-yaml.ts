/**
 * A fast reader for the plain subset of YAML that pipeline files (large generated ones above
 * all) are written in: block maps and lists, one-line flow maps and lists, plain, quoted and
 * literal (`|`, `|-`) scalars, comments. It gives the same data as the `yaml` package (YAML
 * 1.2 core schema) and where every key and value was written, at a fraction of the cost and
 * memory of building yaml's document.
 *
 * Anything outside that subset, or anything doubtful (anchors, aliases, tags, merge keys,
 * duplicate keys, multi-line plain scalars, tabs, syntax errors, ...), makes it give up
 * (`undefined`): the caller then reads the file with the full parser, which also reports
 * the problems. It never reports a problem itself.
 */
import type { Path } from "./problems.js";

/** Where a value was written: its first character, and the end of a scalar. */
export interface PlainNode {
  /** Offset of the value's first character (a block map: its first key; a list: its `-`). */
  s: number;
  /** Offset after a scalar's last character. */
  e: number;
  /** A key or list entry with nothing written after it (read as null). */
  empty?: true;
  /** The value of a map key: the key, and the offset of its first character (its quote for a quoted key). */
  key?: string;
  k?: number;
  /** Values of a map's keys, in the order written (each with its `key` and `k`). */
  map?: PlainNode[];
  /** Look-ups in a large map: the place of the key found last, and an index by key built when first needed. */
  index?: { last: number; places: Map<string, number> | undefined };
  /** Items of a list. */
  seq?: PlainNode[];
}

/** A file read by {@link readPlainYaml}. */
export interface PlainDoc {
  data: unknown;
  root: PlainNode;
}

/** The key at the end of a path was found: `pair` is set when the last segment is a map key. */
export interface PlainFound {
  complete: boolean;
  node: PlainNode | undefined;
  pairKey: number | undefined;
  /** Offset of the deepest part of the path that exists. */
  fallback: number;
}

/** The value of `key` in a map node: a small map is scanned, a large one looked up. */
function valueAt(node: PlainNode & { map: PlainNode[] }, key: string): PlainNode | undefined {
  const map = node.map;
  if (map.length <= 8) {
    for (const v of map) if (v.key === key) return v;
    return undefined;
  }
  // Keys are mostly looked up in the order they were written (every node of a pipeline in
  // turn): the key found last and the one after it are tried before the index.
  node.index ??= { last: 0, places: undefined };
  const look = node.index;
  const from = look.last;
  let at: number | undefined;
  if (map[from]!.key === key) at = from;
  else if (from + 1 < map.length && map[from + 1]!.key === key) at = from + 1;
  else {
    if (!look.places) {
      look.places = new Map();
      for (let i = 0; i < map.length; i++) look.places.set(map[i]!.key as string, i);
    }
    at = look.places.get(key);
    if (at === undefined) return undefined;
  }
  look.last = at;
  return map[at];
}

/** Follows a key path through the positions of a {@link PlainDoc}. */
export function findPlain(root: PlainNode, path: Path): PlainFound {
  let node = root;
  let pairKey: number | undefined;
  let fallback = root.s;
  for (const seg of path) {
    pairKey = undefined;
    if (node.map) {
      const p = valueAt(node as PlainNode & { map: PlainNode[] }, String(seg));
      if (!p) return { complete: false, node: undefined, pairKey: undefined, fallback };
      pairKey = p.k;
      fallback = p.k as number;
      node = p;
    } else if (node.seq && typeof seg === "number") {
      const item = node.seq[seg];
      if (!item) return { complete: false, node: undefined, pairKey: undefined, fallback };
      node = item;
      fallback = item.s;
    } else {
      return { complete: false, node: undefined, pairKey: undefined, fallback };
    }
  }
  return { complete: true, node, pairKey, fallback };
}

/** Thrown inside the reader to give up; never escapes it. */
const GIVE_UP = Symbol("give up");

/**
 * Reads `text` when it is written in the plain subset of YAML; undefined otherwise (the caller
 * then uses the full parser).
 */
export function readPlainYaml(text: string): PlainDoc | undefined {
  // Tabs, carriage returns, control and odd line-break characters, byte order marks: full parser.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 ? c !== 10 : c === 127 || c === 0x85 || c === 0x2028 || c === 0x2029 || c === 0xfeff)
      return undefined;
  }
  try {
    return new Reader(text).document();
  } catch (err) {
    if (err === GIVE_UP) return undefined;
    throw err;
  }
}

const giveUp = (): never => {
  throw GIVE_UP;
};

/** The one-character escapes of a double-quoted scalar the reader takes (the rest: yaml's parser). */
const ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\",
  '"': '"',
  "/": "/",
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\u0000",
};

const NULL_RE = /^(?:~|[Nn]ull|NULL)$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_RE = /^[-+]?[0-9]+$/;
const OCT_RE = /^0o[0-7]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

/** The value of a plain scalar, by the YAML 1.2 core schema (as the `yaml` package reads it). */
function plainValue(s: string): unknown {
  const c = s.charCodeAt(0);
  // Only strings starting with one of `~ n N t T f F + - . 0-9` can be anything but a string.
  if (
    !(
      c === 126 ||
      c === 110 ||
      c === 78 ||
      c === 116 ||
      c === 84 ||
      c === 102 ||
      c === 70 ||
      c === 43 ||
      c === 45 ||
      c === 46 ||
      (c >= 48 && c <= 57)
    )
  )
    return s;
  if (NULL_RE.test(s)) return null;
  if (BOOL_RE.test(s)) return s[0] === "t" || s[0] === "T";
  if (INT_RE.test(s)) return Number.parseInt(s, 10);
  if (OCT_RE.test(s)) return Number.parseInt(s.slice(2), 8);
  if (HEX_RE.test(s)) return Number.parseInt(s.slice(2), 16);
  if (NAN_RE.test(s))
    return s.slice(-3).toLowerCase() === "nan"
      ? Number.NaN
      : s[0] === "-"
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
  if (EXP_RE.test(s) || FLOAT_RE.test(s)) return Number.parseFloat(s);
  return s;
}

/** Characters a plain scalar may not start with. */
const INDICATORS = new Set([..."-?:,[]{}#&*!|>'\"%@`"]);
const FLOW_STOP = new Set([..."[]{},"]);

/**
 * A position node, every field set from the start: one shape for all, each field in the object
 * itself (fields added later would go to a separate store).
 */
function pn(s: number, e: number, map?: PlainNode[], seq?: PlainNode[], empty?: true): PlainNode {
  return { s, e, empty, key: undefined, k: undefined, map, seq, index: undefined } as PlainNode;
}

/** Stand-in for the object of a flow list in {@link Reader.flow}; never written to. */
const NO_KEYS: Record<string, never> = {};

/** A value read, where it was written, and (for a value that ends a line) where the next line starts. */
interface Read {
  value: unknown;
  node: PlainNode;
  next: number;
}

/** `[ ] { } ,`: the characters that end a plain scalar in a flow collection. */
function isFlowStop(c: number): boolean {
  return c === 91 || c === 93 || c === 123 || c === 125 || c === 44;
}

class Reader {
  private readonly n: number;
  /** The value of the scalar last scanned by {@link Reader.scanFlowScalar}. */
  private scanned: unknown = undefined;
  /**
   * Values and positions of the collections being read, innermost last: each collection's
   * items are copied out when it ends (lists of their exact length, no growing one per list).
   */
  private readonly values: unknown[] = [];
  private readonly nodes: PlainNode[] = [];

  /** The items pushed since `base` as lists of their own, taken off the stacks. */
  private takeValues(base: number): unknown[] {
    const out = this.values.slice(base);
    this.values.length = base;
    return out;
  }

  private takeNodes(base: number): PlainNode[] {
    const out = this.nodes.slice(base);
    this.nodes.length = base;
    return out;
  }

  constructor(private readonly t: string) {
    this.n = t.length;
  }

  document(): PlainDoc {
    const first = this.skipToContent(0);
    if (first >= this.n) giveUp();
    if (this.indentAt(first) !== 0) giveUp();
    const { value, node, next } = this.blockCollection(first, 0);
    if (next < this.n) giveUp();
    return { data: value, root: node };
  }

  // Lines -----------------------------------------------------------------------------------------

  private lineEnd(i: number): number {
    const e = this.t.indexOf("\n", i);
    return e < 0 ? this.n : e;
  }

  /** Start of the first line from line start `i` that is not blank or a comment (or the end). */
  private skipToContent(i: number): number {
    const t = this.t;
    let ls = i;
    while (ls < this.n) {
      let j = ls;
      while (t.charCodeAt(j) === 32) j++;
      const c = t[j];
      if (c === "\n") {
        ls = j + 1;
        continue;
      }
      if (j >= this.n) return this.n;
      if (c === "#") {
        ls = this.lineEnd(j) + 1;
        continue;
      }
      // Document markers and directives: the full parser.
      if (j === ls && (t.startsWith("---", ls) || t.startsWith("...", ls) || c === "%")) giveUp();
      return ls;
    }
    return this.n;
  }

  private indentAt(ls: number): number {
    let j = ls;
    while (this.t.charCodeAt(j) === 32) j++;
    return j - ls;
  }

  /** After a value ending at `i`: only spaces and a comment may follow on the line. Returns the next line. */
  private endOfLine(i: number): number {
    const t = this.t;
    let j = i;
    while (t.charCodeAt(j) === 32) j++;
    if (j >= this.n) return this.n;
    if (t[j] === "\n") return j + 1;
    if (t[j] === "#" && j > i) return this.lineEnd(j) + 1;
    return giveUp();
  }

  private isSeqDash(i: number): boolean {
    if (this.t[i] !== "-") return false;
    const c = this.t[i + 1];
    return c === " " || c === "\n" || i + 1 >= this.n;
  }

  // Block collections -----------------------------------------------------------------------------

  /** A block map or list whose first line starts at `ls` with `indent` spaces. */
  private blockCollection(ls: number, indent: number): Read {
    return this.isSeqDash(ls + indent) ? this.blockSeq(ls, indent) : this.blockMap(ls + indent, indent);
  }

  /** A block map whose first key is at offset `p`, in column `col` (0-based). */
  private blockMap(first: number, col: number): Read {
    const t = this.t;
    const obj: Record<string, unknown> = {};
    const base = this.nodes.length;
    let p = first;
    for (;;) {
      const { key, after } = this.blockKey(p);
      if (Object.hasOwn(obj, key)) giveUp();
      const v = this.mapValue(after, col);
      obj[key] = v.value;
      v.node.key = key;
      v.node.k = p;
      this.nodes.push(v.node);
      const next = v.next;
      if (next >= this.n) return { value: obj, node: pn(first, first, this.takeNodes(base)), next };
      const ind = this.indentAt(next);
      if (ind < col) return { value: obj, node: pn(first, first, this.takeNodes(base)), next };
      if (ind > col) giveUp();
      p = next + ind;
      if (this.isSeqDash(p) || t[p] === "?") giveUp();
    }
  }

  /** A key written at `p` and its `:`; gives up on keys that are not plain strings. */
  private blockKey(p: number): { key: string; after: number } {
    const t = this.t;
    const c = t[p];
    let key: string;
    let end: number;
    if (c === '"' || c === "'") {
      const q = c === '"' ? this.doubleQuoted(p) : this.singleQuoted(p);
      key = q.value;
      end = q.end;
    } else {
      if (INDICATORS.has(c as string)) giveUp();
      end = p;
      for (;;) {
        const ch = t[end];
        if (ch === ":" || ch === "\n" || ch === " " || ch === "#" || end >= this.n) break;
        if (FLOW_STOP.has(ch as string)) giveUp();
        end++;
      }
      key = t.slice(p, end);
      if (typeof plainValue(key) !== "string") giveUp();
    }
    if (t[end] !== ":") giveUp();
    const next = t[end + 1];
    if (!(next === " " || next === "\n" || end + 1 >= this.n)) giveUp();
    if (key === "__proto__" || key === "<<" || end - p > 1000) giveUp();
    return { key, after: end + 1 };
  }

  /** The value of a map key whose `:` ends at `after`; the key is in column `col`. */
  private mapValue(after: number, col: number): Read {
    const t = this.t;
    let j = after;
    while (t.charCodeAt(j) === 32) j++;
    const c = t[j];
    if (j >= this.n || c === "\n" || c === "#") {
      const next = this.skipToContent(j >= this.n ? this.n : this.lineEnd(j) + 1);
      if (next < this.n) {
        const ind = this.indentAt(next);
        if (ind > col) return this.blockCollection(next, ind);
        if (ind === col && this.isSeqDash(next + ind)) return this.blockSeq(next, ind);
      }
      return { value: null, node: pn(after, after, undefined, undefined, true), next };
    }
    return this.inlineValue(j, col);
  }

  /** A block list whose first `-` is on the line starting at `ls`, after `indent` spaces. */
  private blockSeq(ls: number, indent: number): Read {
    const t = this.t;
    const base = this.nodes.length;
    const valuesBase = this.values.length;
    const start = ls + indent;
    const done = (next: number): Read => ({
      value: this.takeValues(valuesBase),
      node: pn(start, start, undefined, this.takeNodes(base)),
      next,
    });
    let line = ls;
    for (;;) {
      const dash = line + indent;
      let j = dash + 1;
      while (t.charCodeAt(j) === 32) j++;
      const c = t[j];
      let item: Read;
      if (j >= this.n || c === "\n" || c === "#") {
        if (c === "#" && j === dash + 1) giveUp();
        const next = this.skipToContent(j >= this.n ? this.n : this.lineEnd(j) + 1);
        const ind = next < this.n ? this.indentAt(next) : -1;
        item =
          ind > indent
            ? this.blockCollection(next, ind)
            : { value: null, node: pn(dash + 1, dash + 1, undefined, undefined, true), next };
      } else if (this.isSeqDash(j) || c === "?") {
        return giveUp();
      } else if (this.startsKey(j)) {
        item = this.blockMap(j, j - line);
      } else {
        item = this.inlineValue(j, indent);
      }
      this.values.push(item.value);
      this.nodes.push(item.node);
      const next = item.next;
      if (next >= this.n) return done(next);
      const ind = this.indentAt(next);
      if (ind < indent) return done(next);
      if (ind > indent) giveUp();
      if (!this.isSeqDash(next + ind)) return done(next);
      line = next;
    }
  }

  /** Whether a `key:` starts at `j` (one line, plain or quoted key). */
  private startsKey(j: number): boolean {
    const t = this.t;
    const c = t[j];
    let k = j;
    if (c === '"' || c === "'") {
      k = t.indexOf(c, j + 1);
      while (k >= 0 && c === "'" && t[k + 1] === "'") k = t.indexOf(c, k + 2);
      while (k >= 0 && c === '"' && isEscaped(t, k)) k = t.indexOf(c, k + 1);
      if (k < 0) return false;
      k++;
    } else {
      if (c === "[" || c === "{") return false;
      const eol = this.lineEnd(j);
      for (; k < eol; k++) {
        const ch = t[k];
        if (ch === ":") {
          const after = t[k + 1];
          if (after === " " || after === "\n" || k + 1 >= this.n) return true;
        } else if (ch === "#" && t[k - 1] === " ") {
          return false;
        }
      }
      return false;
    }
    const after = t[k + 1];
    return t[k] === ":" && (after === " " || after === "\n" || k + 1 >= this.n);
  }

  // Values written on the line ----------------------------------------------------------------------

  /** A value starting at `j` on a line (flow collection, quoted, literal or plain scalar). */
  private inlineValue(j: number, parentIndent: number): Read {
    const t = this.t;
    const c = t[j];
    if (c === "[" || c === "{") {
      const r = this.flow(j);
      r.next = this.skipToContent(this.endOfLine(r.node.e));
      return r;
    }
    if (c === '"' || c === "'") {
      const q = c === '"' ? this.doubleQuoted(j) : this.singleQuoted(j);
      return {
        value: q.value,
        node: pn(j, q.end),
        next: this.skipToContent(this.endOfLine(q.end)),
      };
    }
    if (c === "|") return this.literal(j, parentIndent);
    if (INDICATORS.has(c as string)) {
      // `-`, `?` and `:` start a plain scalar when a non-space follows (`-1`, `:x`).
      const after = t[j + 1];
      if (!((c === "-" || c === "?" || c === ":") && after !== " " && after !== "\n" && j + 1 < this.n))
        giveUp();
    }
    const eol = this.lineEnd(j);
    let end = eol;
    for (let k = j; k < eol; k++) {
      const ch = t[k];
      if (ch === "#" && t[k - 1] === " ") {
        end = k;
        break;
      }
      if (ch === ":" && (t[k + 1] === " " || k + 1 === eol)) giveUp();
    }
    while (t.charCodeAt(end - 1) === 32) end--;
    const s = t.slice(j, end);
    return {
      value: plainValue(s),
      node: pn(j, end),
      next: this.skipToContent(eol >= this.n ? this.n : eol + 1),
    };
  }

  /** A literal block scalar (`|` or `|-`) whose indicator is at `j`. */
  private literal(j: number, parentIndent: number): Read {
    const t = this.t;
    let k = j + 1;
    const strip = t[k] === "-";
    if (strip) k++;
    // Indentation indicators, `+` and comments after the header: the full parser.
    if (k < this.n && t[k] !== "\n") giveUp();
    let line = k + 1;
    let content = "";
    let indent = -1;
    let end = k >= this.n ? this.n : k + 1;
    while (line < this.n) {
      const eol = this.lineEnd(line);
      const ind = this.indentAt(line);
      if (line + ind === eol) {
        // A blank line: more spaces than the content's indentation are content, or an error.
        if (indent < 0 || ind > indent) giveUp();
        content += "\n";
        line = eol + 1;
        continue;
      }
      if (indent < 0) {
        if (ind <= parentIndent) break;
        indent = ind;
      } else if (ind < indent) {
        break;
      }
      content += `${t.slice(line + indent, eol)}\n`;
      end = eol >= this.n ? this.n : eol + 1;
      line = eol + 1;
    }
    if (indent < 0) giveUp();
    // Blank lines at the end belong to the block only as its trailing newlines.
    const body = content.replace(/\n+$/, "");
    const value = strip ? body : `${body}\n`;
    return { value, node: pn(j, end), next: this.skipToContent(line >= this.n ? this.n : line) };
  }

  /** A flow list or map on one line, starting at `j`. */
  private flow(j: number): Read {
    const t = this.t;
    const close = t[j] === "[" ? "]" : "}";
    const isMap = close === "}";
    const obj: Record<string, unknown> = isMap ? {} : NO_KEYS;
    const base = this.nodes.length;
    const valuesBase = this.values.length;
    let k = this.spaces(j + 1);
    if (t[k] === close) {
      return {
        value: isMap ? obj : [],
        node: isMap ? pn(j, k + 1, []) : pn(j, k + 1, undefined, []),
        next: 0,
      };
    }
    for (;;) {
      if (isMap) {
        const keyStart = k;
        k = this.scanFlowScalar(k, true);
        const name = this.scanned;
        if (typeof name !== "string") return giveUp();
        if (t[k] !== ":" || t[k + 1] !== " ") giveUp();
        k = this.spaces(k + 1);
        const v = this.flowItem(k);
        if (name === "__proto__" || name === "<<" || Object.hasOwn(obj, name)) giveUp();
        obj[name] = v.value;
        v.node.key = name;
        v.node.k = keyStart;
        this.nodes.push(v.node);
        k = v.node.e;
      } else {
        const v = this.flowItem(k);
        this.values.push(v.value);
        this.nodes.push(v.node);
        k = v.node.e;
      }
      k = this.spaces(k);
      if (t[k] === ",") {
        k = this.spaces(k + 1);
        if (t[k] === close) giveUp();
        continue;
      }
      if (t[k] === close) break;
      giveUp();
    }
    return isMap
      ? { value: obj, node: pn(j, k + 1, this.takeNodes(base)), next: 0 }
      : { value: this.takeValues(valuesBase), node: pn(j, k + 1, undefined, this.takeNodes(base)), next: 0 };
  }

  private spaces(k: number): number {
    let i = k;
    while (this.t.charCodeAt(i) === 32) i++;
    return i;
  }

  private flowItem(k: number): Read {
    const c = this.t[k];
    if (c === "[" || c === "{") return this.flow(k);
    return this.flowScalar(k);
  }

  /** A quoted or plain scalar inside a flow collection. */
  private flowScalar(k: number): Read {
    const end = this.scanFlowScalar(k, false);
    return { value: this.scanned, node: pn(k, end), next: 0 };
  }

  /**
   * Scans a quoted or plain scalar inside a flow collection (a key stops at its `:`): returns
   * where it ends, its value in `scanned`.
   */
  private scanFlowScalar(k: number, isKey: boolean): number {
    const t = this.t;
    const c = t[k];
    if (c === '"' || c === "'") {
      const q = c === '"' ? this.doubleQuoted(k) : this.singleQuoted(k);
      this.scanned = q.value;
      return q.end;
    }
    if (INDICATORS.has(c as string)) {
      const after = t.charCodeAt(k + 1);
      if (
        !(
          (c === "-" || c === "?" || c === ":") &&
          after !== 32 &&
          after !== 10 &&
          !isFlowStop(after) &&
          k + 1 < this.n
        )
      )
        giveUp();
    }
    let end = k;
    for (;;) {
      const ch = t.charCodeAt(end);
      if (end >= this.n || ch === 10 || isFlowStop(ch)) break;
      if (ch === 58) {
        // `:`
        if (isKey) break;
        giveUp();
      }
      if (ch === 35 && t.charCodeAt(end - 1) === 32) giveUp(); // ` #`
      // Keys of one word only: the full parser for the rest.
      if (ch === 32 && isKey) giveUp();
      end++;
    }
    if (end >= this.n || t.charCodeAt(end) === 10) giveUp();
    while (t.charCodeAt(end - 1) === 32) end--;
    if (end === k) giveUp();
    this.scanned = plainValue(t.slice(k, end));
    return end;
  }

  // Quoted scalars ----------------------------------------------------------------------------------

  /** A one-line double-quoted scalar opening at `j`; `end` is after its closing quote. */
  private doubleQuoted(j: number): { value: string; end: number } {
    const t = this.t;
    let out = "";
    let from = j + 1;
    let k = from;
    for (;;) {
      const ch = t[k];
      if (ch === undefined || ch === "\n") return giveUp();
      if (ch === '"') break;
      if (ch === "\\") {
        out += t.slice(from, k);
        const e = t[k + 1] ?? "";
        if (Object.hasOwn(ESCAPES, e)) {
          out += ESCAPES[e];
          k += 2;
        } else if (e === "u") {
          const hex = t.slice(k + 2, k + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) giveUp();
          out += String.fromCharCode(Number.parseInt(hex, 16));
          k += 6;
        } else {
          return giveUp();
        }
        from = k;
        continue;
      }
      k++;
    }
    out += t.slice(from, k);
    return { value: out, end: k + 1 };
  }

  /** A one-line single-quoted scalar opening at `j`. */
  private singleQuoted(j: number): { value: string; end: number } {
    const t = this.t;
    let out = "";
    let from = j + 1;
    for (;;) {
      const k = t.indexOf("'", from);
      const eol = this.lineEnd(from);
      if (k < 0 || k > eol) return giveUp();
      out += t.slice(from, k);
      if (t[k + 1] === "'") {
        out += "'";
        from = k + 2;
        continue;
      }
      return { value: out, end: k + 1 };
    }
  }
}

/** Whether the quote at `k` is escaped by an odd number of backslashes. */
function isEscaped(t: string, k: number): boolean {
  let n = 0;
  for (let i = k - 1; t[i] === "\\"; i--) n++;
  return n % 2 === 1;
}
