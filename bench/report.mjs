// Turns measured runs into the stdout table and bench/RESULTS.md.

import { loadText, mdTable, median } from "./sections.mjs";

export const TARGETS = {
  makeRatio: 1.5, // Baton wall <= 1.5x make's, on every shape
  snakeSpeedup: 5, // Baton >= 5x faster than snakemake, on every shape
  rssMb: 300, // Baton's peak RSS on wide10k
};

/**
 * Summary of the repeats of one tool on one shape for one pass. A figure is given only when every
 * repeat succeeded and produced the right files; otherwise the status says what went wrong.
 */
export function summarize(runs, tasks) {
  if (!runs || runs.length === 0) return { status: "not run" };
  const bad = runs.filter((r) => r.status !== "ok");
  if (bad.length) {
    const r = bad[0];
    const allTimedOut = runs.every((x) => x.status === "timeout");
    return {
      status: runs.length > 1 && !allTimedOut ? `${r.status} (${bad.length}/${runs.length})` : r.status,
      detail: r.detail,
      timeoutMs: allTimedOut ? Math.min(...runs.map((x) => x.timeoutMs ?? x.wallMs)) : undefined,
    };
  }
  const wallMs = median(runs.map((r) => r.wallMs));
  const rss = runs.map((r) => r.rssKb).filter((x) => x != null);
  return {
    status: "ok",
    wallMs,
    msPerTask: wallMs / tasks,
    rssMb: rss.length === runs.length ? median(rss) / 1024 : null,
    note: runs[runs.length - 1].note,
    cpuS: runs.every((r) => r.cpuS != null) ? median(runs.map((r) => r.cpuS)) : null,
    walls: runs.map((r) => r.wallMs),
  };
}

const fmt = (x, d = 2) => (x == null ? "n/a" : x.toFixed(d));

/**
 * Wall time of a summary as { ms, bound }: exact when the runs succeeded, a lower bound (">")
 * when every run was killed at the timeout, null otherwise (failed or wrong: no time at all).
 */
function wallOf(s) {
  if (!s) return null;
  if (s.status === "ok") return { ms: s.wallMs, bound: "=" };
  if (s.status === "timeout" && s.timeoutMs) return { ms: s.timeoutMs, bound: ">" };
  return null;
}

/** a/b with the bound it carries: "=", "<" (a exact, b timed out) or ">" (a timed out, b exact). */
function ratio(a, b) {
  const x = wallOf(a);
  const y = wallOf(b);
  if (!x || !y) return null;
  if (x.bound === "=" && y.bound === "=") return { value: x.ms / y.ms, bound: "=" };
  if (x.bound === "=" && y.bound === ">") return { value: x.ms / y.ms, bound: "<" };
  if (x.bound === ">" && y.bound === "=") return { value: x.ms / y.ms, bound: ">" };
  return null;
}

/** Ratios of one shape (cold pass): Baton's wall over make's and over snakemake's. */
export function ratios(shape, sum) {
  return { baton_make: ratio(sum.baton, sum.make), baton_snakemake: ratio(sum.baton, sum.snakemake) };
}

function ratioText(r, kind) {
  if (r == null) return "n/a";
  const b = r.bound === "=" ? "" : `${r.bound} `;
  if (kind === "snakemake") {
    if (r.value >= 1)
      return `${b}${fmt(r.value)} (Baton ${r.bound === ">" ? "> " : ""}${fmt(r.value, 1)}x slower)`;
    const inv = r.bound === "<" ? "> " : r.bound === ">" ? "< " : "";
    return `${b}${fmt(r.value)} (Baton ${inv}${r.value > 0 ? fmt(1 / r.value, 1) : "inf"}x faster)`;
  }
  return `${b}${fmt(r.value)}x`;
}

