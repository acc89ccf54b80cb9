import { LocalExecutor } from "../executors/local-executor.js";
import type { TaskLimits } from "../spec/limits.js";
import type { PoolSpec } from "../spec/types.js";
import { openStore } from "../store/open-store.js";
import { SqliteStore } from "../store/sqlite-store.js";
import type { Store } from "../store/store.js";
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
  return engineOn(SqliteStore.open(layout.database), layout, workdir, options);
}

/**
 * {@link openLocalEngine} on the database `db` names (`--db`/BATON_DB: a SQLite file or a
 * `postgres://` URL, see store/open-store.ts; undefined: `.baton/baton.db`), connected before
 * this resolves. Logs and results stay in `.baton/` beside the pipeline file.
 */
export async function openEngineOn(
  workdir: string,
  db: string | undefined,
  options: { taskEnv?: Record<string, string>; pools?: Record<string, PoolSpec>; limits?: TaskLimits } = {},
) {
  const layout = StateLayout.forWorkdir(workdir);
  return engineOn(await openStore(db, layout.database), layout, workdir, options);
}

function engineOn<S extends Store>(
  store: S,
  layout: StateLayout,
  workdir: string,
  options: { taskEnv?: Record<string, string>; pools?: Record<string, PoolSpec>; limits?: TaskLimits },
) {
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
