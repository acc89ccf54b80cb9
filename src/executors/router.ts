import type { ExecutorKind } from "../spec/types.js";
import type { AdoptRequest, Executor, ExitResult, LaunchRequest, TaskProcess } from "./executor.js";
import type { LocalWorkspace } from "./workspace.js";

/**
 * The engine's one executor, made of several: each attempt runs on the executor its pool names
 * (`executor: slurm`; default `local`), and an attempt found again after a restart goes to the
 * executor its handle names (`slurm:JOBID`; anything else is the local executor's), or, when
 * none was recorded, its pool names. All share
 * one workspace (this machine's disk: a Slurm cluster must see it at the same paths). Executors
 * other than the local one are made on first use.
 */
export class ExecutorRouter implements Executor {
  readonly name = "router";
  readonly workspace: LocalWorkspace;
  private readonly made = new Map<ExecutorKind, Executor>();

  constructor(
    local: Executor & { workspace: LocalWorkspace },
    private readonly factories: Partial<Record<Exclude<ExecutorKind, "local">, () => Executor>>,
  ) {
    this.workspace = local.workspace;
    this.made.set("local", local);
  }

  /** The executor of a kind, made now if it was not yet. */
  executor(kind: ExecutorKind): Executor {
    let found = this.made.get(kind);
    if (!found) {
      const make = kind === "local" ? undefined : this.factories[kind];
      if (!make) throw new Error(`no ${kind} executor is configured`);
      found = make();
      this.made.set(kind, found);
    }
    return found;
  }

  warmUp(): void {
    this.made.get("local")?.warmUp?.();
  }

  launch(request: LaunchRequest): Promise<TaskProcess> {
    return this.executor(request.pool?.executor ?? "local").launch(request);
  }

  adopt(request: AdoptRequest): Promise<TaskProcess | { ended: ExitResult }> {
    // No handle: the engine died before recording one; the pool says where it may have started.
    const kind =
      request.handle === null
        ? (request.pool?.executor ?? "local")
        : request.handle.startsWith("slurm:")
          ? "slurm"
          : request.handle.startsWith("agent:")
            ? "agent"
            : "local";
    return this.executor(kind).adopt(request);
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.made.values()].map((e) => e.shutdown()));
  }
}
