import fs from "node:fs";
import os from "node:os";
import { stringify } from "yaml";
import { BatonError, type Problem, formatProblem } from "../../errors.js";
import { parseProjectText } from "../../spec/parse.js";
import { type ValohaiImport, importValohaiText } from "../../spec/valohai.js";

/**
 * `baton import valohai FILE [-o OUT]`: converts a valohai.yaml into baton.yaml (stdout, or
 * OUT), checks the result with the same validator as `baton validate`, and lists on stderr
 * what could not be carried over. Every warning and refusal names a place in FILE.
 */
export async function importCommand(kind: string, file: string, opts: { output?: string }): Promise<void> {
  if (kind !== "valohai") throw new BatonError("USAGE", `baton import ${kind}: only "valohai" is supported`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BatonError("SPEC_NOT_FOUND", `cannot read ${file}: ${(err as Error).message}`);
  }
  const result = importValohaiText(text, file);
  // Warnings first, whether the import succeeds or not.
  for (const w of result.warnings) process.stderr.write(`warning: ${formatProblem(w)}\n`);
  if (result.errors.length || !result.document) {
    throw new BatonError("SPEC_INVALID", result.errors.map(formatProblem).join("\n"), {
      problems: result.errors,
      context: { file },
    });
  }
  const yaml = `# Converted from ${file} by \`baton import valohai\`.\n${stringify(result.document, { lineWidth: 0 })}`;
  const target = opts.output ?? "baton.yaml";
  // The converted file must be one Baton accepts: check it before anyone runs it, and report
  // what fails at the Valohai step or node it came from (the converted text is not written).
  try {
    parseProjectText(yaml, target, { cpus: os.availableParallelism() });
  } catch (err) {
    if (err instanceof BatonError && err.code === "SPEC_INVALID") {
      const problems = err.problems.map((p) => mapBack(p, result));
      throw new BatonError("SPEC_INVALID", problems.map(formatProblem).join("\n"), {
        problems,
        context: { file },
      });
    }
    throw err;
  }
  if (opts.output) {
    fs.writeFileSync(opts.output, yaml);
    process.stderr.write(`wrote ${opts.output}\n`);
  } else {
    process.stdout.write(yaml);
  }
}

/** A problem of the converted document, placed at the Valohai step or node it came from. */
export function mapBack(p: Problem, result: ValohaiImport): Problem {
  const path = p.path ?? "";
  let best: ValohaiImport["origins"][number] | undefined;
  for (const o of result.origins) {
    const follows = path.length === o.converted.length || ".[".includes(path[o.converted.length] ?? "");
    if (path.startsWith(o.converted) && follows && (!best || o.converted.length > best.converted.length))
      best = o;
  }
  const message = `the converted file does not validate (please report this): ${path ? `${path}: ` : ""}${p.message}`;
  if (!best) return { ...(result.origins[0]?.at ?? {}), path: undefined, message } as Problem;
  return { ...best.at, message };
}
