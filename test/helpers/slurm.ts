/**
 * Slurm for tests: a single-node cluster on this machine (slurmctld and slurmd, no accounting),
 * started once by the project's scripts/slurm-start.sh (root; it does nothing when `sinfo`
 * already answers) and left running, like a cluster would be.
 *
 * Without Slurm (apt-get install slurm-wlm munge, see scripts/install-test-deps.sh), or where it
 * cannot be started (not root), the tests skip, saying why, unless BATON_REQUIRE_SLURM=1 (CI),
 * where that is a failure.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const START = fileURLToPath(new URL("../../scripts/slurm-start.sh", import.meta.url));

function answers(): boolean {
  try {
    return /idle|mixed|allocated/.test(
      execFileSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8", timeout: 10_000, stdio: "pipe" }),
    );
  } catch {
    return false;
  }
}

let checked: string | null | undefined;

/**
 * Why the Slurm tests cannot run here, or undefined when Slurm answers (started now if need be).
 * @throws when BATON_REQUIRE_SLURM=1 and Slurm is missing or cannot be started.
 */
export function missingSlurm(): string | undefined {
  if (checked === undefined) checked = findSlurm() ?? null;
  if (checked !== null && process.env.BATON_REQUIRE_SLURM === "1") throw new Error(checked);
  return checked ?? undefined;
}

function findSlurm(): string | undefined {
  if (answers()) return undefined;
  try {
    execFileSync("bash", [START], { encoding: "utf8", timeout: 120_000, stdio: "pipe" });
  } catch (err) {
    const e = err as { status?: number; stderr?: string; message: string };
    const said = (e.stderr ?? e.message).trim();
    return e.status === 2
      ? `Slurm is not installed: install it with scripts/install-test-deps.sh (${said})`
      : `Slurm could not be started by scripts/slurm-start.sh: ${said}`;
  }
  return answers() ? undefined : "Slurm was started but `sinfo` shows no usable node";
}

/** What Slurm says of a job: its state (`COMPLETED`, `CANCELLED`...), or undefined if it does not know it. */
export function jobState(id: string): string | undefined {
  try {
    const out = execFileSync("squeue", ["-h", "-t", "all", "-j", id, "-o", "%T"], {
      encoding: "utf8",
      stdio: "pipe",
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}
