import type { Executor } from "../executors/executor.js";
import { LocalExecutor } from "../executors/local-executor.js";
import { ExecutorRouter } from "../executors/router.js";
import type { Workspace } from "../executors/workspace.js";
import type { TaskLimits } from "../spec/limits.js";
import type { PoolSpec } from "../spec/types.js";
import { openStore } from "../store/open-store.js";
import { SqliteStore } from "../store/sqlite-store.js";
import type { Store } from "../store/store.js";
import { Engine } from "./engine.js";
import { type StateLayout, stateLayoutFor } from "./layout.js";

/** What the local engine is opened with; `data` is `--data` (else BATON_DATA, else `.baton/`). */
interface LocalEngineOptions {
  taskEnv?: Record<string, string>;
  pools?: Record<string, PoolSpec>;
  limits?: TaskLimits;
  data?: string | undefined;
}

/**
 * The embedded default: SQLite in the state folder (`.baton/` beside the pipeline file, or
 * BATON_DATA) and the local process executor (Slurm for pools with `executor: slurm`). Returns the engine and a `close` that stops
 * every process and closes the store.
 */
export function openLocalEngine(workdir: string, options: LocalEngineOptions = {}) {
  const layout = stateLayoutFor(workdir, options.data).prepare();
  return engineOn(SqliteStore.open(layout.database), layout, workdir, options);
}

/**
 * {@link openLocalEngine} on the database `db` names (`--db`/BATON_DB: a SQLite file or a
 * `postgres://` URL, see store/open-store.ts; undefined: `baton.db` in the state folder),
 * connected before this resolves. Logs and results stay in the state folder (`--data`, else
 * `.baton/` beside the pipeline file).
 */
export async function openEngineOn(
  workdir: string,
  db: string | undefined,
  options: LocalEngineOptions = {},
) {
  const layout = stateLayoutFor(workdir, options.data).prepare();
  return engineOn(await openStore(db, layout.database), layout, workdir, options);
}

function engineOn<S extends Store>(
  store: S,
  layout: StateLayout,
  workdir: string,
  options: LocalEngineOptions,
) {
  // Each pool's tasks run on its executor (`executor: slurm`), all in this state folder.
  const local = new LocalExecutor({ layout });
  const executor = new ExecutorRouter(local, {
    slurm: () =>
      loadedOnFirstUse("slurm", local.workspace, async () => {
        const { SlurmExecutor } = await import("../executors/slurm-executor.js");
        return new SlurmExecutor({ workspace: local.workspace });
      }),
    agent: () =>
      loadedOnFirstUse("agent", local.workspace, async () => {
        const { AgentExecutor } = await import("../executors/agent-executor.js");
        return new AgentExecutor({ store, workspace: local.workspace });
      }),
  });
  const engine = new Engine({
    store,
    executor,
    layout,
    taskEnv: options.taskEnv ?? {},
    pools: options.pools,
    workdir,
    limits: options.limits,
  });
  // Tasks' own `baton` commands (`ls`, a submit with no server) see the same state folder.
  if (layout.given !== undefined) engine.taskEnv.BATON_DATA = layout.root;
  const close = async () => {
    await executor.shutdown();
    await engine.close();
    await store.close();
  };
  return { engine, store, layout, close };
}

/**
 * An executor whose module is loaded when it is first used (a pool with `executor: slurm`, an
 * attempt with such a handle): runs that use only the local executor never load the others.
 */
function loadedOnFirstUse(name: string, workspace: Workspace, load: () => Promise<Executor>): Executor {
  let made: Promise<Executor> | undefined;
  const get = () => {
    made ??= load();
    return made;
  };
  return {
    name,
    workspace,
    launch: async (request) => (await get()).launch(request),
    adopt: async (request) => (await get()).adopt(request),
    shutdown: async () => {
      await (await made?.catch(() => undefined))?.shutdown();
    },
  };
}
