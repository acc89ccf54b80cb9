import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * scripts/prepare.mjs (npm's `prepare`) builds only when something the build reads is newer than
 * its last build: the README's first `npx baton` runs `prepare` again right after `npm ci`. Run
 * here on a copy of the script in a project whose `build` only counts its runs.
 */
describe("npm prepare", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-prepare-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  fs.mkdirSync(path.join(dir, "scripts"));
  fs.mkdirSync(path.join(dir, "src"));
  fs.mkdirSync(path.join(dir, "dist"));
  fs.copyFileSync(
    path.join(import.meta.dirname, "..", "..", "scripts", "prepare.mjs"),
    path.join(dir, "scripts", "prepare.mjs"),
  );
  fs.writeFileSync(path.join(dir, "src", "a.ts"), "export const a = 1;\n");
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "p", version: "0.0.0", scripts: { build: "echo built >> builds.txt" } }),
  );
  // Made a minute ago: only what a case changes is newer than the build it backdates.
  const minuteAgo = new Date(Date.now() - 60_000);
  for (const rel of ["scripts/prepare.mjs", "scripts", "src/a.ts", "src", "package.json", "dist", "."]) {
    fs.utimesSync(path.join(dir, rel), minuteAgo, minuteAgo);
  }
  const builds = () => (fs.readFileSync(path.join(dir, "builds.txt"), "utf8").match(/built/g) ?? []).length;
  const prepare = () => {
    const r = spawnSync(process.execPath, [path.join(dir, "scripts", "prepare.mjs")], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  /** The last build thirty seconds ago: what changes now comes after it, without waiting for the clock. */
  const builtEarlier = () => {
    const earlier = new Date(Date.now() - 30_000);
    fs.utimesSync(path.join(dir, "dist", ".build-stamp"), earlier, earlier);
  };

  it("builds the first time, skips while nothing changed, and builds again after an edit or a removal", () => {
    prepare();
    expect(builds()).toBe(1);
    expect(prepare()).toContain("not building again");
    expect(builds()).toBe(1);

    builtEarlier();
    fs.writeFileSync(path.join(dir, "src", "a.ts"), "export const a = 2;\n");
    prepare();
    expect(builds()).toBe(2);
    expect(prepare()).toContain("not building again");

    // A removed file is seen through its folder's time.
    builtEarlier();
    const src = path.join(dir, "src");
    const before = fs.statSync(src).mtime;
    fs.rmSync(path.join(src, "a.ts"));
    // Only the folder tells: nothing left in it is newer than the build.
    expect(fs.readdirSync(src)).toEqual([]);
    expect(fs.statSync(src).mtime.getTime()).toBeGreaterThanOrEqual(before.getTime());
    prepare();
    expect(builds()).toBe(3);
  });
});
