/**
 * Builds dist/native/baton-spawn from native/baton-spawn.c with the system's C compiler (`CC`,
 * default `cc`): the helper launchers start task processes with (src/executors/spawn-helper.ts).
 * Run by `npm run build`. Without a compiler, or where it fails (not Linux, an old C library),
 * this says so and succeeds: launchers then start tasks with Node's spawn, which works the same
 * and costs about a millisecond more per task.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "native", "baton-spawn.c");
const out = path.join(root, "dist", "native", "baton-spawn");
const cc = process.env.CC || "cc";

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.rmSync(out, { force: true });
const r = spawnSync(cc, ["-O2", "-Wall", "-o", out, source], { encoding: "utf8" });
if (r.status === 0) {
  console.log(`build-native: built ${path.relative(root, out)}`);
} else {
  const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split("\n").slice(0, 5).join("\n");
  console.warn(
    `build-native: could not build ${path.relative(root, out)} with ${cc} (${why}); tasks will be started with Node's spawn instead, about 1 ms more per task`,
  );
}
