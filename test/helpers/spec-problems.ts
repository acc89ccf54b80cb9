/** What spec tests share: YAML from lines, and the located problems a project text is refused with. */
import { BatonError, formatProblem } from "../../src/errors.js";
import { parseProjectText } from "../../src/spec/parse.js";

/** Lines joined into a YAML text (with the final newline). */
export const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

/** The problems `baton.yaml` with `text` is refused with, formatted as the CLI prints them; [] if it parses. */
export function problems(text: string): string[] {
  try {
    parseProjectText(text, "baton.yaml");
  } catch (err) {
    if (err instanceof BatonError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}
