import fs from "node:fs";
import { type LogSink, logSink } from "./terminal.js";

/**
 * Writes a log file from `offset` on to `sink` (default: stdout, escaped on a terminal); returns
 * the new offset (a missing file: unchanged).
 */
export function copyLogFrom(file: string, offset: number, sink: LogSink = logSink()): number {
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
      sink.write(buf.subarray(0, n));
      offset += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
