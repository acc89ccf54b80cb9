#!/usr/bin/env node
// Scale-out: submissions per second and submit-to-start latency of `baton server` on SQLite
// (one server) and on PostgreSQL (one server, then two servers on the same database and the
// same project folder), and the database size of one large pipeline run on each store.
//
//   node bench/scale-out.mjs [--configs LIST] [--submissions N] [--clients C] [--latency N]
//                            [--tasks N] [--no-size] [--drain-timeout S] [--size-timeout S]
//                            [--record] [--keep]
//
// PostgreSQL is a throwaway cluster started with scripts/pg-start.sh in bench/out/scale-out/pg
// on a free port of 127.0.0.1, stopped at the end (also on failure or Ctrl-C); without
// PostgreSQL its rows are reported as `absent`. Writes bench/out/scale-out.json and .md, and the
// "## Scale-out" section of bench/RESULTS.md (see bench/README.md for when).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { batonVersion, loadavg, mdTable, quantile, runLines, updateSectionFile } from "./sections.mjs";
import {
  BATON,
  HttpFailure,
  TERMINAL,
  expect,
  makeClient,
  peakRssMb,
  startServer,
  stopServer,
  watchEvents,
} from "./server.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const OUT = join(BENCH, "out", "scale-out");
const PG_START = join(REPO, "scripts", "pg-start.sh");

/** The configurations, in the order they run. */
const CONFIGS = {
  sqlite: { label: "SQLite, 1 server", store: "sqlite", servers: 1 },
  pg1: { label: "PostgreSQL, 1 server", store: "postgres", servers: 1 },
  pg2: { label: "PostgreSQL, 2 servers", store: "postgres", servers: 2 },
};

export const DEFAULTS = {
  configs: Object.keys(CONFIGS),
  submissions: 3000,
  clients: 8,
  latency: 100,
  tasks: 100_000,
  size: true,
  drainTimeoutS: 600,
  sizeTimeoutS: 3600,
  record: false,
  keep: false,
};

const USAGE = `usage: node bench/scale-out.mjs [options]
  --configs LIST     any of ${Object.keys(CONFIGS).join(",")} (default: all)
  --submissions N    tasks submitted by the concurrent clients, per configuration (default ${DEFAULTS.submissions})
  --clients C        concurrent HTTP clients, spread over the servers (default ${DEFAULTS.clients})
  --latency N        sequential submissions for submit->start latency (default ${DEFAULTS.latency})
  --tasks N          tasks of the pipeline run whose database size is measured (default ${DEFAULTS.tasks})
  --no-size          skip the database-size runs
  --drain-timeout S  give up waiting for the submitted tasks to end after S seconds (default ${DEFAULTS.drainTimeoutS})
  --size-timeout S   kill a database-size run after S seconds (default ${DEFAULTS.sizeTimeoutS})
  --record           rewrite bench/RESULTS.md's "## Scale-out" even with other sizes or configurations
  --keep             keep the project folders and the PostgreSQL cluster's files in bench/out/scale-out/
bench/RESULTS.md ("## Scale-out") is rewritten when every configuration ran at the default sizes, or with --record.`;

