import { type BatonError, formatProblem } from "../errors.js";
import { safeText } from "./terminal.js";

/** Exit codes (docs/cli.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

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
export function exitOnSignalUntilClaimed(): void {
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
