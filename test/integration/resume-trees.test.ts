/**
 * Trees of submitted tasks (`baton submit`) survive their server: SIGKILL `baton server` while a
 * tree runs, start it again, and the tree finishes as if nothing happened — tasks still running
 * are adopted, exit statuses written meanwhile are taken, lost attempts are retried under
 * `--retries`, and nothing that succeeded runs twice.
 */
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BATON_BIN, collect, isAlive, makeProject, runBaton, startBaton } from "../helpers/cli.js";
import { type Server, killStarted, sleep, startServer, track, waitFor } from "../helpers/server.js";

interface TaskJson {
  id: string;
  run: string;
  name: string;
  parent: string | null;
  status: string;
  exitCode: number | null;
  attempts: number;
  outputs: string[];
}

const pids: number[] = [];
afterEach(() => {
  killStarted();
  // Task processes of a failed test must not outlive it.
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

/**
 * {@link waitFor} with a generous bound: each `baton submit` in a tree script starts a node
 * process, slow on a loaded machine.
 */
const until = <T>(what: string, check: () => T | Promise<T>) => waitFor(what, check, { timeoutMs: 90_000 });

/** A port free right now on the loopback, to start (and restart) a server on. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** `baton server --port PORT` in `dir`, once it printed its sign-in line (as generous as {@link until}). */
const startOn = (dir: string, port: number) => startServer(dir, { port, timeoutMs: 90_000 });

/** What a process started by {@link startBaton} has written to stderr so far. */
function stderrOf(child: ChildProcess): string {
  const seen = stderrSeen.get(child);
  if (seen) return seen.text;
  const fresh = { text: "" };
  stderrSeen.set(child, fresh);
  child.stderr?.on("data", (d) => {
    fresh.text += d;
  });
  return fresh.text;
}
const stderrSeen = new WeakMap<ChildProcess, { text: string }>();

/** SIGKILL, as a crash or the OOM killer would: no cleanup, `.baton/server.json` left behind. */
async function crash(server: Server): Promise<void> {
  server.child.kill("SIGKILL");
  expect((await server.exited).signal).toBe("SIGKILL");
}

async function listTasks(dir: string): Promise<TaskJson[]> {
  const ls = await runBaton(["ls", "--json"], dir);
  expect(ls.code, ls.stderr).toBe(0);
  return JSON.parse(ls.stdout) as TaskJson[];
}

function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
}

function readPid(file: string): number | undefined {
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "";
  return text ? Number(text) : undefined;
}

/** Shell that waits (at most 2 min) for the test to create `file`, then fails if it never came. */
const gate = (file: string) =>
  `for i in $(seq 2400); do [ -f ${file} ] && break; sleep 0.05; done; [ -f ${file} ]`;

const baton = `node ${JSON.stringify(BATON_BIN)}`;

/** Enough slots for every task of a tree to run at once, whatever the machine. */
const BATON_YAML = "version: 1\npools:\n  local: { slots: 8 }\n";

describe("a tree of submitted tasks survives a server crash", () => {
  it("is resumed by the restarted server: running tasks adopted, finished ones kept, each command run once", async () => {
    const tree = `#!/usr/bin/env bash
set -euo pipefail
echo tree >> ran.log
${baton} submit -n quick -- 'echo quick >> ran.log; echo Q > "$BATON_OUTPUT_DIR/quick.txt"'
${baton} submit -n after-quick --after-success quick -- 'echo after-quick >> ran.log'
${baton} submit -n long -- 'echo long >> ran.log; echo $$ > long.pid; ${gate("gate-long")}; ${baton} submit -n late -- "echo late >> ran.log"; echo L > "$BATON_OUTPUT_DIR/long.txt"'
${baton} submit -n mid -- 'echo mid >> ran.log; echo "mid log line"; ${gate("gate-mid")}; echo M > "$BATON_OUTPUT_DIR/mid.txt"; echo mid-done >> ran.log'
${baton} submit -n after-long --after-success long -- 'echo after-long >> ran.log'
${baton} submit -n after-mid --after-success mid -- 'echo after-mid >> ran.log'
echo submitted > submitted.flag
`;
    const dir = makeProject({ "baton.yaml": BATON_YAML, "tree.sh": tree });
    const ranLog = path.join(dir, "ran.log");
    const port = await freePort();
    const first = await startOn(dir, port);

    const submit = await runBaton(["submit", "-n", "tree", "--", "./tree.sh"], dir);
    expect(submit.code, submit.stderr).toBe(0);
    const treeId = submit.stdout.trim();
    expect(treeId).toMatch(/^task_[0-9A-Z]{26}$/);

    // Everything is submitted, `long` and `mid` run, and `quick`'s dependent has run.
    await until("the tree to be submitted", () => fs.existsSync(path.join(dir, "submitted.flag")));
    const longPid = await until("long to start", () => readPid(path.join(dir, "long.pid")));
    pids.push(longPid);
    await until("mid and after-quick to run", () => {
      const ran = lines(ranLog);
      return ran.includes("mid") && ran.includes("after-quick");
    });
    await crash(first);
    expect(isAlive(longPid)).toBe(true); // tasks outlive their server

    // While no server runs, `mid` ends: its shell records its exit status.
    const tasks = await listTasks(dir);
    const runId = tasks[0]!.run;
    const mid = tasks.find((t) => t.name === "mid")!;
    expect(mid.status).toBe("running");
    fs.writeFileSync(path.join(dir, "gate-mid"), "");
    const midStatus = path.join(dir, ".baton", "runs", runId, mid.id, "attempt-1.status");
    // The status file is made (empty, private) when the task starts; the shell writes its code at exit.
    await until(
      "mid to end while the server is down",
      () => fs.existsSync(midStatus) && fs.readFileSync(midStatus, "utf8").trim() !== "",
    );
    expect(fs.readFileSync(midStatus, "utf8").trim()).toBe("0");

    // The same port: adopted tasks reach the new server through the BATON_URL they were given.
    const second = await startOn(dir, port);
    expect(second.url).toBe(first.url);
    await until("the run to be resumed", () => second.stderr().includes(`resumed run ${runId}`));
    // An adopted task submits a child after the restart.
    fs.writeFileSync(path.join(dir, "gate-long"), "");

    const waited = await runBaton(["wait", treeId], dir);
    expect(waited.code, `${waited.stdout}${waited.stderr}\n${second.stderr()}`).toBe(0);
    expect(waited.stdout).toBe(`task ${treeId} tree succeeded\n`);

    // Every command ran exactly once.
    expect(lines(ranLog).sort()).toEqual(
      ["after-long", "after-mid", "after-quick", "late", "long", "mid", "mid-done", "quick", "tree"].sort(),
    );
    const final = await listTasks(dir);
    const byName = new Map(final.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(
      ["after-long", "after-mid", "after-quick", "late", "long", "mid", "quick", "tree"].sort(),
    );
    for (const t of final) {
      expect(t, t.name).toMatchObject({ status: "succeeded", exitCode: 0, attempts: 1, run: runId });
    }
    expect(byName.get("tree")!.parent).toBeNull();
    expect(byName.get("late")!.parent).toBe(byName.get("long")!.id);
    for (const name of ["quick", "long", "mid", "after-mid"])
      expect(byName.get(name)!.parent, name).toBe(treeId);
    // Outputs of adopted tasks are collected, whether they ended before or after the restart.
    const output = (name: string) => fs.readFileSync(byName.get(name)!.outputs[0]!, "utf8");
    expect(output("quick")).toBe("Q\n");
    expect(output("mid")).toBe("M\n");
    expect(output("long")).toBe("L\n");
    const logs = await runBaton(["logs", mid.id], dir);
    expect(logs.stdout).toContain("mid log line");

    const show = JSON.parse((await runBaton(["show", runId, "--json"], dir)).stdout);
    expect(show.run.status).toBe("succeeded");
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 300_000);

  it("a task that submits while the server is down waits for it to come back, then goes on", async () => {
    const tree = `#!/usr/bin/env bash
set -euo pipefail
echo tree >> ran.log
${gate("gate-submit")}
${baton} submit -n child -- 'echo child >> ran.log'
echo submitted >> ran.log
`;
    const dir = makeProject({ "baton.yaml": BATON_YAML, "tree.sh": tree });
    const ranLog = path.join(dir, "ran.log");
    const port = await freePort();
    const first = await startOn(dir, port);
    const submit = await runBaton(["submit", "-n", "tree", "--", "./tree.sh"], dir);
    expect(submit.code, submit.stderr).toBe(0);
    const treeId = submit.stdout.trim();
    await until("the tree to run", () => lines(ranLog).includes("tree"));
    await crash(first);
    // The script now submits to a server that is not there.
    fs.writeFileSync(path.join(dir, "gate-submit"), "");
    const runId = (await listTasks(dir))[0]!.run;
    const log = path.join(dir, ".baton", "runs", runId, treeId, "attempt-1.log");
    await until("the submit to wait for the server", () =>
      fs.readFileSync(log, "utf8").includes("trying again"),
    );
    const second = await startOn(dir, port);
    const waited = await runBaton(["wait", treeId], dir);
    expect(waited.code, `${waited.stdout}${waited.stderr}\n${second.stderr()}`).toBe(0);
    expect(lines(ranLog).sort()).toEqual(["child", "submitted", "tree"]);
    const child = (await listTasks(dir)).find((t) => t.name === "child")!;
    expect(child).toMatchObject({ status: "succeeded", parent: treeId, attempts: 1 });
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 300_000);

  it("reruns a task whose process died meanwhile under --retries, and fails one without retries clearly", async () => {
    const tree = `#!/usr/bin/env bash
set -euo pipefail
${baton} submit -n victim --retries 1 -- 'echo "victim-$BATON_ATTEMPT" >> ran.log; if [ "$BATON_ATTEMPT" = 1 ]; then echo $$ > victim.pid; sleep 60; fi; echo V > "$BATON_OUTPUT_DIR/v.txt"'
${baton} submit -n doomed -- 'echo doomed >> ran.log; echo $$ > doomed.pid; sleep 60'
${baton} submit -n waiter -- 'echo waiter >> ran.log; echo $$ > waiter.pid; ${gate("gate-waiter")}; ${baton} submit -n late -- "echo late >> ran.log"'
${baton} submit -n after-victim --after-success victim -- 'echo after-victim >> ran.log'
${baton} submit -n after-doomed --after-success doomed -- 'echo after-doomed >> ran.log'
${baton} submit -n on-doomed --after-fail doomed -- 'echo on-doomed >> ran.log'
echo submitted > submitted.flag
`;
    const dir = makeProject({ "baton.yaml": BATON_YAML, "tree.sh": tree });
    const ranLog = path.join(dir, "ran.log");
    // Port 0: the restarted server listens elsewhere, and tasks started before find it through
    // `.baton/server.json`.
    const first = await startOn(dir, 0);
    const submit = await runBaton(["submit", "-n", "tree", "--", "./tree.sh"], dir);
    expect(submit.code, submit.stderr).toBe(0);
    const treeId = submit.stdout.trim();
    const victimPid = await until("victim to start", () => readPid(path.join(dir, "victim.pid")));
    const doomedPid = await until("doomed to start", () => readPid(path.join(dir, "doomed.pid")));
    const waiterPid = await until("waiter to start", () => readPid(path.join(dir, "waiter.pid")));
    pids.push(victimPid, doomedPid, waiterPid);
    // Not before the script is done: a submit cut off by the crash would fail the script, and so the tree.
    await until("the tree to be submitted", () => fs.existsSync(path.join(dir, "submitted.flag")));
    await crash(first);

    // Killed hard while no server watched: no exit status is left behind.
    for (const pid of [victimPid, doomedPid]) process.kill(-pid, "SIGKILL");
    await until("victim and doomed to be gone", () => !isAlive(victimPid) && !isAlive(doomedPid));

    const second = await startOn(dir, 0);
    expect(second.url).not.toBe(first.url);
    const runId = (await listTasks(dir))[0]!.run;
    await until("the run to be resumed", () => second.stderr().includes(`resumed run ${runId}`));
    fs.writeFileSync(path.join(dir, "gate-waiter"), "");

    const waited = await runBaton(["wait", treeId], dir);
    expect(waited.code, `${waited.stdout}${waited.stderr}\n${second.stderr()}`).toBe(1);
    expect(waited.stdout).toBe(`task ${treeId} tree failed\n`);

    expect(lines(ranLog).sort()).toEqual(
      ["after-victim", "doomed", "late", "on-doomed", "victim-1", "victim-2", "waiter"].sort(),
    );
    const byName = new Map((await listTasks(dir)).map((t) => [t.name, t]));
    expect(byName.get("victim")).toMatchObject({ status: "succeeded", attempts: 2, exitCode: 0 });
    expect(fs.readFileSync(byName.get("victim")!.outputs[0]!, "utf8")).toBe("V\n");
    expect(byName.get("after-victim")).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(byName.get("doomed")).toMatchObject({ status: "failed", attempts: 1 });
    expect(byName.get("after-doomed")).toMatchObject({ status: "skipped", attempts: 0 });
    expect(byName.get("on-doomed")).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(byName.get("waiter")).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(byName.get("late")).toMatchObject({ status: "succeeded", parent: byName.get("waiter")!.id });
    expect(byName.get("tree")).toMatchObject({ status: "failed", attempts: 1 });

    // The lost attempts are kept, saying what happened.
    const victim = JSON.parse((await runBaton(["show", byName.get("victim")!.id, "--json"], dir)).stdout);
    expect(
      victim.attemptsDetail.map((a: { status: string; reason: string }) => [a.status, a.reason]),
    ).toEqual([
      ["failed", "lost"],
      ["succeeded", "exited"],
    ]);
    const doomed = await runBaton(["show", byName.get("doomed")!.id], dir);
    expect(doomed.stdout).toContain("the process is gone and left no exit status");
    const tree2 = await runBaton(["show", treeId], dir);
    expect(tree2.stdout).toContain("1 child task failed or was cancelled");
    const show = JSON.parse((await runBaton(["show", runId, "--json"], dir)).stdout);
    expect(show.run.status).toBe("failed");
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 300_000);
});

describe("submitted tasks across server crashes at random moments", () => {
  it("each command runs once and every dependency holds (5 rounds)", async () => {
    for (let round = 0; round < 5; round++) {
      const dir = makeProject({ "baton.yaml": BATON_YAML });
      const ranLog = path.join(dir, "ran.log");
      const port = await freePort();
      const first = await startOn(dir, port);
      // Top-level submissions: each is a run of its own, and `after*` links them across runs.
      const submit = async (body: Record<string, unknown>) => {
        const res = await first.api<{ ids: string[] }>("/api/v1/tasks", { cwd: dir, ...body });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        return res.body.ids;
      };
      const nap = "sleep 0.$((RANDOM % 5 + 1))";
      const ids = [
        ...(await submit({
          name: "a",
          command: `echo a >> ran.log; ${nap}; echo A > "$BATON_OUTPUT_DIR/a.txt"`,
        })),
        ...(await submit({
          name: "s",
          shards: 3,
          afterSuccess: ["a"],
          command: `echo "s$BATON_SHARD_ID" >> ran.log; ${nap}`,
        })),
        ...(await submit({ name: "b", afterSuccess: ["s"], command: `echo b >> ran.log; ${nap}` })),
        ...(await submit({ name: "c", after: ["b"], command: "echo c >> ran.log" })),
      ];

      await sleep(Math.floor(Math.random() * 1500));
      await crash(first);
      const second = await startOn(dir, port);
      const waited = await runBaton(["wait", ids.at(-1)!], dir);
      expect(waited.code, `round ${round}: ${waited.stdout}${waited.stderr}\n${second.stderr()}`).toBe(0);
      expect(lines(ranLog).sort(), `round ${round}`).toEqual(["a", "b", "c", "s0", "s1", "s2"]);
      const tasks: TaskJson[] = [];
      for (const id of ids) tasks.push(JSON.parse((await runBaton(["show", id, "--json"], dir)).stdout));
      expect(
        tasks.map((t) => `${t.name}=${t.status}`),
        `round ${round}`,
      ).toEqual([
        "a=succeeded",
        "s[0]=succeeded",
        "s[1]=succeeded",
        "s[2]=succeeded",
        "b=succeeded",
        "c=succeeded",
      ]);
      expect(fs.readFileSync(tasks[0]!.outputs[0]!, "utf8"), `round ${round}`).toBe("A\n");
      // Every run ends, not only its tasks.
      for (const runId of new Set(tasks.map((t) => t.run))) {
        const show = JSON.parse((await runBaton(["show", runId, "--json"], dir)).stdout);
        expect(show.run.status, `round ${round} run ${runId}`).toBe("succeeded");
      }
      second.child.kill("SIGTERM");
      expect((await second.exited).code).toBe(0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

describe("baton resume on trees of submitted tasks", () => {
  it("picks up a tree whose embedded engine (`baton submit` with no server) was killed", async () => {
    const tree = `#!/usr/bin/env bash
set -euo pipefail
echo tree >> ran.log
${baton} submit -n long -- 'echo long >> ran.log; echo $$ > long.pid; ${gate("gate-long")}; echo L > "$BATON_OUTPUT_DIR/long.txt"'
${baton} submit -n after-long --after-success long -- 'echo after-long >> ran.log'
echo submitted > submitted.flag
`;
    const dir = makeProject({ "baton.yaml": BATON_YAML, "tree.sh": tree });
    const ranLog = path.join(dir, "ran.log");
    const embedded = startBaton(["submit", "-n", "tree", "--", "./tree.sh"], dir);
    track(embedded);
    const embeddedDone = collect(embedded);
    await until("the tree to be submitted", () => fs.existsSync(path.join(dir, "submitted.flag")));
    const longPid = await until("long to start", () => readPid(path.join(dir, "long.pid")));
    pids.push(longPid);
    embedded.kill("SIGKILL");
    await embeddedDone;

    const tasks = await listTasks(dir);
    const runId = tasks[0]!.run;
    const treeId = tasks.find((t) => t.name === "tree")!.id;
    const resuming = startBaton(["resume", runId, "--json"], dir);
    track(resuming);
    stderrOf(resuming);
    const resumed = collect(resuming);
    await until("the tree to be resumed", () => stderrOf(resuming).includes(`run ${runId} tree`));
    fs.writeFileSync(path.join(dir, "gate-long"), "");
    const result = await resumed;
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { run: { id: string; status: string }; tasks: TaskJson[] };
    expect(json.run).toMatchObject({ id: runId, status: "succeeded" });
    expect(json.tasks.map((t) => [t.name, t.status, t.attempts]).sort()).toEqual([
      ["after-long", "succeeded", 1],
      ["long", "succeeded", 1],
      ["tree", "succeeded", 1],
    ]);
    expect(lines(ranLog).sort()).toEqual(["after-long", "long", "tree"]);
    expect(fs.readFileSync(json.tasks.find((t) => t.name === "long")!.outputs[0]!, "utf8")).toBe("L\n");
    expect((await runBaton(["wait", treeId], dir)).code).toBe(0);

    const again = await runBaton(["resume", runId], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`run ${runId} is succeeded: nothing to resume`);
  }, 300_000);

  it("resumes a pipeline run whose step had submitted children: the step still waits for them", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pools:
  local: { slots: 4 }
pipelines:
  p:
    nodes:
      spawn:
        run: |
          echo spawn >> ran.log
          ${baton} submit -n child -- 'echo child >> ran.log; echo $$ > child.pid; ${gate("gate-child")}; echo C > "$BATON_PIPELINE_DIR/child.txt"'
          echo submitted > submitted.flag
      after:
        needs: [spawn]
        run: echo after >> ran.log; cat "$BATON_PIPELINE_DIR/child.txt" > "$BATON_OUTPUT_DIR/seen.txt"
`,
    });
    const ranLog = path.join(dir, "ran.log");
    const run = startBaton(["run"], dir);
    track(run);
    const runDone = collect(run);
    await until("spawn to submit its child", () => fs.existsSync(path.join(dir, "submitted.flag")));
    const childPid = await until("child to start", () => readPid(path.join(dir, "child.pid")));
    pids.push(childPid);
    // `spawn`'s own process ends; its child goes on.
    const spawnEnded = async () => {
      const tasks = await listTasks(dir);
      const spawn = tasks.find((t) => t.name === "spawn")!;
      const status = path.join(dir, ".baton", "runs", spawn.run, spawn.id, "attempt-1.status");
      // Made empty when the task starts; the shell writes its exit code when it ends.
      return fs.existsSync(status) && fs.readFileSync(status, "utf8").trim() !== "";
    };
    await until("spawn's process to end", spawnEnded);
    run.kill("SIGKILL");
    await runDone;

    const runId = (await listTasks(dir))[0]!.run;
    const resuming = startBaton(["resume", runId, "--json"], dir);
    track(resuming);
    stderrOf(resuming);
    const resumed = collect(resuming);
    await until("the run to be resumed", () => stderrOf(resuming).includes(`run ${runId} p`));
    fs.writeFileSync(path.join(dir, "gate-child"), "");
    const result = await resumed;
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { run: { status: string }; tasks: TaskJson[] };
    expect(json.run.status).toBe("succeeded");
    const byName = new Map(json.tasks.map((t) => [t.name, t]));
    expect(byName.get("spawn")).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(byName.get("child")).toMatchObject({
      status: "succeeded",
      attempts: 1,
      parent: byName.get("spawn")!.id,
    });
    // `after` ran once the child had ended: it saw the child's file.
    expect(fs.readFileSync(byName.get("after")!.outputs[0]!, "utf8")).toBe("C\n");
    expect(lines(ranLog).sort()).toEqual(["after", "child", "spawn"]);
  }, 300_000);
});