export function parseArgs(argv) {
  const o = { ...DEFAULTS, configs: [...DEFAULTS.configs] };
  const int = (v, what) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} needs a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const val = () => inline ?? argv[++i];
    switch (flag) {
      case "--configs": {
        const list = String(val() ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = list.filter((c) => !(c in CONFIGS));
        if (!list.length || bad.length)
          throw new UsageError(
            `--configs: unknown ${bad.join(", ") || "(empty)"}; choose from ${Object.keys(CONFIGS).join(",")}`,
          );
        o.configs = Object.keys(CONFIGS).filter((c) => list.includes(c));
        break;
      }
      case "--submissions":
        o.submissions = int(val(), flag);
        break;
      case "--clients":
        o.clients = int(val(), flag);
        break;
      case "--latency":
        o.latency = int(val(), flag);
        break;
      case "--tasks":
        o.tasks = int(val(), flag);
        break;
      case "--no-size":
        o.size = false;
        break;
      case "--drain-timeout":
        o.drainTimeoutS = int(val(), flag);
        break;
      case "--size-timeout":
        o.sizeTimeoutS = int(val(), flag);
        break;
      case "--record":
        o.record = true;
        break;
      case "--keep":
        o.keep = true;
        break;
      case "-h":
      case "--help":
        o.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${a}`);
    }
  }
  return o;
}

export class UsageError extends Error {}

const T0 = performance.now();
const log = (msg) => console.error(`scale-out: [${((performance.now() - T0) / 1000).toFixed(1)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock time in ms with sub-millisecond resolution (comparable with the server's Date.now()). */
const wallNow = () => performance.timeOrigin + performance.now();
const rmrf = (p) => spawnSync("rm", ["-rf", p]);

/** The environment for Baton processes: no server, token or database inherited from ours. */
function batonEnv(extra = {}) {
  const drop = new Set(["BATON_URL", "BATON_TOKEN", "BATON_DB"]);
  return {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.has(k))),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a throwaway cluster through scripts/pg-start.sh

/** The folder holding initdb and psql (BATON_PG_BIN, else the newest Debian one), or null. */
function pgBin() {
  const given = process.env.BATON_PG_BIN;
  if (given) return existsSync(join(given, "initdb")) ? given : null;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const v = readdirSync(root)
    .filter((x) => existsSync(join(root, x, "bin", "initdb")))
    .sort((a, b) => Number(a) - Number(b))
    .at(-1);
  return v === undefined ? null : join(root, v, "bin");
}

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

let pg = null; // { bin, port, data, url(db), psql(sql), stop() } while a cluster runs

async function startPostgres() {
  const bin = pgBin();
  if (!bin) return null;
  const data = join(OUT, "pg");
  rmrf(data);
  mkdirSync(OUT, { recursive: true });
  const port = await freePort();
  const env = { ...process.env, PGDATA: data, PGPORT: String(port), BATON_PG_BIN: bin };
  const r = spawnSync("bash", [PG_START], { env, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`scripts/pg-start.sh failed: ${r.stderr || r.stdout}`);
  const url = (db) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const psql = (sql, db = "postgres") => {
    const q = spawnSync(
      join(bin, "psql"),
      [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        db,
        "-v",
        "ON_ERROR_STOP=1",
        "-Atc",
        sql,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    if (q.status !== 0) throw new Error(`psql ${JSON.stringify(sql)}: ${q.stderr.trim()}`);
    return q.stdout.trim();
  };
  const version = psql("SHOW server_version");
  const stop = () => {
    const s = spawnSync("bash", [PG_START, "stop"], { env, encoding: "utf8", timeout: 120_000 });
    return s.status === 0 ? "stopped" : `stop failed: ${(s.stderr || s.stdout).trim()}`;
  };
  return { bin, port, data, version, url, psql, stop };
}

/** A fresh, empty database on the cluster; returns its name. */
function createDatabase(name) {
  pg.psql(`DROP DATABASE IF EXISTS ${name}`);
  pg.psql(`CREATE DATABASE ${name}`);
  return name;
}

// ---------------------------------------------------------------------------------------------
// Servers sharing a folder

let servers = []; // the servers of the configuration under way, for the signal handler

/** Starts `count` servers in `dir` on `db` (undefined: SQLite in .baton/); they share the folder's token. */
async function startServers(dir, count, db, name) {
  const out = [];
  for (let k = 0; k < count; k++) {
    const s = await startServer(dir, join(OUT, `${name}-server-${k + 1}.stderr`), db ? ["--db", db] : []);
    servers.push(s);
    out.push(s);
    log(`${name}: server ${k + 1} pid ${s.child.pid} on ${s.url}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phases

/** N submissions from C clients, client i on server i mod S; then waits until every task has ended. */
async function throughput(targets, opts) {
  const ids = [];
  const postMs = [];
  let next = 0;
  let failure = null;
  const perServer = targets.map(() => 0);
  const t0 = performance.now();
  const worker = async (c) => {
    const s = c % targets.length;
    const { call } = targets[s];
    while (failure === null) {
      const i = next++;
      if (i >= opts.submissions) return;
      const p0 = performance.now();
      try {
        const json = expect(await call("POST", "/tasks", { command: "true" }), 201, "POST /api/v1/tasks");
        if (!Array.isArray(json?.ids) || json.ids.length !== 1)
          throw new HttpFailure(`POST /api/v1/tasks: unexpected body ${JSON.stringify(json).slice(0, 500)}`);
        ids[i] = json.ids[0];
        postMs.push(performance.now() - p0);
        perServer[s]++;
      } catch (e) {
        failure ??= `submission #${i + 1} (server ${s + 1}): ${e.message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, c) => worker(c)));
  const submitMs = performance.now() - t0;
  const submitted = ids.filter(Boolean).length;
  const r = {
    submitted,
    perServer,
    submitMs,
    ratePerS: submitted / (submitMs / 1000),
    postP50Ms: quantile(postMs, 0.5),
    postP95Ms: quantile(postMs, 0.95),
    failure,
  };
  log(
    `  ${submitted} submitted in ${(submitMs / 1000).toFixed(2)} s: ${r.ratePerS.toFixed(0)}/s (per server ${perServer.join(" + ")}; POST p50 ${r.postP50Ms?.toFixed(1)} ms, p95 ${r.postP95Ms?.toFixed(1)} ms)`,
  );
  if (failure) return r;

  // Drain: the store is shared, so one server's listing counts every server's tasks.
  const { call } = targets[0];
  const deadline = performance.now() + opts.drainTimeoutS * 1000;
  let unfinished = null;
  let lastLog = performance.now();
  while (performance.now() < deadline) {
    const list = expect(
      await call("GET", "/tasks?status=pending,queued,running&limit=10000"),
      200,
      "GET /api/v1/tasks?status=pending,queued,running",
    );
    unfinished = list.tasks.length;
    if (unfinished === 0) break;
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  draining: ${unfinished} unfinished`);
    }
    await sleep(250);
  }
  r.drained = unfinished === 0;
  r.unfinishedAtEnd = unfinished;
  r.totalMs = performance.now() - t0;
  const byStatus = {};
  for (const status of ["succeeded", "failed", "cancelled", "skipped"]) {
    const list = expect(
      await call("GET", `/tasks?status=${status}&limit=10000`),
      200,
      `GET /tasks?status=${status}`,
    );
    if (list.tasks.length) byStatus[status] = list.tasks.length;
  }
  r.byStatus = byStatus;
  log(
    `  ${r.drained ? "all ended" : `gave up with ${unfinished} unfinished`} ${(r.totalMs / 1000).toFixed(1)} s after the first submission: ${JSON.stringify(byStatus)}`,
  );
  return r;
}

/** N sequential submissions (each once the previous has ended), submission i on server i mod S. */
async function latency(targets, opts) {
  const startMs = [];
  let failure = null;
  for (let i = 0; i < opts.latency; i++) {
    const { call, events } = targets[i % targets.length];
    try {
      const t0 = wallNow();
      const json = expect(await call("POST", "/tasks", { command: "true" }), 201, "POST /api/v1/tasks");
      const id = json.ids[0];
      let ended = await events.waitEnded(id, 10_000);
      let task = expect(await call("GET", `/tasks/${id}`), 200, `GET /api/v1/tasks/${id}`);
      for (let k = 0; !ended && k < 600; k++) {
        if (TERMINAL.has(task.status)) ended = true;
        else {
          await sleep(50);
          task = expect(await call("GET", `/tasks/${id}`), 200, `GET /api/v1/tasks/${id}`);
        }
      }
      if (task.status !== "succeeded")
        throw new Error(`task ${id} ${task.status}: ${JSON.stringify(task).slice(0, 800)}`);
      if (!task.startedAt) throw new Error(`task ${id} has no startedAt`);
      startMs.push(Date.parse(task.startedAt) - t0);
    } catch (e) {
      failure = `sequential submission #${i + 1}: ${e.message}`;
      break;
    }
  }
  const r = {
    measured: startMs.length,
    p50Ms: quantile(startMs, 0.5),
    p95Ms: quantile(startMs, 0.95),
    maxMs: startMs.length ? Math.max(...startMs) : null,
    failure,
  };
  log(
    `  submit->start over ${r.measured}: p50 ${r.p50Ms?.toFixed(1)} ms, p95 ${r.p95Ms?.toFixed(1)} ms, max ${r.maxMs?.toFixed(1)} ms${failure ? `; stopped: ${failure}` : ""}`,
  );
  return r;
}

/** One configuration: fresh folder (and database), its servers, throughput, latency, stop. */
async function runConfig(name, opts) {
  const cfg = CONFIGS[name];
  const r = { name, label: cfg.label, servers: cfg.servers, store: cfg.store };
  if (cfg.store === "postgres" && !pg) {
    r.absent = true;
    return r;
  }
  log(`${cfg.label}`);
  const dir = join(OUT, name);
  rmrf(dir);
  mkdirSync(dir, { recursive: true });
  const db = cfg.store === "postgres" ? pg.url(createDatabase(`bench_${name}`)) : undefined;
  const agents = [];
  let targets = [];
  let ok = false;
  try {
    const started = await startServers(dir, cfg.servers, db, name);
    targets = started.map((s) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });
      agents.push(agent);
      return { server: s, call: makeClient(s.url, s.token, agent) };
    });
    for (const t of targets) expect(await t.call("GET", "/tasks?limit=1"), 200, "GET /api/v1/tasks");
    r.throughput = await throughput(targets, opts);
    if (r.throughput.failure) throw new Error(r.throughput.failure);
    if (!r.throughput.drained)
      throw new Error(`tasks still unfinished after --drain-timeout ${opts.drainTimeoutS} s`);
    await sleep(1000);
    for (const t of targets) {
      t.events = watchEvents(t.server.port, t.server.token);
      await t.events.ready;
    }
    r.latency = await latency(targets, opts);
    if (r.latency.failure) throw new Error(r.latency.failure);
    ok = true;
  } catch (e) {
    r.error = e.message;
    log(`${name} FAILED: ${e.message}`);
  } finally {
    for (const t of targets) t.events?.close();
    for (const a of agents) a.destroy();
    r.peakRssMb = [];
    r.stop = [];
    for (const s of servers) {
      r.peakRssMb.push(peakRssMb(s.child.pid));
      r.stop.push(await stopServer(s.child));
      s.saveStderr();
    }
    servers = [];
    if (ok && !opts.keep) rmrf(dir);
    else log(`${name}: folder kept: ${dir}`);
  }
  return r;
}

/** A pipeline file: one node, a foreach over n items, each task `true`. */
function bigPipeline(n) {
  const items = Array.from({ length: n }, (_, i) => i).join(", ");
  return [
    "version: 1",
    "pipelines:",
    "  big:",
    "    nodes:",
    "      work:",
    `        foreach: [${items}]`,
    '        run: "true"',
    "",
  ].join("\n");
}

const fileSize = (p) => (existsSync(p) ? statSync(p).size : 0);

/** One `baton run` of `--tasks` tasks on the store; the database's size before and after. */
async function sizeRun(store, opts) {
  const r = { store, tasks: opts.tasks };
  if (store === "postgres" && !pg) {
    r.absent = true;
    return r;
  }
  const dir = join(OUT, `size-${store}`);
  rmrf(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "baton.yaml"), bigPipeline(opts.tasks));
  const args = [BATON, "run", "-f", "baton.yaml", "--no-cache"];
  let dbName;
  if (store === "postgres") {
    dbName = createDatabase("bench_size");
    args.push("--db", pg.url(dbName));
    r.bytesBefore = Number(pg.psql(`SELECT pg_database_size('${dbName}')`));
  } else {
    r.bytesBefore = 0;
  }
  const limit = String(Math.max(opts.tasks, 100_000));
  log(`database size: ${store}, baton run of ${opts.tasks} tasks`);
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: batonEnv({
      BATON_PROGRESS: "plain",
      BATON_MAX_TASKS_PER_NODE: limit,
      BATON_MAX_TASKS_PER_RUN: limit,
    }),
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    err = (err + d).slice(-20_000);
  });
  const killer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, opts.sizeTimeoutS * 1000);
  const progress = setInterval(
    () => log(`  ${store}: running for ${((performance.now() - t0) / 1000).toFixed(0)} s`),
    60_000,
  );
  sizeChild = child;
  const [code, signal] = await new Promise((res) => child.on("exit", (c, s) => res([c, s])));
  sizeChild = null;
  clearTimeout(killer);
  clearInterval(progress);
  r.wallS = (performance.now() - t0) / 1000;
  writeFileSync(join(OUT, `size-${store}.stderr`), err);
  if (code !== 0) {
    r.error =
      signal === "SIGKILL"
        ? `killed after --size-timeout ${opts.sizeTimeoutS} s`
        : `baton run exited ${signal ?? code}: ${err.trim().split("\n").slice(-5).join(" / ")}`;
    log(`  ${store}: ${r.error}`);
  }
  if (store === "postgres") {
    r.bytes = Number(pg.psql(`SELECT pg_database_size('${dbName}')`));
    r.counted = Number(pg.psql("SELECT count(*) FROM tasks WHERE status = 'succeeded'", dbName));
    r.tables = pg
      .psql(
        "SELECT relname || ' ' || pg_total_relation_size(relid) FROM pg_statio_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 4",
        dbName,
      )
      .split("\n")
      .map((l) => {
        const [t, b] = l.split(" ");
        return { table: t, bytes: Number(b) };
      });
  } else {
    const f = join(dir, ".baton", "baton.db");
    r.files = { db: fileSize(f), wal: fileSize(`${f}-wal`), shm: fileSize(`${f}-shm`) };
    r.bytes = r.files.db + r.files.wal;
  }
  r.perTask = (r.bytes - r.bytesBefore) / opts.tasks;
  log(
    `  ${store}: ${r.error ? "FAILED" : "ok"} in ${r.wallS.toFixed(0)} s; ${(r.bytes / 1e6).toFixed(1)} MB (${r.perTask.toFixed(0)} bytes/task over the empty database)`,
  );
  if (!opts.keep) {
    const t = performance.now();
    rmrf(dir);
    log(`  removed ${dir} in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  return r;
}

let sizeChild = null;

// ---------------------------------------------------------------------------------------------
// Report

const f = (x, d = 1) => (x == null || !Number.isFinite(x) ? "n/a" : x.toFixed(d));
const mb = (b) => f(b / 1e6, 1);

function markdownBody(res, opts) {
  const lines = [
    ...runLines({
      command: `node bench/scale-out.mjs${res.argv ? ` ${res.argv}` : ""}`,
      startedAt: res.startedAt,
      durationS: res.durationS,
      loadStart: res.loadStart,
      loadEnd: res.loadEnd,
      baton: res.baton,
      extra: [`- PostgreSQL: ${res.postgres}`],
    }),
    "",
    "Real `node bin/baton.js server --port 0` processes in a fresh project folder per configuration",
    `(no baton.yaml: one pool \`local\` with one slot per CPU, here ${res.nproc}; with PostgreSQL the slots`,
    "are counted in the database, so two servers share them), driven over HTTP on 127.0.0.1 by this",
    "script on the same machine. Two servers share one database and one folder, on different ports;",
    "the clients are spread over both (client i talks to server i mod 2).",
    "",
    `- **submissions/s**: ${opts.submissions} \`POST /api/v1/tasks {"command": "true"}\` from ${opts.clients} concurrent`,
    "  keep-alive clients, divided by the wall time of the submissions; **all ended**: from the",
    "  first submission until none of them is pending, queued or running.",
    `- **submit -> start**: ${opts.latency} sequential submissions on the idle pool (each once the previous`,
    "  has ended, seen on that server's `GET /api/v1/events`), alternating between the servers: the",
    "  task's `startedAt` minus the client's clock at the POST (same machine, millisecond resolution).",
    "",
    mdTable(
      [
        "configuration",
        "submissions/s",
        "POST p50 / p95 ms",
        "all ended s",
        "submit -> start p50 ms",
        "p95 ms",
        "max ms",
        "server peak RSS MB",
      ],
      res.configs.map((c) => {
        if (c.absent) return [c.label, "absent", "", "", "", "", "", ""];
        const a = c.throughput;
        const b = c.latency;
        return [
          c.label,
          a && !a.failure ? `**${f(a.ratePerS, 0)}**` : "failed",
          a ? `${f(a.postP50Ms)} / ${f(a.postP95Ms)}` : "n/a",
          a?.drained ? f(a.totalMs / 1000) : "n/a",
          b && !b.failure ? `**${f(b.p50Ms)}**` : "n/a",
          b && !b.failure ? f(b.p95Ms) : "n/a",
          b && !b.failure ? f(b.maxMs) : "n/a",
          (c.peakRssMb ?? []).map((x) => f(x, 0)).join(" + ") || "n/a",
        ];
      }),
    ),
    "",
  ];
  for (const c of res.configs) if (c.error) lines.push(`**${c.label} failed**: \`${c.error}\``, "");
  if (res.sizes.length) {
    const n = res.sizes[0].tasks;
    lines.push(
      `### Database size of a ${n.toLocaleString("en-US")}-task run`,
      "",
      "One `baton run --no-cache` (embedded engine, no server) of a pipeline with one node whose",
      `\`foreach\` lists ${n.toLocaleString("en-US")} items, each task \`true\`, in a fresh folder and a fresh database.`,
      "SQLite: `.baton/baton.db` plus `baton.db-wal` once the run has ended (the `-shm` index is left",
      "out); PostgreSQL: `pg_database_size` of the run's database, whose empty size (the template",
      "plus nothing) is subtracted for bytes per task. Figures as the run left them (no VACUUM).",
      ...(n < DEFAULTS.tasks
        ? [
            "",
            `**Run with \`--tasks ${n}\`**, not ${DEFAULTS.tasks.toLocaleString("en-US")}: bytes per task is the figure to scale.`,
          ]
        : []),
      "",
      mdTable(
        [
          "store",
          "tasks",
          "run wall s",
          "tasks/s",
          "database MB",
          "empty MB",
          "bytes per task",
          "largest tables",
        ],
        res.sizes.map((s) => {
          const name = s.store === "postgres" ? "PostgreSQL" : "SQLite";
          if (s.absent) return [name, "absent", "", "", "", "", "", ""];
          return [
            name + (s.error ? ` (**${s.error}**)` : ""),
            s.store === "postgres" ? `${s.counted} succeeded` : String(s.tasks),
            f(s.wallS, 0),
            f(s.tasks / s.wallS, 0),
            `**${mb(s.bytes)}**`,
            mb(s.bytesBefore),
            `**${f(s.perTask, 0)}**`,
            s.tables
              ? s.tables.map((t) => `${t.table} ${mb(t.bytes)}`).join(", ")
              : `baton.db ${mb(s.files.db)}, wal ${mb(s.files.wal)}`,
          ];
        }),
      ),
      "",
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

function cleanup() {
  for (const s of servers) {
    try {
      s.child.kill("SIGTERM");
    } catch {
      // gone
    }
  }
  if (sizeChild) {
    try {
      process.kill(-sizeChild.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  if (pg) {
    log(`PostgreSQL: ${pg.stop()}`);
    pg = null;
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`scale-out: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  const t0 = performance.now();
  const res = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2).join(" "),
    loadStart: loadavg(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    baton: batonVersion(REPO),
    opts,
    configs: [],
    sizes: [],
  };
  log(`load average before: ${res.loadStart.join(", ")}`);
  mkdirSync(OUT, { recursive: true });
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    cleanup();
    process.exit(143);
  });
  const needPg = opts.configs.some((c) => CONFIGS[c].store === "postgres") || opts.size;
  try {
    if (needPg) {
      pg = await startPostgres();
      res.postgres = pg
        ? `${pg.version}, a throwaway cluster from scripts/pg-start.sh on 127.0.0.1:${pg.port}, default settings`
        : "absent (no /usr/lib/postgresql/*/bin/initdb; BATON_PG_BIN names another folder)";
      log(`PostgreSQL: ${res.postgres}`);
    } else {
      res.postgres = "not used";
    }
    for (const name of opts.configs) res.configs.push(await runConfig(name, opts));
    if (opts.size) {
      for (const store of ["sqlite", "postgres"]) res.sizes.push(await sizeRun(store, opts));
    }
  } finally {
    if (pg) {
      log(`PostgreSQL: ${pg.stop()}`);
      if (!opts.keep) rmrf(pg.data);
      pg = null;
    }
  }
  res.loadEnd = loadavg();
  res.durationS = (performance.now() - t0) / 1000;
  log(`load average after: ${res.loadEnd.join(", ")}; took ${res.durationS.toFixed(0)} s`);

  const ok = res.configs.every((c) => !c.error) && res.sizes.every((s) => !s.error);
  const body = markdownBody(res, opts);
  writeFileSync(join(BENCH, "out", "scale-out.json"), JSON.stringify(res, null, 2));
  writeFileSync(join(BENCH, "out", "scale-out.md"), `## Scale-out\n\n${body}`);
  console.log(body);
  const defaults =
    opts.configs.length === DEFAULTS.configs.length &&
    opts.size &&
    opts.submissions === DEFAULTS.submissions &&
    opts.clients === DEFAULTS.clients &&
    opts.latency === DEFAULTS.latency &&
    opts.tasks === DEFAULTS.tasks;
  if (ok && (defaults || opts.record)) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Scale-out", body);
    console.log('Wrote the "## Scale-out" section of bench/RESULTS.md');
  } else {
    console.log(
      `Wrote bench/out/scale-out.md (bench/RESULTS.md is only updated ${ok ? "at the default sizes or with --record" : "by a run without failures"})`,
    );
  }
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    cleanup();
    process.exit(1);
  });
}
