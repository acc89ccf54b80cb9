/**
 * The SDK's published types compile in a consumer project under the project's strict settings
 * (`strict`, `noUncheckedIndexedAccess`, no `skipLibCheck`): `test/consumer/` and the examples,
 * against the built `dist/index.d.ts`; and the reference in docs/sdk.md is generated from them.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";
import { REPO } from "./helpers.js";

it("test/consumer and examples/controller type-check against the built package", () => {
  const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", path.join(REPO, "test", "consumer"), "--noEmit"], {
    cwd: REPO,
    encoding: "utf8",
  });
  expect(`${result.stdout}${result.stderr}`).toBe("");
  expect(result.status).toBe(0);
});

it("docs/sdk.md's API reference is what the TSDoc of the build says", () => {
  const result = spawnSync(process.execPath, [path.join(REPO, "scripts", "sdk-docs.mjs"), "--check"], {
    cwd: REPO,
    encoding: "utf8",
  });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
});