/** "met" / "missed" for a ratio that must stay <= limit; a bound may settle it or not. */
function atMost(r, limit) {
  if (r.bound === "=") return r.value <= limit ? "met" : "missed";
  if (r.bound === "<") return r.value <= limit ? "met" : "n/a (bound inconclusive)";
  return r.value > limit ? "missed" : "n/a (bound inconclusive)";
}

/** Target rows: { target, shape, value, verdict }. */
export function targets(results) {
  const rows = [];
  for (const sh of results.shapes) {
    const sum = sh.summary.cold;
    const r = ratios(sh, sum);
    const b = sum.baton;
    const batonBad = b && !["ok", "timeout", "not run", "absent"].includes(b.status);
    const verdict = (x, limit) => (x ? atMost(x, limit) : batonBad ? `missed (Baton ${b.status})` : "n/a");
    rows.push({
      target: `Baton wall <= ${TARGETS.makeRatio}x make`,
      shape: sh.name,
      value: ratioText(r.baton_make, "make"),
      verdict: verdict(r.baton_make, TARGETS.makeRatio),
    });
    rows.push({
      target: `Baton >= ${TARGETS.snakeSpeedup}x faster than snakemake`,
      shape: sh.name,
      value: ratioText(r.baton_snakemake, "snakemake"),
      verdict: verdict(r.baton_snakemake, 1 / TARGETS.snakeSpeedup),
    });
    if (sh.key === "wide10k") {
      const mb = b && b.status === "ok" ? b.rssMb : null;
      rows.push({
        target: `Baton peak RSS <= ${TARGETS.rssMb} MB`,
        shape: sh.name,
        value: mb == null ? "n/a" : `${fmt(mb, 1)} MB`,
        verdict:
          mb != null
            ? mb <= TARGETS.rssMb
              ? "met"
              : "missed"
            : batonBad
              ? `missed (Baton ${b.status})`
              : "n/a",
      });
    }
  }
  return rows;
}

