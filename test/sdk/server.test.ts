/**
 * `Baton.connect()` against `baton server` started as a real process: found through
 * `BATON_URL`/`BATON_TOKEN` or through `.baton/server.json`, the same flows as embedded.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Baton, pipeline } from "../../dist/index.js";
import { makeProject } from "../helpers/cli.js";
import { type Server, killStarted, startServer } from "../helpers/server.js";
import { FLOW_FILES, cancelFlow, cloneFlow, runPipelineFlow } from "./client-flow.js";
import { REPO } from "./helpers.js";

describe("a started server", () => {
  let dir: string;
  let server: Server;
  let baton: Baton;
  beforeAll(async () => {
    dir = makeProject(FLOW_FILES);
    server = await startServer(dir);
    baton = await Baton.connect({ workdir: dir, env: { BATON_URL: server.url, BATON_TOKEN: server.token } });
  });
  afterAll(async () => {
    await baton?.close();
    await server?.stop();
    killStarted();
  });

  it("is used when BATON_URL and BATON_TOKEN name it", () => {
    expect(baton.mode).toBe("server");
    expect(baton.url).toBe(server.url);
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

  it("is found through .baton/server.json from the project folder or below", async () => {
    fs.mkdirSync(`${dir}/sub/folder`, { recursive: true });
    const found = await Baton.connect({ workdir: `${dir}/sub/folder`, env: {} });
    try {
      expect(found.mode).toBe("server");
      expect(found.url).toBe(server.url);
      const t = await found.submit({ command: "echo via discovery" });
      expect((await t.wait()).status).toBe("succeeded");
    } finally {
      await found.close();
    }
    // Closing a client leaves the server running.
    expect((await baton.task((await baton.tasks()).at(-1)!.id)).status).toBe("succeeded");
  });

  it("a controller run as a task talks to its engine and nests what it submits under the task", async () => {
    const tsx = path.join(REPO, "node_modules", ".bin", "tsx");
    const script = path.join(REPO, "test", "sdk", "fixtures", "in-task.ts");
    const p = pipeline("nested-controller").step("controller", {
      run: `${tsx} ${script} > "$BATON_OUTPUT_DIR/result.json"`,
    });
    const run = await baton.run(p);
    expect((await run.wait()).status).toBe("succeeded");
    const [task] = await run.tasks();
    const result = JSON.parse((await task!.readOutput("result.json")).toString()) as Record<string, string>;
    expect(result.mode).toBe("server");
    expect(result.key).toBe(`task:${task!.id}:in-task`);
    const child = await baton.task(result.child!);
    expect((await child.refresh()).parent).toBe(task!.id);
    expect(await child.log()).toMatch(/child of child/);
  });

  it("reads a metric's series, and finds tasks by name and label, newest first", async () => {
    const command = `for i in 1 2 3; do echo "{\\"step\\": $i, \\"loss\\": 0.$(( 10 - i ))}" >> "$BATON_METRICS"; done`;
    const first = await baton.submit({ command, name: "curve", labels: { sweep: "ts" } });
    await first.wait();
    const second = await baton.submit({ command: "true", name: "curve", labels: { sweep: "other" } });
    await second.wait();
    expect((await first.metricSeries("loss")).map((p) => [p.step, p.value])).toEqual([
      [1, 0.9],
      [2, 0.8],
      [3, 0.7],
    ]);
    expect(await first.metricSeries("nothing")).toEqual([]);
    expect(await first.metrics()).toEqual({ step: 3, loss: 0.7 });
    expect((await baton.tasks({ name: "curve" })).map((t) => t.id)).toEqual([second.id, first.id]);
    expect((await baton.tasks({ name: "curve", label: ["sweep=ts"] })).map((t) => t.id)).toEqual([first.id]);
  });

  it("keeps the server's error code: an unknown id is STORE_NOT_FOUND, an ended task's cancel STATE_CONFLICT", async () => {
    await expect(baton.task("0000000000")).rejects.toMatchObject({ code: "STORE_NOT_FOUND" });
    const t = await baton.submit({ command: "true" });
    expect((await t.wait()).status).toBe("succeeded");
    const res = await fetch(`${server.url}/api/v1/tasks/${t.id}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.token}` },
    });
    expect(res.status).toBe(409);
    const { ApiClient } = await import("../../dist/client/api-client.js");
    const client = new ApiClient({ url: server.url, token: server.token });
    await expect(client.post(`/tasks/${t.id}/cancel`)).rejects.toMatchObject({ code: "STATE_CONFLICT" });
  });

  it("a workdir that does not exist is refused at connect", async () => {
    await expect(Baton.connect({ workdir: `${dir}/nowhere`, env: {} })).rejects.toThrow(/does not exist/);
  });

  it("a wrong token fails at connect, saying so", async () => {
    await expect(Baton.connect({ url: server.url, token: "wrong", env: {} })).rejects.toThrow(
      /refused the token/,
    );
  });
});
