#!/usr/bin/env node
// The bundled CLI (scripts/bundle-cli.mjs), unless a later `tsc` build made it stale.
import fs from "node:fs";

const mtime = (file) => fs.statSync(new URL(file, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? -1;
const bundled = mtime("../dist/bundle/main.js") >= mtime("../dist/cli/main.js");
import(bundled ? "../dist/bundle/main.js" : "../dist/cli/main.js").then((m) => m.main(process.argv.slice(2)));
