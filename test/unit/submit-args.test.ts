import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import type { SubmitOptions } from "../../src/cli/commands/submit.js";
import { buildProgram } from "../../src/cli/program.js";
import { quickSubmitArgs } from "../../src/cli/submit-args.js";

/** What the full command line hands `baton submit ARGS`'s command, or the usage error it gives. */
async function byCommander(
  args: string[],
): Promise<{ words: string[]; opts: SubmitOptions } | "usage error"> {
  const program = buildProgram();
  let got: { words: string[]; opts: SubmitOptions } | undefined;
  const submit = program.commands.find((c) => c.name() === "submit") as Command;
  submit.action((words: string[], opts: SubmitOptions) => {
    got = { words, opts: { ...opts } };
  });
  for (const c of [program, submit])
    c.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    await program.parseAsync(["submit", ...args], { from: "user" });
  } catch {
    return "usage error";
  }
  return got ?? "usage error";
}

/** Read by the quick parser: each must come out exactly as the full parser reads it. */
const QUICK: string[][] = [
  ["true"],
  [],
  ["-n", "x", "--", "true"],
  ["--name", "x", "python", "train.py", "--lr", "0.1"],
  ["--name=x", "-P", "gpu", "--", "sh", "-c", "echo $1", "-n"],
  ["-n", "-weird", "true"],
  ["--after-success", "a", "--after-success=b", "--after-fail", "c", "--after", "d", "true"],
  ["-e", "A=1", "--env", "B=2=3", "-l", "k=v", "--label=team=ml", "true"],
  ["--priority", "5", "-N", "4", "--shards", "3", "--retries", "2", "--timeout", "10m", "true"],
  ["--idempotency-key", "k1", "--wait", "--each", "--", "wc", "-l", "{}"],
  ["-n", "a", "-n", "b", "true"],
  ["--", "--wait"],
  ["-", "x"],
  ["", "x"],
  ["-n", "", "true"],
  ["--name=", "true"],
  ["--wait", "ls", "--each", "-n", "x"],
];

/** Left to the full parser, which reads them or reports a usage error. */
const LEFT: string[][] = [
  ["-h"],
  ["--help"],
  ["-nx", "true"],
  ["--bogus", "true"],
  ["-n"],
  ["--wait=yes", "true"],
  ["-x", "true"],
  ["--name"],
];

describe("baton submit's arguments read without the full command line", () => {
  it.each(QUICK.map((args) => [args.join(" ") || "(none)", args] as const))(
    "%s: as the full parser reads it",
    async (_label, args) => {
      const quick = quickSubmitArgs(args);
      expect(quick).toBeDefined();
      expect(quick).toEqual(await byCommander(args));
    },
  );

  it.each(LEFT.map((args) => [args.join(" "), args] as const))(
    "%s: left to the full parser",
    (_label, args) => {
      expect(quickSubmitArgs(args)).toBeUndefined();
    },
  );
});
