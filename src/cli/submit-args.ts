import type { SubmitOptions } from "./commands/submit.js";

/** `baton submit`'s options that take a value, by every spelling, and where each goes. */
const VALUED: Record<string, keyof SubmitOptions> = {
  "-n": "name",
  "--name": "name",
  "-P": "pool",
  "--pool": "pool",
  "--after-success": "afterSuccess",
  "--after-fail": "afterFail",
  "--after": "after",
  "-e": "env",
  "--env": "env",
  "-l": "label",
  "--label": "label",
  "--priority": "priority",
  "-N": "shards",
  "--shards": "shards",
  "--retries": "retries",
  "--timeout": "timeout",
  "--idempotency-key": "idempotencyKey",
};
const REPEATED = new Set<keyof SubmitOptions>(["afterSuccess", "afterFail", "after", "env", "label"]);
const FLAGS: Record<string, "wait" | "each"> = { "--wait": "wait", "--each": "each" };

/**
 * The arguments of `baton submit` in their plain spellings (`-n NAME`, `--name NAME`,
 * `--name=NAME`, `--wait`, `--` ...), read without loading the full command line: a submit is
 * often one of thousands in a shell loop (docs/architecture.md, "Start-up"). Options end at the
 * command's first word or at `--`, as for the full parser (cli/program.ts), which must read
 * every form here the same way (test/unit/submit-args.test.ts checks it). Anything else (help,
 * short options run together, an unknown or incomplete option) returns undefined: the full
 * parser then reads the arguments and says what is wrong.
 */
export function quickSubmitArgs(
  args: readonly string[],
): { words: string[]; opts: SubmitOptions } | undefined {
  const opts: SubmitOptions = { afterSuccess: [], afterFail: [], after: [], env: [], label: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg.length < 2 || !arg.startsWith("-")) break;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const key = VALUED[flag];
    if (key) {
      const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) return undefined;
      if (REPEATED.has(key)) (opts[key] as string[]).push(value);
      else (opts as unknown as Record<string, string>)[key] = value;
      continue;
    }
    const on = FLAGS[flag];
    if (!on || eq >= 0) return undefined;
    opts[on] = true;
  }
  return { words: args.slice(i), opts };
}
