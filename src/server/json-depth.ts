/** How deep a request body's JSON may nest; a pipeline definition needs a few dozen levels at most. */
export const MAX_JSON_DEPTH = 128;

/**
 * Why this JSON text nests too deep, or undefined: one pass over the text, without recursion and
 * before any parsing, counting `[` and `{` outside strings. Malformed text is left to the parser.
 */
export function jsonDepthProblem(text: string, max: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return `JSON nested deeper than ${max} levels (at character ${i + 1})`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}
