#!/usr/bin/env node
// Fixed costs: what one Baton command costs over Node's own start-up, against its peers.
//
//   node bench/overhead.mjs [--repeat N] [--each N] [--before DIR] [--no-write]
//
// Measured, each the median of N runs, the forms interleaved so that load hits them alike:
//   node -e 0                        Node's own start-up: the floor of any Baton command
//   baton --version, ls, show RUN    light commands, in a folder with a running server
//   baton submit -n x -- true        to a running server (returns once the task is recorded)
//   sbatch --wrap true               the same with Slurm, when Slurm answers here (squeue works)
//   seq N | baton submit --each      N tasks in one call (default 1,000), against one
//                                    `baton submit` per line through xargs (timed on 100 lines)
//   baton run (one task `true`)      in a fresh folder and in one with earlier runs, --no-cache;
//                                    against make, ninja and snakemake running one rule
// With `--before DIR` (a checkout of an earlier commit, built), its baton is measured beside
// this one's, in the same rounds. Rewrites the "## Fixed costs" section of bench/RESULTS.md
// (unless --no-write); writes bench/out/overhead.json and .md. See bench/README.md.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { batonVersion, loadavg, mdTable, median, runLines, updateSectionFile } from "./sections.mjs";
import { startServer, stopServer } from "./server.mjs";
import { which } from "./tools.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const OUT = join(BENCH, "out");
const WORK = join(OUT, "overhead");
const TARGETS = { submit: 40, run: 150, each: 1000 };

const USAGE = `usage: node bench/overhead.mjs [options]
  --repeat N    runs of each form; the median is reported (default 15)
  --each N      lines for submit --each (default 1000)
  --before DIR  also measure the baton of the checkout at DIR (built: DIR/dist), as "before"
  --no-write    do not rewrite bench/RESULTS.md`;

