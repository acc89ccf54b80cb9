import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";

describe("engines sharing one folder's store", () => {
  it("two `baton run` at once never run more tasks of a pool than its slots, and both succeed", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pools:
  gpu: { slots: 1 }
pipelines:
  p:
    nodes:
      train:
        pool: gpu
        foreach: [1, 2, 3]
        run: |
          echo "start $(date +%s%N)" >> "${"$"}{{ params.log }}"
          sleep 0.3
          echo "end $(date +%s%N)" >> "${"$"}{{ params.log }}"
    params:
      log: { type: string }
`,
    });
    const log = path.join(dir, "events.log");
    const [a, b] = await Promise.all([
      runJson(["-p", `log=${log}`, "--no-cache"], dir),
      runJson(["-p", `log=${log}`, "--no-cache"], dir),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.json.run.status).toBe("succeeded");
    expect(b.json.run.status).toBe("succeeded");
    const events = fs
      .readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((line) => {
        const [kind, at] = line.split(" ");
        return { kind: kind!, at: BigInt(at!) };
      });
    expect(events).toHaveLength(12);
    // Lines are appended as they happen: with one slot, every start follows the previous end.
    let running = 0;
    for (const e of events) {
      running += e.kind === "start" ? 1 : -1;
      expect(running, fs.readFileSync(log, "utf8")).toBeLessThanOrEqual(1);
      expect(running).toBeGreaterThanOrEqual(0);
    }
    // `baton pools` counts the store's holders: none once both runs ended.
    const pools = await runBaton(["pools"], dir);
    expect(pools.code, pools.stderr).toBe(0);
    expect(pools.stdout).toMatch(/gpu\s+local\s+1\s+0\s+-/);
  }, 120_000);

  it("resume of a run another engine still drives is refused, naming that engine; once it is killed, resume works at once", async () => {
    // The task runs until the test lets it end (a loaded machine may take seconds per CLI call).
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      slow:
        run: while [ ! -e go ]; do sleep 0.1; done; echo done > "$BATON_OUTPUT_DIR/out.txt"
`,
    });
    const first = startBaton(["run"], dir);
    const firstEnd = collect(first);
    let runId = "";
    for (let i = 0; i < 200 && !runId; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const ls = await runBaton(["ls", "--json"], dir);
      if (ls.code === 0) runId = (JSON.parse(ls.stdout) as Array<{ id: string }>)[0]?.id ?? "";
    }
    expect(runId).toMatch(/^(run|task)_/); // a task id names its run too
    const refused = await runBaton(["resume", runId], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`still driven by a live engine eng_\\w+ \\(pid ${first.pid} on host ${os.hostname()}\\)`),
    );
    first.kill("SIGKILL");
    await firstEnd;
    fs.writeFileSync(path.join(dir, "go"), "");
    // Same machine, process gone: no need to wait for the lease to expire.
    const resumed = await runBaton(["resume", runId], dir, { BATON_ENGINE_LEASE_MS: "600000" });
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 120_000);
});
