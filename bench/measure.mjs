// Runs one command and measures it: wall time around the spawn, and the peak RSS and CPU time
// reported by GNU time (`/usr/bin/time -f "%M %U %S"`). GNU time reports ru_maxrss of the process it waited for,
// which Linux takes as the largest of that process and of the descendants it reaped: with tasks
// as small as these shell one-liners, that is the orchestrator's own peak RSS (make, ninja,
// snakemake's python, Baton's node), not the sum over the tree and not the tasks'.

import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

export const GNU_TIME = "/usr/bin/time";

/** True when /usr/bin/time is GNU time (it understands -f and -o). */
export function hasGnuTime() {
  if (!existsSync(GNU_TIME)) return false;
  const r = spawnSync(GNU_TIME, ["-f", "%M", "-o", "/dev/null", "true"], { encoding: "utf8" });
  return r.status === 0;
}

/**
 * Runs argv in cwd. stdout and stderr go to files. Returns
 * { code, signal, timedOut, wallMs, rssKb, cpuS } (the last two null when unknown). cpuS is the
 * user + system CPU of the tool and of the descendants it reaped: kept in results.json only, as it
 * is not comparable across tools (Baton's detached launcher processes, and the tasks they start,
 * are not reaped by the engine process and so are left out).
 * The process runs in its own process group so that a timeout can kill the whole tree.
 */
export function measure({ argv, cwd, env, stdoutFile, stderrFile, rssFile, timeoutMs, gnuTime }) {
  const full = gnuTime ? [GNU_TIME, "-f", "%M %U %S", "-o", rssFile, ...argv] : argv;
  const out = openSync(stdoutFile, "w");
  const err = openSync(stderrFile, "w");
  return new Promise((resolve) => {
    let timedOut = false;
    let timer;
    const start = performance.now();
    const child = spawn(full[0], full.slice(1), { cwd, env, stdio: ["ignore", out, err], detached: true });
    closeSync(out);
    closeSync(err);
    const finish = (code, signal) => {
      const wallMs = performance.now() - start;
      clearTimeout(timer);
      resolve({
        code,
        signal,
        timedOut,
        wallMs,
        ...(gnuTime ? readTime(rssFile) : { rssKb: null, cpuS: null }),
      });
    };
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, wallMs: 0, rssKb: null, cpuS: null, error: e.message });
    });
    child.on("exit", finish);
    if (timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }, timeoutMs);
    }
  });
}

/**
 * GNU time writes "%M %U %S" as the last line (after "Command exited with non-zero status N"):
 * peak RSS in KB, then user and system CPU seconds of the process and the descendants it reaped.
 */
function readTime(file) {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const [kb, user, sys] = lines[lines.length - 1].split(" ").map(Number);
    return {
      rssKb: Number.isFinite(kb) ? kb : null,
      cpuS: Number.isFinite(user) && Number.isFinite(sys) ? user + sys : null,
    };
  } catch {
    return { rssKb: null, cpuS: null };
  }
}
