import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, isAlive, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";

/** Order in which tasks ran, from the lines each appended to a shared log. */
function ranOrder(dir: string): string[] {
  const file = path.join(dir, "ran.log");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
}

describe("needs conditions: success, failure, always and skip propagation", () => {
  const yaml = `
version: 1
pipelines:
  p:
    nodes:
      build:
        run: echo build >> ran.log; exit 3
      test:
        needs: [build]
        run: echo test >> ran.log
      deploy:
        needs: { test: success }
        run: echo deploy >> ran.log
      alert:
        needs: { build: failure }
        run: echo alert >> ran.log
      cleanup:
        needs: { test: always }
        run: echo cleanup >> ran.log
      report:
        needs: { build: always, alert: success }
        run: echo report >> ran.log
      on-green:
        needs: { build: success }
        run: echo on-green >> ran.log
`;

  it("runs failure and always branches, skips success branches, and exits 1", async () => {
    const dir = makeProject({ "baton.yaml": yaml });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.json.run.status).toBe("failed");
    const status = Object.fromEntries(r.json.tasks.map((t) => [t.name, t.status]));
    expect(status).toEqual({
      build: "failed",
      test: "skipped",
      deploy: "skipped", // a skip propagates through `success`
      alert: "succeeded", // `failure` runs after a failure
      cleanup: "succeeded", // ... but not through `always`
      report: "succeeded",
      "on-green": "skipped",
    });
    expect(r.byName("build").exitCode).toBe(3);
    const order = ranOrder(dir);
    expect(order[0]).toBe("build");
    expect(order.indexOf("report")).toBeGreaterThan(order.indexOf("alert"));
    expect(order.sort()).toEqual(["alert", "build", "cleanup", "report"]);
  });

  it("the same pipeline with a green build runs success branches and skips failure ones, exit 0", async () => {
    const dir = makeProject({ "baton.yaml": yaml.replace("exit 3", "true") });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const status = Object.fromEntries(r.json.tasks.map((t) => [t.name, t.status]));
    expect(status).toMatchObject({
      build: "succeeded",
      test: "succeeded",
      deploy: "succeeded",
      alert: "skipped",
      cleanup: "succeeded",
      report: "skipped",
      "on-green": "succeeded",
    });
    expect(ranOrder(dir).indexOf("deploy")).toBeGreaterThan(ranOrder(dir).indexOf("test"));
  });

  it("an `if:` that is false skips the task, and the run still succeeds", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    params: { deploy: { type: bool, default: false } }
    nodes:
      ship:
        if: \${{ params.deploy }}
        run: echo ship >> ran.log
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(0);
    expect(r.byName("ship").status).toBe("skipped");
    const r2 = await runJson(["-p", "deploy=true"], dir);
    expect(r2.byName("ship").status).toBe("succeeded");
  });
});

