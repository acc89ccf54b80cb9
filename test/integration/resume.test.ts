import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { collect, isAlive, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("retry: new attempts in the same run, successes kept", () => {
  it("retry --failed-only reruns the failed task and what it skipped, not the successes", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      good:
        run: echo good >> ran.log
      flaky:
        run: echo flaky >> ran.log; test -f fixed
      after:
        needs: [flaky, good]
        run: echo after >> ran.log
`,
    });
    const first = await runJson([], dir);
    expect(first.code).toBe(1);
    expect(first.byName("after").status).toBe("skipped");
    fs.writeFileSync(path.join(dir, "fixed"), "");
    const retry = await runBaton(["retry", first.json.run.id, "--failed-only", "--json"], dir);
    expect(retry.code, retry.stderr).toBe(0);
    const json = JSON.parse(retry.stdout);
    expect(json.run).toMatchObject({ id: first.json.run.id, status: "succeeded" });
    const byName = Object.fromEntries(json.tasks.map((t: { name: string }) => [t.name, t]));
    expect(byName.good).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(byName.flaky).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(byName.after).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(fs.readFileSync(path.join(dir, "ran.log"), "utf8").trim().split("\n").sort()).toEqual([
      "after",
      "flaky",
      "flaky",
      "good",
    ]);
    // Both attempts of flaky are kept, the first one still failed.
    const show = JSON.parse((await runBaton(["show", byName.flaky.id, "--json"], dir)).stdout);
    expect(show.attemptsDetail.map((a: { status: string }) => a.status)).toEqual(["failed", "succeeded"]);
  });
});

describe("retry of a run whose results were reused from cache", () => {
  it("gives the tasks folders of their own and leaves the earlier run's outputs alone", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      make:
        run: echo made >> ran.log; echo out > "$BATON_OUTPUT_DIR/out.txt"
`,
    });
    const first = await runJson([], dir);
    const cached = await runJson([], dir);
    expect(cached.byName("make").status).toBe("cached");
    const retry = await runBaton(["retry", cached.json.run.id, "--json"], dir);
    expect(retry.code, retry.stderr).toBe(0);
    const task = JSON.parse(retry.stdout).tasks[0];
    expect(task.status).toBe("succeeded");
    expect(task.outputDir).not.toBe(first.byName("make").outputDir);
    expect(fs.readFileSync(first.byName("make").outputs[0]!, "utf8")).toBe("out\n");
    expect(fs.readFileSync(path.join(dir, "ran.log"), "utf8")).toBe("made\nmade\n");
  });
});

