/**
 * `Baton.connect()` with no server: an engine embedded in the test process, its API on a
 * loopback port, state in the project's `.baton/`.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Baton, BatonError, pipeline } from "../../dist/index.js";
import { makeProject } from "../helpers/cli.js";
import { waitFor } from "../helpers/server.js";
import { FLOW_FILES, cancelFlow, cloneFlow, runPipelineFlow } from "./client-flow.js";
import { storedTasks } from "./helpers.js";

const YAML = `version: 1
pipelines:
  named:
    params: { who: { type: string, default: world } }
    nodes:
      hello:
        run: echo "hello \${{ params.who }}"
`;

describe("an embedded engine", () => {
  let dir: string;
  let baton: Baton;
  beforeAll(async () => {
    dir = makeProject({ ...FLOW_FILES, "baton.yaml": YAML });
    baton = await Baton.connect({ workdir: dir, env: {} });
  });
  afterAll(async () => {
    await baton?.close();
  });

  it("starts in-process with its state in the project's .baton/", () => {
    expect(baton.mode).toBe("embedded");
    expect(baton.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(baton.workdir).toBe(dir);
    expect(fs.existsSync(path.join(dir, ".baton", "baton.db"))).toBe(true);
  });

  it("runs a pipeline built in code, then gives its tasks, metrics, outputs and logs", async () => {
    await runPipelineFlow(baton);
  });

  it("submits a template and clones it with overrides, once per idempotency key", async () => {
    await cloneFlow(baton);
  });

  it("cancels a task; a failed run is a result, not an exception", async () => {
    await cancelFlow(baton);
  });

  it("runs a pipeline of the project's baton.yaml by name, with params", async () => {
    const run = await baton.run("named", { params: { who: "sdk" } });
    expect((await run.wait()).status).toBe("succeeded");
    const [hello] = await run.tasks();
    expect(await hello!.log()).toMatch(/hello sdk/);
  });

  it("refuses unknown params, with the server's words", async () => {
    const p = pipeline("typed").params({ n: 1 }).step("a", { run: "echo ${{ params.n }}" });
    await expect(baton.run(p, { params: { m: 2 } })).rejects.toThrow(/no param "m"/);
    await expect(baton.run(p, { params: { n: "two" } })).rejects.toBeInstanceOf(BatonError);
    await expect(baton.run("named", { stepByStep: true })).rejects.toThrow(
      /only a pipeline built with pipeline\(\)/,
    );
  });
});

describe("closing an embedded connection", () => {
  it("cancels what still runs and stops the engine", async () => {
    const dir = makeProject({});
    const baton = await Baton.connect({ workdir: dir, env: {} });
    const task = await baton.submit({ command: "sleep 30" });
    await waitFor("the task to run", async () =>
      (await task.refresh()).status === "running" ? true : undefined,
    );
    await baton.close();
    await expect(baton.task(task.id)).rejects.toThrow(/closed/);
    const [row] = await storedTasks(dir);
    expect(row?.status).toBe("cancelled");
  });

  it("with embedded: false and no server, connect says how to get one", async () => {
    const dir = makeProject({});
    await expect(Baton.connect({ workdir: dir, env: {}, embedded: false })).rejects.toThrow(
      /no Baton server found/,
    );
  });
});
