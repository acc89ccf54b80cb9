#!/usr/bin/env node
// Baton's overhead over raw `sbatch` on a real Slurm: N trivial tasks (`true`) submitted as
// separate jobs and as one fan-out, with and without job arrays, for N = 100 and 1,000.
//
//   node bench/slurm.mjs [--sizes 100,1000] [--cases LIST] [--fast-poll MS] [--partition P]
//                        [--timeout S] [--record] [--keep]
//
// Cases, for each N (one after another, never concurrently):
//   raw            N sequential `sbatch --wrap=true` from a bash loop, until squeue shows all ended
//   baton          `baton run` of a pipeline of N separate nodes on a Slurm pool with N slots
//   raw-array      one `sbatch --array=0-(N-1) --wrap=true`, until squeue shows all ended
//   baton-array    `baton run` of one node with a `foreach` of N items (one job array)
//   baton-noarray  the same with `slurm: { arrays: false }` (N jobs)
// Writes bench/out/slurm.json and .md, and the "## Slurm" section of bench/RESULTS.md (see
// bench/README.md for when).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { hasGnuTime, measure } from "./measure.mjs";
import { batonVersion, loadavg, mdTable, runLines, updateSectionFile } from "./sections.mjs";
import { which } from "./tools.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const BATON = join(REPO, "bin", "baton.js");

const CASES = {
  raw: "raw `sbatch`, one job per task",
  baton: "Baton, N separate nodes",
  "raw-array": "raw `sbatch --array`",
  "baton-array": "Baton, `foreach` of N (job array)",
  "baton-noarray": "Baton, `foreach` of N, `arrays: false`",
};
/** Each Baton case and the raw case it is compared with. */
const BASELINE = { baton: "raw", "baton-array": "raw-array", "baton-noarray": "raw" };
/** squeue states of a job that has ended (MinJobAge keeps ended jobs listed: absence means nothing). */
const ENDED = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMEOUT",
  "OUT_OF_MEMORY",
  "NODE_FAIL",
  "PREEMPTED",
  "BOOT_FAIL",
  "DEADLINE",
]);
/** How often the raw cases ask squeue whether their jobs have ended. */
const RAW_POLL_MS = 250;
const DEFAULT_SIZES = [100, 1000];

const USAGE = `usage: node bench/slurm.mjs [options]
  --sizes LIST      task counts (default ${DEFAULT_SIZES.join(",")})
  --cases LIST      any of ${Object.keys(CASES).join(",")} (default: all)
  --fast-poll MS    also run the Baton cases at the smallest size with BATON_SLURM_POLL_MS=MS
  --partition P     submit to partition P (default: Slurm's default partition)
  --timeout S       give up on one case after S seconds (default 1800)
  --record          rewrite bench/RESULTS.md's "## Slurm" even with other sizes or cases
  --keep            keep the work folders (in ${os.tmpdir()}/baton-bench-slurm-*)
bench/RESULTS.md ("## Slurm") is rewritten by a run of every case at the default sizes without failure, or with --record.`;

function options(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      sizes: { type: "string" },
      cases: { type: "string" },
      "fast-poll": { type: "string" },
      partition: { type: "string" },
      timeout: { type: "string", default: "1800" },
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
  const list = (s) =>
    String(s)
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean);
  const cases = v.cases ? list(v.cases) : Object.keys(CASES);
  const bad = cases.filter((c) => !(c in CASES));
  if (!cases.length || bad.length) throw new Error(`--cases: unknown ${bad.join(", ") || "(empty)"}`);
  return {
    help: v.help,
    sizes: v.sizes ? list(v.sizes).map((s) => int(s, "--sizes")) : DEFAULT_SIZES,
    cases: Object.keys(CASES).filter((c) => cases.includes(c)),
    fastPollMs: v["fast-poll"] ? int(v["fast-poll"], "--fast-poll") : null,
    partition: v.partition ?? null,
    timeoutMs: int(v.timeout, "--timeout") * 1000,
    record: v.record,
    keep: v.keep,
  };
}

