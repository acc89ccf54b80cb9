/**
 * The Baton HTTP server (docs/api.md): the `/api/v1` routes over the engine, Server-Sent Events,
 * bearer-token auth, and the web UI at `/`. `createServer` builds it; `baton server`
 * (`src/cli/commands/server.ts`) and the tests listen with it.
 *
 * Every API route comes from one table (`apiRoutes`): it is registered with validation derived
 * from its zod schemas, documented in `/api/v1/openapi.json` from the same schemas, and walked
 * by the tests (no route may answer without the token).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import path from "node:path";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Engine } from "../engine/engine.js";
import type { RunController } from "../engine/run-controller.js";
import { ensureBatonError } from "../errors.js";
import type { Store } from "../store/store.js";
import { checkNestedSubmit, checkRequestToken } from "./agent-auth.js";
import { BusRelay } from "./bus-relay.js";
import { DrivenRuns, type ServerContext } from "./context.js";
import { HttpError, badField, errorBody, toErrorResponse } from "./http-errors.js";
import { MAX_JSON_DEPTH, jsonDepthProblem } from "./json-depth.js";
import {
  DefinitionArchive,
  type LocatedProject,
  PipelineCatalog,
  PipelineRegistry,
  ServerProject,
} from "./projects.js";
import { type ApiRoute, parseInput, routeUrl } from "./route.js";
import { agentTokenRoutes } from "./routes/agent-tokens.js";
import { agentRoutes } from "./routes/agents.js";
import { approvalRoutes } from "./routes/approvals.js";
import { eventRoutes } from "./routes/events.js";
import { fileRoutes } from "./routes/files.js";
import { metaRoutes } from "./routes/meta.js";
import { notificationRoutes } from "./routes/notifications.js";
import { pipelineRoutes } from "./routes/pipelines.js";
import { poolRoutes } from "./routes/pools.js";
import { releaseRoutes } from "./routes/releases.js";
import { runRoutes } from "./routes/runs.js";
import { taskRoutes } from "./routes/tasks.js";
import { triggerRoutes } from "./routes/triggers.js";
import { valohaiRoutes } from "./routes/valohai.js";
import { sweepOrphans, takeoverInterval, watchOrphans } from "./takeover.js";
import { TriggerScheduler } from "./triggers/scheduler.js";
import { defaultWebRoot, registerWebUi, sendUiIndex } from "./web-ui.js";

/** Request bodies larger than this are refused with 413. */
export const BODY_LIMIT = 1024 * 1024;

