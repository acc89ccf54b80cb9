#!/usr/bin/env node
// Validate at scale: how long `baton validate` takes on a pipeline of 100,000 tasks, written as
// 2 nodes that fan out or as 100,000 nodes. Targets: 100,000 nodes in under 3 s and 500 MB peak
// RSS, 10,000 nodes in under 0.5 s.
//
//   node bench/validate-scale.mjs [--repeat N] [--plain-timeout S] [--no-plain] [--no-write]
//
// Forms (written to bench/out/validate-scale/):
//   fanout.yaml     2 nodes: `grid` with `matrix: { a: [0..98], b: [0..999] }` (99,000 tasks) and
//                   `after` with a 1,000-item `foreach` that needs `grid` -> 100,000 tasks
//   plain10k.yaml   10,000 nodes, one per task (scale points for the plain form)
//   plain20k.yaml   20,000 nodes
//   plain100k.yaml  100,000 nodes, one per task; node n{i} needs n{i-1} unless i is a multiple of
//                   10 (10,000 independent chains of 10 nodes); killed after --plain-timeout
// Every form runs --repeat times; wall time and peak RSS are medians.
// (bench/RESULTS.md is updated unless --no-plain or --no-write)
// `baton validate -f FILE` parses, checks and expands every pipeline and prints `N tasks`; the
// wall time is measured around the process. Rewrites the "## Validate at scale" section of
// bench/RESULTS.md; writes bench/out/validate-scale.json and .md. See bench/README.md.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { hasGnuTime, measure } from "./measure.mjs";
import { batonVersion, loadavg, mdTable, median, runLines, updateSectionFile } from "./sections.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const OUT = join(BENCH, "out");
const WORK = join(OUT, "validate-scale");
const BATON = join(REPO, "bin", "baton.js");
const TARGET_S = 3;
const TARGET_MB = 500;
const TARGET_10K_S = 0.5;
const TASKS = 100_000;

const USAGE = `usage: node bench/validate-scale.mjs [options]
  --repeat N         runs of each form; the median is reported (default 3)
  --plain-timeout S  give up on the 100,000-node form after S seconds (default 60)
  --no-plain         leave out the plain (one node per task) forms
  --no-write         do not update bench/RESULTS.md (bench/out/ is still written)`;