function pad(rows) {
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

function toolRows(results, sh, pass) {
  const rows = [];
  for (const tool of results.toolOrder) {
    const s = sh.summary[pass]?.[tool];
    if (!s) continue;
    if (s.status === "ok") {
      rows.push([tool, "ok", fmt(s.wallMs / 1000, 3), fmt(s.msPerTask, 2), fmt(s.rssMb, 1)]);
    } else {
      rows.push([tool, s.status, "-", "-", "-", s.detail ?? ""]);
    }
  }
  return rows;
}

/** Plain text table for stdout. */
export function textTable(results) {
  const out = [];
  for (const pass of results.passes) {
    out.push(pass === "cold" ? "" : `\n${pass} pass`);
    const rows = [["shape", "tasks", "tool", "result", "wall s", "ms/task", "peak RSS MB"]];
    for (const sh of results.shapes) {
      for (const [i, r] of toolRows(results, sh, pass).entries()) {
        rows.push([i === 0 ? sh.name : "", i === 0 ? sh.tasks : "", ...r.slice(0, 5)]);
      }
      if (pass === "cold" && results.toolOrder.includes("baton")) {
        const r = ratios(sh, sh.summary.cold);
        rows.push(["", "", "Baton/make", ratioText(r.baton_make, "make"), "", "", ""]);
        rows.push(["", "", "Baton/snakemake", ratioText(r.baton_snakemake, "snakemake"), "", "", ""]);
      }
    }
    out.push(pad(rows));
  }
  const failures = [];
  for (const sh of results.shapes) {
    for (const pass of results.passes) {
      for (const [tool, s] of Object.entries(sh.summary[pass] ?? {})) {
        if (s.status !== "ok" && s.detail)
          failures.push(`${sh.name} ${tool} ${pass}: ${s.status}: ${s.detail}`);
      }
    }
  }
  if (failures.length) out.push("", "Failures:", ...failures.map((f) => `  ${f}`));
  const m = results.machine;
  if (busy(m))
    out.push(
      "",
      `Note: load average was ${loadText(m.loadStart)} at start: other processes were using the CPUs.`,
    );
  if (!results.toolOrder.includes("baton")) return out.join("\n");
  out.push("", results.quick ? "Targets (on --quick shapes: indicative only):" : "Targets:");
  out.push(
    pad([
      ["target", "shape", "value", "verdict"],
      ...targets(results).map((t) => [t.target, t.shape, t.value, t.verdict]),
    ]),
  );
  return out.join("\n");
}

/** True when the machine was not idle when the run started (the harness itself adds < 1). */
const busy = (m) => (m.loadStart?.[0] ?? 0) > 0.5;

/** The text of bench/RESULTS.md. */
export function markdown(results) {
  const m = results.machine;
  const lines = [
    "# Baton benchmark results",
    "",
    "Generated by `npm run bench` (`node bench/run.mjs`); rewritten by every full run, which keeps the",
    "sections it does not measure. `node bench/run.mjs --rerun-only`, `node bench/load.mjs` and",
    "`node bench/validate-scale.mjs` each rewrite only their own section. See `bench/README.md` for",
    "what is measured.",
    "",
    `- Date: ${results.startedAt}`,
    `- Full run took: ${fmt(results.durationS, 0)} s (${results.repeat} repeat${results.repeat > 1 ? "s" : ""}${results.quick ? ", --quick" : ""})`,
    `- Machine: ${m.nproc} CPUs (${m.cpu}), ${fmt(m.memGb, 1)} GB memory, ${m.os}`,
    `- Node: ${m.node}`,
    ...results.toolOrder.map(
      (t) =>
        `- ${t}: ${results.tools[t].absent ? `absent (${results.tools[t].absent})` : results.tools[t].version}`,
    ),
    "- Parallelism: 2 for every tool (make -j2, ninja -j2, snakemake --cores 2, Baton pool slots 2)",
    `- Peak RSS: ${results.gnuTime ? "GNU time %M: the orchestrator's own peak RSS (largest single process it waited for), not the tasks' nor the tree's sum" : "n/a (GNU time missing)"}`,
    `- Load average (1, 5, 15 min) at start: ${loadText(m.loadStart)}; at end: ${loadText(m.loadEnd)}${busy(m) ? " — **other processes were using the CPUs: figures are noisy**" : ""}`,
    "",
    "Wall time is the median over repeats; a failed or wrong run is reported as such, never as a time.",
    "",
    "## Cold run (fresh folder, no cache)",
    "",
  ];
  for (const sh of results.shapes) {
    lines.push(`### ${sh.name} (${sh.tasks} tasks)`, "");
    const rows = toolRows(results, sh, "cold").map((r) =>
      r[1] === "ok" ? r.slice(0, 5) : [r[0], `**${r[1]}**${r[5] ? `: ${r[5]}` : ""}`, "-", "-", "-"],
    );
    lines.push(mdTable(["tool", "result", "wall s", "ms/task", "peak RSS MB"], rows), "");
    const r = ratios(sh, sh.summary.cold);
    lines.push(
      `Baton/make: ${ratioText(r.baton_make, "make")} · Baton/snakemake: ${ratioText(r.baton_snakemake, "snakemake")}`,
      "",
    );
  }
  lines.push("## Targets", "");
  lines.push(
    mdTable(
      ["target", "shape", "value", "verdict"],
      targets(results).map((t) => [t.target, t.shape, t.value, t.verdict]),
    ),
    "",
  );

  lines.push("## Cached rerun", "");
  if (results.passes.includes("rerun")) {
    lines.push(
      "Second run in the same folder right after the cold one: make, ninja and snakemake find everything",
      "up to date; Baton runs without `--no-cache` (its cold run also ran with the cache on, to fill it).",
      "",
      ...rerunBody(results),
    );
  } else {
    lines.push(NOT_MEASURED["Cached rerun"], "");
  }
  lines.push("## Server load", "", NOT_MEASURED["Server load"], "");
  lines.push("## Validate at scale", "", NOT_MEASURED["Validate at scale"], "");
  return lines.join("\n");
}

/** What a full run writes in the sections it does not measure (kept from RESULTS.md if there). */
export const NOT_MEASURED = {
  "Cached rerun": "_Not measured yet (`node bench/run.mjs --rerun-only`, or `--rerun` on a full run)._",
  "Server load": "_Not measured yet (`node bench/load.mjs`)._",
  "Validate at scale": "_Not measured yet (`node bench/validate-scale.mjs`)._",
};

export const RERUN_TARGET = { shape: "wide10k", seconds: 1 };

/** Why a tool has no rerun figure: its cold run did not succeed, or it was skipped. */
function rerunStatus(sh, tool) {
  const s = sh.summary.rerun?.[tool];
  if (s && s.status !== "not run") return s;
  const cold = sh.summary.cold?.[tool];
  if (cold && cold.status !== "ok") {
    const why = cold.status === "absent" ? "absent" : `not run: first run ${cold.status}`;
    return { status: why, detail: cold.detail };
  }
  return s ?? { status: "not run" };
}

/**
 * Lines of the cached-rerun tables (one per shape) and of the target, for the results of a run
 * with a "rerun" pass (a full run with --rerun, or --rerun-only).
 */
export function rerunBody(results) {
  const lines = [];
  const targetRows = [];
  for (const sh of results.shapes) {
    lines.push(`### ${sh.name} (${sh.tasks} tasks)`, "");
    const rows = [];
    for (const tool of results.toolOrder) {
      const s = rerunStatus(sh, tool);
      const cold = sh.summary.cold?.[tool];
      const coldS = cold?.status === "ok" ? fmt(cold.wallMs / 1000, 3) : "-";
      if (s.status === "ok") {
        const walls = s.walls.length > 1 ? ` (${s.walls.map((w) => fmt(w / 1000, 3)).join(", ")})` : "";
        rows.push([
          tool,
          "ok",
          coldS,
          `${fmt(s.wallMs / 1000, 3)}${walls}`,
          fmt(s.msPerTask, 3),
          fmt(s.rssMb, 1),
          s.note ?? "",
        ]);
      } else {
        rows.push([tool, `**${s.status}**${s.detail ? `: ${s.detail}` : ""}`, coldS, "-", "-", "-", ""]);
      }
    }
    lines.push(
      mdTable(["tool", "result", "first run s", "rerun wall s", "ms/task", "peak RSS MB", "note"], rows),
      "",
    );
    if (sh.key === RERUN_TARGET.shape && results.toolOrder.includes("baton")) {
      const b = rerunStatus(sh, "baton");
      const m = /^(\d+)\/(\d+) cached$/.exec(b.note ?? "");
      const full = m && m[1] === m[2];
      targetRows.push([
        `Baton fully cached rerun <= ${RERUN_TARGET.seconds} s`,
        sh.name,
        b.status === "ok" ? `${fmt(b.wallMs / 1000, 3)} s (${b.note ?? "cache hits unknown"})` : b.status,
        `${
          b.status !== "ok"
            ? `missed (Baton ${b.status})`
            : !full
              ? "missed (not fully cached)"
              : b.wallMs <= RERUN_TARGET.seconds * 1000
                ? "met"
                : "missed"
        }${results.quick ? " (--quick shape: indicative only)" : ""}`,
      ]);
    }
  }
  lines.push(
    '"first run s" is the run that fills the folder (Baton with its cache on); "rerun wall s" is the',
    `median over ${results.repeat} rerun${results.repeat > 1 ? "s (each listed in brackets)" : ""}. ms/task is rerun wall time / tasks.`,
    "",
  );
  if (targetRows.length) lines.push(mdTable(["target", "shape", "value", "verdict"], targetRows), "");
  return lines;
}
