// Section-wise updates of bench/RESULTS.md, and helpers shared by the partial modes
// (`run.mjs --rerun-only`, `load.mjs`, `validate-scale.mjs`).
//
// A section is the text from its `## Heading` line up to the next line starting with `## ` (or
// the end of the file). A partial mode replaces only its own section and leaves every other
// byte of the file as it was; a missing section is appended at the end.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

/** Splits markdown into [{ heading, text }]: a preamble (heading null), then one per `## `. */
export function splitSections(md) {
  const lines = md.split("\n");
  const out = [{ heading: null, lines: [] }];
  for (const line of lines) {
    if (line.startsWith("## ")) out.push({ heading: line.slice(3).trim(), lines: [line] });
    else out[out.length - 1].lines.push(line);
  }
  return out.map((s) => ({ heading: s.heading, text: s.lines.join("\n") }));
}

/**
 * Returns md with the section `## heading` replaced by `body` (the text under the heading, without
 * it). The section keeps its place; when absent it is appended.
 */
export function replaceSection(md, heading, body) {
  const fresh = `## ${heading}\n\n${body.replace(/^\n+/, "").replace(/\n*$/, "\n")}`;
  const parts = splitSections(md);
  const i = parts.findIndex((p) => p.heading === heading);
  if (i < 0) return `${md.replace(/\n*$/, "\n")}\n${fresh}`;
  // fresh ends with one newline: joined with "\n", that leaves one blank line before the next
  // heading, or the file's final newline when the section is the last one.
  parts[i] = { heading, text: fresh };
  return parts.map((p) => p.text).join("\n");
}

/**
 * A full run's new text merged with the file it replaces: sections `keepOld(heading, oldText)`
 * accepts keep their old text, and sections only the old file has (written by other tools, such
 * as the e2e tests' "## Web UI") are kept, placed after the section they followed there.
 */
export function mergeSections(newMd, oldMd, keepOld) {
  const norm = (p) => ({ ...p, text: p.text.replace(/\n*$/, "\n") });
  const out = splitSections(newMd).map(norm);
  const old = splitSections(oldMd).map(norm);
  for (const [k, o] of old.entries()) {
    if (o.heading === null) continue;
    const i = out.findIndex((p) => p.heading === o.heading);
    if (i >= 0) {
      if (keepOld(o.heading, o.text)) out[i] = o;
      continue;
    }
    let at = out.length;
    for (let j = k - 1; j >= 1; j--) {
      const x = out.findIndex((p) => p.heading === old[j].heading);
      if (x >= 0) {
        at = x + 1;
        break;
      }
    }
    out.splice(at, 0, o);
  }
  return out.map((p) => p.text).join("\n");
}

/** The text under `## heading` in md (without the heading line), or null. */
export function sectionBody(md, heading) {
  const s = splitSections(md).find((p) => p.heading === heading);
  return s ? s.text.split("\n").slice(1).join("\n") : null;
}

/** Rewrites `## heading` of the file in place (creates the file if needed). */
export function updateSectionFile(file, heading, body) {
  const md = existsSync(file) ? readFileSync(file, "utf8") : "# Baton benchmark results\n";
  writeFileSync(file, replaceSection(md, heading, body));
}

export const loadText = (xs) => (xs ? xs.map((x) => x.toFixed(2)).join(", ") : "n/a");

/** The 1, 5, 15 min load averages as /proc/loadavg gives them (os.loadavg elsewhere). */
export function loadavg() {
  try {
    return readFileSync("/proc/loadavg", "utf8").trim().split(/\s+/).slice(0, 3).map(Number);
  } catch {
    return os.loadavg();
  }
}

/** Machine line used by the partial sections. */
export function machineLine() {
  const uname = spawnSync("uname", ["-srm"], { encoding: "utf8" });
  const nproc = os.availableParallelism?.() ?? os.cpus().length;
  const cpu = os.cpus()[0]?.model?.trim() ?? "unknown CPU";
  const osName = uname.status === 0 ? uname.stdout.trim() : `${os.type()} ${os.release()}`;
  return `${nproc} CPUs (${cpu}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GB memory, ${osName}, Node ${process.version}`;
}

/** "0.1.0 (git abc1234+dirty)" for the checkout at repo. */
export function batonVersion(repo) {
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
  const git = spawnSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
  const dirty = spawnSync("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"], {
    encoding: "utf8",
  });
  const rev = git.status === 0 ? ` (git ${git.stdout.trim()}${dirty.stdout.trim() ? "+dirty" : ""})` : "";
  return `${pkg}${rev}`;
}

/** Header lines every partial section starts with: when, where, how loaded the machine was. */
export function runLines({ command, startedAt, durationS, loadStart, loadEnd, baton, extra = [] }) {
  const busy = (loadStart?.[0] ?? 0) > 0.5;
  return [
    `- Updated by \`${command}\` on ${startedAt}; took ${durationS.toFixed(0)} s`,
    `- Machine: ${machineLine()}`,
    ...(baton ? [`- Baton: ${baton}`] : []),
    ...extra,
    `- Load average (1, 5, 15 min) before: ${loadText(loadStart)}; after: ${loadText(loadEnd)}${busy ? " — **other processes were using the CPUs: figures are noisy**" : ""}`,
  ];
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The q-quantile (0..1) of xs, nearest rank. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const mdCell = (s) => String(s).replaceAll("|", "\\|").replaceAll("\n", " ");

export function mdTable(header, rows) {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ].join("\n");
}
