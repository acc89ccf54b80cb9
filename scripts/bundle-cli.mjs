/**
 * Bundles the built CLI (dist/cli/) into dist/bundle/, the code bin/baton.js runs
 * (docs/architecture.md, "Start-up"). Two forms, for two kinds of command:
 *
 *   main.js, chunk-*.js  ES modules, split: a command loads the few files it uses (`submit`,
 *                        `ls`, `show`...); code imported lazily stays in chunks of its own.
 *                        launcher.js, the task launcher, is one of them.
 *   submit.cjs           `baton submit` to a server, in its plain forms: one small file, for
 *                        the shell loops that submit thousands of tasks (cli/submit-main.ts).
 *   pipeline.cjs         the whole CLI in one CommonJS file, for the commands that read or run
 *                        pipelines and so load most of it; with pipeline.cjs.cache, V8's code
 *                        compiled while warming it up here (bin/code-cache.js), read instead of
 *                        compiling. Node 20 has no code cache for ES modules.
 *
 * Three forms, then: each command reads the least code it can. Run by `npm run build` after tsc; bin/baton.js falls back to dist/cli/ when the bundle is
 * missing or older than dist/cli/main.js (a tsc-only rebuild). Bundled: the pure-JavaScript
 * packages on the start-up path (and better-sqlite3's JavaScript in pipeline.cjs: its native
 * addon is found from node_modules, see store/sqlite-store.ts). Left to node_modules: the
 * packages only the server, a PostgreSQL store or e-mail load.
 */
import { execFile as execFileCb } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

const execFile = promisify(execFileCb);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const externalBut = (bundled) =>
  Object.keys(pkg.dependencies ?? {})
    .filter((name) => !bundled.includes(name))
    .flatMap((name) => [name, `${name}/*`]);
const BUNDLED = ["commander", "yaml", "zod", "picomatch"];

const outdir = path.join(root, "dist", "bundle");
fs.rmSync(outdir, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  target: "node20",
  logLevel: "warning",
  legalComments: "none",
  metafile: true,
};
const split = await build({
  ...common,
  entryPoints: [path.join(root, "dist/cli/main.js"), path.join(root, "dist/executors/launcher.js")],
  splitting: true,
  format: "esm",
  outdir,
  // Flat: the spawner finds launcher.js beside itself, and dist/bundle/ is as deep as dist/server/
  // (whose web UI path is relative to the module).
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  external: externalBut(BUNDLED),
  // Bundled CommonJS (commander) calls require for Node's own modules.
  banner: {
    js: "import { createRequire as __batonRequire } from 'node:module'; const require = __batonRequire(import.meta.url);",
  },
});
await build({
  ...common,
  entryPoints: [path.join(root, "dist/cli/main.js")],
  format: "cjs",
  outfile: path.join(outdir, "pipeline.cjs"),
  // A third smaller to read (names are kept: stack traces still name the functions).
  minifyWhitespace: true,
  minifySyntax: true,
  external: externalBut([...BUNDLED, "better-sqlite3"]),
  // `import()` of a package left in node_modules becomes `require` (each has a CommonJS entry):
  // a script run by bin/code-cache.js has no module loader of its own for `import()`.
  supported: { "dynamic-import": false },
  // Modules that find files beside themselves (the launcher, the web UI) do so from dist/bundle/.
  define: { "import.meta.url": "__batonModuleUrl" },
  banner: { js: "const __batonModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
await build({
  ...common,
  entryPoints: [path.join(root, "dist/cli/submit-main.js")],
  format: "cjs",
  outfile: path.join(outdir, "submit.cjs"),
  minifyWhitespace: true,
  minifySyntax: true,
  external: externalBut(BUNDLED),
  // What it imports lazily (the embedded engine, https) is for cases it hands to the whole CLI.
  plugins: [
    {
      name: "lazy-stays-out",
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) =>
          args.kind === "dynamic-import" ? { path: args.path, external: true } : undefined,
        );
      },
    },
  ],
});
// Which modules each split file holds (test/integration/startup-modules.test.ts reads it); never loaded.
fs.writeFileSync(path.join(outdir, "metafile.json"), JSON.stringify(split.metafile));

// The code cache of pipeline.cjs: what V8 compiled while these commands ran. A command that
// finds it missing, or made by another Node, makes it again as it exits.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "baton-bundle-"));
try {
  fs.writeFileSync(
    path.join(scratch, "baton.yaml"),
    'version: 1\npipelines:\n  warm:\n    nodes:\n      hello:\n        run: "true"\n',
  );
  for (const args of [["validate"], ["run"]]) {
    await execFile(process.execPath, [path.join(root, "bin", "baton.js"), ...args], {
      cwd: scratch,
      env: { ...process.env, BATON_CODE_CACHE: "refresh", BATON_PROGRESS: "plain" },
    }).catch((err) => {
      // A bundle that cannot run is a failed build, not a slow start.
      throw new Error(`bundle check: baton ${args.join(" ")} failed: ${err.stderr || err.message}`);
    });
  }
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
