import fs from "node:fs";
import path from "node:path";
import { hostStateDir, stateLayoutFor } from "../../engine/layout.js";
import { openEngineOn } from "../../engine/local.js";
import { safeSmtpUrl } from "../../engine/notify/notifier.js";
import { BatonError } from "../../errors.js";
import { createServer } from "../../server/app.js";
import {
  readLiveServer,
  readServerRecord,
  removeServerFile,
  writeServerFile,
} from "../../server/discovery.js";
import type { LocatedProject } from "../../server/projects.js";
import { takeoverInterval } from "../../server/takeover.js";
import { loadOrCreateToken } from "../../server/token.js";
import { type TaskLimits, limitsFromEnv, parseLimit } from "../../spec/limits.js";
import type { PoolSpec } from "../../spec/types.js";
import { dbFromEnv, sqliteFile } from "../../store/open-store.js";
import type { Store } from "../../store/store.js";
import { isAlive } from "../../util/process.js";
import { loadProject } from "../context.js";
import { EXIT, claimSignals } from "../exit.js";

export interface ServerCommandOptions {
  /** Left undefined when not given, so that an explicit non-loopback host can be told apart. */
  host?: string;
  port: string;
  db?: string;
  /** `--data`: the state folder (else BATON_DATA, else `.baton/` beside the project). */
  data?: string;
  /** Left undefined when not given: the file is optional (`./baton.yaml` if it exists). */
  file?: string;
  /** Override BATON_MAX_TASKS_PER_RUN / BATON_MAX_TASKS_PER_NODE. */
  maxTasksPerRun?: string;
  maxTasksPerNode?: string;
  /** `--smtp`: the SMTP server of e-mail notifications (else BATON_SMTP_URL). */
  smtp?: string;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;

/**
 * `baton server`: the API, the web UI and the engine in one process, until SIGINT/SIGTERM.
 * Resumes runs left `running` by an engine that died, records itself in `.baton/server.json`
 * for CLI clients (unless another live server of the folder is recorded there: both serve, the
 * first stays the one clients find), and on a signal cancels running work, closes and exits 0.
 */
export async function serverCommand(opts: ServerCommandOptions): Promise<void> {
  const host = (opts.host ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
  if (!LOOPBACK.test(host)) {
    if (opts.host === undefined || process.env.BATON_ALLOW_REMOTE !== "1") {
      throw new BatonError(
        "USAGE",
        `refusing to listen on ${host}: anyone who can reach it and has the token can run commands on this machine. Set BATON_ALLOW_REMOTE=1 to listen on a non-loopback address anyway.`,
      );
    }
    process.stderr.write(
      `baton: listening on ${host} (BATON_ALLOW_REMOTE=1): the API runs shell commands for anyone with the token, and it is plain HTTP: put it behind TLS\n`,
    );
  }
  const port = parsePort(opts.port);
  const db = dbFromEnv(opts.db);
  sqliteFile(db); // a --db that is neither SQLite nor PostgreSQL is refused before anything starts
  const limits = taskLimits(opts);
  const smtp = smtpUrl(opts.smtp ?? process.env.BATON_SMTP_URL);

  let project: LocatedProject | undefined;
  if (opts.file !== undefined || fs.existsSync("baton.yaml"))
    project = loadProject(opts.file ?? "baton.yaml", limits);
  const workdir = project?.workdir ?? process.cwd();
  const layout = stateLayoutFor(workdir, opts.data).prepare();
  // server.json is about processes on this host: it stays beside the project (see layout.ts).
  const hostDir = hostStateDir(workdir);
  const { token, file: tokenFile } = loadOrCreateToken(layout.root);

  // Filled in once the port is known: tasks get BATON_URL and BATON_TOKEN so nested submits work.
  const taskEnv: Record<string, string> = {};
  const { engine, store, close } = await openEngine(workdir, db, taskEnv, project?.pools, limits, opts.data);
  const app = createServer({ engine, store, project, workdir, token, host, port });
  let url: string;
  try {
    url = await app.baton.listen();
  } catch (err) {
    await close();
    const code = (err as { code?: string }).code;
    if (code === "EADDRINUSE") {
      throw new BatonError(
        "USAGE",
        `port ${port} on ${host} is in use: pick another with --port (0: any free port)`,
      );
    }
    if (code === "EADDRNOTAVAIL")
      throw new BatonError("USAGE", `cannot listen on ${host}: no such address here`);
    throw err;
  }
  taskEnv.BATON_URL = url;
  taskEnv.BATON_TOKEN = token;
  // Notifications link to runs on this server, and send e-mail through its SMTP server.
  engine.notifier.baseUrl = url;
  engine.notifier.smtpUrl = smtp;
  // Another live server of this folder keeps the record: clients go on finding the first one
  // (BATON_URL selects another); this one serves all the same, and its tasks get its own URL.
  const record = () =>
    writeServerFile(hostDir, {
      url,
      pid: process.pid,
      engineId: engine.id,
      tokenFile,
      workdir,
      startedAt: new Date().toISOString(),
    });
  const live = readLiveServer(hostDir);
  if (live && live.pid !== process.pid) {
    process.stderr.write(
      `baton: another server of ${workdir} is running (${live.url}, pid ${live.pid}): both serve; clients of this folder find that one (set BATON_URL=${url} to use this one)\n`,
    );
  } else {
    record();
  }

  let stopping = false;
  // Looking for runs to take over stops first when the server stops (it would resume them here).
  let stopWatching = () => {};
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`baton: ${signal} again, exiting without waiting\n`);
      removeServerFile(hostDir);
      process.exit(EXIT.interrupted);
    }
    stopping = true;
    stopWatching();
    process.stderr.write(`\nbaton: ${signal}: cancelling running work and stopping the server…\n`);
    void (async () => {
      try {
        await app.baton.cancelAll();
        await app.close();
        // Notifications of the runs just ended get a few seconds; the rest stay pending for the next start.
        await engine.notifier.settle(5_000);
      } finally {
        // Clients must stop finding this server before anything below can stall.
        removeServerFile(hostDir);
        await close();
        stopped();
      }
    })();
  };
  claimSignals();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  process.stderr.write(`Baton server on ${url}\n`);
  if (project)
    process.stderr.write(`pipelines from ${path.relative(process.cwd(), project.file) || project.file}\n`);
  process.stderr.write(`Sign in: ${url}/?token=${token}\n`);
  if (smtp) process.stderr.write(`e-mail notifications through ${safeSmtpUrl(smtp)}\n`);
  const { resumed } = await app.baton.resumeOrphanedRuns();
  // Deliveries left pending by an engine that stopped (a CLI run that exited, a server that died).
  const notifications = await engine.notifier
    .resumePending(async (id) => {
      if (id === null) return true;
      const owner = await store.getEngine(id);
      return !owner || owner.leaseExpiresAt <= Date.now();
    })
    .catch(() => 0);
  if (notifications > 0)
    process.stderr.write(`resuming ${notifications} pending notification${notifications === 1 ? "" : "s"}\n`);
  for (const id of resumed)
    process.stderr.write(`resumed run ${id}, left running by an engine that stopped\n`);
  // From now on, runs of engines that die (another server on the same database) are taken over.
  // The folder's server.json is taken over too when the server it names has died or lost its
  // lease, so that the clients of this folder (and nested submits of adopted tasks) find a live one.
  if (!stopping) {
    const stopOrphans = app.baton.watchOrphans((id) =>
      process.stderr.write(`took over run ${id}, left running by an engine that stopped\n`),
    );
    const recordTimer = setInterval(() => {
      recordedServerGone(hostDir, store)
        .then((gone) => gone && record())
        .catch(() => {});
    }, takeoverInterval(engine.leaseMs));
    recordTimer.unref();
    stopWatching = () => {
      stopOrphans();
      clearInterval(recordTimer);
    };
  }

  await done;
  stopWatching();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.exitCode = EXIT.ok;
}

