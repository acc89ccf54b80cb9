#!/usr/bin/env node
// Server load: submission throughput and submit-to-start latency of a real `baton server`.
//
//   node bench/load.mjs [--submissions N] [--clients C] [--latency N] [--drain-timeout S]
//                       [--repeat N] [--keep]
//
// Starts `node bin/baton.js server --port 0` in an empty temp folder, then
//  (a) N task submissions (POST /api/v1/tasks {"command": "true"}) from C concurrent keep-alive
//      clients: submissions per second, then how long until every task has ended (drain);
//  (b) on the idle pool, `--latency` sequential submissions, each after the previous has ended:
//      time from the POST to the task's startedAt (GET /api/v1/tasks/:id) -> p50, p99.
// All traffic goes to 127.0.0.1. The server is stopped with SIGTERM at the end, even on failure.
// With the default sizes, rewrites the "## Server load" section of bench/RESULTS.md; always
// writes bench/out/load.json and bench/out/load.md. See bench/README.md.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  batonVersion,
  loadavg,
  mdTable,
  median,
  quantile,
  runLines,
  updateSectionFile,
} from "./sections.mjs";
import {
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
const OUT = join(BENCH, "out");

const DEFAULTS = {
  submissions: 10_000,
  clients: 8,
  latency: 200,
  drainTimeoutS: 900,
  repeat: 1,
  keep: false,
};
const TARGETS = { submitRate: 2000, p50Ms: 20 };

const USAGE = `usage: node bench/load.mjs [options]
  --submissions N    tasks submitted in phase (a) (default ${DEFAULTS.submissions})
  --clients C        concurrent HTTP clients in phase (a) (default ${DEFAULTS.clients})
  --latency N        sequential submissions in phase (b) (default ${DEFAULTS.latency})
  --drain-timeout S  give up waiting for phase (a)'s tasks to end after S seconds (default ${DEFAULTS.drainTimeoutS})
  --repeat N         rounds, each on a fresh server; medians are reported (default 1)
  --keep             keep the server's temp folder (default: removed after a successful run)
bench/RESULTS.md ("## Server load") is rewritten only with the default sizes.`;

function parseArgs(argv) {
  const o = { ...DEFAULTS };
  const int = (v, what) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) usage(`${what} needs a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const val = () => inline ?? argv[++i];
    switch (flag) {
      case "--submissions":
        o.submissions = int(val(), flag);
        break;
      case "--clients":
        o.clients = int(val(), flag);
        break;
      case "--latency":
        o.latency = int(val(), flag);
        break;
      case "--drain-timeout":
        o.drainTimeoutS = int(val(), flag);
        break;
      case "--repeat":
        o.repeat = int(val(), flag);
        break;
      case "--keep":
        o.keep = true;
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        usage(`unknown option ${a}`);
    }
  }
  return o;
}

function usage(msg) {
  console.error(`load: ${msg}\n${USAGE}`);
  process.exit(2);
}

const T0 = performance.now();
const log = (msg) => console.error(`load: [${((performance.now() - T0) / 1000).toFixed(1)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Wall-clock time in ms with sub-millisecond resolution (comparable with the server's Date.now()). */
const wallNow = () => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------------------------------------
// Phases

/** (a) N submissions from C clients; then waits until every task has ended. */
async function throughput(call, opts) {
  const ids = new Array(opts.submissions);
  const postMs = [];
  let next = 0;
  let done = 0;
  let failure = null;
  const block = Math.max(1, Math.round(opts.submissions / 5));
  const blockEnds = [];
  const t0 = performance.now();
  const worker = async () => {
    while (failure === null) {
      const i = next++;
      if (i >= opts.submissions) return;
      const s = performance.now();
      try {
        const json = expect(await call("POST", "/tasks", { command: "true" }), 201, "POST /api/v1/tasks");
        if (!Array.isArray(json?.ids) || json.ids.length !== 1) {
          throw new HttpFailure(`POST /api/v1/tasks: unexpected body ${JSON.stringify(json).slice(0, 500)}`);
        }
        ids[i] = json.ids[0];
        postMs.push(performance.now() - s);
        if (++done % block === 0) blockEnds.push(performance.now() - t0);
      } catch (e) {
        failure ??= `submission #${i + 1}: ${e.message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, worker));
  const submitMs = performance.now() - t0;
  const submitted = ids.filter(Boolean).length;
  const r = {
    submissions: opts.submissions,
    clients: opts.clients,
    submitted,
    submitMs,
    ratePerS: submitted / (submitMs / 1000),
    postP50Ms: quantile(postMs, 0.5),
    postP99Ms: quantile(postMs, 0.99),
    // Submissions per second over each fifth of the submissions, in order.
    block,
    blockRates: blockEnds.map((t, k) => block / ((t - (k ? blockEnds[k - 1] : 0)) / 1000)),
    failure,
  };
  log(
    `(a) ${submitted} submitted in ${(submitMs / 1000).toFixed(2)} s: ${r.ratePerS.toFixed(0)}/s (by block of ${block}: ${r.blockRates.map((x) => x.toFixed(0)).join(", ")}/s; POST p50 ${r.postP50Ms?.toFixed(1)} ms, p99 ${r.postP99Ms?.toFixed(1)} ms)`,
  );
  if (failure) return r;

  // Drain: watch the last submitted task (cheap), then count the unfinished ones (one listing of
  // up to 10,000 tasks) until none is left. Bounded by --drain-timeout.
  const deadline = performance.now() + opts.drainTimeoutS * 1000;
  const last = ids[ids.length - 1];
  let lastLog = performance.now();
  let unfinished = null;
  while (performance.now() < deadline) {
    const task = expect(await call("GET", `/tasks/${last}`), 200, `GET /api/v1/tasks/${last}`);
    if (TERMINAL.has(task.status)) break;
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`(a) draining: ${((performance.now() - t0) / 1000).toFixed(0)} s since the first submission`);
    }
    await sleep(100);
  }
  while (performance.now() < deadline) {
    const list = expect(
      await call("GET", "/tasks?status=pending,queued,running&limit=10000"),
      200,
      "GET /api/v1/tasks?status=pending,queued,running",
    );
    unfinished = list.tasks.length;
    if (unfinished === 0) break;
    await sleep(250);
  }
  const endMs = performance.now() - t0;
  r.drained = unfinished === 0;
  r.unfinishedAtEnd = unfinished;
  r.drainAfterSubmitMs = endMs - submitMs;
  r.totalMs = endMs;
  // How the tasks ended.
  log("(a) counting the tasks by status");
  const byStatus = {};
  for (const status of ["succeeded", "failed", "cancelled", "skipped", "cached"]) {
    const list = expect(
      await call("GET", `/tasks?status=${status}&limit=10000`),
      200,
      `GET /api/v1/tasks?status=${status}`,
    );
    if (list.tasks.length) byStatus[status] = list.tasks.length;
    if (status === "failed" && list.tasks.length) {
      const detail = await call("GET", `/tasks/${list.tasks[0].id}`);
      r.firstFailure = detail.text.slice(0, 1500);
    }
  }
  r.byStatus = byStatus;
  log(
    `(a) ${r.drained ? "all ended" : `gave up with ${unfinished} unfinished`} ${(r.drainAfterSubmitMs / 1000).toFixed(1)} s after the last submission (${(endMs / 1000).toFixed(1)} s in all): ${JSON.stringify(byStatus)}`,
  );
  return r;
}

/** (b) N sequential submissions on an idle pool: POST -> startedAt. */
async function latency(call, events, opts) {
  const startMs = [];
  const postMs = [];
  const endMs = [];
  let failure = null;
  for (let i = 0; i < opts.latency; i++) {
    try {
      const t0 = wallNow();
      const p0 = performance.now();
      const json = expect(await call("POST", "/tasks", { command: "true" }), 201, "POST /api/v1/tasks");
      postMs.push(performance.now() - p0);
      const id = json.ids[0];
      let ended = await events.waitEnded(id, 10_000);
      const seen = performance.now();
      let task = expect(await call("GET", `/tasks/${id}`), 200, `GET /api/v1/tasks/${id}`);
      // Without an event (the stream dropped?), poll the task, bounded.
      for (let k = 0; !ended && k < 600; k++) {
        if (TERMINAL.has(task.status)) ended = true;
        else {
          await sleep(50);
          task = expect(await call("GET", `/tasks/${id}`), 200, `GET /api/v1/tasks/${id}`);
        }
      }
      if (!TERMINAL.has(task.status)) throw new Error(`task ${id} still ${task.status} after 60 s`);
      if (task.status !== "succeeded")
        throw new Error(`task ${id} ${task.status}: ${JSON.stringify(task).slice(0, 800)}`);
      if (!task.startedAt)
        throw new Error(`task ${id} has no startedAt: ${JSON.stringify(task).slice(0, 800)}`);
      startMs.push(Date.parse(task.startedAt) - t0);
      endMs.push(seen - p0);
    } catch (e) {
      failure = `sequential submission #${i + 1}: ${e.message}`;
      break;
    }
  }
  const r = {
    n: opts.latency,
    measured: startMs.length,
    p50Ms: quantile(startMs, 0.5),
    p99Ms: quantile(startMs, 0.99),
    maxMs: startMs.length ? Math.max(...startMs) : null,
    minMs: startMs.length ? Math.min(...startMs) : null,
    meanMs: startMs.length ? startMs.reduce((a, b) => a + b, 0) / startMs.length : null,
    postP50Ms: quantile(postMs, 0.5),
    endP50Ms: quantile(endMs, 0.5),
    endP99Ms: quantile(endMs, 0.99),
    failure,
  };
  log(
    `(b) submit->start over ${r.measured}: p50 ${r.p50Ms?.toFixed(1)} ms, p99 ${r.p99Ms?.toFixed(1)} ms, max ${r.maxMs?.toFixed(1)} ms${failure ? `; stopped: ${failure}` : ""}`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------------
// Report

const f = (x, d = 1) => (x == null ? "n/a" : x.toFixed(d));

function markdownBody(res, opts) {
  const rounds = res.rounds;
  const many = rounds.length > 1;
  /** Median over the rounds that have the figure, each round's value in brackets. */
  const val = (get, d = 1, unit = "", bold = false) => {
    const xs = rounds.map(get).filter((x) => x != null && Number.isFinite(x));
    if (!xs.length) return "n/a";
    const m = `${f(median(xs), d)}${unit}`;
    return `${bold ? `**${m}**` : m}${many ? ` (${xs.map((x) => f(x, d)).join(", ")})` : ""}`;
  };
  const perRound = (get) =>
    rounds
      .map((r, k) => {
        const v = get(r);
        return v == null ? null : many ? `#${k + 1}: ${v}` : v;
      })
      .filter((x) => x != null)
      .join("; ") || "n/a";
  const A = (get) => (r) => (r.throughput ? get(r.throughput) : null);
  const B = (get) => (r) => (r.latency ? get(r.latency) : null);
  const anyA = rounds.some((r) => r.throughput);
  const anyB = rounds.some((r) => r.latency);
  const lines = [
    ...runLines({
      command: `node bench/load.mjs${res.argv ? ` ${res.argv}` : ""}`,
      startedAt: res.startedAt,
      durationS: res.durationS,
      loadStart: res.loadStart,
      loadEnd: res.loadEnd,
      baton: res.baton,
    }),
    "",
    "A real `node bin/baton.js server --port 0` in an empty temp folder (no baton.yaml: one pool",
    `\`local\` with one slot per CPU, here ${res.nproc}; SQLite store in \`.baton/\`), driven over HTTP on`,
    "127.0.0.1 by this script on the same machine (Node `http.Agent({ keepAlive: true })`). Every task",
    'is `POST /api/v1/tasks {"command": "true"}` with the bearer token from `.baton/server.json`.',
    many
      ? `${rounds.length} rounds, each on a fresh server and folder: figures are medians, each round's value in brackets.`
      : "One round (`--repeat N` runs N rounds on fresh servers and reports medians).",
    `Server: ${perRound((r) => r.serverStop)}; peak RSS (VmHWM): ${val((r) => r.serverPeakRssMb, 0, " MB")}.`,
    "",
  ];
  for (const [k, r] of rounds.entries()) {
    if (r.error) lines.push(`**Baton failed** (round ${k + 1}): \`${r.error}\``, "");
  }
  if (anyA) {
    lines.push(
      `### (a) ${opts.submissions} submissions from ${opts.clients} concurrent clients`,
      "",
      mdTable(
        ["figure", "value"],
        [
          ["tasks submitted", perRound(A((a) => `${a.submitted} / ${a.submissions}`))],
          [
            "submit wall time",
            val(
              A((a) => a.submitMs / 1000),
              2,
              " s",
            ),
          ],
          [
            "**submissions per second**",
            val(
              A((a) => a.ratePerS),
              0,
              "/s",
              true,
            ),
          ],
          [
            `submissions per second, by block of ${rounds.find((r) => r.throughput).throughput.block} in order`,
            perRound(A((a) => a.blockRates?.map((x) => f(x, 0)).join(", "))),
          ],
          [
            "POST latency under load, p50",
            val(
              A((a) => a.postP50Ms),
              1,
              " ms",
            ),
          ],
          [
            "POST latency under load, p99",
            val(
              A((a) => a.postP99Ms),
              1,
              " ms",
            ),
          ],
          [
            "**drain**: last submission -> every task ended",
            val(
              A((a) => (a.drained ? a.drainAfterSubmitMs / 1000 : null)),
              1,
              " s",
              true,
            ),
          ],
          [
            "first submission -> every task ended",
            val(
              A((a) => (a.drained ? a.totalMs / 1000 : null)),
              1,
              " s",
            ),
          ],
          [
            "end-to-end throughput (tasks / first submission -> all ended)",
            val(
              A((a) => (a.drained ? a.submissions / (a.totalMs / 1000) : null)),
              0,
              " tasks/s",
            ),
          ],
          [
            "tasks by final status",
            perRound(
              A((a) =>
                a.byStatus
                  ? Object.entries(a.byStatus)
                      .map(([k, v]) => `${k} ${v}`)
                      .join(", ")
                  : null,
              ),
            ),
          ],
        ],
      ),
      "",
    );
    for (const r of rounds) {
      const a = r.throughput;
      if (a?.failure) lines.push(`Submissions stopped at the first error: \`${a.failure}\``, "");
      if (a && a.drained === false)
        lines.push(
          `Gave up waiting: ${a.unfinishedAtEnd} tasks unfinished after ${opts.drainTimeoutS} s.`,
          "",
        );
      if (a?.firstFailure) lines.push(`First failed task: \`${a.firstFailure}\``, "");
    }
  }
  if (anyB) {
    lines.push(
      `### (b) Submit-to-start latency, ${opts.latency} sequential submissions on the idle pool`,
      "",
      "Each `true` is submitted once the previous one has ended (seen on `GET /api/v1/events`); the",
      "latency is the task's `startedAt` (`GET /api/v1/tasks/:id`; the engine records it as it starts the",
      "attempt, just before launching the process) minus the client's clock when it sent the POST. Both",
      "clocks are this machine's; `startedAt` has millisecond resolution, so values within 1 ms of 0 can",
      "come out slightly negative. Run after (a), on the same server, so its store already holds those tasks.",
      "",
      mdTable(
        ["figure", "value"],
        [
          ["measured", perRound(B((b) => `${b.measured} / ${b.n}`))],
          [
            "**submit -> start, p50**",
            val(
              B((b) => b.p50Ms),
              1,
              " ms",
              true,
            ),
          ],
          [
            "submit -> start, p99",
            val(
              B((b) => b.p99Ms),
              1,
              " ms",
            ),
          ],
          [
            "submit -> start, max",
            val(
              B((b) => b.maxMs),
              1,
              " ms",
            ),
          ],
          [
            "submit -> start, mean",
            val(
              B((b) => b.meanMs),
              1,
              " ms",
            ),
          ],
          [
            "POST round trip, p50",
            val(
              B((b) => b.postP50Ms),
              1,
              " ms",
            ),
          ],
          [
            "POST -> end seen by the client (event), p50",
            val(
              B((b) => b.endP50Ms),
              1,
              " ms",
            ),
          ],
          [
            "POST -> end seen by the client (event), p99",
            val(
              B((b) => b.endP99Ms),
              1,
              " ms",
            ),
          ],
        ],
      ),
      "",
    );
    for (const r of rounds)
      if (r.latency?.failure) lines.push(`Stopped at the first error: \`${r.latency.failure}\``, "");
  }
  const rates = rounds.map(A((a) => (a.failure ? null : a.ratePerS))).filter((x) => x != null);
  const p50s = rounds.map(B((b) => b.p50Ms)).filter((x) => x != null);
  const rate = rates.length ? median(rates) : null;
  const p50 = p50s.length ? median(p50s) : null;
  const failedA = rounds.some((r) => r.throughput?.failure);
  lines.push(
    "### For context",
    "",
    "Per-task overhead figures of other schedulers, as quoted in the issue (documented figures, not",
    "measured here):",
    "",
    mdTable(
      ["scheduler", "overhead from submission to the task running"],
      [
        [
          "Baton (this run: submit -> start p50 / p99)",
          anyB
            ? `${val(
                B((b) => b.p50Ms),
                1,
                " ms",
              )} / ${val(
                B((b) => b.p99Ms),
                1,
                " ms",
              )}`
            : "n/a",
        ],
        ["Velda", "~1 s per task (documented)"],
        ["Airflow", "1.5–4 s per task"],
      ],
    ),
    "",
    "### Targets",
    "",
    mdTable(
      ["target", "value", "verdict"],
      [
        [
          `submissions >= ${TARGETS.submitRate}/s (${opts.clients} clients)`,
          rate == null ? "n/a" : `${f(rate, 0)}/s`,
          failedA
            ? "missed (HTTP error)"
            : rate == null
              ? "n/a"
              : rate >= TARGETS.submitRate
                ? "met"
                : "missed",
        ],
        [
          `submit-to-start p50 <= ${TARGETS.p50Ms} ms (idle pool)`,
          p50 == null ? "n/a" : `${f(p50)} ms`,
          p50 == null ? "n/a" : p50 <= TARGETS.p50Ms ? "met" : "missed",
        ],
      ],
    ),
    "",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

let current = null; // the server of the round under way, for the signal handler

/** One round: a fresh server in a fresh folder, (a) then (b), the server stopped at the end. */
async function round(opts, k) {
  const r = {};
  const dir = mkdtempSync(join(os.tmpdir(), "baton-load-"));
  let events;
  let ok = false;
  try {
    current = await startServer(dir, join(OUT, "load", `server-${k}.stderr`));
    log(`round ${k}: server pid ${current.child.pid} on ${current.url} in ${dir}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients });
    const call = makeClient(current.url, current.token, agent);
    expect(await call("GET", "/tasks?limit=1"), 200, "GET /api/v1/tasks"); // token works
    r.throughput = await throughput(call, opts);
    if (r.throughput.failure) throw new Error(r.throughput.failure);
    if (!r.throughput.drained)
      throw new Error(`tasks still unfinished after --drain-timeout ${opts.drainTimeoutS} s`);
    await sleep(1000); // idle pool
    events = watchEvents(current.port, current.token);
    await events.ready;
    r.latency = await latency(call, events, opts);
    if (r.latency.failure) throw new Error(r.latency.failure);
    agent.destroy();
    ok = true;
  } catch (e) {
    r.error = e.message;
    log(`round ${k} FAILED: ${e.message}`);
  } finally {
    events?.close();
    if (current) {
      r.serverPeakRssMb = peakRssMb(current.child.pid);
      r.serverStop = await stopServer(current.child);
      current.saveStderr();
      log(`round ${k}: server ${r.serverStop}`);
      current = null;
    } else {
      r.serverStop = "never started";
    }
    if (ok && !opts.keep) {
      rmSync(dir, { recursive: true, force: true });
      log(`round ${k}: removed ${dir}`);
    } else {
      r.dir = dir;
      log(`round ${k}: server folder kept: ${dir}`);
    }
  }
  return r;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const res = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2).join(" "),
    loadStart: loadavg(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    baton: batonVersion(REPO),
    opts,
    rounds: [],
  };
  log(`load average before: ${res.loadStart.join(", ")}`);
  mkdirSync(join(OUT, "load"), { recursive: true });
  // Ctrl-C or a kill of this script still stops the server.
  const onSignal = (sig) => {
    try {
      current?.child.kill("SIGTERM");
    } catch {
      // gone
    }
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  for (let k = 1; k <= opts.repeat; k++) {
    const r = await round(opts, k);
    res.rounds.push(r);
    if (r.error) break;
  }
  const ok = res.rounds.every((r) => !r.error);
  res.loadEnd = loadavg();
  res.durationS = (performance.now() - t0) / 1000;
  log(`load average after: ${res.loadEnd.join(", ")}; took ${res.durationS.toFixed(0)} s`);

  const body = markdownBody(res, opts);
  writeFileSync(join(OUT, "load.json"), JSON.stringify(res, null, 2));
  writeFileSync(join(OUT, "load.md"), `## Server load\n\n${body}`);
  console.log(body);
  const defaults =
    opts.submissions === DEFAULTS.submissions &&
    opts.clients === DEFAULTS.clients &&
    opts.latency === DEFAULTS.latency;
  if (defaults) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Server load", body);
    console.log('Wrote the "## Server load" section of bench/RESULTS.md');
  } else {
    console.log("Wrote bench/out/load.md (bench/RESULTS.md is only updated with the default sizes)");
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