describe("retries, timeouts, pools and cancellation with real processes", () => {
  it("retries a failing task with a new attempt each time and keeps every attempt's log", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      flaky:
        retries: { limit: 2, backoff: 100ms }
        run: |
          n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
          echo "attempt $n"
          [ "$n" -ge 3 ]
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const t = r.byName("flaky");
    expect(t).toMatchObject({ status: "succeeded", attempts: 3, exitCode: 0 });
    const show = JSON.parse((await runBaton(["show", t.id, "--json"], dir)).stdout);
    expect(
      show.attemptsDetail.map((a: { status: string; exitCode: number }) => [a.status, a.exitCode]),
    ).toEqual([
      ["failed", 1],
      ["failed", 1],
      ["succeeded", 0],
    ]);
    const logs = await runBaton(["logs", t.id], dir);
    expect(logs.stdout).toBe("attempt 3\n");
  });

  it("kills a task that runs past its timeout, with everything it started", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      slow:
        timeout: 1s
        run: sleep 60 & echo $! > child.pid; echo $$ > shell.pid; wait
`,
    });
    const started = Date.now();
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const t = r.byName("slow");
    expect(t.status).toBe("failed");
    const show = await runBaton(["show", t.id], dir);
    expect(show.stdout).toMatch(/timeout: timed out after 1s/);
    for (const f of ["child.pid", "shell.pid"])
      expect(isAlive(Number(fs.readFileSync(path.join(dir, f), "utf8")))).toBe(false);
  });

  it("runs no more tasks at once than the pool has slots", async () => {
    const dir = makeProject({ "baton.yaml": twoSlotFanOut(6, "sleep 0.3") });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(concurrency(dir, r.json.run.id).peak).toBe(2);
  });

  it("runs no more tasks at once than the pool has slots when tasks are short (started ahead of their slot)", async () => {
    const dir = makeProject({ "baton.yaml": twoSlotFanOut(80, "true") });
    // Started ahead even on a loaded machine.
    const r = await runJson([], dir, { BATON_START_AHEAD_MS: "1000" });
    expect(r.code, r.stderr).toBe(0);
    const { starts, peak } = concurrency(dir, r.json.run.id);
    expect(starts).toBe(80);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it("a task started ahead of its slot that waits for a long task shows as queued, then runs after it", async () => {
    const items = Array.from({ length: 12 }, (_, i) => i + 1).join(", ");
    const dir = makeProject({
      "baton.yaml": `
version: 1
pools:
  local: { slots: 1 }
pipelines:
  p:
    nodes:
      short:
        foreach: [${items}]
        run: if [ \${{ item }} = 12 ]; then sleep 2; fi; echo "short\${{ item }} $(date +%s%N)" >> "$BATON_PIPELINE_DIR/ends"
      after:
        run: echo "after $(date +%s%N)" >> "$BATON_PIPELINE_DIR/starts"
`,
    });
    // Short enough to be started ahead even on a loaded machine.
    const r = await runJson([], dir, { BATON_PROGRESS: "plain", BATON_START_AHEAD_MS: "1000" });
    expect(r.code, r.stderr).toBe(0);
    // Started ahead behind the 2-second task: after a second it says why it waits.
    expect(r.stderr).toMatch(/after queued: waiting for a slot of pool local/);
    const shared = path.join(dir, ".baton/runs", r.json.run.id, "shared");
    const ends = fs.readFileSync(path.join(shared, "ends"), "utf8").trim().split("\n");
    const long = BigInt(ends.find((l) => l.startsWith("short12 "))!.split(" ")[1]!);
    const after = BigInt(fs.readFileSync(path.join(shared, "starts"), "utf8").trim().split(" ")[1]!);
    expect(after > long).toBe(true);
  });

  it("runs higher-priority nodes first when they wait for the same slot", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pools:
  local: { slots: 1 }
  side: { slots: 1 }
pipelines:
  p:
    nodes:
      first: { run: echo first >> ran.log; sleep 1.5 }
      start: { run: sleep 0.3, pool: side }
      low: { run: echo low >> ran.log, needs: [start] }
      mid: { run: echo mid >> ran.log, priority: 5, needs: [start] }
      high: { run: echo high >> ran.log, priority: 10, needs: [start] }
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    // `first` takes the only slot; the others become ready while it runs (once `start`, in
    // another pool, has ended), wait for that slot, and then go by priority.
    expect(ranOrder(dir)).toEqual(["first", "high", "mid", "low"]);
  });

  it("Ctrl-C cancels running tasks, leaves no process behind and exits 130", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      long:
        foreach: [1, 2]
        run: echo $$ >> pids; sleep 60
      after:
        needs: [long]
        run: echo after >> ran.log
`,
    });
    const child = startBaton(["run", "--json"], dir);
    const done = collect(child);
    for (
      let i = 0;
      i < 100 &&
      !(
        fs.existsSync(path.join(dir, "pids")) &&
        fs.readFileSync(path.join(dir, "pids"), "utf8").trim().split("\n").length === 2
      );
      i++
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    const json = JSON.parse(r.stdout);
    expect(json.run.status).toBe("cancelled");
    expect(json.tasks.map((t: { status: string }) => t.status)).toEqual([
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    for (const pid of fs.readFileSync(path.join(dir, "pids"), "utf8").trim().split("\n"))
      expect(isAlive(Number(pid))).toBe(false);
    expect(fs.existsSync(path.join(dir, "ran.log"))).toBe(false);
  });
});

/** From the `start`/`end` lines tasks appended to the run's shared `events` file: how many started, and most at once. */
function concurrency(dir: string, runId: string): { starts: number; peak: number } {
  const events = fs
    .readFileSync(path.join(dir, ".baton/runs", runId, "shared/events"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .map(([kind, t]) => ({ kind: kind!, t: BigInt(t!) }))
    .sort((a, b) => (a.t < b.t ? -1 : 1));
  let running = 0;
  let peak = 0;
  for (const e of events) {
    running += e.kind === "start" ? 1 : -1;
    peak = Math.max(peak, running);
  }
  return { starts: events.filter((e) => e.kind === "start").length, peak };
}

/** `n` tasks in a pool of 2 slots, each noting its start and end in the run's shared `events` file around `work`. */
function twoSlotFanOut(n: number, work: string): string {
  const items = Array.from({ length: n }, (_, i) => i).join(", ");
  return `
version: 1
pools:
  local: { slots: 2 }
pipelines:
  p:
    nodes:
      work:
        foreach: [${items}]
        run: echo "start $(date +%s%N)" >> "$BATON_PIPELINE_DIR/events"; ${work}; echo "end $(date +%s%N)" >> "$BATON_PIPELINE_DIR/events"
`;
}
