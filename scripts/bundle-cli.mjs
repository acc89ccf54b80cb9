/**
 * Bundles the built CLI (dist/cli/main.js) and the task launcher (dist/executors/launcher.js)
 * into dist/bundle/, the code bin/baton.js runs: a few files instead of some 300 modules makes
 * every command start faster (docs/architecture.md, "Start-up"). Code that is imported lazily
 * (the server, the Slurm and agent executors, the remote client) stays in chunks of its own,
 * loaded only when used. Run by `npm run build` after tsc; bin/baton.js falls back to dist/cli/
 * when the bundle is missing or older than dist/cli/main.js (a tsc-only rebuild).
 *
 * Bundled: the small pure-JavaScript packages on the start-up path. Left to node_modules: the
 * native better-sqlite3 and the packages only the server or a PostgreSQL store loads.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUNDLED = new Set(["commander", "yaml", "zod", "picomatch"]);
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const external = Object.keys(pkg.dependencies ?? {})
  .filter((name) => !BUNDLED.has(name))
  .flatMap((name) => [name, `${name}/*`]);

const outdir = path.join(root, "dist", "bundle");
fs.rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: [path.join(root, "dist/cli/main.js"), path.join(root, "dist/executors/launcher.js")],
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outdir,
  // Flat: the spawner finds launcher.js beside itself, and dist/bundle/ is as deep as dist/server/
  // (whose web UI path is relative to the module).
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  external,
  // Bundled CommonJS (commander) calls require for Node's own modules.
  banner: {
    js: "import { createRequire as __batonRequire } from 'node:module'; const require = __batonRequire(import.meta.url);",
  },
  logLevel: "warning",
  legalComments: "none",
  metafile: true,
});
// Which modules each file holds (test/integration/startup-modules.test.ts reads it); never loaded.
fs.writeFileSync(path.join(outdir, "metafile.json"), JSON.stringify(result.metafile));
