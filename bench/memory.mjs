#!/usr/bin/env node
// Server memory: does a long-lived `baton server` forget the tasks it has run?
//
//   node bench/memory.mjs [--tasks N] [--checkpoints A,B] [--clients C] [--batch B] [--baton PATH] [--keep]
//
// Starts `node --expose-gc bin/baton.js server --port 0` in an empty temp folder (with a small
// preload that, on SIGUSR2, runs a full GC and writes the server's process.memoryUsage() to a
// file), then submits N trivial tasks (POST /api/v1/tasks {"command": "true"}) from C concurrent
// keep-alive clients, B at a time, at most two batches unfinished at once.
// At each checkpoint (default 10,000 and 100,000 settled tasks) it waits until every task
// submitted has ended, pauses, forces the GC and reads the server's RSS (VmRSS in
// /proc/PID/status) and V8 heap. All traffic goes to 127.0.0.1. The server is stopped with
// SIGTERM at the end, even on failure. Writes bench/out/memory.json and prints a table;
// bench/RESULTS.md ("Server memory") is written by hand from it, before and after a change
// (`--baton /tmp/old-checkout/bin/baton.js` measures another build).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { batonVersion, loadavg, machineLine, mdTable } from "./sections.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const OUT = join(BENCH, "out");

const USAGE = `usage: node bench/memory.mjs [options]
  --tasks N          tasks submitted in all (default 100000)
  --checkpoints A,B  settled-task counts at which memory is read (default 10000,100000)
  --clients C        concurrent HTTP clients (default 8)
  --batch B          tasks per batch; two batches at most are unfinished (default 2500)
  --baton PATH       the bin/baton.js to measure (default this checkout's)
  --keep             keep the server's temp folder`;

function parseArgs(argv) {
  const o = {
    tasks: 100_000,
    checkpoints: [10_000, 100_000],
    clients: 8,
    batch: 2500,
    baton: resolve(BENCH, "..", "bin", "baton.js"),
    keep: false,
  };
  const int = (v, what) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) usage(`${what} needs a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes("=") ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    const val = () => inline ?? argv[++i];
    if (flag === "--tasks") o.tasks = int(val(), flag);
    else if (flag === "--checkpoints")
      o.checkpoints = val()
        .split(",")
        .map((x) => int(x, flag));
    else if (flag === "--clients") o.clients = int(val(), flag);
    else if (flag === "--batch") o.batch = int(val(), flag);
    else if (flag === "--baton") o.baton = resolve(val());
    else if (flag === "--keep") o.keep = true;
    else if (flag === "-h" || flag === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown option ${argv[i]}`);
  }
  o.checkpoints = [...new Set([...o.checkpoints.filter((c) => c < o.tasks), o.tasks])].sort((a, b) => a - b);
  return o;
}

function usage(msg) {
  console.error(`memory: ${msg}\n${USAGE}`);
  process.exit(2);
}

const T0 = performance.now();
const log = (msg) => console.error(`memory: [${((performance.now() - T0) / 1000).toFixed(1)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Loaded before the server: SIGUSR2 runs a full GC and writes memoryUsage() to $BENCH_MEMORY_FILE. */
const PRELOAD = `import fs from "node:fs";
process.on("SIGUSR2", () => {
  globalThis.gc?.();
  fs.writeFileSync(process.env.BENCH_MEMORY_FILE, JSON.stringify(process.memoryUsage()));
});
`;

function startServer(dir, baton) {
  const preload = join(dir, "gc-preload.mjs");
  writeFileSync(preload, PRELOAD);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== "BATON_URL" && k !== "BATON_TOKEN"),
  );
  env.BENCH_MEMORY_FILE = join(dir, "memory.json");
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", preload, baton, "server", "--port", "0"],
    { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stdout.resume();
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    err = (err + d).slice(-200_000);
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30 s: ${err}`)), 30_000);
    const onData = () => {
      const m = /Baton server on (http:\/\/127\.0\.0\.1:(\d+))/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off("data", onData);
      const record = JSON.parse(readFileSync(join(dir, ".baton", "server.json"), "utf8"));
      const token = readFileSync(record.tokenFile, "utf8").trim();
      resolvePromise({ child, port: Number(m[2]), token, memoryFile: env.BENCH_MEMORY_FILE });
    };
    child.stderr.on("data", onData);
    child.once("exit", (code, signal) => reject(new Error(`server exited (${signal ?? code}): ${err}`)));
  });
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(t);
}