function parseArgs(argv) {
  const o = { repeat: 15, each: 1000, before: undefined, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const val = () => inline ?? argv[++i];
    const count = (name) => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 1) usage(`${name} needs a positive integer`);
      return n;
    };
    if (flag === "--repeat") o.repeat = count("--repeat");
    else if (flag === "--each") o.each = count("--each");
    else if (flag === "--before") o.before = resolve(val() ?? usage("--before needs a folder"));
    else if (flag === "--no-write") o.write = false;
    else if (flag === "-h" || flag === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown option ${a}`);
  }
  return o;
}

function usage(message) {
  console.error(`bench/overhead.mjs: ${message}\n${USAGE}`);
  process.exit(2);
}

/** A clean environment: no server of the caller's, no progress bars. */
const ENV = Object.fromEntries(
  Object.entries({ ...process.env, BATON_PROGRESS: "plain" }).filter(
    ([k]) => k !== "BATON_URL" && k !== "BATON_TOKEN" && k !== "BATON_TASK_ID",
  ),
);

/** Runs argv (with `input` on stdin) in cwd; resolves its wall time in ms; rejects on a non-zero exit. */
function timed(argv, cwd, input) {
  return new Promise((resolvePromise, reject) => {
    const start = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: ENV,
      stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    if (input !== undefined) child.stdin.end(input);
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - start;
      if (code === 0) resolvePromise(ms);
      else reject(new Error(`${argv.join(" ")} in ${cwd}: exit ${code}: ${err.trim().slice(0, 500)}`));
    });
  });
}

const ONE_TASK = 'version: 1\npipelines:\n  one:\n    nodes:\n      hello:\n        run: "true"\n';

/** A folder with a one-task pipeline (and its peers' files); `fresh` ones are made anew per run. */
function oneTaskFolder(name) {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "baton.yaml"), ONE_TASK);
  writeFileSync(join(dir, "Makefile"), ".PHONY: hello\nhello:\n\ttrue\n");
  writeFileSync(join(dir, "build.ninja"), "rule t\n  command = true\nbuild hello: t\n");
  writeFileSync(
    join(dir, "Snakefile"),
    'rule hello:\n    output: "hello.txt"\n    shell: "true > hello.txt"\n',
  );
  return dir;
}

/** The Baton checkouts measured: this one, and `--before`'s. */
function batons(o) {
  const list = [{ label: "now", repo: REPO }];
  if (o.before) list.unshift({ label: "before", repo: o.before });
  for (const b of list) {
    b.bin = join(b.repo, "bin", "baton.js");
    b.version = batonVersion(b.repo);
  }
  return list;
}

/** Whether Slurm answers here (its commands installed and a controller up). */
function slurmUp() {
  if (!which("sbatch") || !which("squeue")) return false;
  return spawnSync("squeue", ["-h"], { encoding: "utf8", timeout: 5000 }).status === 0;
}

/** Waits until the server has no task left to run, so one form's tasks do not load the next. */
async function drain(server) {
  for (;;) {
    const res = await fetch(`${server.url}/api/v1/tasks?status=pending,running&limit=1`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const { tasks } = await res.json();
    if (tasks.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const loadStart = loadavg();
  mkdirSync(WORK, { recursive: true });
  const list = batons(o);
  const samples = {}; // form -> ms[]
  const add = (form, ms) => {
    samples[form] ??= [];
    samples[form].push(ms);
  };
  const node = process.execPath;
  const peers = ["make", "ninja", "snakemake"].filter((p) => which(p));
  const slurm = slurmUp();

  // Servers (one per checkout, each in its own folder) for submit, ls and show.
  for (const b of list) {
    b.dir = join(WORK, `server-${b.label}`);
    rmSync(b.dir, { recursive: true, force: true });
    mkdirSync(b.dir, { recursive: true });
    b.server = await startServer(b.dir, join(WORK, `server-${b.label}.stderr`), [], b.bin);
    await timed([node, b.bin, "submit", "-n", "first", "--", "true"], b.dir);
    await drain(b.server);
    const runs = await (
      await fetch(`${b.server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${b.server.token}` } })
    ).json();
    b.run = runs.runs[0].id;
    b.oneTask = oneTaskFolder(`run-${b.label}`);
    await timed([node, b.bin, "run", "-f", "baton.yaml"], b.oneTask); // a folder with earlier runs
  }
  const peerDir = oneTaskFolder("peers");

  try {
    for (let i = 0; i < o.repeat; i++) {
      add("node -e 0", await timed([node, "-e", "0"], WORK));
      for (const b of list) {
        const tag = (form) => `${form} [${b.label}]`;
        add(tag("baton --version"), await timed([node, b.bin, "--version"], b.dir));
        add(tag("baton submit"), await timed([node, b.bin, "submit", "-n", `s${i}`, "--", "true"], b.dir));
        add(tag("baton ls"), await timed([node, b.bin, "ls"], b.dir));
        add(tag("baton show RUN"), await timed([node, b.bin, "show", b.run], b.dir));
        add(tag("baton run, earlier runs"), await timed([node, b.bin, "run", "--no-cache"], b.oneTask));
        const fresh = oneTaskFolder(`fresh-${b.label}`);
        add(tag("baton run, fresh folder"), await timed([node, b.bin, "run"], fresh));
        await drain(b.server);
      }
      if (slurm)
        add("sbatch --wrap true", await timed(["sbatch", "--wrap", "true", "-o", "/dev/null"], WORK));
      for (const p of peers) {
        rmSync(join(peerDir, "hello.txt"), { force: true });
        const argv =
          p === "make"
            ? ["make", "-s"]
            : p === "ninja"
              ? ["ninja", "-j1"]
              : ["snakemake", "--cores", "1", "--forceall", "--quiet"];
        if (p === "ninja") rmSync(join(peerDir, ".ninja_log"), { force: true });
        add(`${p} (one rule)`, await timed(argv, peerDir));
      }
    }
    // Fan-outs: --each (this checkout, which has it) against xargs of single submits.
    const now = list.find((b) => b.label === "now");
    const lines = Array.from({ length: o.each }, (_, i) => `item${i}`).join("\n");
    const xargsLines = Array.from({ length: 100 }, (_, i) => `x${i}`).join("\n");
    for (let i = 0; i < Math.min(o.repeat, 5); i++) {
      add(
        `submit --each (${o.each} lines)`,
        await timed([node, now.bin, "submit", "--each", "--", "true"], now.dir, lines),
      );
      await drain(now.server);
      for (const b of list) {
        const ms = await timed(
          ["xargs", "-I", "{}", node, b.bin, "submit", "-n", "{}", "--", "true"],
          b.dir,
          xargsLines,
        );
        add(`xargs baton submit, per line [${b.label}]`, ms / 100);
        await drain(b.server);
      }
    }
  } finally {
    for (const b of list) await stopServer(b.server.child);
  }

  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const floor = med["node -e 0"];
  const rows = Object.keys(med).map((form) => {
    const ms = med[form];
    const over =
      form.startsWith("node") || form.startsWith("submit --each") || form.startsWith("xargs")
        ? ""
        : (ms - floor).toFixed(0);
    return [form, ms.toFixed(1), over, String(samples[form].length)];
  });
  const eachMs = med[`submit --each (${o.each} lines)`];
  const nowOver = (form) => med[`${form} [now]`] - floor;
  const verdict = (name, value, target) =>
    `${name}: ${value.toFixed(0)} ms (target ${target} ms) ${value <= target ? "met" : "not met"}`;
  const summary = [
    verdict("submit over node -e 0", nowOver("baton submit"), TARGETS.submit),
    verdict("one-task run over node -e 0 (earlier runs)", nowOver("baton run, earlier runs"), TARGETS.run),
    verdict("one-task run over node -e 0 (fresh folder)", nowOver("baton run, fresh folder"), TARGETS.run),
    verdict(`submit --each of ${o.each} lines`, eachMs, TARGETS.each),
  ];
  const md = [
    ...runLines({
      command: `node bench/overhead.mjs --repeat ${o.repeat}${o.before ? " --before DIR" : ""}`,
      startedAt,
      durationS: (performance.now() - t0) / 1000,
      loadStart,
      loadEnd: loadavg(),
      baton: list.map((b) => `${b.label}: ${b.version}`).join("; "),
      extra: [`- Slurm: ${slurm ? "measured (sbatch answered)" : "not running here: sbatch not measured"}`],
    }),
    "",
    'Median wall time of each command, in ms; "over node" is that less `node -e 0` measured in the same rounds.',
    "The submits go to a running `baton server` in the same folder; `ls` and `show` run there too.",
    "",
    mdTable(["command", "ms", "over node -e 0", "runs"], rows),
    "",
    ...summary.map((s) => `- ${s}`),
  ].join("\n");
  mkdirSync(OUT, { recursive: true });
  writeFileSync(
    join(OUT, "overhead.json"),
    `${JSON.stringify({ startedAt, samples, medians: med }, null, 2)}\n`,
  );
  writeFileSync(join(OUT, "overhead.md"), `${md}\n`);
  console.log(md);
  if (o.write) updateSectionFile(join(BENCH, "RESULTS.md"), "Fixed costs", md);
}

await main();
