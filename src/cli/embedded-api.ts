import type { Engine } from "../engine/engine.js";
import type { LocatedProject } from "../server/projects.js";
import type { Store } from "../store/store.js";

/**
 * The API of an embedded engine (`baton run`/`baton submit` with no server), on an ephemeral
 * loopback port, so that tasks can submit children (`BATON_URL`, `BATON_TOKEN` in their
 * environment). It lives as long as the command.
 */
export async function startEmbeddedApi(
  engine: Engine,
  store: Store,
  workdir: string,
  project?: LocatedProject,
): Promise<{ url: string; token: string; close: () => Promise<void> }> {
  const [{ createServer }, { loadOrCreateToken }] = await Promise.all([
    import("../server/app.js"),
    import("../server/token.js"),
  ]);
  const { token } = loadOrCreateToken(engine.layout.root);
  const app = createServer({
    engine,
    store,
    project,
    workdir,
    token,
    host: "127.0.0.1",
    port: 0,
    log: () => undefined,
  });
  const url = await app.baton.listen();
  Object.assign(engine.taskEnv, { BATON_URL: url, BATON_TOKEN: token });
  return { url, token, close: () => app.close() };
}
