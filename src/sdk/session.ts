/**
 * What handles share with the client that made them: the API, how often to poll, and the few
 * operations that need more than one request. Internal to the SDK.
 */
import type { ApiClient, ApiEndpoint } from "../client/api-client.js";
import { BatonError } from "../errors.js";
import type { CloneOptions } from "./types.js";

/** @internal */
export interface Session {
  readonly api: ApiClient;
  readonly endpoint: ApiEndpoint;
  readonly pollIntervalMs: number;
  /** Folder submitted tasks run in unless told otherwise. */
  readonly workdir: string;
  /** The task submissions become children of, unless told otherwise (`BATON_TASK_ID`). */
  readonly parentTaskId: string | undefined;
  /** Cancels a task (a pipeline task: its whole run); a task that has ended is left as it is. */
  cancelTask(id: string): Promise<void>;
  /** Submits a copy of a task with overrides; returns the new task's id and whether it existed. */
  cloneTask(id: string, options: CloneOptions): Promise<{ id: string; reattached: boolean }>;
}

/** Resolves after `ms`, or rejects with the signal's reason once it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The HTTP status of an error the API answered with, if it was one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (!(err instanceof BatonError)) return undefined;
  const status = err.context.status;
  return typeof status === "number" ? status : undefined;
}