describe("resume after the engine is killed: no result lost, no task run twice", () => {
  const yaml = `version: 1
pools:
  local: { slots: 2 }
pipelines:
  p:
    nodes:
      fetch:
        foreach: [1, 2, 3, 4]
        run: |
          echo "fetch\${{ item }}" >> ran.log
          sleep 0.$((RANDOM % 4 + 1))
          echo "\${{ item }}" > "$BATON_OUTPUT_DIR/part.txt"
      combine:
        needs: [fetch]
        run: |
          echo combine >> ran.log
          cat \${{ needs.fetch.outputs['part.txt'] }} | sort -n | tr '\\n' ' ' > "$BATON_OUTPUT_DIR/all.txt"
      report:
        needs: [combine]
        run: |
          echo report >> ran.log
          sleep 0.2
          wc -w < \${{ needs.combine.outputs['all.txt'] }} > "$BATON_OUTPUT_DIR/count.txt"
`;

  it("survives SIGKILL of the engine at random moments (20 rounds)", async () => {
    for (let round = 0; round < 20; round++) {
      const dir = makeProject({ "baton.yaml": yaml });
      const child = startBaton(["run"], dir);
      const done = collect(child);
      await sleep(50 + Math.floor(Math.random() * 1200));
      child.kill("SIGKILL");
      await done;
      const ls = await runBaton(["ls", "--json"], dir);
      let runId: string | undefined;
      if (ls.code === 0) runId = JSON.parse(ls.stdout)[0]?.run;
      if (runId) {
        const status = (await runBaton(["show", runId, "--json"], dir)).stdout;
        if (JSON.parse(status).run.status === "running") {
          const resumed = await runBaton(["resume", runId], dir);
          expect(resumed.code, `round ${round}: ${resumed.stderr}`).toBe(0);
        }
      } else {
        // Killed before the run was recorded: start it again.
        expect((await runBaton(["run"], dir)).code).toBe(0);
      }
      const ran = fs.readFileSync(path.join(dir, "ran.log"), "utf8").trim().split("\n").sort();
      expect(ran, `round ${round}`).toEqual(["combine", "fetch1", "fetch2", "fetch3", "fetch4", "report"]);
      const final = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout) as Array<{
        name: string;
        status: string;
        outputs: string[];
      }>;
      expect(
        final.every((t) => t.status === "succeeded"),
        `round ${round}`,
      ).toBe(true);
      const combine = final.find((t) => t.name === "combine")!;
      expect(fs.readFileSync(combine.outputs[0]!, "utf8")).toBe("1 2 3 4 ");
      const report = final.find((t) => t.name === "report")!;
      expect(fs.readFileSync(report.outputs[0]!, "utf8").trim()).toBe("4");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.each([
    {
      how: "resume adopts a task still running and waits for it instead of starting it again",
      forgetPid: false,
    },
    // The pid is written with the store's next batch of writes: as if the engine died first.
    {
      how: "resume finds a running task by its environment when the engine died before recording its pid",
      forgetPid: true,
    },
  ])("$how", async ({ forgetPid }) => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      long:
        run: echo $$ > long.pid; echo start >> ran.log; sleep 1.5; echo done > "$BATON_OUTPUT_DIR/x.txt"
`,
    });
    const child = startBaton(["run"], dir);
    const done = collect(child);
    for (let i = 0; i < 50 && !fs.existsSync(path.join(dir, "long.pid")); i++) await sleep(50);
    child.kill("SIGKILL");
    await done;
    if (forgetPid) {
      const db = new Database(path.join(dir, ".baton", "baton.db"));
      db.prepare("UPDATE attempts SET handle = NULL, pid = NULL, pid_start = NULL").run();
      db.close();
    }
    const pid = Number(fs.readFileSync(path.join(dir, "long.pid"), "utf8"));
    expect(isAlive(pid)).toBe(true); // the task outlives its engine
    const runId = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout)[0].run;
    const resumed = await runBaton(["resume", runId, "--json"], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).tasks[0]).toMatchObject({ status: "succeeded", attempts: 1 });
    // Followed, not started again.
    expect(fs.readFileSync(path.join(dir, "ran.log"), "utf8")).toBe("start\n");
  });

  describe("a pipeline: node follows its own child run", () => {
    const nested = `version: 1
pipelines:
  inner:
    nodes:
      first:
        run: echo first >> ../../../../ran.log; echo 1 > "$BATON_OUTPUT_DIR/a.txt"
      second:
        needs: [first]
        run: echo second >> ../../../../ran.log; touch ../../../../second.started; sleep 1; test -f ../../../../fixed; echo 2 > "$BATON_OUTPUT_DIR/b.txt"
  outer:
    nodes:
      sub: { pipeline: inner }
      after:
        needs: [sub]
        inputs: { parts: "\${{ needs.sub.outputs['*.txt'] }}" }
        run: cat \${{ inputs.parts }} > "$BATON_OUTPUT_DIR/all.txt"
`;
    const childRuns = async (dir: string) =>
      (await runBaton(["ls"], dir)).stdout.split("\n").filter((l) => / inner /.test(l));

    it("retry --failed-only retries the failed child run, keeping what it finished", async () => {
      const dir = makeProject({ "baton.yaml": nested.replaceAll("../../../../", "") });
      const first = await runJson(["outer"], dir);
      expect(first.code).toBe(1);
      expect(first.byName("sub").status).toBe("failed");
      fs.writeFileSync(path.join(dir, "fixed"), "");
      const retry = await runBaton(["retry", first.json.run.id, "--failed-only", "--json"], dir);
      expect(retry.code, retry.stderr).toBe(0);
      const tasks = JSON.parse(retry.stdout).tasks as Array<{
        name: string;
        status: string;
        attempts: number;
      }>;
      expect(tasks.find((t) => t.name === "sub")).toMatchObject({ status: "succeeded", attempts: 2 });
      expect(fs.readFileSync(path.join(dir, "ran.log"), "utf8").split("\n").filter(Boolean)).toEqual([
        "first",
        "second",
        "second",
      ]);
      // The same child run, now succeeded: no second one.
      expect(await childRuns(dir)).toHaveLength(1);
      expect((await childRuns(dir))[0]).toMatch(/ inner +succeeded /);
      const all = path.join(dir, ".baton", "runs", first.json.run.id);
      const found = fs
        .readdirSync(all, { recursive: true })
        .map(String)
        .find((f) => f.endsWith("all.txt"));
      expect(fs.readFileSync(path.join(all, found!), "utf8")).toBe("1\n2\n");
    });

    it("resume picks up the child run its engine left running, instead of starting another", async () => {
      const dir = makeProject({ "baton.yaml": nested.replaceAll("../../../../", ""), fixed: "" });
      const child = startBaton(["run", "outer"], dir);
      const done = collect(child);
      for (let i = 0; i < 200 && !fs.existsSync(path.join(dir, "second.started")); i++) await sleep(50);
      expect(fs.existsSync(path.join(dir, "second.started"))).toBe(true); // killed while it runs
      child.kill("SIGKILL");
      await done;
      const runId = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout)[0].run;
      const resumed = await runBaton(["resume", runId, "--json"], dir);
      expect(resumed.code, resumed.stderr).toBe(0);
      const tasks = JSON.parse(resumed.stdout).tasks as Array<{ name: string; status: string }>;
      expect(tasks.map((t) => t.status)).toEqual(["succeeded", "succeeded"]);
      // Each task ran once (the one running at the kill was adopted), in the one child run.
      expect(fs.readFileSync(path.join(dir, "ran.log"), "utf8").split("\n").filter(Boolean)).toEqual([
        "first",
        "second",
      ]);
      expect(await childRuns(dir)).toHaveLength(1);
      expect((await childRuns(dir))[0]).toMatch(/ inner +succeeded /);
    });
  });
});
