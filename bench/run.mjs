#!/usr/bin/env node
// Baton benchmark harness: runs the same DAGs with Baton, make, ninja and snakemake.
//
//   node bench/run.mjs [--shapes chain200,fan1000,layers,wide10k] [--tools baton,make,ninja,snakemake]
//                      [--repeat N] [--quick] [--rerun | --rerun-only] [--timeout SECONDS]
//
// See bench/README.md. Work folders: bench/out/<shape>/<tool>/ (fresh for every run).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { clearAside, setAside } from "./aside.mjs";
import { hasGnuTime, measure } from "./measure.mjs";
import { NOT_MEASURED, markdown, rerunBody, summarize, textTable } from "./report.mjs";
import { loadavg, mergeSections, runLines, updateSectionFile } from "./sections.mjs";
import { SHAPE_KEYS, makeShape } from "./shapes.mjs";
import { TOOL_NAMES, defineTools } from "./tools.mjs";
import { validate } from "./validate.mjs";

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, "..");
const OUT = join(BENCH, "out");

const USAGE = `usage: node bench/run.mjs [options]
  --shapes LIST    comma-separated, from ${SHAPE_KEYS.join(",")} (default: all)
  --tools LIST     comma-separated, from ${TOOL_NAMES.join(",")} (default: all present)
  --repeat N       runs per tool and shape; the median wall time is reported (default 1)
  --quick          scaled-down shapes for smoke runs (chain50, fan200, layers5x20, wide1k)
  --rerun          add a second pass per tool in the same folder (no-op / cached rerun)
  --rerun-only     run each tool once to fill its folder, then time only the rerun (--repeat N
                   repeats the rerun); snakemake is skipped on wide10k; rewrites only the
                   "## Cached rerun" section of bench/RESULTS.md (all shapes and tools, no --quick)
  --timeout S      kill a tool run after S seconds and report it as timeout (default 300)
bench/RESULTS.md is rewritten only by a full run (all shapes, all tools, no --quick), which keeps
the sections it does not measure; every run writes bench/out/results.md and bench/out/results.json
(--rerun-only: bench/out/rerun.md and bench/out/rerun.json).`;

function parseArgs(argv) {
  const o = {
    shapes: SHAPE_KEYS,
    tools: TOOL_NAMES,
    repeat: 1,
    quick: false,
    rerun: false,
    rerunOnly: false,
    timeoutS: 300,
  };
  const list = (v, known, what) => {
    const xs = (v ?? "").split(",").filter(Boolean);
    const bad = xs.filter((x) => !known.includes(x));
    if (!xs.length || bad.length)
      usage(`unknown ${what}: ${bad.join(",") || "(none given)"}; known: ${known.join(",")}`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const val = () => inline ?? argv[++i];
    switch (flag) {
      case "--shapes":
        o.shapes = list(val(), SHAPE_KEYS, "shape");
        break;
      case "--tools":
        o.tools = list(val(), TOOL_NAMES, "tool");
        break;
      case "--repeat":
        o.repeat = Number.parseInt(val(), 10);
        if (!(o.repeat >= 1)) usage("--repeat needs a positive integer");
        break;
      case "--timeout":
        o.timeoutS = Number(val());
        if (!(o.timeoutS > 0)) usage("--timeout needs a positive number of seconds");
        break;
      case "--quick":
        o.quick = true;
        break;
      case "--rerun":
        o.rerun = true;
        break;
      case "--rerun-only":
        // The first run fills the cache (Baton runs it without --no-cache, as under --rerun).
        o.rerun = true;
        o.rerunOnly = true;
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
  console.error(`bench: ${msg}\n${USAGE}`);
  process.exit(2);
}

function machine() {
  const uname = spawnSync("uname", ["-srm"], { encoding: "utf8" });
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model?.trim() ?? "unknown CPU",
    memGb: os.totalmem() / 1024 ** 3,
    os: uname.status === 0 ? uname.stdout.trim() : `${os.type()} ${os.release()}`,
    node: process.version,
    loadStart: os.loadavg(),
  };
}

/** Environment of every tool run: no Baton server to attach to, C locale (sort -u). */
function toolEnv(extra) {
  const inherited = Object.entries(process.env).filter(([k]) => k !== "BATON_URL" && k !== "BATON_TOKEN");
  return { ...Object.fromEntries(inherited), LC_ALL: "C", ...extra };
}

/** Writes a fresh work folder for one tool and one shape (the previous one is set aside: aside.mjs). */
function prepare(shape, toolName, tool) {
  const dir = join(OUT, shape.name, toolName);
  setAside(dir, OUT);
  mkdirSync(dir, { recursive: true });
  for (const d of shape.dirs) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, tool.file), shape.files[tool.file]);
  return dir;
}

function tail(file, n = 4) {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n").filter(Boolean);
    return lines.slice(-n).join(" / ").slice(0, 600);
  } catch {
    return "";
  }
}

