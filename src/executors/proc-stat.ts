/** What the kernel says of a process in /proc/PID/stat (Linux; elsewhere nothing). */
import fs from "node:fs";

/** What /proc/PID/stat says of a process: state, process group, start time (clock ticks since boot). */
export function readProcStat(pid: number): { state: string; pgrp: number; startTime: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "?", pgrp: Number(fields[2]), startTime: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/** When the process started (field 22 of /proc/PID/stat), to tell a reused pid apart. */
export function readStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}
