#!/usr/bin/env node
"use strict";
// Runs the CLI as scripts/bundle-cli.mjs bundled it (docs/architecture.md, "Start-up"), unless a
// later `tsc` build made the bundle stale; then as tsc built it, in dist/cli/.
const fs = require("node:fs");
const path = require("node:path");

const dist = path.join(__dirname, "..", "dist");
const mtime = (file) => fs.statSync(path.join(dist, file), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const argv = process.argv.slice(2);
// Commands that read or run pipelines load most of the CLI: one file, compiled code from its cache.
// The others (submit, ls, show...) load a small part: the few modules of theirs.
const PIPELINE_COMMANDS = new Set(["run", "validate", "graph", "resume", "retry"]);
/** Four times V8's default interrupt budget: how much a function runs before it is optimised. */
const OPTIMISE_LATER = 4 * 67584;
const built = mtime("cli/main.js");
const everything = () => {
  const file = mtime("bundle/main.js") >= built ? "../dist/bundle/main.js" : "../dist/cli/main.js";
  return import(file).then((m) => m.main(argv));
};
if (PIPELINE_COMMANDS.has(argv[0])) {
  // A run is over in seconds: V8's optimising compiler, on its default budget, spends more CPU
  // (on threads that compete with the tasks) than its code saves. A run long enough still gets it.
  require("node:v8").setFlagsFromString(`--interrupt-budget=${OPTIMISE_LATER}`);
}
if (PIPELINE_COMMANDS.has(argv[0]) && mtime("bundle/pipeline.cjs") >= built) {
  require("./code-cache.js").run(path.join(dist, "bundle", "pipeline.cjs")).main(argv);
} else if (argv[0] === "submit" && mtime("bundle/submit.cjs") >= built) {
  // A submit to a server in its plain forms; anything else is handed to the whole CLI.
  require("../dist/bundle/submit.cjs")
    .submitToServer(argv.slice(1))
    .then((done) => done || everything());
} else {
  everything();
}
