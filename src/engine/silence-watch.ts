/**
 * `no-output-timeout:` — stops an attempt whose log gets no new bytes for a while. The log's
 * size is polled (a cheap `stat`, about once a second, only for tasks that set the key); the
 * attempt is cancelled when it did not grow for the whole period, and its end is then told as
 * a timeout (`no output for 10m`), so it is retried like one.
 */
import { stat } from "node:fs/promises";
import type { ExitResult } from "../executors/executor.js";

export interface SilenceWatch {
  /** Stops watching; returns the attempt's result, made a timeout when the watch stopped it. */
  end(result: ExitResult): ExitResult;
}

/** Watches `logPath`; calls `stop` once when it has not grown for `limit.ms`. */
export function watchSilence(
  logPath: string,
  limit: { ms: number; text: string },
  stop: () => void,
): SilenceWatch {
  let size = -1;
  let changedAt = Date.now();
  let fired = false;
  let busy = false;
  const every = Math.max(50, Math.min(1000, Math.floor(limit.ms / 4)));
  const timer = setInterval(() => {
    if (busy || fired) return;
    busy = true;
    stat(logPath)
      .then(
        (st) => st.size,
        () => 0, // not created yet: nothing written
      )
      .then((now) => {
        busy = false;
        if (now !== size) {
          size = now;
          changedAt = Date.now();
        } else if (Date.now() - changedAt >= limit.ms) {
          fired = true;
          clearInterval(timer);
          stop();
        }
      });
  }, every);
  timer.unref();
  return {
    end(result) {
      clearInterval(timer);
      if (!fired || result.reason === "exited") return result;
      return { ...result, reason: "timeout", message: `no output for ${limit.text}` };
    },
  };
}