const T0 = performance.now();
const log = (msg) => console.error(`slurm: [${((performance.now() - T0) / 1000).toFixed(1)} s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sh = (argv) => spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 60_000 });
const range = (n) => Array.from({ length: n }, (_, i) => i);

/** Names of the raw jobs submitted so far, cancelled on Ctrl-C. */
const liveNames = new Set();

function slurmInfo() {
  const version = sh(["sbatch", "--version"]);
  const nodes = sh(["sinfo", "-h", "-o", "%P %D %c %T"]);
  const conf = sh(["scontrol", "show", "config"]);
  const pick = (key) => conf.stdout?.match(new RegExp(`^${key}\\s*=\\s*(.*)$`, "m"))?.[1]?.trim() ?? "?";
  return {
    version: version.status === 0 ? version.stdout.trim() : null,
    nodes: nodes.status === 0 ? nodes.stdout.trim().split("\n").join("; ") : null,
    maxArraySize: pick("MaxArraySize"),
    scheduler: `${pick("SchedulerType")}, ${pick("SchedulerParameters")}`,
  };
}

/** States squeue gives for the jobs named `name` (array elements one per line). */
function statesOf(name) {
  const r = sh(["squeue", "-h", "-r", "-t", "all", "-n", name, "-o", "%T"]);
  if (r.status !== 0) throw new Error(`squeue failed: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter(Boolean);
}

/** Waits until n jobs named `name` have ended; returns how they ended ({ COMPLETED: n, ... }). */
async function waitEnded(name, n, deadline) {
  for (;;) {
    const states = statesOf(name);
    const ended = states.filter((s) => ENDED.has(s));
    if (ended.length >= n) {
      const by = {};
      for (const s of ended) by[s] = (by[s] ?? 0) + 1;
      return by;
    }
    if (performance.now() > deadline) throw new Error(`timeout: ${ended.length}/${n} jobs ended`);
    await sleep(RAW_POLL_MS);
  }
}

/** Runs a command to its end; resolves { code, stdout, stderr }. */
function runToEnd(argv, cwd) {
  return new Promise((res) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("close", (code) => res({ code, stdout, stderr }));
  });
}

/** raw / raw-array: sbatch from a bash loop (or one array), then squeue until all ended. */
async function rawCase(kind, n, dir, opts) {
  const name = `bbs${process.pid}-${kind}-${n}`;
  liveNames.add(name);
  const array = kind === "raw-array";
  const sbatch = [
    "sbatch",
    "--parsable",
    `--job-name=${name}`,
    `--chdir=${dir}`,
    `--output=${join(dir, array ? "%A_%a.log" : "%j.log")}`,
    ...(opts.partition ? [`--partition=${opts.partition}`] : []),
    ...(array ? [`--array=0-${n - 1}`] : []),
    "--wrap=true",
  ];
  const loop = array
    ? ["bash", "-c", '"$@"', "bash", ...sbatch]
    : [
        "bash",
        "-c",
        'n=$1; shift; for ((i = 0; i < n; i++)); do "$@" || exit 1; done',
        "bash",
        String(n),
        ...sbatch,
      ];
  const start = performance.now();
  const sub = await runToEnd(loop, dir);
  const submitMs = performance.now() - start;
  if (sub.code !== 0) throw new Error(`sbatch failed (exit ${sub.code}): ${sub.stderr.trim().slice(0, 300)}`);
  const jobs = sub.stdout.split("\n").filter(Boolean).length;
  const ended = await waitEnded(name, n, start + opts.timeoutMs);
  const wallMs = performance.now() - start;
  liveNames.delete(name);
  return { wallMs, submitMs, jobs, ended };
}

/** The pipeline of a Baton case: N separate nodes, or one node with a foreach of N. */
function pipelineYaml(kind, n, opts) {
  const slurm = [
    ...(opts.partition ? [`partition: ${JSON.stringify(opts.partition)}`] : []),
    ...(kind === "baton-noarray" ? ["arrays: false"] : []),
  ];
  const lines = [
    "version: 1",
    "pools:",
    "  hpc:",
    "    executor: slurm",
    `    slots: ${n}`,
    ...(slurm.length ? [`    slurm: { ${slurm.join(", ")} }`] : []),
    "defaults: { pool: hpc }",
    "pipelines:",
    "  bench:",
    "    nodes:",
  ];
  if (kind === "baton") for (const i of range(n)) lines.push(`      t${i}: { run: "true" }`);
  else lines.push("      t:", `        foreach: [${range(n).join(", ")}]`, '        run: "true"');
  return `${lines.join("\n")}\n`;
}

/** The environment of `baton run`: its embedded engine, the default poll unless pollMs. */
function batonEnv(pollMs) {
  const drop = new Set([
    "BATON_URL",
    "BATON_TOKEN",
    "BATON_DB",
    "BATON_SLURM_POLL_MS",
    "BATON_SLURM_MAX_ARRAY_SIZE",
  ]);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.has(k)));
  return { ...env, BATON_PROGRESS: "plain", ...(pollMs ? { BATON_SLURM_POLL_MS: String(pollMs) } : {}) };
}

