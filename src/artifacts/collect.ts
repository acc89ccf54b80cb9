import type { ContentStore } from "./cas.js";
import { type MetricSeriesPoint, readMetricsFile } from "./metrics.js";
import { type OutputFile, collectOutputs, collectSmallOutputsSync } from "./outputs.js";

/** Where an attempt's results are and what to keep of them. */
export interface CollectRequest {
  outputDir: string;
  /** `outputs:` globs to keep; null when the attempt failed (metrics only). */
  globs: string[] | null;
  /** The content store's folder (the collecting process opens its own handle on it). */
  casRoot: string;
  metricsPath: string;
  logPath: string;
  /** Gates (`on-error: continue`): keep the outputs of a failed attempt too. */
  keepFailed?: boolean;
}

/** An attempt's metrics, and its outputs put in the content store (or why they could not be). */
export type Collected = (
  | { metrics: Record<string, unknown>; outputs: OutputFile[]; error?: undefined }
  | { metrics: Record<string, unknown>; outputs: []; error: string }
) & {
  /** Every point written, in order (absent when collected by an older launcher). */
  series?: MetricSeriesPoint[];
};

/**
 * Reads `$BATON_METRICS` and, after a success, hashes the kept outputs into the content store.
 * Runs where the task ran: in the launcher for local tasks, in the engine for adopted ones.
 */
export async function collectAttempt(req: CollectRequest, cas: ContentStore): Promise<Collected> {
  const { metrics, series } = readMetricsFile(req.metricsPath, req.logPath);
  if (req.globs === null) return { metrics, series, outputs: [] };
  try {
    return { metrics, series, outputs: await collectOutputs(req.outputDir, req.globs, cas) };
  } catch (err) {
    return { metrics, series, outputs: [], error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * {@link collectAttempt} in a process that may block (the launcher): a few small outputs are
 * stored with synchronous calls (see {@link collectSmallOutputsSync}), anything else as
 * `collectAttempt` does.
 */
export async function collectAttemptQuick(req: CollectRequest, cas: ContentStore): Promise<Collected> {
  if (req.globs !== null) {
    const outputs = collectSmallOutputsSync(req.outputDir, req.globs, cas);
    if (outputs !== undefined) {
      const { metrics, series } = readMetricsFile(req.metricsPath, req.logPath);
      return { metrics, series, outputs };
    }
  }
  return collectAttempt(req, cas);
}
