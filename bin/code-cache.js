"use strict";
/**
 * Runs a bundled CommonJS file (dist/bundle/, scripts/bundle-cli.mjs) with V8's code cache: the
 * compiled code is read from FILE.cache instead of compiling the file again, which is most of
 * what a command costs at start-up beyond Node's own. Node 20 has no compile cache of its own.
 *
 * The cache is used only if it was made from this very file (size and modification time) by
 * this Node; otherwise the file is compiled as usual and a new cache is written when the
 * process exits (atomically: processes started together may race; the last one wins).
 * BATON_CODE_CACHE=off runs without it; =refresh rewrites it at exit with everything compiled
 * so far (the build does this while warming it up).
 */
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const vm = require("node:vm");

const HEADER = 64;

function stamp(stat) {
  return `${process.version} ${process.arch} ${stat.size} ${stat.mtimeMs}`.padEnd(HEADER).slice(0, HEADER);
}

function readCache(file, expected) {
  let data;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length <= HEADER || data.toString("latin1", 0, HEADER) !== expected) return undefined;
  return data.subarray(HEADER);
}

function writeCache(file, header, script) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(header, "latin1"), script.createCachedData()]));
    fs.renameSync(tmp, file);
  } catch {
    // A read-only install, a full disk: the next command compiles again, nothing else is lost.
    fs.rmSync(tmp, { force: true });
  }
}

/** Loads FILE as a CommonJS module, with its code cache (FILE.cache); returns its exports. */
function run(file) {
  const mode = process.env.BATON_CODE_CACHE;
  const fd = fs.openSync(file, "r");
  let source;
  let header;
  try {
    header = stamp(fs.fstatSync(fd));
    source = fs.readFileSync(fd, "utf8");
  } finally {
    fs.closeSync(fd);
  }
  const cacheFile = `${file}.cache`;
  const cachedData = mode === "off" ? undefined : readCache(cacheFile, header);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (mode !== "off" && (mode === "refresh" || !cachedData || script.cachedDataRejected)) {
    process.once("exit", () => writeCache(cacheFile, header, script));
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod.loaded = true;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  return mod.exports;
}

module.exports = { run };