/** Job arrays Baton submitted in the project at dir (one `array.sbatch` each). */
function countArrays(dir) {
  const runs = join(dir, ".baton", "runs");
  let k = 0;
  for (const run of existsSync(runs) ? readdirSync(runs) : []) {
    const sl = join(runs, run, "slurm");
    if (existsSync(sl)) k += readdirSync(sl).filter((d) => existsSync(join(sl, d, "array.sbatch"))).length;
  }
  return k;
}

/** baton / baton-array / baton-noarray: the wall time of `baton run` in a fresh project. */
async function batonCase(kind, n, dir, opts, pollMs) {
  writeFileSync(join(dir, "baton.yaml"), pipelineYaml(kind, n, opts));
  const gnuTime = hasGnuTime();
  const r = await measure({
    argv: [process.execPath, BATON, "run", "-f", "baton.yaml", "--no-cache", "--json"],
    cwd: dir,
    env: batonEnv(pollMs),
    stdoutFile: join(dir, "bench.stdout"),
    stderrFile: join(dir, "bench.stderr"),
    rssFile: join(dir, "bench.time"),
    timeoutMs: opts.timeoutMs,
    gnuTime,
  });
  if (r.timedOut) throw new Error(`timeout after ${opts.timeoutMs / 1000} s`);
  if (r.code !== 0) {
    const lines = readFileSync(join(dir, "bench.stderr"), "utf8").trim().split("\n");
    const failed = lines.filter((l) => / failed: /.test(l));
    // A task's failure is said on its progress line and again in the run's summary: count tasks.
    const tasks = new Set(failed.map((l) => / (\S+) failed: /.exec(l)?.[1]));
    const why = failed.length
      ? `${tasks.size} of ${n} tasks failed, e.g. ${failed[0].replace(/^\S+ /, "")}`
      : lines.slice(-3).join(" / ");
    throw new Error(`baton run exited ${r.code ?? r.signal}: ${why}`);
  }
  const out = JSON.parse(readFileSync(join(dir, "bench.stdout"), "utf8"));
  const ended = {};
  for (const t of out.tasks ?? []) ended[t.status] = (ended[t.status] ?? 0) + 1;
  if ((ended.succeeded ?? 0) !== n)
    throw new Error(`expected ${n} succeeded tasks, got ${JSON.stringify(ended)}`);
  const arrays = countArrays(dir);
  return {
    wallMs: r.wallMs,
    rssMb: r.rssKb ? r.rssKb / 1024 : null,
    arrays,
    jobs: kind === "baton-array" ? arrays : n,
    ended,
  };
}

async function runCase(kind, n, opts, pollMs = null) {
  const dir = mkdtempSync(join(os.tmpdir(), `baton-bench-slurm-${kind}-${n}-`));
  const label = `${kind} N=${n}${pollMs ? ` poll ${pollMs} ms` : ""}`;
  log(`${label}: in ${dir}`);
  const row = { kind, n, pollMs, dir };
  try {
    Object.assign(
      row,
      kind.startsWith("raw")
        ? await rawCase(kind, n, dir, opts)
        : await batonCase(kind, n, dir, opts, pollMs),
    );
    log(`${label}: ${(row.wallMs / 1000).toFixed(2)} s, ${(row.wallMs / n).toFixed(1)} ms/task`);
    if (!opts.keep) spawnSync("rm", ["-rf", dir]);
  } catch (e) {
    row.error = e.message;
    log(`${label}: FAILED ${e.message} (folder kept: ${dir})`);
  }
  return row;
}

const fmtS = (ms) => (ms / 1000).toFixed(2);
const fmtRatio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : "—");

