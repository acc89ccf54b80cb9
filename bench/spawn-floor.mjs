#!/usr/bin/env node
// What 1,000 tiny tasks cost with nothing around them: the floor of any executor written in
// Node, against GNU make on the same tasks.
//
//   node bench/spawn-floor.mjs [--tasks N] [--repeat N]
//
// Each of N tasks is `echo I > DIR/wI.txt`, two at a time, run five ways (four where the spawn helper was not built):
//   make -j2        a Makefile of N rules, SHELL bash -eo pipefail (as bench/shapes.mjs writes them)
//   node + bash     a bare Node loop: child_process.spawn of bash -eo pipefail -c, log file, own session
//   node + sh       the same with /bin/sh -ec (what Baton uses for such a command: docs/pipeline-file.md)
//   node + helper   the same loop, the processes started by Baton's native spawn helper
//                   (dist/native/baton-spawn, docs/architecture.md "Launcher processes"); skipped
//                   when it was not built
//   baton           `baton run` of the same fan-out (bench/shapes.mjs fan1000, without its aggregate)
// and prints the median wall time of each and its ratio to make. The gap between make and the
// bare Node loop is what spawning from Node costs (a fork of a 40 MB process per task, the
// event loop's turnaround); the gap between the loop and Baton is Baton's own bookkeeping.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SpawnHelper, helperPath } from "../dist/executors/spawn-helper.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = opt("--tasks", 1000);
const REPEAT = opt("--repeat", 3);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "baton-spawn-floor-"));
const range = Array.from({ length: N }, (_, i) => i);

/**
 * Wall milliseconds of `fn` run in the new folder `dir`. Nothing is deleted until every run is
 * timed: on ext4 without a journal a deletion slows the file creations of the next minute
 * (bench/aside.mjs).
 */
async function timed(dir, fn) {
  fs.mkdirSync(dir, { recursive: true });
  const start = performance.now();
  await fn(dir);
  return performance.now() - start;
}

function makeRun(dir) {
  const rules = [
    "SHELL := /bin/bash",
    ".SHELLFLAGS := -eo pipefail -c",
    ".SUFFIXES:",
    `all: ${range.map((i) => `w${i}.txt`).join(" ")}`,
    "",
  ];
  for (const i of range) rules.push(`w${i}.txt:\n\techo ${i} > w${i}.txt\n`);
  fs.writeFileSync(path.join(dir, "Makefile"), rules.join("\n"));
  const r = spawnSync("make", ["-s", "-j2"], { cwd: dir, stdio: "ignore" });
  if (r.status !== 0) throw new Error(`make failed in ${dir}`);
}

/**
 * Runs N tasks two at a time: `start(i, out, ended, fail)` starts task i, whose folder `out`
 * exists, and calls `ended(code)` when it ends, or `fail(err)` when it could not start.
 */
function twoAtATime(dir, start) {
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const one = () => {
      if (next >= N) return;
      const i = next++;
      const out = path.join(dir, `t${i}`);
      fs.mkdirSync(out);
      start(
        i,
        out,
        (code) => {
          if (code !== 0) return reject(new Error(`task ${i} exited ${code}`));
          if (++done === N) resolve();
          else one();
        },
        reject,
      );
    };
    one();
    one();
  });
}

/** Each task in its own session with its own log file, as Baton's launcher starts them. */
function nodeRun(dir, shell) {
  return twoAtATime(dir, (i, out, ended, fail) => {
    const log = fs.openSync(path.join(out, "log"), "a");
    const command = `echo ${i} > "$OUT/w${i}.txt"`;
    const argv =
      shell === "bash" ? ["/bin/bash", "-eo", "pipefail", "-c", command] : ["/bin/sh", "-ec", command];
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, OUT: out },
      stdio: ["ignore", log, log],
      detached: true,
    });
    fs.closeSync(log);
    child.on("error", fail);
    child.on("exit", ended);
  });
}

/** The same, each process started by the spawn helper instead of Node's spawn. */
async function helperRun(dir) {
  const helper = await SpawnHelper.start(helperPath(), (why) => {
    throw new Error(why);
  });
  await twoAtATime(dir, (i, out, ended, fail) => {
    // The helper creates the log (as the Node loop above does); no folder, no state files.
    helper.start(
      {
        file: "/bin/sh",
        args: ["-ec", `echo ${i} > "$OUT/w${i}.txt"`],
        cwd: dir,
        env: { OUT: out },
        logPath: path.join(out, "log"),
        stateFiles: [],
        modes: { dir: 0o700, file: 0o600 },
      },
      {
        onStarted: () => undefined,
        onFailed: (message) => fail(new Error(message)),
        onExited: ended,
      },
    );
  });
  helper.close();
}

function batonRun(dir) {
  const yaml = [
    "version: 1",
    "pools:",
    "  local: { slots: 2 }",
    "pipelines:",
    "  floor:",
    "    nodes:",
    "      work:",
    `        foreach: [${range.join(", ")}]`,
    `        run: ${JSON.stringify('echo ${{ item }} > "$BATON_OUTPUT_DIR/w${{ item }}.txt"')}`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(dir, "baton.yaml"), yaml);
  const r = spawnSync(
    process.execPath,
    [path.join(repo, "bin", "baton.js"), "run", "-f", "baton.yaml", "--no-cache"],
    {
      cwd: dir,
      stdio: "ignore",
      env: { ...process.env, BATON_PROGRESS: "plain" },
    },
  );
  if (r.status !== 0) throw new Error(`baton run failed in ${dir}`);
}

const ways = {
  "make -j2": (dir) => makeRun(dir),
  "node + bash": (dir) => nodeRun(dir, "bash"),
  "node + sh": (dir) => nodeRun(dir, "sh"),
  ...(helperPath() ? { "node + helper": (dir) => helperRun(dir) } : {}),
  baton: (dir) => batonRun(dir),
};
const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r < REPEAT; r++) {
  for (const [name, fn] of Object.entries(ways))
    times[name].push(await timed(path.join(work, `${name.replace(/\W+/g, "-")}-${r}`), fn));
}
fs.rmSync(work, { recursive: true, force: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const make = median(times["make -j2"]);
console.log(
  `${N} tasks \`echo I > wI.txt\`, two at a time; median of ${REPEAT}; load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(", ")}`,
);
console.log("| way | wall | per task | over make |");
console.log("|---|---|---|---|");
for (const [name, xs] of Object.entries(times)) {
  const m = median(xs);
  console.log(
    `| ${name} | ${(m / 1000).toFixed(2)} s | ${(m / N).toFixed(2)} ms | ${(m / make).toFixed(2)}x |`,
  );
}
