import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const LOADER = path.resolve(__dirname, "..", "..", "bin", "code-cache.js");

/** Runs FILE through the code-cache loader in a new Node, and returns what it printed. */
function runThroughCache(file: string, env: Record<string, string> = {}): string {
  const script = `require(${JSON.stringify(LOADER)}).run(${JSON.stringify(file)}).main();`;
  return execFileSync(process.execPath, ["-e", script], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

describe("bin/code-cache.js: a bundle run with V8's code cache", () => {
  it("writes the cache on the first run, uses it after, and never runs stale code from it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-code-cache-"));
    const file = path.join(dir, "bundle.cjs");
    const version = (n: number) =>
      `exports.main = () => process.stdout.write("version ${n} " + __filename + " " + typeof require("node:fs").statSync);\n`;
    fs.writeFileSync(file, version(1));
    expect(runThroughCache(file)).toBe(`version 1 ${file} function`);
    expect(fs.existsSync(`${file}.cache`)).toBe(true);
    expect(runThroughCache(file)).toBe(`version 1 ${file} function`);

    // Rebuilt with the same length: V8 would take the old cache for it; its stamp does not.
    fs.writeFileSync(file, version(2));
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    expect(runThroughCache(file)).toBe(`version 2 ${file} function`);
    expect(runThroughCache(file)).toBe(`version 2 ${file} function`);

    // A damaged cache is compiled around, and replaced.
    fs.writeFileSync(`${file}.cache`, "not a cache");
    expect(runThroughCache(file)).toBe(`version 2 ${file} function`);
    expect(fs.statSync(`${file}.cache`).size).toBeGreaterThan(100);

    // BATON_CODE_CACHE=off neither reads nor writes it.
    fs.rmSync(`${file}.cache`);
    expect(runThroughCache(file, { BATON_CODE_CACHE: "off" })).toBe(`version 2 ${file} function`);
    expect(fs.existsSync(`${file}.cache`)).toBe(false);
  });
});
