/**
 * Where things were written in a YAML file: maps key paths (`pipelines.p.nodes.a.needs[0]`)
 * back to lines and columns, including positions inside string values for expressions.
 */
import {
  type Document,
  type LineCounter,
  type Pair,
  Scalar,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
} from "yaml";
import { type PlainDoc, findPlain } from "./plain-yaml.js";
import type { Path } from "./problems.js";

/** A 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** Answers "where was this written?" for key paths; JSON definitions have no source. */
export interface SourceMap {
  /**
   * Position of the key at the end of `path` (`at: "key"`) or of its value. With `offset`,
   * the position of that character inside a string value. A path that goes past what was
   * written resolves to the deepest part that exists.
   */
  position(path: Path, at: "key" | "value", offset?: number): SourcePosition | undefined;
  /** The text of a scalar as written (`1.0`, `"abc"`), or undefined. */
  text(path: Path): string | undefined;
}

/** The source map of a definition that did not come from a file. */
export const NO_SOURCE: SourceMap = {
  position: () => undefined,
  text: () => undefined,
};

type YamlNode = unknown;

interface Found {
  /** The pair whose key is the last path segment, when the last segment is a map key. */
  pair: Pair | undefined;
  /** The value at the path (resolved through aliases), when the whole path matched. */
  node: YamlNode;
  /** Whether every segment matched. */
  complete: boolean;
  /** Offset of the deepest part of the path that exists (key when there is one). */
  fallback: number | undefined;
}

/** Builds a {@link SourceMap} over a parsed YAML document. */
export function yamlSourceMap(doc: Document, lineCounter: LineCounter, text: string): SourceMap {
  const pairIndex = new WeakMap<object, Map<string, Pair>>();

  const resolve = (node: YamlNode): YamlNode => {
    let n = node;
    for (let i = 0; i < 100 && isAlias(n); i++) n = n.resolve(doc);
    return n;
  };

  const findPair = (map: YamlNode, key: string, depth: number): Pair | undefined => {
    if (!isMap(map) || depth > 20) return undefined;
    let index = pairIndex.get(map);
    if (!index) {
      index = new Map();
      for (const item of map.items) {
        const k = keyString(item.key);
        if (k !== undefined && k !== MERGE) index.set(k, item);
      }
      pairIndex.set(map, index);
    }
    const direct = index.get(key);
    if (direct) return direct;
    for (const item of map.items) {
      if (keyString(item.key) !== MERGE) continue;
      const source = resolve(item.value);
      const sources = isSeq(source) ? source.items.map(resolve) : [source];
      for (const s of sources) {
        const p = findPair(s, key, depth + 1);
        if (p) return p;
      }
    }
    return undefined;
  };

  const find = (path: Path): Found => {
    let node = resolve(doc.contents);
    let pair: Pair | undefined;
    let fallback = startOf(node);
    for (const seg of path) {
      pair = undefined;
      if (isMap(node)) {
        const p = findPair(node, String(seg), 0);
        if (!p) return { pair: undefined, node: undefined, complete: false, fallback };
        pair = p;
        fallback = startOf(p.key) ?? fallback;
        node = resolve(p.value);
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) return { pair: undefined, node: undefined, complete: false, fallback };
        node = resolve(item);
        fallback = startOf(node) ?? fallback;
      } else {
        return { pair: undefined, node: undefined, complete: false, fallback };
      }
    }
    return { pair, node, complete: true, fallback };
  };

  const toPosition = (offset: number | undefined): SourcePosition | undefined => {
    if (offset === undefined) return undefined;
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  return {
    position(path, at, offset) {
      const found = find(path);
      if (!found.complete) return toPosition(found.fallback ?? 0);
      const keyStart = found.pair ? startOf(found.pair.key) : undefined;
      if (at === "key" && keyStart !== undefined) return toPosition(keyStart);
      const { node } = found;
      const empty = isScalar(node) && node.value === null && !node.source;
      if (empty || startOf(node) === undefined) return toPosition(keyStart ?? found.fallback ?? 0);
      if (offset !== undefined && isScalar(node) && typeof node.value === "string") {
        return toPosition(offsetInScalar(text, node, offset));
      }
      return toPosition(startOf(node));
    },
    text(path) {
      const { node, complete } = find(path);
      if (!complete || !isScalar(node) || !node.range) return undefined;
      return text.slice(node.range[0], node.range[1]);
    },
  };
}