export interface CreateServerOptions {
  engine: Engine;
  store: Store;
  /** The server's pipeline file, if it has one (read again when it changes). */
  project?: LocatedProject | undefined;
  /** Folder tasks run in, holding `.baton/`. */
  workdir: string;
  /** The API token (see `loadOrCreateToken`). */
  token: string;
  /** Where {@link BatonServer.listen} binds; default 127.0.0.1. */
  host?: string;
  /** Default 8377; 0 picks a free port. */
  port?: number;
  /** The built web UI; default the package's `web/dist`. */
  webRoot?: string;
  /** Interval of the event stream's heartbeat comment; default 15 s. */
  heartbeatMs?: number;
  /** How often a followed log is polled; default 200 ms. */
  pollMs?: number;
  /** Where to report server-side failures (500s, resumes that failed). Default: stderr. */
  log?: (line: string) => void;
  /**
   * An HTTP server of the caller's, already listening, to serve on instead of one of fastify's
   * (then {@link BatonServer.listen} is not used). Fastify hands it its request handler.
   */
  serverFactory?: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

/** What the server adds to its fastify instance, as `app.baton`. */
export interface BatonServer {
  /** The route table (every API route, `/healthz` included). */
  readonly routes: readonly ApiRoute[];
  readonly context: ServerContext;
  /** Listens on the configured host and port; returns the base URL (`http://127.0.0.1:8377`). */
  listen(): Promise<string>;
  /** Base URL once listening. */
  readonly url: string | undefined;
  /** Lets the server cancel a run started elsewhere in this process. */
  track(controller: RunController): RunController;
  /**
   * Picks up root runs left `running` by an engine that died: each is resumed by this server's
   * engine, pipeline runs and trees of submitted tasks alike. Returns the run ids resumed and
   * those that could not be.
   */
  resumeOrphanedRuns(): Promise<{ resumed: string[]; failed: Array<{ id: string; error: string }> }>;
  /**
   * Goes on picking up orphaned runs ({@link resumeOrphanedRuns}) for as long as the server
   * runs, about every second, so that runs of a server that died (sharing the database) are
   * driven here within its lease. `report` is told each run taken over. Returns the stop.
   */
  watchOrphans(report: (runId: string) => void): () => void;
  /** Cancels everything the engine drives (runs and submitted tasks) and waits for it to end. */
  cancelAll(): Promise<void>;
}

declare module "fastify" {
  interface FastifyInstance {
    baton: BatonServer;
  }
}

/** Builds the server. Nothing listens until `app.listen(...)` or `app.baton.listen()`. */
export function createServer(options: CreateServerOptions): FastifyInstance {
  const workdir = path.resolve(options.workdir);
  const stateDir = options.engine.layout.root;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const limits = options.engine.limits;
  const registry = new PipelineRegistry(
    path.join(stateDir, "pipelines"),
    (line) => log(`baton server: ${line}`),
    limits,
  );
  for (const warning of registry.load()) log(`baton server: ${warning}`);
  const runs = new DrivenRuns();
  const bus = new BusRelay(options.engine, options.store, runs, log);
  const ctx: ServerContext = {
    engine: options.engine,
    store: options.store,
    workdir,
    catalog: new PipelineCatalog(
      new ServerProject(options.project, limits),
      registry,
      new DefinitionArchive(path.join(stateDir, "definitions")),
      workdir,
      limits,
    ),
    runs,
    bus,
    streams: new Set(),
    timings: { heartbeatMs: options.heartbeatMs ?? 15_000, pollMs: options.pollMs ?? 200 },
  };
  const webRoot = options.webRoot ?? defaultWebRoot();
  // Triggers: fired once the server listens (see src/server/triggers/).
  const scheduler = new TriggerScheduler(ctx, log);

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    ...(options.serverFactory ? { serverFactory: options.serverFactory } : {}),
  });

  // An empty body is no body (a bare `POST /runs/ID/cancel` with a JSON content type). JSON
  // nested deeper than any request needs is refused before it is parsed: the checks that walk
  // a body recurse, and 100,000 levels overflowed the stack (a 500).
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, text, done) => {
    if (typeof text === "string" && text.trim() === "") return done(null, undefined);
    const tooDeep = jsonDepthProblem(text as string, MAX_JSON_DEPTH);
    if (tooDeep) return done(badField("body", tooDeep), undefined);
    parseJson(req, text as string, (err, body) => {
      // The parser refuses prototype keys (a safety net for every map below); say so, not "not JSON".
      if (err && /"(__proto__|constructor)"\s*:/.test(text as string)) {
        return done(
          badField(
            "body",
            'a key named "__proto__" (or "constructor" holding "prototype") is not accepted in JSON bodies',
          ),
          undefined,
        );
      }
      done(err, body);
    });
  });

  // Uploads into the content store (`PUT /artifacts/SHA256`) are streamed to disk, never held whole.
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));

  app.addHook("onRequest", async (req, reply) => {
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    if (!needsToken(req)) return;
    reply.header("cache-control", "no-store");
    try {
      // The server's token, or a per-agent token on the agent routes (agent-auth.ts).
      await checkRequestToken(req, options.token, ctx.store);
    } catch (err) {
      if (err instanceof HttpError && err.status === 401)
        reply.header("www-authenticate", 'Bearer realm="baton"');
      throw err;
    }
  });
  app.addHook("preHandler", async (req) => checkNestedSubmit(req, ctx.store));

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) {
      const e = ensureBatonError(err);
      log(`baton server: ${req.method} ${req.url.split("?")[0]}: ${e.message}`);
      if (process.env.BATON_DEBUG && err instanceof Error) log(err.stack ?? "");
    }
    return reply.code(status).type("application/json; charset=utf-8").send(body);
  });

  app.setNotFoundHandler(async (req, reply) => {
    if (!isApiPath(req) && req.method === "GET") {
      const ui = sendUiIndex(reply, webRoot);
      if (ui) return ui;
    }
    return reply
      .code(404)
      .type("application/json; charset=utf-8")
      .send(errorBody("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`));
  });

  const routes: ApiRoute[] = [];
  routes.push(
    ...metaRoutes(() => routes),
    ...runRoutes(ctx),
    ...taskRoutes(ctx),
    ...approvalRoutes(ctx),
    ...fileRoutes(ctx),
    ...eventRoutes(ctx),
    ...pipelineRoutes(ctx),
    ...poolRoutes(ctx),
    ...releaseRoutes(ctx),
    ...notificationRoutes(ctx),
    ...valohaiRoutes(ctx),
    ...triggerRoutes(ctx, scheduler, options.token),
    ...agentRoutes(ctx),
    ...agentTokenRoutes(ctx),
  );
  for (const route of routes) {
    app.route({
      method: route.method,
      url: routeUrl(route),
      config: { auth: route.auth },
      ...(route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}),
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const input = parseInput(route, req);
        return route.handle({ ...input, req, reply } as Parameters<ApiRoute["handle"]>[0]);
      },
    });
  }
  registerWebUi(app, webRoot);

  // Long-lived responses would hold `close()` open forever: end them first.
  app.addHook("preClose", async () => {
    for (const stream of [...ctx.streams]) stream.end();
  });
  app.addHook("onClose", async () => {
    await scheduler.stop();
    await bus.stop();
  });

  let url: string | undefined;
  let sweeping: ReturnType<BatonServer["resumeOrphanedRuns"]> | undefined;
  const server: BatonServer = {
    routes,
    context: ctx,
    get url() {
      return url;
    },
    async listen() {
      await bus.ready;
      await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8377 });
      url = baseUrl(app, options.host ?? "127.0.0.1");
      scheduler.start();
      return url;
    },
    track: (controller) => ctx.runs.track(controller),
    resumeOrphanedRuns() {
      // One sweep at a time: the one at start and the periodic ones (watchOrphans) share it.
      sweeping ??= sweepOrphans(ctx, log).finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    },
    watchOrphans(report) {
      return watchOrphans(
        () => server.resumeOrphanedRuns(),
        takeoverInterval(ctx.engine.leaseMs),
        report,
        log,
      );
    },
    // Everything the engine drives: runs started here or elsewhere in the process, submitted tasks.
    cancelAll: () => ctx.engine.cancelAll(),
  };
  app.decorate("baton", server);
  return app;
}

/** `/api/...` as the router sees it (percent-decoded), so that `/%61pi/...` cannot slip past auth. */
function isApiPath(req: FastifyRequest): boolean {
  const raw = req.url.split("?")[0] ?? "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    decoded = raw;
  }
  const normal = path.posix.normalize(decoded.replace(/\/{2,}/g, "/"));
  return normal === "/api" || normal.startsWith("/api/") || raw.startsWith("/api");
}

/**
 * Whether a request needs the token: every API route does, and so does any path that looks
 * like the API even when no route matches it. Only `/healthz` and the UI's files do not.
 */
function needsToken(req: FastifyRequest): boolean {
  const config = req.routeOptions.config as { auth?: boolean } | undefined;
  if (config?.auth === false) return false;
  if (config?.auth === true) return true;
  return isApiPath(req);
}

function baseUrl(app: FastifyInstance, host: string): string {
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`;
}
