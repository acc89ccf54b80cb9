import { LocalExecutor } from "../executors/local-executor.js";
import type { TaskLimits } from "../spec/limits.js";
import type { PoolSpec } from "../spec/types.js";
import { SqliteStore } from "../store/sqlite-store.js";
import { Engine } from "./engine.js";
import { StateLayout } from "./layout.js";

/**
 * The embedded default: SQLite in `.baton/` beside the pipeline file and the local process
 * executor. Returns the engine and a `close` that stops every process and closes the store.
 */
export function openLocalEngine(
  workdir: string,
  options: { taskEnv?: Record<string, string>; pools?: Record<string, PoolSpec>; limits?: TaskLimits } = {},
) {
  const layout = StateLayout.forWorkdir(workdir);
  const store = SqliteStore.open(layout.database);
  const executor = new LocalExecutor({ layout });
  const engine = new Engine({
    store,
    executor,
    layout,
    taskEnv: options.taskEnv ?? {},
    pools: options.pools,
    workdir,
    limits: options.limits,
  });
  const close = async () => {
    await executor.shutdown();
    await engine.close();
    await store.close();
  };
  return { engine, store, layout, close };
}