export function markdownBody(res) {
  const s = res.slurm;
  const lines = [
    ...runLines({
      command: `node bench/slurm.mjs${res.argv ? ` ${res.argv}` : ""}`,
      startedAt: res.startedAt,
      durationS: res.durationS,
      loadStart: res.loadStart,
      loadEnd: res.loadEnd,
      baton: res.baton,
      extra: [
        `- Slurm: ${s.version ?? "absent"}; partition, nodes, CPUs: ${s.nodes ?? "?"}; MaxArraySize ${s.maxArraySize}; ${s.scheduler}`,
      ],
    }),
    "",
    "Every task is `true`. The Slurm cluster runs on the same machine as Baton (one node: the",
    "node's CPUs are the Slurm slots, the machine's CPUs run slurmctld, slurmd, the jobs and Baton).",
    "",
    "- **raw**: N `sbatch --parsable --wrap=true` (job name, `--chdir`, `--output` to a file) from a",
    "  bash loop, one after another; **raw array**: one `sbatch --array=0-(N-1)`. Wall from the first",
    `  sbatch until \`squeue -t all\` shows every job in an ended state (polled every ${RAW_POLL_MS} ms; the`,
    "  cluster's MinJobAge keeps ended jobs listed).",
    "- **Baton**: the wall time of `node bin/baton.js run -f baton.yaml --no-cache --json` (node",
    "  start-up, its SQLite store and output handling included) in a fresh project folder in the temp",
    "  folder, with a pool `executor: slurm` whose `slots` is N (every task is handed to Slurm at",
    "  once). Baton watches its jobs with one `squeue` per poll, every 1 s by default",
    "  (`BATON_SLURM_POLL_MS`, unset here unless the row says otherwise).",
    "- **ms/task** is the wall divided by N; **vs raw** divides Baton's wall by its raw",
    "  counterpart's (separate nodes and `arrays: false` by raw sbatch, the array fan-out by the raw",
    "  array) at the same N.",
    "",
  ];
  const byKey = new Map(res.rows.filter((r) => !r.pollMs).map((r) => [`${r.kind}/${r.n}`, r]));
  const table = res.rows.map((r) => {
    const base = BASELINE[r.kind] ? byKey.get(`${BASELINE[r.kind]}/${r.n}`) : null;
    const jobs =
      r.kind === "baton-array" || r.kind === "raw-array"
        ? `${r.jobs ?? "?"} array(s)`
        : `${r.jobs ?? "?"} jobs`;
    return [
      r.n,
      `${CASES[r.kind]}${r.pollMs ? `, poll ${r.pollMs} ms` : ""}`,
      r.error ? "—" : jobs,
      r.error ? `failed: ${r.error}` : `**${fmtS(r.wallMs)}**`,
      r.error ? "—" : (r.wallMs / r.n).toFixed(1),
      r.submitMs ? fmtS(r.submitMs) : "—",
      base && !r.error && !base.error ? fmtRatio(r.wallMs, base.wallMs) : "—",
      r.rssMb ? r.rssMb.toFixed(0) : "—",
    ];
  });
  lines.push(
    mdTable(
      ["N", "case", "Slurm submissions", "wall s", "ms/task", "submit s", "vs raw", "Baton peak RSS MB"],
      table,
    ),
  );
  return `${lines.join("\n")}\n`;
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    console.error(`slurm: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  if (!which("sbatch") || !which("squeue")) {
    console.error(
      "slurm: sbatch/squeue not found: install Slurm (scripts/install-test-deps.sh) and start it (scripts/slurm-start.sh)",
    );
    process.exit(2);
  }
  if (!existsSync(join(REPO, "dist"))) {
    console.error("slurm: dist/ missing: run npm run build");
    process.exit(2);
  }
  const cancel = () => {
    for (const name of liveNames) spawnSync("scancel", ["-n", name]);
  };
  process.on("SIGINT", () => {
    cancel();
    process.exit(130);
  });
  process.on("SIGTERM", () => {
    cancel();
    process.exit(143);
  });

  const t0 = performance.now();
  const res = {
    startedAt: new Date().toISOString(),
    argv: process.argv.slice(2).join(" "),
    loadStart: loadavg(),
    baton: batonVersion(REPO),
    slurm: slurmInfo(),
    rows: [],
  };
  log(`load average before: ${res.loadStart.join(", ")}; Slurm ${res.slurm.version}: ${res.slurm.nodes}`);
  for (const n of opts.sizes) for (const kind of opts.cases) res.rows.push(await runCase(kind, n, opts));
  if (opts.fastPollMs) {
    const n = Math.min(...opts.sizes);
    for (const kind of opts.cases.filter((k) => k in BASELINE))
      res.rows.push(await runCase(kind, n, opts, opts.fastPollMs));
  }
  res.loadEnd = loadavg();
  res.durationS = (performance.now() - t0) / 1000;
  log(`load average after: ${res.loadEnd.join(", ")}; took ${res.durationS.toFixed(0)} s`);

  const ok = res.rows.every((r) => !r.error);
  const body = markdownBody(res);
  mkdirSync(join(BENCH, "out"), { recursive: true });
  writeFileSync(join(BENCH, "out", "slurm.json"), JSON.stringify(res, null, 2));
  writeFileSync(join(BENCH, "out", "slurm.md"), `## Slurm\n\n${body}`);
  console.log(body);
  const defaults =
    opts.cases.length === Object.keys(CASES).length && opts.sizes.join(",") === DEFAULT_SIZES.join(",");
  if (ok && (defaults || opts.record)) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Slurm", body);
    console.log('Wrote the "## Slurm" section of bench/RESULTS.md');
  } else {
    console.log(
      `Wrote bench/out/slurm.md (bench/RESULTS.md is only updated ${ok ? "by every case at the default sizes, or with --record" : "by a run without failures"})`,
    );
  }
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    for (const name of liveNames) spawnSync("scancel", ["-n", name]);
    process.exit(1);
  });
}
