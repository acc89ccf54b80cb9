import { runCommandLine } from "./exit.js";
import { quickSubmitArgs } from "./submit-args.js";

/**
 * Entry point of the `baton` binary: runs a command and exits with its code. The command line
 * (cli/program.ts, with commander) is loaded for every command but the plainest `baton submit`,
 * which goes straight to its command (cli/submit-args.ts).
 */
export async function main(argv: string[]): Promise<void> {
  await runCommandLine(async () => {
    const submit = argv[0] === "submit" ? quickSubmitArgs(argv.slice(1)) : undefined;
    if (submit) await (await import("./commands/submit.js")).submitCommand(submit.words, submit.opts);
    else await (await import("./program.js")).runProgram(argv);
  });
}
