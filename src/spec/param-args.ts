/**
 * Params rendered as command-line words, the way Valohai renders `{parameters}` and
 * `{parameter:NAME}` (docs/pipeline-file.md, "Params as command-line arguments"). Pure.
 *
 * - The words come from `pass-as` (default `--{name}={v}`), split at whitespace; in each word
 *   `{v}` and `{value}` are the value and `{name}` the param's name. Each word stays one shell
 *   word: the value is shell-quoted when it needs to be (`--name='two words'`).
 * - A bool: with `pass-true-as` or `pass-false-as`, true renders `pass-true-as` and false (or
 *   unset) `pass-false-as`, either being nothing when not given; with neither, true renders
 *   `pass-as` (default `--{name}`) and false renders nothing.
 * - A list with `multiple: repeat` renders the words once per item (`--x=1 --x=2`); with
 *   `multiple: separate` once, with the items joined by `multiple-separator` (default `,`) as
 *   the value (`--x=1,2`); an empty list renders nothing. A list without `multiple`, and a
 *   `json` param, render their JSON text as the value.
 * - A param with no value (an `optional` one left unset) renders nothing.
 */
import { shellQuote } from "./expressions.js";
import type { ParamSpec } from "./types.js";

/** `args` and `arg` of the expression context of a task's `run:` and `env:`. */
export interface ArgsContext {
  /** Every param's words, in declaration order, joined by spaces. */
  args: string;
  /** Each param's words, by name (the empty string when the param renders nothing). */
  arg: Record<string, string>;
}

/** Renders every declared param of a task (values as resolved) for `args` and `arg`. */
export function argsContext(
  decls: Readonly<Record<string, ParamSpec>>,
  values: Readonly<Record<string, unknown>>,
): ArgsContext {
  const arg: Record<string, string> = Object.create(null) as Record<string, string>;
  const all: string[] = [];
  for (const [name, spec] of Object.entries(decls)) {
    const value = Object.hasOwn(values, name) ? values[name] : undefined;
    const words = renderParamWords(name, spec, value);
    arg[name] = words.join(" ");
    all.push(...words);
  }
  return { args: all.join(" "), arg };
}

/** The shell words one param renders to (each already quoted for a POSIX shell); none to leave it out. */
export function renderParamWords(name: string, spec: ParamSpec, value: unknown): string[] {
  const template = passAsTemplate(name, spec, value);
  if (template === undefined) return [];
  const words = template.split(/\s+/).filter((w) => w !== "");
  if (spec.type === "list" && Array.isArray(value) && spec.multiple !== undefined) {
    if (spec.multiple === "repeat") return value.flatMap((item) => fillWords(words, name, atomText(item)));
    if (value.length === 0) return []; // no `--x=` for an empty list
    const joined = value.map(atomText).join(spec.multipleSeparator ?? ",");
    return fillWords(words, name, joined);
  }
  return fillWords(words, name, atomText(value));
}

/** The pass-as template for this value, or undefined when the param renders nothing. */
function passAsTemplate(name: string, spec: ParamSpec, value: unknown): string | undefined {
  if (spec.type === "bool") {
    if (spec.passTrueAs !== undefined || spec.passFalseAs !== undefined) {
      return (value === true ? spec.passTrueAs : spec.passFalseAs) || undefined;
    }
    if (value !== true) return undefined;
    return spec.passAs ?? `--${name}`;
  }
  if (value === undefined || value === null) return undefined;
  return spec.passAs ?? "--{name}={v}";
}

/** One value as text: strings as they are, numbers and booleans as written, the rest as JSON. */
function atomText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value) ?? "null";
}

const PLACEHOLDER = /\{(v|value|name)\}/g;

/** Fills `{v}`, `{value}` and `{name}` into each word; literal text and the value are quoted apart. */
function fillWords(words: readonly string[], name: string, value: string): string[] {
  return words.map((word) => {
    let out = "";
    let last = 0;
    for (const m of word.matchAll(PLACEHOLDER)) {
      out += quotePart(word.slice(last, m.index));
      out += m[1] === "name" ? quotePart(name) : shellQuote(value);
      last = m.index + m[0].length;
    }
    out += quotePart(word.slice(last));
    return out;
  });
}

/** A piece of a word: nothing for nothing, else quoted when needed. */
function quotePart(text: string): string {
  return text === "" ? "" : shellQuote(text);
}
