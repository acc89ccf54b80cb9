import fs from "node:fs";
import path from "node:path";
import type { Engine } from "../engine/engine.js";
import type { RunController } from "../engine/run-controller.js";
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
): Promise<{ url: string; token: string; track: (c: RunController) => void; close: () => Promise<void> }> {
  const [{ createServer }, { loadOrCreateToken }] = await Promise.all([
    import("../server/app.js"),
    import("../server/token.js"),
  ]);
  const { token, file: tokenFile } = loadOrCreateToken(engine.layout.root);
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
  // So that `baton cancel` in another terminal can reach the engine driving a run.
  const record = engineFile(engine.layout.root, process.pid);
  fs.mkdirSync(path.dirname(record), { recursive: true });
  fs.writeFileSync(record, JSON.stringify({ url, pid: process.pid, tokenFile }), { mode: 0o600 });
  return {
    url,
    token,
    track: (c) => void app.baton.track(c),
    close: async () => {
      fs.rmSync(record, { force: true });
      await app.close();
    },
  };
}

/** `.baton/engines/PID.json`: where the API of the embedded engine with that pid listens. */
export function engineFile(stateDir: string, pid: number): string {
  return path.join(stateDir, "engines", `${pid}.json`);
}
