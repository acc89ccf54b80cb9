// The tools compared, how to run each on a generated work folder, and where their output files
// land. Every tool gets a parallelism of 2 and runs the same bash one-liners per task.
//
// Passes: "cold" runs in a fresh folder; "rerun" runs again in the same folder right after
// (make/ninja/snakemake no-op, Baton with its cache on). Only "cold" runs unless --rerun is given.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Returns the absolute path of an executable on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

function firstLine(argv) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) return null;
  return (r.stdout || r.stderr).trim().split("\n")[0];
}

function helpMentions(argv, flag) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 60_000 });
  return `${r.stdout}${r.stderr}`.includes(flag);
}

/** Outputs of make, ninja and snakemake are plain files in the work folder. */
const plainFile = (dir, file) => {
  const p = join(dir, file);
  return existsSync(p) ? p : null;
};

/**
 * @param repo absolute path of the Baton checkout
 * @returns tool name -> { file, available(): null | reason absent, version(), argv(pass), env,
 *   locate(dir, file, stdoutText): path | null }
 */
export function defineTools(repo) {
  const batonBin = join(repo, "bin", "baton.js");
  let snakeQuiet;

  return {
    baton: {
      file: "baton.yaml",
      available: () => (existsSync(batonBin) ? null : `${batonBin} missing (run npm run build?)`),
      version: () => {
        const v = firstLine([process.execPath, batonBin, "--version"]);
        const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version;
        const git = spawnSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" });
        const dirty = spawnSync("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"], {
          encoding: "utf8",
        });
        const rev =
          git.status === 0 ? ` (git ${git.stdout.trim()}${dirty.stdout.trim() ? "+dirty" : ""})` : "";
        return `${v && /\d/.test(v) ? v : `baton ${pkg}`}${rev}`;
      },
      // --json gives the outputs' paths for validation; progress (plain) goes to stderr.
      argv: (pass, opts) => [
        process.execPath,
        batonBin,
        "run",
        "-f",
        "baton.yaml",
        ...(pass === "cold" && !opts.rerun ? ["--no-cache"] : []),
        "--json",
      ],
      env: { BATON_PROGRESS: "plain" },
      locate: (dir, file, stdoutText) => locateBaton(dir, file, stdoutText),
      // How many tasks the run answered from the cache (shown for the rerun pass).
      note: (stdoutText) => {
        try {
          const tasks = JSON.parse(stdoutText).tasks ?? [];
          return `${tasks.filter((t) => t.cached || t.status === "cached").length}/${tasks.length} cached`;
        } catch {
          return null;
        }
      },
    },
    make: {
      file: "Makefile",
      available: () => (which("make") ? null : "make not on PATH"),
      version: () => firstLine(["make", "--version"]),
      argv: () => ["make", "-j2", "-f", "Makefile"],
      env: {},
      locate: plainFile,
    },
    ninja: {
      file: "build.ninja",
      available: () => (which("ninja") ? null : "ninja not on PATH"),
      version: () => `ninja ${firstLine(["ninja", "--version"])}`,
      argv: () => ["ninja", "-j2"],
      env: {},
      locate: plainFile,
    },
    snakemake: {
      file: "Snakefile",
      available: () => (which("snakemake") ? null : "snakemake not on PATH"),
      version: () => `snakemake ${firstLine(["snakemake", "--version"])}`,
      argv: () => {
        snakeQuiet ??= helpMentions(["snakemake", "--help"], "--quiet");
        // --quiet takes optional values: keep it last.
        return ["snakemake", "--cores", "2", "-s", "Snakefile", ...(snakeQuiet ? ["--quiet"] : [])];
      },
      env: {},
      locate: plainFile,
    },
  };
}

export const TOOL_NAMES = ["baton", "make", "ninja", "snakemake"];

/** Memo of the last `baton run --json` parsed, so that the 50 checks of a shape parse it once. */
let lastJson = { dir: null, text: null, byName: null, root: null, walked: null };

/**
 * Finds an output file of a Baton run: from the `outputs` of `baton run --json` (docs/cli.md), or
 * failing that by looking for a file of that name under .baton/runs/ (outside inputs folders).
 */
function locateBaton(dir, file, stdoutText) {
  if (lastJson.text !== stdoutText || lastJson.dir !== dir) {
    lastJson = { dir, text: stdoutText, byName: null, root: null, walked: null };
    try {
      const doc = JSON.parse(stdoutText);
      const byName = new Map();
      for (const t of doc.tasks ?? []) {
        for (const p of t.outputs ?? []) byName.set(p.split("/").pop(), p);
      }
      lastJson.byName = byName;
    } catch {
      // not JSON: fall back to the folder walk
    }
  }
  const p = lastJson.byName?.get(file);
  if (p && existsSync(p)) return p;
  const root = join(dir, ".baton", "runs");
  if (lastJson.root !== root) lastJson.walked = indexFiles(root);
  lastJson.root = root;
  return lastJson.walked.get(file) ?? null;
}

/** Map file name -> path of the regular files under root, leaving out `inputs` folders. */
function indexFiles(root) {
  const found = new Map();
  if (!existsSync(root)) return found;
  const stack = [root];
  while (stack.length) {
    const d = stack.pop();
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory()) {
        if (e.name !== "inputs") stack.push(join(d, e.name));
      } else if (e.isFile() && !found.has(e.name)) {
        found.set(e.name, join(d, e.name));
      }
    }
  }
  return found;
}