function parseArgs(argv) {
  const o = { repeat: 3, plainTimeoutS: 60, plain: true, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const val = () => inline ?? argv[++i];
    switch (flag) {
      case "--repeat":
        o.repeat = Number(val());
        if (!Number.isInteger(o.repeat) || o.repeat < 1) usage("--repeat needs a positive integer");
        break;
      case "--plain-timeout":
        o.plainTimeoutS = Number(val());
        if (!(o.plainTimeoutS > 0)) usage("--plain-timeout needs a positive number of seconds");
        break;
      case "--no-plain":
        o.plain = false;
        break;
      case "--no-write":
        o.write = false;
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
  console.error(`validate-scale: ${msg}\n${USAGE}`);
  process.exit(2);
}

const log = (msg) => console.error(`validate-scale: ${msg}`);
const range = (n) => Array.from({ length: n }, (_, i) => i);
const HEAD = ["version: 1", "pools:", "  local: { slots: 2 }", "pipelines:"];

/** 99 x 1,000 matrix + 1,000-item foreach needing it: 100,000 tasks in 2 nodes. */
function fanoutYaml() {
  return [
    ...HEAD,
    "  scale:",
    "    nodes:",
    "      grid:",
    `        matrix: { a: [${range(99).join(", ")}], b: [${range(1000).join(", ")}] }`,
    `        run: "echo \${{ matrix.a }} \${{ matrix.b }} > \\"$BATON_OUTPUT_DIR/out.txt\\""`,
    "      after:",
    "        needs: [grid]",
    `        foreach: [${range(1000).join(", ")}]`,
    `        run: "echo \${{ item }} > \\"$BATON_OUTPUT_DIR/out.txt\\""`,
    "",
  ].join("\n");
}

/** n nodes, one task each; n{i} needs n{i-1} unless i % 10 == 0 (chains of 10). */
function plainYaml(n) {
  const lines = [...HEAD, "  flat:", "    nodes:"];
  for (const i of range(n)) {
    const run = `run: "echo ${i} > \\"$BATON_OUTPUT_DIR/out.txt\\""`;
    lines.push(i % 10 ? `      n${i}: { needs: [n${i - 1}], ${run} }` : `      n${i}: { ${run} }`);
  }
  return `${lines.join("\n")}\n`;
}

/** One timed `baton validate -f file`. */
async function validateOnce(file, timeoutS, gnuTime, tag) {
  const base = join(WORK, tag);
  const m = await measure({
    argv: [process.execPath, BATON, "validate", "-f", file],
    cwd: WORK,
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== "BATON_URL" && k !== "BATON_TOKEN"),
    ),
    stdoutFile: `${base}.stdout`,
    stderrFile: `${base}.stderr`,
    rssFile: `${base}.rss`,
    timeoutMs: timeoutS * 1000,
    gnuTime,
  });
  const out = readFileSync(`${base}.stdout`, "utf8");
  const err = readFileSync(`${base}.stderr`, "utf8");
  const tasks = /(\d+) tasks/.exec(out);
  const r = { wallMs: m.wallMs, rssKb: m.rssKb, code: m.code, tasks: tasks ? Number(tasks[1]) : null };
  if (m.error) return { ...r, status: "failed", detail: m.error };
  if (m.timedOut) return { ...r, status: "timeout", detail: `killed after ${timeoutS} s` };
  if (m.code !== 0) {
    const why = m.signal ? `signal ${m.signal}` : `exit ${m.code}`;
    return { ...r, status: "failed", detail: `${why}: ${(err || out).trim().slice(0, 1500)}` };
  }
  if (r.tasks === null)
    return { ...r, status: "wrong", detail: `no task count in: ${out.trim().slice(0, 300)}` };
  return { ...r, status: "ok", stdout: out.trim() };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  log(`load average before: ${loadStart.join(", ")}`);
  const gnuTime = hasGnuTime();
  mkdirSync(WORK, { recursive: true });

  const forms = [
    { key: "fanout", nodes: 2, expect: TASKS, text: fanoutYaml(), runs: opts.repeat, timeoutS: 300 },
  ];
  if (opts.plain) {
    for (const [key, n] of [
      ["plain10k", 10_000],
      ["plain20k", 20_000],
      ["plain100k", 100_000],
    ]) {
      forms.push({
        key,
        nodes: n,
        expect: n,
        text: plainYaml(n),
        runs: opts.repeat,
        timeoutS: n === TASKS ? opts.plainTimeoutS : 300,
      });
    }
  }
  const results = [];
  for (const form of forms) {
    const file = join(WORK, `${form.key}.yaml`);
    writeFileSync(file, form.text);
    const runs = [];
    for (let i = 1; i <= form.runs; i++) {
      const r = await validateOnce(file, form.timeoutS, gnuTime, `${form.key}-${i}`);
      runs.push(r);
      log(
        `${form.key.padEnd(9)} #${i} ${r.status === "ok" ? `${(r.wallMs / 1000).toFixed(2)} s, ${r.tasks} tasks, ${r.rssKb == null ? "n/a" : (r.rssKb / 1024).toFixed(0)} MB` : `${r.status}: ${r.detail}`}`,
      );
      if (r.status !== "ok") break;
    }
    const ok = runs.every((r) => r.status === "ok");
    results.push({
      key: form.key,
      nodes: form.nodes,
      expect: form.expect,
      bytes: Buffer.byteLength(form.text),
      timeoutS: form.timeoutS,
      runs,
      status: ok ? (runs.every((r) => r.tasks === form.expect) ? "ok" : "wrong count") : runs.at(-1).status,
      wallMs: ok ? median(runs.map((r) => r.wallMs)) : null,
      rssMb: ok && runs.every((r) => r.rssKb != null) ? median(runs.map((r) => r.rssKb)) / 1024 : null,
    });
  }
  const loadEnd = loadavg();
  const durationS = (performance.now() - t0) / 1000;
  log(`load average after: ${loadEnd.join(", ")}; took ${durationS.toFixed(0)} s`);

  const f = (x, d = 2) => (x == null ? "n/a" : x.toFixed(d));
  const argv = process.argv.slice(2).join(" ");
  const rows = results.map((r) => {
    const walls = r.runs.length > 1 ? ` (${r.runs.map((x) => f(x.wallMs / 1000)).join(", ")})` : "";
    const last = r.runs.at(-1);
    return [
      r.key,
      r.nodes,
      r.bytes < 1e6 ? `${(r.bytes / 1e3).toFixed(0)} kB` : `${(r.bytes / 1e6).toFixed(1)} MB`,
      r.status === "ok" || r.status === "wrong count" ? last.tasks : "-",
      r.status === "ok"
        ? "ok"
        : r.status === "timeout"
          ? `**skipped**: still running after ${r.timeoutS} s, killed`
          : `**${r.status}**${last.detail ? `: ${last.detail}` : ""}`,
      r.wallMs == null ? "-" : `${f(r.wallMs / 1000)}${walls}`,
      r.wallMs == null ? "-" : f((r.wallMs * 1000) / r.expect, 1),
      f(r.rssMb, 0),
    ];
  });
  const fan = results[0];
  const byKey = (key) => results.find((r) => r.key === key);
  const wallText = (r) =>
    r.wallMs == null ? (r.status === "timeout" ? `> ${r.timeoutS} s` : r.status) : `${f(r.wallMs / 1000)} s`;
  const wallVerdict = (r, limitS) =>
    r.status === "timeout"
      ? `missed (> ${r.timeoutS} s, skipped)`
      : r.status !== "ok"
        ? `missed (${r.status})`
        : r.wallMs <= limitS * 1000
          ? "met"
          : "missed";
  const rssVerdict = (r, limitMb) =>
    r.status !== "ok"
      ? `missed (${r.status})`
      : r.rssMb == null
        ? "n/a"
        : r.rssMb <= limitMb
          ? "met"
          : "missed";
  const targetRows = [
    [`validate ${TASKS} tasks < ${TARGET_S} s`, "fanout", wallText(fan), wallVerdict(fan, TARGET_S)],
  ];
  const p10 = byKey("plain10k");
  const p100 = byKey("plain100k");
  if (p10)
    targetRows.push([
      `validate 10000 nodes < ${TARGET_10K_S} s`,
      "plain10k",
      wallText(p10),
      wallVerdict(p10, TARGET_10K_S),
    ]);
  if (p100) {
    targetRows.push([
      `validate ${TASKS} nodes < ${TARGET_S} s`,
      "plain100k",
      wallText(p100),
      wallVerdict(p100, TARGET_S),
    ]);
    targetRows.push([
      `validate ${TASKS} nodes < ${TARGET_MB} MB peak RSS`,
      "plain100k",
      p100.rssMb == null ? "n/a" : `${f(p100.rssMb, 0)} MB`,
      rssVerdict(p100, TARGET_MB),
    ]);
  }
  const body = [
    ...runLines({
      command: `node bench/validate-scale.mjs${argv ? ` ${argv}` : ""}`,
      startedAt,
      durationS,
      loadStart,
      loadEnd,
      baton: batonVersion(REPO),
    }),
    "",
    "Wall time of `node bin/baton.js validate -f FILE` (node start-up included), which parses the file,",
    "checks it and expands every pipeline with its default params to count tasks (`N tasks`).",
    "Files are generated in `bench/out/validate-scale/`:",
    "",
    "- `fanout`: 2 nodes, `grid` with an inline `matrix: { a: [0..98], b: [0..999] }` (99,000 tasks)",
    "  and `after`, a 1,000-item inline `foreach` with `needs: [grid]`: 100,000 tasks.",
    "- `plain100k`: 100,000 nodes, one task each; `n{i}` needs `n{i-1}` unless i is a multiple of 10",
    `  (10,000 chains of 10). Killed after ${opts.plainTimeoutS} s (reported as skipped). \`plain10k\` and \`plain20k\` are the`,
    "  same form at 10,000 and 20,000 nodes, to show how the time grows.",
    "",
    mdTable(["form", "nodes", "file", "tasks reported", "result", "wall s", "µs/task", "peak RSS MB"], rows),
    "",
    `Wall time and peak RSS: median over ${opts.repeat} run${opts.repeat > 1 ? "s (each wall time in brackets)" : ""} of each form.`,
    "",
    mdTable(["target", "form", "value", "verdict"], targetRows),
    "",
  ].join("\n");
  writeFileSync(
    join(OUT, "validate-scale.json"),
    JSON.stringify({ opts, loadStart, loadEnd, durationS, results }, null, 2),
  );
  writeFileSync(join(OUT, "validate-scale.md"), `## Validate at scale\n\n${body}`);
  console.log(body);
  if (opts.plain && opts.write) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Validate at scale", body);
    console.log('Wrote the "## Validate at scale" section of bench/RESULTS.md');
  } else {
    console.log(
      `Wrote bench/out/validate-scale.md (bench/RESULTS.md is not updated with ${opts.plain ? "--no-write" : "--no-plain"})`,
    );
  }
  process.exitCode = fan.status === "ok" ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
