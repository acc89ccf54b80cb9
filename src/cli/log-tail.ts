import fs from "node:fs";

/** Writes a log file from `offset` on to stdout; returns the new offset (a missing file: unchanged). */
export function copyLogFrom(file: string, offset: number): number {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch {
    return offset;
  }
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      if (n <= 0) return offset;
      process.stdout.write(buf.subarray(0, n));
      offset += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