/**
 * The same answers as {@link yamlSourceMap} from the positions the fast reader kept. A position
 * inside a string (expressions) is asked of `full()`, built once when first needed.
 */
export function plainSourceMap(doc: PlainDoc, text: string, full: () => SourceMap): SourceMap {
  let lineStarts: number[] | undefined;
  let fullMap: SourceMap | undefined;
  const toPosition = (offset: number): SourcePosition => {
    if (!lineStarts) {
      lineStarts = [0];
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lineStarts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (lineStarts[lo] as number) + 1 };
  };
  return {
    position(path, at, offset) {
      if (offset !== undefined) {
        fullMap ??= full();
        return fullMap.position(path, at, offset);
      }
      const found = findPlain(doc.root, path);
      if (!found.complete || !found.node) return toPosition(found.fallback);
      if (at === "key" && found.pairKey !== undefined) return toPosition(found.pairKey);
      if (found.node.empty) return toPosition(found.pairKey ?? found.fallback);
      return toPosition(found.node.s);
    },
    text(path) {
      const { node, complete } = findPlain(doc.root, path);
      if (!complete || !node || node.map || node.seq) return undefined;
      return text.slice(node.s, node.e);
    },
  };
}

/**
 * The key path of the map key written at `offset` (used to place duplicate-key errors),
 * with the offset of the first key of the same name in that map.
 */
export function keyPathAt(
  doc: Document,
  offset: number,
): { path: Path; first: number | undefined } | undefined {
  const visit = (node: YamlNode, path: Array<string | number>): ReturnType<typeof keyPathAt> => {
    if (isMap(node)) {
      for (const item of node.items) {
        const key = keyString(item.key);
        if (key !== undefined && startOf(item.key) === offset) {
          const first = node.items.find((p) => keyString(p.key) === key);
          return { path: [...path, key], first: first ? startOf(first.key) : undefined };
        }
        if (key !== undefined) {
          const inner = visit(item.value, [...path, key]);
          if (inner) return inner;
        }
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const inner = visit(node.items[i], [...path, i]);
        if (inner) return inner;
      }
    }
    return undefined;
  };
  return visit(doc.contents, []);
}

const MERGE = "<<";

function keyString(key: unknown): string | undefined {
  if (isScalar(key)) {
    if (typeof key.value === "symbol") return MERGE;
    return key.value === null ? "" : String(key.value);
  }
  return undefined;
}

function startOf(node: unknown): number | undefined {
  if (isPair(node)) return startOf(node.key);
  if (node && typeof node === "object" && "range" in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    return range ? range[0] : undefined;
  }
  return undefined;
}

/**
 * Offset in the file of character `offset` of a string scalar's value. Exact for one-line
 * plain and quoted strings and for literal blocks (`|`); close for folded and escaped text:
 * the value's characters are matched, in order, against the source.
 */
function offsetInScalar(text: string, node: Scalar, offset: number): number {
  const value = String(node.value);
  const [start, end] = node.range ?? [0, 0];
  let j = start;
  if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) {
    const eol = text.indexOf("\n", start);
    j = eol >= 0 && eol < end ? eol + 1 : start;
  } else if (node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE) {
    j = start + 1;
  }
  const stop = Math.min(offset, value.length);
  for (let i = 0; i <= stop; i++) {
    const ch = value[i];
    if (ch === undefined) break;
    let k = j;
    while (k < end && text[k] !== ch) k++;
    if (k >= end) break;
    if (i === stop) return k;
    j = k + 1;
  }
  return Math.min(j, Math.max(start, end - 1));
}
