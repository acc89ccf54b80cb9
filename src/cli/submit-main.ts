import { findEndpoint } from "../client/api-client.js";
import { submitCommand } from "./commands/submit.js";
import { runCommandLine } from "./exit.js";
import { quickSubmitArgs } from "./submit-args.js";

/**
 * `baton submit ARGS` to a server, when ARGS are in their plain forms (cli/submit-args.ts): the
 * entry of its own small bundle (dist/bundle/submit.cjs, scripts/bundle-cli.mjs), for the shell
 * loops that submit thousands of tasks. Returns false, having done nothing, for anything else
 * (no server to send to, help, a mistake): bin/baton.js then runs the whole CLI.
 */
export async function submitToServer(args: string[]): Promise<boolean> {
  const submit = quickSubmitArgs(args);
  if (!submit || !findEndpoint(process.cwd())) return false;
  await runCommandLine(() => submitCommand(submit.words, submit.opts));
  return true;
}