function call(port, token, agent, method, path, body) {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: `/api/v1${path}`,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode >= 300) reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text}`));
          else resolvePromise(JSON.parse(text));
        });
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** The server's resident memory (VmRSS) and peak (VmHWM), in MB. */
function rss(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const loadStart = loadavg();
  const dir = mkdtempSync(join(os.tmpdir(), "baton-memory-"));
  const server = await startServer(dir, o.baton);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.clients });
  const api = (method, path, body) => call(server.port, server.token, agent, method, path, body);
  const unfinished = async () =>
    (await api("GET", "/tasks?status=pending,queued,running&limit=1")).tasks.length;
  const measure = async (settled) => {
    await sleep(2000);
    process.kill(server.child.pid, "SIGUSR2");
    await sleep(1000);
    const heap = JSON.parse(readFileSync(server.memoryFile, "utf8"));
    const m = { settled, ...rss(server.child.pid), heapUsedMb: heap.heapUsed / 2 ** 20 };
    log(
      `${settled} settled: RSS ${m.rssMb.toFixed(1)} MB, heap used ${m.heapUsedMb.toFixed(1)} MB (peak RSS ${m.peakMb.toFixed(1)} MB)`,
    );
    return m;
  };
  const figures = [];
  let failure = null;
  try {
    figures.push(await measure(0));
    let submitted = 0;
    /** Last task of each batch still possibly running: at most two batches are in flight. */
    const lasts = [];
    const ended = async (id) => {
      for (;;) {
        const t = await api("GET", `/tasks/${id}`);
        if (!["pending", "queued", "running"].includes(t.status)) return;
        await sleep(100);
      }
    };
    for (const checkpoint of o.checkpoints) {
      while (submitted < checkpoint) {
        if (lasts.length >= 2) await ended(lasts.shift());
        const size = Math.min(o.batch, checkpoint - submitted);
        let next = 0;
        let last;
        const worker = async () => {
          while (next < size) {
            const i = next++;
            const { ids } = await api("POST", "/tasks", { command: "true" });
            if (i === size - 1) last = ids[0];
          }
        };
        await Promise.all(Array.from({ length: o.clients }, worker));
        lasts.push(last);
        submitted += size;
        if (submitted % 10_000 < size) log(`${submitted} submitted`);
      }
      for (const id of lasts.splice(0)) await ended(id);
      while ((await unfinished()) > 0) await sleep(500);
      figures.push(await measure(checkpoint));
    }
  } catch (e) {
    failure = e.message;
    log(`failed: ${failure}`);
  } finally {
    agent.destroy();
    await stopServer(server.child);
  }
  const result = {
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - T0) / 1000,
    machine: machineLine(),
    baton: `${o.baton} ${batonVersion(resolve(dirname(o.baton), ".."))}`,
    loadStart,
    loadEnd: loadavg(),
    options: { ...o, baton: undefined },
    figures,
    failure,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "memory.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    mdTable(
      ["settled tasks", "server RSS MB (after GC)", "V8 heap used MB", "peak RSS MB so far"],
      figures.map((f) => [f.settled, f.rssMb.toFixed(1), f.heapUsedMb.toFixed(1), f.peakMb.toFixed(1)]),
    ),
  );
  console.log(
    `took ${result.durationS.toFixed(0)} s; load before ${loadStart.join(", ")}, after ${result.loadEnd.join(", ")}`,
  );
  if (!o.keep && !failure) rmSync(dir, { recursive: true, force: true });
  if (failure) process.exit(1);
}

await main();
