#!/usr/bin/env node
// Remote agents (docs/scale-out.md "Remote agents"): throughput of N short tasks (`true`) over
// two `baton agent`s (`--slots 2` each) against the same fan-out on the local executor (pool
// slots 4), and the transfer of one large output from one agent to a task on the other
// (upload to the server's content store, then download), twice with the same content.
//
//   node bench/agents.mjs [--tasks N] [--size-mb MB] [--timeout S] [--record] [--keep]
//
// One `baton server` on 127.0.0.1 (SQLite) and two agents with work folders of their own, all on
// this machine. Writes bench/out/agents.json and .md, and the "## Agents" section of
// bench/RESULTS.md (a run with the defaults and no failure, or --record).

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { batonVersion, loadavg, mdTable, runLines, updateSectionFile } from "./sections.mjs";
import { BATON, startServer, stopServer } from "./server.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const DEFAULT_TASKS = 1000;
const DEFAULT_SIZE_MB = 1024;
const POLL_MS = 100;

const USAGE = `usage: node bench/agents.mjs [options]
  --tasks N      short tasks per throughput case (default ${DEFAULT_TASKS})
  --size-mb MB   size of the transferred output (default ${DEFAULT_SIZE_MB})
  --timeout S    give up on one case after S seconds (default 600)
  --record       rewrite bench/RESULTS.md's "## Agents" even with other sizes
  --keep         keep the work folder (in ${os.tmpdir()}/baton-bench-agents-*)`;