/** The task limits: the flags, else BATON_MAX_TASKS_PER_NODE / _PER_RUN, else 100,000 each. */
function taskLimits(opts: ServerCommandOptions): TaskLimits {
  const limits = limitsFromEnv(process.env);
  if (opts.maxTasksPerNode !== undefined)
    limits.perNode = parseLimit(opts.maxTasksPerNode, "--max-tasks-per-node");
  if (opts.maxTasksPerRun !== undefined)
    limits.perRun = parseLimit(opts.maxTasksPerRun, "--max-tasks-per-run");
  return limits;
}

/** `--smtp` / BATON_SMTP_URL, checked (never shown with its password). */
function smtpUrl(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "smtp:" && url.protocol !== "smtps:") || url.hostname === "") {
    throw new BatonError(
      "USAGE",
      `--smtp ${url ? safeSmtpUrl(text) : "(not a URL)"}: expected smtp://[user:password@]host[:port] or smtps://…`,
    );
  }
  return text;
}

/**
 * Whether the server `.baton/server.json` names is gone without removing its record: its process
 * died, or its engine's lease in the store expired (it was stopped past it; another server
 * drives its runs). A server that stopped cleanly took its record with it: none is made then.
 */
async function recordedServerGone(hostDir: string, store: Store): Promise<boolean> {
  const recorded = readServerRecord(hostDir);
  if (!recorded || recorded.pid === process.pid) return false;
  if (!isAlive(recorded.pid)) return true;
  if (recorded.engineId === undefined) return false;
  // An engine this store does not know (a server of this folder on another database) is left alone.
  const owner = await store.getEngine(recorded.engineId);
  return owner !== undefined && owner.leaseExpiresAt <= Date.now();
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new BatonError(
      "USAGE",
      `--port ${text}: expected a port number from 0 to 65535 (0: any free port)`,
    );
  }
  return port;
}

/** The local engine, on `baton.db` in the state folder or on the database `--db` (or BATON_DB) names. */
function openEngine(
  workdir: string,
  db: string | undefined,
  taskEnv: Record<string, string>,
  pools: Record<string, PoolSpec> | undefined,
  limits: TaskLimits,
  data: string | undefined,
) {
  return openEngineOn(workdir, db, { taskEnv, pools, limits, data });
}
