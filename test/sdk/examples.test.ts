/**
 * The controller examples run as documented: `sweep.ts` and `static-sweep.ts`, against a
 * started server (found through BATON_URL) and embedded. (`crash.test.ts` runs `sweep.ts` in
 * both modes too, killed and restarted.)
 */
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { killStarted, startServer } from "../helpers/server.js";
import { EXAMPLE_DIR, exampleWorkdir, runScriptToEnd } from "./helpers.js";

afterAll(killStarted);

interface StaticResult {
  status: string;
  best: { best_lr: number; accuracy: number };
  evaluation: { test_accuracy: number };
  trained: number;
}

describe("examples/controller", () => {
  it("static-sweep.ts trains the whole grid on the embedded engine, then picks and evaluates", async () => {
    const dir = exampleWorkdir(makeProject({}));
    const { stdout } = await runScriptToEnd(path.join(EXAMPLE_DIR, "static-sweep.ts"), ["--workdir", dir]);
    const result = JSON.parse(stdout) as StaticResult;
    expect(result).toMatchObject({
      status: "succeeded",
      trained: 6,
      best: { best_lr: 0.6, accuracy: 0.9973 },
    });
    expect(result.evaluation.test_accuracy).toBe(0.9972);
  });

  it("sweep.ts and static-sweep.ts against a started server agree on the best model", async () => {
    const dir = exampleWorkdir(makeProject({}));
    const server = await startServer(dir);
    try {
      const env = { BATON_URL: server.url, BATON_TOKEN: server.token };
      const sweep = await runScriptToEnd(
        path.join(EXAMPLE_DIR, "sweep.ts"),
        ["--workdir", dir, "--threshold", "0.999"],
        env,
      );
      expect(sweep.stderr).toMatch(/sweep: server at http/);
      // Not good enough after the whole grid: the best learning rate is trained longer.
      expect(sweep.stderr).toMatch(/best accuracy 0.9973 < 0.999: training lr=0.6 four times longer/);
      const controlled = JSON.parse(sweep.stdout) as {
        best: { lr: number; epochs: number; accuracy: number };
      };
      expect(controlled.best).toMatchObject({ lr: 0.6, epochs: 160, accuracy: 0.9983 });

      const fixed = await runScriptToEnd(path.join(EXAMPLE_DIR, "static-sweep.ts"), ["--workdir", dir], env);
      const result = JSON.parse(fixed.stdout) as StaticResult;
      expect(result).toMatchObject({ status: "succeeded", best: { best_lr: 0.6 } });
    } finally {
      await server.stop();
    }
  });
});