function options(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      tasks: { type: "string", default: String(DEFAULT_TASKS) },
      "size-mb": { type: "string", default: String(DEFAULT_SIZE_MB) },
      timeout: { type: "string", default: "600" },
      record: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const int = (s, what) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: ${s} is not a positive integer`);
    return n;
  };
  return {
    help: v.help,
    tasks: int(v.tasks, "--tasks"),
    sizeMb: int(v["size-mb"], "--size-mb"),
    timeoutMs: int(v.timeout, "--timeout") * 1000,
    record: v.record,
    keep: v.keep,
  };
}

const T0 = performance.now();
const log = (msg) => console.error(`agents: [${((performance.now() - T0) / 1000).toFixed(1)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = [];

function start(args, cwd, env, what) {
  const child = spawn(process.execPath, [BATON, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const proc = { child, what, stderr: () => stderr };
  children.push(proc);
  return proc;
}

function startAgent(server, name, pools, workdir) {
  mkdirSync(workdir, { recursive: true });
  const args = ["agent", "--server", server.url, "--slots", "2", "--name", name, "--workdir", workdir];
  for (const p of pools) args.push("--pool", p);
  return start(args, workdir, { BATON_TOKEN: server.token }, `agent ${name}`);
}

async function api(server, path, body) {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return path.endsWith("/log") ? text : JSON.parse(text);
}

/** Polls the run every POLL_MS until it ends; `onPoll(detail, now)` sees every answer. */
async function waitRun(server, runId, timeoutMs, onPoll = () => {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await api(server, `/runs/${runId}`);
    onPoll(d, Date.now());
    if (d.run.status !== "running") return d;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running after ${timeoutMs / 1000} s`);
    await sleep(POLL_MS);
  }
}

function pipelineFile(n, sizeMb) {
  const items = Array.from({ length: n }, (_, i) => i).join(", ");
  const fan = (pool) => `    nodes:
      t:
        pool: ${pool}
        cache: false
        foreach: [${items}]
        run: "true"`;
  return `version: 1
pools:
  cpu: { slots: 4 }
  gpu4: { executor: agent, slots: 4 }
  gpu16: { executor: agent, slots: 16 }
  up: { executor: agent, slots: 2 }
  down: { executor: agent, slots: 2 }
pipelines:
  local:
${fan("cpu")}
  agents4:
${fan("gpu4")}
  agents16:
${fan("gpu16")}
  transfer:
    nodes:
      make:
        pool: up
        cache: false
        run: head -c ${sizeMb}M /dev/zero > "$BATON_OUTPUT_DIR/big.bin"; echo "written $(date +%s%3N)"
      use:
        pool: down
        cache: false
        needs: [make]
        inputs: { big: "\${{ needs.make.outputs['big.bin'] }}" }
        run: echo "begun $(date +%s%3N)"; test "$(stat -L -c %s "\${{ inputs.big }}")" = ${sizeMb * 1024 * 1024}
`;
}

async function throughput(server, pipeline, label, n, timeoutMs) {
  const t0 = performance.now();
  const { run } = await api(server, "/runs", { pipeline });
  const done = await waitRun(server, run.id, timeoutMs);
  const wallMs = performance.now() - t0;
  const ok = done.run.status === "succeeded" && done.tasks.length === n;
  const row = { case: label, n, wallMs, status: done.run.status, tasks: done.tasks.length };
  log(
    `${label}: ${n} tasks in ${(wallMs / 1000).toFixed(1)} s (${(n / (wallMs / 1000)).toFixed(1)} tasks/s), ${done.run.status}`,
  );
  if (!ok) row.error = `run ${done.run.status} with ${done.tasks.length} tasks`;
  return row;
}

async function transfer(server, sizeMb, pass, timeoutMs) {
  const { run } = await api(server, "/runs", { pipeline: "transfer" });
  let makeDoneAt = null;
  let useClaimedAt = null;
  const done = await waitRun(server, run.id, timeoutMs, (d, now) => {
    const make = d.tasks.find((t) => t.name === "make");
    const use = d.tasks.find((t) => t.name === "use");
    if (make?.status === "succeeded" && makeDoneAt === null) makeDoneAt = now;
    if (use?.status === "running" && use.queueReason === null && useClaimedAt === null) useClaimedAt = now;
  });
  const row = { pass, sizeMb, status: done.run.status };
  if (done.run.status !== "succeeded") {
    row.error = `run ${done.run.status}: ${JSON.stringify(done.tasks.map((t) => [t.name, t.status, t.error]))}`;
    return row;
  }
  const make = done.tasks.find((t) => t.name === "make");
  const use = done.tasks.find((t) => t.name === "use");
  const written = Number(/written (\d+)/.exec(await api(server, `/tasks/${make.id}/log`))?.[1]);
  const begun = Number(/begun (\d+)/.exec(await api(server, `/tasks/${use.id}/log`))?.[1]);
  row.uploadMs = makeDoneAt - written;
  row.downloadMs = useClaimedAt !== null ? begun - useClaimedAt : null;
  log(
    `transfer ${pass}: ${sizeMb} MB: written → on the server ${(row.uploadMs / 1000).toFixed(1)} s; claimed → begun on the other agent ${row.downloadMs !== null ? (row.downloadMs / 1000).toFixed(1) : "?"} s`,
  );
  return row;
}

const fmtS = (ms) => (ms / 1000).toFixed(2);

export function markdownBody(res) {
  const lines = [
    ...runLines({
      command: `node bench/agents.mjs${res.argv ? ` ${res.argv}` : ""}`,
      startedAt: res.startedAt,
      durationS: res.durationS,
      loadStart: res.loadStart,
      loadEnd: res.loadEnd,
      baton: res.baton,
    }),
    "",
    "One `baton server` (SQLite, 127.0.0.1) and two `baton agent --slots 2` with work folders of",
    "their own, all on this machine (the agents' HTTP traffic is loopback: no network in the",
    "figures, only the protocol's cost). Default lease (15 s).",
    "",
    `**Throughput**: one run of a \`foreach\` of ${res.tasks} tasks \`true\` (\`cache: false\`); wall from`,
    `\`POST /api/v1/runs\` until the run is seen ended (polled every ${POLL_MS} ms). The agent pools'`,
    "`slots` bound how many attempts are claimable at once (4 = the agents' total, 16 = some waiting).",
    "",
    mdTable(
      ["case", "tasks", "wall s", "tasks/s", "vs local"],
      res.throughput.map((r) => {
        const local = res.throughput.find((x) => x.case.startsWith("local"));
        return [
          r.case,
          r.n,
          r.error ? `failed: ${r.error}` : `**${fmtS(r.wallMs)}**`,
          r.error ? "—" : (r.n / (r.wallMs / 1000)).toFixed(1),
          r.error || !local || local.error ? "—" : `${(r.wallMs / local.wallMs).toFixed(2)}x`,
        ];
      }),
    ),
    "",
    `**Transfer**: a task on agent \`up\` writes ${res.sizeMb} MB (\`head -c ${res.sizeMb}M /dev/zero\`) to its`,
    "output folder; a task on agent `down` takes it as an input. *Upload*: from the file written",
    "(timestamp in the task's log) until the server shows the task succeeded: the agent hashes it",
    "into its content store, asks `HEAD /api/v1/artifacts/SHA256`, sends `PUT` if the server lacks",
    "it (the server hashes it again) and reports. *Download*: from the consumer seen claimed until",
    "its command begins (timestamp in its log): `GET /api/v1/artifacts/SHA256` into the agent's",
    "cache, hash check, copy into its inputs folder. Pass 2 runs the same pipeline again: same",
    "content, so the server has it (no `PUT`) and the consumer's agent has it cached (no `GET`).",
    "Figures are ±0.1 s (polling).",
    "",
    mdTable(
      ["pass", "MB", "upload s", "upload MB/s", "download s", "download MB/s"],
      res.transfer.map((r) =>
        r.error
          ? [r.pass, r.sizeMb, `failed: ${r.error}`, "—", "—", "—"]
          : [
              r.pass,
              r.sizeMb,
              fmtS(r.uploadMs),
              r.pass === 1 ? (r.sizeMb / (r.uploadMs / 1000)).toFixed(0) : "— (not sent)",
              r.downloadMs !== null ? fmtS(r.downloadMs) : "?",
              r.pass === 1 && r.downloadMs ? (r.sizeMb / (r.downloadMs / 1000)).toFixed(0) : "— (cached)",
            ],
      ),
    ),
  ];
  return `${lines.join("\n")}\n`;
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    console.error(`agents: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  let server;
  // The agents' tasks have ended: SIGKILL spares waiting for their long-polls to return.
  const stopAll = () => {
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGKILL");
  };
  process.on("SIGINT", () => {
    stopAll();
    server?.child.kill("SIGTERM");
    process.exit(130);
  });
  const dir = mkdtempSync(join(os.tmpdir(), "baton-bench-agents-"));
  mkdirSync(join(BENCH, "out"), { recursive: true });
  writeFileSync(join(dir, "baton.yaml"), pipelineFile(opts.tasks, opts.sizeMb));
  const t0 = performance.now();
  const res = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2).join(" "),
    loadStart: loadavg(),
    baton: batonVersion(REPO),
    tasks: opts.tasks,
    sizeMb: opts.sizeMb,
    throughput: [],
    transfer: [],
  };
  log(`load average before: ${res.loadStart.join(", ")}; folder ${dir}`);
  try {
    server = await startServer(dir, join(BENCH, "out", "agents-server.stderr"));
    res.throughput.push(
      await throughput(server, "local", "local executor, pool slots 4", opts.tasks, opts.timeoutMs),
    );
    startAgent(server, "up", ["gpu4", "gpu16", "up"], join(dir, "agent-up"));
    startAgent(server, "down", ["gpu4", "gpu16", "down"], join(dir, "agent-down"));
    for (const [pipeline, label] of [
      ["agents4", "2 agents x 2 slots, pool slots 4"],
      ["agents16", "2 agents x 2 slots, pool slots 16"],
    ])
      res.throughput.push(await throughput(server, pipeline, label, opts.tasks, opts.timeoutMs));
    for (const pass of [1, 2]) res.transfer.push(await transfer(server, opts.sizeMb, pass, opts.timeoutMs));
  } catch (e) {
    res.error = e.message;
    log(`FAILED: ${e.message}\n${children.map((c) => `${c.what}:\n${c.stderr().slice(-2000)}`).join("\n")}`);
  } finally {
    stopAll();
    if (server) {
      server.saveStderr();
      await stopServer(server.child);
    }
  }
  res.loadEnd = loadavg();
  res.durationS = (performance.now() - t0) / 1000;
  log(`load average after: ${res.loadEnd.join(", ")}; took ${res.durationS.toFixed(0)} s`);
  await sleep(500);
  if (!opts.keep) spawnSync("rm", ["-rf", dir]);

  const ok =
    !res.error && [...res.throughput, ...res.transfer].every((r) => !r.error) && res.transfer.length === 2;
  const body = markdownBody(res);
  mkdirSync(join(BENCH, "out"), { recursive: true });
  writeFileSync(join(BENCH, "out", "agents.json"), JSON.stringify(res, null, 2));
  writeFileSync(join(BENCH, "out", "agents.md"), `## Agents\n\n${body}`);
  console.log(body);
  const defaults = opts.tasks === DEFAULT_TASKS && opts.sizeMb === DEFAULT_SIZE_MB;
  if (ok && (defaults || opts.record)) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Agents", body);
    console.log('Wrote the "## Agents" section of bench/RESULTS.md');
  } else {
    console.log(
      `Wrote bench/out/agents.md (bench/RESULTS.md is only updated ${ok ? "by a run with the default sizes, or with --record" : "by a run without failures"})`,
    );
  }
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGTERM");
    process.exit(1);
  });
}
