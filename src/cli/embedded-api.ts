import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { Engine } from "../engine/engine.js";
import { hostStateDir } from "../engine/layout.js";
import type { RunController } from "../engine/run-controller.js";
import type { LocatedProject } from "../server/projects.js";
import { loadOrCreateToken } from "../server/token.js";
import type { Store } from "../store/store.js";
import { makeStateDir } from "../util/state-mode.js";

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
  const { token, file: tokenFile } = loadOrCreateToken(engine.layout.root);
  // The port is bound at once, so tasks get their BATON_URL without waiting. The API itself
  // (fastify, the routes, their schemas: a fifth of a second to load) is loaded when the first
  // request comes: most runs never get one, and those that do wait for it once.
  let app: Promise<FastifyInstance> | undefined;
  const tracked: RunController[] = [];
  const server = http.createServer((req, res) => {
    app ??= loadApi();
    app.then(
      (a) => a.server.emit("request", req, res),
      () => res.writeHead(503).end(),
    );
  });
  const loadApi = async (): Promise<FastifyInstance> => {
    const { createServer } = await import("../server/app.js");
    let handler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
    const a = createServer({
      engine,
      store,
      project,
      workdir,
      token,
      log: () => undefined,
      serverFactory: (h) => {
        handler = h;
        return server;
      },
    });
    for (const c of tracked) a.baton.track(c);
    await a.ready();
    // From now on requests go straight to fastify; those that waited are handed over by the caller.
    server.removeAllListeners("request");
    if (handler) server.on("request", handler);
    return a;
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(engine.taskEnv, { BATON_URL: url, BATON_TOKEN: token });
  // So that `baton cancel` in another terminal can reach the engine driving a run.
  // Per host, beside the project even with --data (see layout.ts hostStateDir).
  const record = engineFile(hostStateDir(workdir), process.pid);
  makeStateDir(path.dirname(record));
  fs.writeFileSync(record, JSON.stringify({ url, pid: process.pid, tokenFile }), { mode: 0o600 });
  return {
    url,
    token,
    track: (c) => {
      tracked.push(c);
      // Tracking twice is harmless (runs are kept by id).
      void app?.then((a) => a.baton.track(c));
    },
    close: async () => {
      fs.rmSync(record, { force: true });
      if (app) await (await app.catch(() => undefined))?.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `.baton/engines/PID.json`: where the API of the embedded engine with that pid listens. */
export function engineFile(stateDir: string, pid: number): string {
  return path.join(stateDir, "engines", `${pid}.json`);
}
