/**
 * How much a process may be given on this system: a command larger than the kernel takes fails
 * at spawn with a bare E2BIG. Checked at submission (and again just before a launch) so that the
 * user reads the size and the limit instead.
 */
import { execFileSync } from "node:child_process";

/** Linux: the longest single argument or environment string, its NUL included. */
export const MAX_ARG_STRLEN = 131_072;

/** What every launch adds to a task's environment (`BATON_*` paths and ids): room kept for it. */
const LAUNCH_ENV_RESERVE = 8 * 1024;

/**
 * The least ARG_MAX can be: on Linux, glibc's and the kernel's floor of 32 pages (`getconf` says
 * a quarter of the stack limit when that is more); elsewhere POSIX's minimum.
 */
const MIN_ARG_MAX = process.platform === "linux" ? 131_072 : 4096;

let argMaxCache: number | undefined;

/** The system's limit on arguments and environment together (`getconf ARG_MAX`), looked up once. */
export function argMax(): number {
  if (argMaxCache !== undefined) return argMaxCache;
  let value = Number.NaN;
  try {
    value = Number(execFileSync("getconf", ["ARG_MAX"], { encoding: "utf8", timeout: 5000 }).trim());
  } catch {
    // No getconf: the usual defaults.
  }
  argMaxCache =
    Number.isFinite(value) && value > 0 ? value : process.platform === "darwin" ? 1_048_576 : 2_097_152;
  return argMaxCache;
}

/** An environment's variables: what the kernel counts for them, and the first one too long on its own. */
interface EnvSize {
  total: number;
  tooLong?: string;
}

const PER_STRING = process.platform === "linux" ? MAX_ARG_STRLEN - 1 : Number.POSITIVE_INFINITY;

function envSize(env: Readonly<Record<string, string | undefined>>, skip?: Record<string, unknown>): EnvSize {
  let total = 0;
  for (const key in env) {
    const value = env[key];
    if (value === undefined || (skip !== undefined && key in skip)) continue;
    const bytes = Buffer.byteLength(key) + 1 + Buffer.byteLength(value);
    if (bytes > PER_STRING) {
      return {
        total,
        tooLong: `environment variable ${key} is ${bytes} bytes; the system takes at most ${PER_STRING} bytes in one variable (MAX_ARG_STRLEN)`,
      };
    }
    // The kernel counts each string with its NUL, and a pointer to it.
    total += bytes + 9;
  }
  return { total };
}

const inheritedSizes = new WeakMap<object, EnvSize>();

/**
 * Why `bash -c COMMAND` with this environment could not be started, or undefined when it can.
 * `env` is the whole environment the process would get, or what it adds to `inherited` (an
 * environment many commands start from, whose size is counted once).
 */
export function commandSizeProblem(
  command: string,
  env: Record<string, string | undefined>,
  inherited?: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const commandBytes = Buffer.byteLength(command);
  if (commandBytes > PER_STRING) {
    return `the command is ${commandBytes} bytes; the system takes at most ${PER_STRING} bytes in one argument (MAX_ARG_STRLEN)`;
  }
  // The kernel counts each string with its NUL, and a pointer to it.
  let total = ["/bin/bash", "-eo", "pipefail", "-c", command].reduce(
    (n, a) => n + Buffer.byteLength(a) + 9,
    0,
  );
  const own = envSize(env);
  if (own.tooLong !== undefined) return own.tooLong;
  total += own.total;
  if (inherited !== undefined) {
    let base = inheritedSizes.get(inherited);
    if (base === undefined) {
      base = envSize(inherited);
      inheritedSizes.set(inherited, base);
    }
    if (base.tooLong !== undefined) {
      // Unless `env` replaces that variable: counted again without what it replaces.
      const rest = envSize(inherited, env);
      if (rest.tooLong !== undefined) return rest.tooLong;
      total += rest.total;
    } else {
      total += base.total;
      // A variable `env` replaces is counted once.
      for (const key in env) {
        const value = inherited[key];
        if (value !== undefined && env[key] !== undefined)
          total -= Buffer.byteLength(key) + 1 + Buffer.byteLength(value) + 9;
      }
    }
  }
  // Below the smallest limit the system can have, `getconf` (a process start) is not asked.
  if (total <= MIN_ARG_MAX - LAUNCH_ENV_RESERVE) return undefined;
  const limit = argMax() - LAUNCH_ENV_RESERVE;
  if (total > limit) {
    return `the command and its environment take ${total} bytes; the system takes at most ${limit} (ARG_MAX ${argMax()}, less ${LAUNCH_ENV_RESERVE} kept for Baton's variables)`;
  }
  return undefined;
}
