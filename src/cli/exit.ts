import { type BatonError, ensureBatonError, exitCodeFor, formatProblem } from "../errors.js";
import { safeText } from "./terminal.js";

/** Exit codes (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/**
 * Runs a command as the `baton` binary does: a signal before the command claims it ends the
 * process (exit 130), an error is printed the way users read it and sets the exit code.
 */
export async function runCommandLine(command: () => Promise<void>): Promise<void> {
  exitOnSignalUntilClaimed();
  try {
    await command();
    process.exitCode ??= EXIT.ok;
  } catch (err) {
    const e = ensureBatonError(err);
    reportError(e);
    process.exitCode = exitCodeFor(e);
  }
}

/** Prints an error the way users read it: the message, then every located problem. */
export function reportError(e: BatonError): void {
  if (e.problems.length > 0) {
    for (const p of e.problems) process.stderr.write(`${safeText(formatProblem(p))}\n`);
    const n = e.problems.length;
    process.stderr.write(`${n} problem${n === 1 ? "" : "s"} found\n`);
    return;
  }
  process.stderr.write(`baton: ${safeText(e.message)}\n`);
  if (e.code === "INTERNAL" && e.cause instanceof Error && process.env.BATON_DEBUG) {
    process.stderr.write(`${e.cause.stack}\n`);
  }
}

let signalsClaimed = false;

/**
 * Until a command takes over SIGINT/SIGTERM (see {@link claimSignals}), a signal ends the
 * process at once with exit code 130: nothing has been started that would need cancelling.
 */
function exitOnSignalUntilClaimed(): void {
  const handler = () => {
    if (!signalsClaimed) process.exit(EXIT.interrupted);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

/** Called by commands that cancel their work themselves on SIGINT/SIGTERM. */
export function claimSignals(): void {
  signalsClaimed = true;
}
