// Checks the output files of a finished run against what the shape expects.

import { readFileSync } from "node:fs";

/** Returns null when every checked file is right, else what is wrong. */
export function validate(shape, tool, dir, stdoutText) {
  for (const c of shape.checks) {
    const p = tool.locate(dir, c.file, stdoutText);
    if (!p) return `output ${c.file} not found`;
    const got = readFileSync(p, "utf8").split("\n");
    if (got[got.length - 1] === "") got.pop();
    const want = c.ordered ? c.lines : [...c.lines].sort();
    const have = c.ordered ? got : [...got].sort();
    if (have.length !== want.length) return `${c.file}: ${have.length} lines, expected ${want.length}`;
    const i = have.findIndex((x, k) => x !== want[k]);
    if (i >= 0)
      return `${c.file}: line ${i + 1} is ${JSON.stringify(have[i])}, expected ${JSON.stringify(want[i])}`;
  }
  return null;
}
