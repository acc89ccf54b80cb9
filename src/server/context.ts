/**
 * What every route works with: the engine and its store, where pipelines come from, and the
 * runs this server drives (the only ones it can cancel).
 */
import type { Engine } from "../engine/engine.js";
import type { RunController } from "../engine/run-controller.js";
import type { RunRow, Store } from "../store/store.js";
import type { BusRelay } from "./bus-relay.js";
import type { PipelineCatalog } from "./projects.js";

/** Runs driven by this server's engine, by run id, until they end. */
export class DrivenRuns {
  private readonly controllers = new Map<string, RunController>();

  track(controller: RunController): RunController {
    this.controllers.set(controller.runId, controller);
    void controller.done.finally(() => {
      if (this.controllers.get(controller.runId) === controller) this.controllers.delete(controller.runId);
    });
    return controller;
  }

  get(runId: string): RunController | undefined {
    return this.controllers.get(runId);
  }
}

/** Streams that stay open (SSE, log follow): ended when the server closes. */
export interface OpenStream {
  end(): void;
}

export interface ServerTimings {
  /** Comment line on the event stream, so proxies and browsers keep it open. */
  heartbeatMs: number;
  /** How often a followed log is read again and its task's status checked. */
  pollMs: number;
}

export interface ServerContext {
  engine: Engine;
  store: Store;
  /** Folder tasks run in: the one holding the server's pipeline file, or the current one. */
  workdir: string;
  catalog: PipelineCatalog;
  runs: DrivenRuns;
  /** The other engines sharing the store: their events, and cancel/approve for runs they drive. */
  bus: BusRelay;
  streams: Set<OpenStream>;
  timings: ServerTimings;
}