/** One measured run of one tool in dir, then validation. */
async function runOnce(shape, toolName, tool, dir, pass, opts, gnuTime) {
  const base = join(dir, `bench-${pass}`);
  const stdoutFile = `${base}.stdout`;
  const stderrFile = `${base}.stderr`;
  const m = await measure({
    argv: tool.argv(pass, opts),
    cwd: dir,
    env: toolEnv(tool.env),
    stdoutFile,
    stderrFile,
    rssFile: `${base}.rss`,
    timeoutMs: opts.timeoutS * 1000,
    gnuTime,
  });
  const r = { pass, wallMs: m.wallMs, rssKb: m.rssKb, cpuS: m.cpuS, code: m.code };
  if (m.error) return { ...r, status: "failed", detail: m.error };
  if (m.timedOut) {
    return {
      ...r,
      status: "timeout",
      timeoutMs: opts.timeoutS * 1000,
      detail: `killed after ${opts.timeoutS} s`,
    };
  }
  if (m.code !== 0) {
    const why = m.signal ? `signal ${m.signal}` : `exit ${m.code}`;
    return { ...r, status: "failed", detail: `${why}: ${tail(stderrFile) || tail(stdoutFile)}` };
  }
  const stdoutText = readFileSync(stdoutFile, "utf8");
  const wrong = validate(shape, tool, dir, stdoutText);
  if (wrong) return { ...r, status: "wrong", detail: wrong };
  return { ...r, status: "ok", note: tool.note?.(stdoutText) ?? undefined };
}

function progress(shape, name, pass, rep, r) {
  const fig =
    r.status === "ok"
      ? `${(r.wallMs / 1000).toFixed(3)} s  ${(r.wallMs / shape.tasks).toFixed(2)} ms/task  ${r.rssKb == null ? "n/a" : (r.rssKb / 1024).toFixed(1)} MB${r.note ? `  (${r.note})` : ""}`
      : `${r.status}: ${r.detail}`;
  console.error(`bench: ${shape.name.padEnd(12)} ${name.padEnd(9)} ${pass.padEnd(5)} #${rep}  ${fig}`);
}

/** Tools left out of --rerun-only on a shape, and why. */
function rerunSkip(shape, name) {
  // Only at full size: the --quick wide1k takes snakemake about 30 s.
  if (name === "snakemake" && shape.key === "wide10k" && shape.tasks > 5000) {
    return "skipped: its first run takes about 40 min on 2 cores (> the timeout; see README)";
  }
  return null;
}

/**
 * --rerun-only on one shape: every tool fills a fresh folder once (the "cold" pass, Baton with
 * its cache on), then the reruns alone are repeated, interleaving the tools.
 */
async function rerunOnlyShape(shape, present, tools, opts, gnuTime, runs, skipped) {
  const ready = [];
  for (const name of present) {
    const why = rerunSkip(shape, name);
    if (why) {
      skipped[name] = why;
      console.error(`bench: ${shape.name.padEnd(12)} ${name.padEnd(9)} ${why}`);
      continue;
    }
    const tool = tools[name];
    const dir = prepare(shape, name, tool);
    const r = await runOnce(shape, name, tool, dir, "cold", opts, gnuTime);
    runs.cold[name] = [{ ...r, rep: 1 }];
    progress(shape, name, "cold", 1, r);
    if (r.status === "ok") ready.push({ name, tool, dir });
  }
  for (let rep = 1; rep <= opts.repeat; rep++) {
    for (const { name, tool, dir } of ready) {
      const r = await runOnce(shape, name, tool, dir, "rerun", opts, gnuTime);
      if (!runs.rerun[name]) runs.rerun[name] = [];
      runs.rerun[name].push({ ...r, rep });
      progress(shape, name, "rerun", rep, r);
    }
  }
}

