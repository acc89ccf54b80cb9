// Turns measured runs into the stdout table and bench/RESULTS.md.

export const TARGETS = {
  makeRatio: 1.5, // Baton wall <= 1.5x make's, on every shape
  snakeSpeedup: 5, // Baton >= 5x faster than snakemake, on every shape
  rssMb: 300, // Baton's peak RSS on wide10k
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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
    return {
      status: runs.length > 1 ? `${r.status} (${bad.length}/${runs.length})` : r.status,
      detail: r.detail,
    };
  }
  const wallMs = median(runs.map((r) => r.wallMs));
  const rss = runs.map((r) => r.rssKb).filter((x) => x != null);
  return {
    status: "ok",
    wallMs,
    msPerTask: wallMs / tasks,
    rssMb: rss.length === runs.length ? median(rss) / 1024 : null,
    walls: runs.map((r) => r.wallMs),
  };
}

const fmt = (x, d = 2) => (x == null ? "n/a" : x.toFixed(d));

/** Ratio cells and target checks of one shape (cold pass). */
export function ratios(shape, sum) {
  const b = sum.baton;
  const m = sum.make;
  const s = sum.snakemake;
  const ok = (x) => x && x.status === "ok";
  const out = { baton_make: null, baton_snakemake: null };
  if (ok(b) && ok(m)) out.baton_make = b.wallMs / m.wallMs;
  if (ok(b) && ok(s)) out.baton_snakemake = b.wallMs / s.wallMs;
  return out;
}

function ratioText(r, kind) {
  if (r == null) return "n/a";
  if (kind === "snakemake") return `${fmt(r)} (${r > 0 ? fmt(1 / r, 1) : "inf"}x faster)`;
  return `${fmt(r)}x`;
}

/** Target rows: { target, shape, value, verdict }. */
export function targets(results) {
  const rows = [];
  for (const sh of results.shapes) {
    const sum = sh.summary.cold;
    const r = ratios(sh, sum);
    const batonFailed = sum.baton && sum.baton.status !== "ok" && sum.baton.status !== "not run";
    const verdict = (value, good) =>
      value == null ? (batonFailed ? "missed (Baton failed)" : "n/a") : good ? "met" : "missed";
    rows.push({
      target: `Baton wall <= ${TARGETS.makeRatio}x make`,
      shape: sh.name,
      value: ratioText(r.baton_make, "make"),
      verdict: verdict(r.baton_make, r.baton_make != null && r.baton_make <= TARGETS.makeRatio),
    });
    rows.push({
      target: `Baton >= ${TARGETS.snakeSpeedup}x faster than snakemake`,
      shape: sh.name,
      value: ratioText(r.baton_snakemake, "snakemake"),
      verdict: verdict(
        r.baton_snakemake,
        r.baton_snakemake != null && 1 / r.baton_snakemake >= TARGETS.snakeSpeedup,
      ),
    });
    if (sh.key === "wide10k") {
      const b = sum.baton;
      const mb = b && b.status === "ok" ? b.rssMb : null;
      rows.push({
        target: `Baton peak RSS <= ${TARGETS.rssMb} MB`,
        shape: sh.name,
        value: mb == null ? "n/a" : `${fmt(mb, 1)} MB`,
        verdict: verdict(mb, mb != null && mb <= TARGETS.rssMb),
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
  out.push("", "Targets:");
  out.push(
    pad([
      ["target", "shape", "value", "verdict"],
      ...targets(results).map((t) => [t.target, t.shape, t.value, t.verdict]),
    ]),
  );
  return out.join("\n");
}

const mdCell = (s) => String(s).replaceAll("|", "\\|").replaceAll("\n", " ");

function mdTable(header, rows) {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ].join("\n");
}

/** The text of bench/RESULTS.md. */
export function markdown(results) {
  const m = results.machine;
  const lines = [
    "# Baton benchmark results",
    "",
    "Generated by `npm run bench` (`node bench/run.mjs`); rewritten by every full run. See `bench/README.md`",
    "for what is measured.",
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
    "",
    "Wall time is the median over repeats; a failed or wrong run is reported as such, never as a time.",
    "",
    "## Cold run (fresh folder, no cache)",
    "",
  ];
  for (const sh of results.shapes) {
    lines.push(`### ${sh.name} (${sh.tasks} tasks)`, "");
    const rows = toolRows(results, sh, "cold").map((r) =>
      r[1] === "ok" ? r.slice(0, 5) : [r[0], `**${r[1]}**: ${r[5] ?? ""}`, "-", "-", "-"],
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
    );
    for (const sh of results.shapes) {
      lines.push(`### ${sh.name} (${sh.tasks} tasks)`, "");
      const rows = toolRows(results, sh, "rerun").map((r) =>
        r[1] === "ok" ? r.slice(0, 5) : [r[0], `**${r[1]}**: ${r[5] ?? ""}`, "-", "-", "-"],
      );
      lines.push(mdTable(["tool", "result", "wall s", "ms/task", "peak RSS MB"], rows), "");
    }
  } else {
    lines.push(
      "_Not measured yet (`node bench/run.mjs --rerun` adds a no-op / cached second pass per tool)._",
      "",
    );
  }
  lines.push("## Server load", "", "_Not measured yet._", "");
  return lines.join("\n");
}
