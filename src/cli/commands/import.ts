import fs from "node:fs";
import os from "node:os";
import { parse, stringify } from "yaml";
import { BatonError } from "../../errors.js";
import { parseProjectText } from "../../spec/parse.js";
import { importValohai } from "../../spec/valohai.js";

/**
 * `baton import valohai FILE [-o OUT]`: converts a valohai.yaml into baton.yaml (stdout, or
 * OUT), checks the result with the same validator as `baton validate`, and lists on stderr
 * what could not be carried over.
 */
export async function importCommand(kind: string, file: string, opts: { output?: string }): Promise<void> {
  if (kind !== "valohai") throw new BatonError("USAGE", `baton import ${kind}: only "valohai" is supported`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BatonError("SPEC_NOT_FOUND", `cannot read ${file}: ${(err as Error).message}`);
  }
  let config: unknown;
  try {
    config = parse(text);
  } catch (err) {
    throw new BatonError("SPEC_INVALID", `${file}: not valid YAML: ${(err as Error).message}`);
  }
  const { document, warnings } = importValohai(config, file);
  const yaml = `# Converted from ${file} by \`baton import valohai\`.\n${stringify(document, { lineWidth: 0 })}`;
  const target = opts.output ?? "baton.yaml";
  // The converted file must be one Baton accepts: check it before anyone runs it.
  parseProjectText(yaml, target, { cpus: os.availableParallelism() });
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  if (opts.output) {
    fs.writeFileSync(opts.output, yaml);
    process.stderr.write(`wrote ${opts.output}\n`);
  } else {
    process.stdout.write(yaml);
  }
}
