import fs from "node:fs";

/**
 * Whether a process with this pid runs: it exists (EPERM means it does, as another user's)
 * and is not a zombie (dead, not yet reaped by its parent, which this sandbox leaves lying).
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== "EPERM") return false;
  }
  try {
    // `/proc/PID/stat`: "PID (COMM) STATE ...", COMM may hold spaces and parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc here: existing is all we can tell
  }
}
