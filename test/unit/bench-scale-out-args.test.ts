import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../bench/scale-out.mjs", import.meta.url));

/** Runs the bench script with args; only option errors and --help, which start nothing. */
function scaleOut(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("bench/scale-out.mjs options", () => {
  it("--help prints the usage and exits 0", () => {
    const r = scaleOut("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: node bench/scale-out.mjs");
    expect(r.stdout).toContain("--tasks N");
  });

  it("an unknown configuration is exit 2, naming it and the choices", () => {
    const r = scaleOut("--configs", "sqlite,pg3");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--configs: unknown pg3; choose from sqlite,pg1,pg2");
  });

  it("a count that is not a positive integer is exit 2, naming the option", () => {
    for (const bad of ["0", "-5", "1.5", "many"]) {
      const r = scaleOut(`--tasks=${bad}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--tasks needs a positive integer");
    }
  });

  it("an unknown option is exit 2", () => {
    const r = scaleOut("--servers", "3");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --servers");
  });
});