/** Plain text of the --rerun-only figures, for stdout. */
function rerunText(results) {
  const rows = [["shape", "tool", "result", "first run s", "rerun s", "note"]];
  for (const sh of results.shapes) {
    for (const [i, tool] of results.toolOrder.entries()) {
      const c = sh.summary.cold[tool];
      const r = sh.summary.rerun[tool];
      const s = r.status === "not run" && c.status !== "ok" ? c : r;
      rows.push([
        i === 0 ? sh.name : "",
        tool,
        s.status,
        c.status === "ok" ? (c.wallMs / 1000).toFixed(3) : "-",
        r.status === "ok" ? (r.wallMs / 1000).toFixed(3) : "-",
        r.status === "ok" ? (r.note ?? "") : (s.detail ?? ""),
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => String(c).padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const tools = defineTools(REPO);
  const gnuTime = hasGnuTime();
  const passes = opts.rerun ? ["cold", "rerun"] : ["cold"];
  const loadStart = loadavg();

  const toolInfo = {};
  for (const name of opts.tools) {
    const absent = tools[name].available();
    toolInfo[name] = absent ? { absent } : { version: tools[name].version() };
    const line = absent ? `skipped: ${absent}` : toolInfo[name].version;
    console.error(`bench: ${name.padEnd(9)} ${line}`);
  }
  if (!gnuTime) console.error("bench: GNU time (/usr/bin/time) missing: peak RSS will be n/a");
  const present = opts.tools.filter((t) => !toolInfo[t].absent);

  const results = {
    startedAt: new Date().toISOString(),
    quick: opts.quick,
    repeat: opts.repeat,
    passes,
    gnuTime,
    machine: machine(),
    tools: toolInfo,
    toolOrder: opts.tools,
    shapes: [],
  };

  for (const key of opts.shapes) {
    const shape = makeShape(key, opts.quick);
    const runs = Object.fromEntries(passes.map((p) => [p, {}]));
    const skipped = {};
    if (opts.rerunOnly) await rerunOnlyShape(shape, present, tools, opts, gnuTime, runs, skipped);
    // Repeats interleave the tools so that drift of the machine hits all of them alike.
    for (let rep = 1; rep <= (opts.rerunOnly ? 0 : opts.repeat); rep++) {
      for (const name of present) {
        const tool = tools[name];
        const dir = prepare(shape, name, tool);
        for (const pass of passes) {
          const r = await runOnce(shape, name, tool, dir, pass, opts, gnuTime);
          if (!runs[pass][name]) runs[pass][name] = [];
          runs[pass][name].push({ ...r, rep });
          progress(shape, name, pass, rep, r);
          // A failed cold run leaves nothing meaningful to rerun.
          if (r.status !== "ok") break;
        }
      }
    }
    const summary = {};
    for (const pass of passes) {
      summary[pass] = {};
      for (const name of opts.tools) {
        summary[pass][name] = toolInfo[name].absent
          ? { status: "absent", detail: toolInfo[name].absent }
          : skipped[name]
            ? { status: "skipped", detail: skipped[name].replace(/^skipped: /, "") }
            : summarize(runs[pass][name], shape.tasks);
      }
    }
    results.shapes.push({ key, name: shape.name, tasks: shape.tasks, runs, summary });
  }

  results.durationS = (performance.now() - t0) / 1000;
  results.machine.loadEnd = os.loadavg();
  clearAside(OUT);
  const full =
    !opts.quick &&
    SHAPE_KEYS.every((s) => opts.shapes.includes(s)) &&
    TOOL_NAMES.every((t) => opts.tools.includes(t));
  mkdirSync(OUT, { recursive: true });
  if (opts.rerunOnly) {
    writeRerunOnly(results, opts, full, loadStart);
    return;
  }
  console.log(textTable(results));
  console.log(`\nTotal: ${results.durationS.toFixed(0)} s`);

  writeFileSync(join(OUT, "results.json"), JSON.stringify(results, null, 2));
  const md = markdown(results);
  writeFileSync(join(OUT, "results.md"), md);
  if (full) {
    // Sections this run did not measure keep what the partial modes wrote there, and sections
    // other tools write (e.g. "## Web UI") are kept as they are.
    const file = join(BENCH, "RESULTS.md");
    const old = existsSync(file) ? readFileSync(file, "utf8") : "";
    const text = mergeSections(
      md,
      old,
      (heading, oldText) =>
        heading in NOT_MEASURED &&
        !(heading === "Cached rerun" && passes.includes("rerun")) &&
        !oldText.includes("_Not measured yet"),
    );
    writeFileSync(file, text);
    console.log("Wrote bench/RESULTS.md");
  } else {
    console.log("Wrote bench/out/results.md (bench/RESULTS.md is only rewritten by a full run)");
  }
}

/** --rerun-only: stdout table, bench/out/rerun.{json,md}, and the RESULTS.md section. */
function writeRerunOnly(results, opts, full, loadStart) {
  console.log(rerunText(results));
  console.log(`\nTotal: ${results.durationS.toFixed(0)} s`);
  writeFileSync(join(OUT, "rerun.json"), JSON.stringify(results, null, 2));
  const argv = process.argv.slice(2).join(" ");
  const body = [
    ...runLines({
      command: `node bench/run.mjs${argv ? ` ${argv}` : ""}`,
      startedAt: results.startedAt,
      durationS: results.durationS,
      loadStart,
      loadEnd: loadavg(),
      baton: results.tools.baton?.version,
      extra: results.toolOrder
        .filter((t) => t !== "baton")
        .map(
          (t) =>
            `- ${t}: ${results.tools[t].absent ? `absent (${results.tools[t].absent})` : results.tools[t].version}`,
        ),
    }),
    "",
    "Each tool first runs once in a fresh folder (Baton without `--no-cache`, so that it fills its",
    "cache), then the second run in the same, unchanged folder is timed: make and ninja find every",
    "target up to date, snakemake finds nothing to do, Baton answers every task from its cache",
    "(`baton run` without `--no-cache`; the note counts the tasks its `--json` reports as cached).",
    "Snakemake's first run on wide10k would take about 40 minutes, so it is not run there.",
    "",
    ...rerunBody(results),
  ].join("\n");
  writeFileSync(join(OUT, "rerun.md"), `## Cached rerun\n\n${body}`);
  if (full) {
    updateSectionFile(join(BENCH, "RESULTS.md"), "Cached rerun", body);
    console.log('Wrote the "## Cached rerun" section of bench/RESULTS.md');
  } else {
    console.log(
      "Wrote bench/out/rerun.md (bench/RESULTS.md is only updated when all shapes and tools are run, without --quick)",
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
