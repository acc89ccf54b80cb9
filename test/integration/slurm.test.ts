/**
 * The Slurm executor against a real single-node Slurm (test/helpers/slurm.ts starts it with
 * scripts/slurm-start.sh): pools with `executor: slurm` run each task as an sbatch job. Real
 * processes throughout: the built CLI, SQLite, slurmctld and slurmd; the project folder in /tmp
 * is the "shared file system" the node sees.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";
import { startServer } from "../helpers/server.js";
import { jobState, missingSlurm } from "../helpers/slurm.js";

const missing = missingSlurm();
if (missing) console.warn(`slurm: Slurm tests skipped: ${missing}`);

const REPO = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(file: string, ms = 60_000): Promise<string> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (text.trim() !== "") return text;
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

/** A project whose `hpc` pool runs on Slurm (`slurm:` options beyond the partition given as YAML). */
function slurmProject(pipeline: string, pool: { slots?: number; slurm?: string } = {}): string {
  return makeProject({
    "baton.yaml": `version: 1
pools:
  hpc:
    executor: slurm
    slots: ${pool.slots ?? 8}
    resources: { cpus: 1, memory: 64 }
    slurm: { partition: debug, ${pool.slurm ?? 'extra: ["--nodes=1"]'} }
defaults: { pool: hpc }
${pipeline}`,
  });
}

interface ShownAttempt {
  executor: { kind: string; id: string } | null;
  reason: string | null;
  status: string;
}

/** `baton show TASK --json`'s attempts. */
async function attemptsOf(dir: string, taskId: string): Promise<ShownAttempt[]> {
  return JSON.parse((await runBaton(["show", taskId, "--json"], dir)).stdout).attemptsDetail;
}

describe.skipIf(missing !== undefined).concurrent("the Slurm executor", () => {
  it("runs a fan-out of 20 as one job array: each task sees SLURM_ARRAY_JOB_ID and its own SLURM_ARRAY_TASK_ID", async () => {
    const dir = slurmProject(
      `pipelines:
  p:
    nodes:
      sq:
        foreach: ${JSON.stringify([...Array(20).keys()])}
        run: echo "$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID \${{ item }}" > "$BATON_OUTPUT_DIR/out.txt"; sleep 1
`,
      { slots: 32 },
    );
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.tasks).toHaveLength(20);
    const arrays = new Set<string>();
    const indexes = new Set<string>();
    for (const t of r.json.tasks) {
      expect(t.status).toBe("succeeded");
      const out = t.outputs.find((o) => o.endsWith("out.txt"))!;
      const [array, index, item] = fs.readFileSync(out, "utf8").trim().split(" ");
      expect(t.name).toBe(`sq[${item}]`);
      arrays.add(array!);
      indexes.add(index!);
      // The element is the attempt's recorded handle: `slurm:ARRAY_INDEX`.
      const [attempt] = await attemptsOf(dir, t.id);
      expect(attempt?.executor).toEqual({ kind: "slurm", id: `${array}_${index}` });
      expect(jobState(`${array}_${index}`)).toBe("COMPLETED");
    }
    expect(arrays.size).toBe(1);
    expect([...indexes].map(Number).sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    const show = await runBaton(["show", r.json.tasks[0]!.id], dir);
    expect(show.stdout).toMatch(new RegExp(`slurm:${[...arrays][0]}_\\d+`));
  }, 240_000);

  it("splits a fan-out larger than the array size limit into several arrays", async () => {
    const dir = slurmProject(
      `pipelines:
  p:
    nodes:
      sq:
        foreach: ${JSON.stringify([...Array(20).keys()])}
        run: echo "$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID" > "$BATON_OUTPUT_DIR/out.txt"
`,
      { slots: 32 },
    );
    const r = await runJson([], dir, { BATON_SLURM_MAX_ARRAY_SIZE: "8" });
    expect(r.code, r.stderr).toBe(0);
    const byArray = new Map<string, number[]>();
    for (const t of r.json.tasks) {
      const out = t.outputs.find((o) => o.endsWith("out.txt"))!;
      const [array, index] = fs.readFileSync(out, "utf8").trim().split(" ");
      byArray.set(array!, [...(byArray.get(array!) ?? []), Number(index)]);
    }
    // 8 + 8 + 4, each array indexed from 0.
    expect([...byArray.values()].map((ix) => ix.length).sort()).toEqual([4, 8, 8]);
    for (const ix of byArray.values()) expect(Math.max(...ix)).toBe(ix.length - 1);
  }, 240_000);

  it("with arrays: false, a foreach of 5 is 5 jobs: each sees SLURM_JOB_ID and writes its output", async () => {
    const dir = slurmProject(
      `pipelines:
  p:
    nodes:
      sq:
        foreach: [1, 2, 3, 4, 5]
        run: echo "\${{ item }} $SLURM_JOB_ID" > "$BATON_OUTPUT_DIR/out.txt"; echo "loss=0.\${{ item }}" >> /dev/null
`,
      { slurm: 'extra: ["--nodes=1"], arrays: false' },
    );
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.tasks).toHaveLength(5);
    const jobs = new Set<string>();
    for (const t of r.json.tasks) {
      expect(t.status).toBe("succeeded");
      const out = t.outputs.find((o) => o.endsWith("out.txt"))!;
      const [item, job] = fs.readFileSync(out, "utf8").trim().split(" ");
      expect(t.name).toBe(`sq[${Number(item) - 1}]`);
      expect(job).toMatch(/^\d+$/);
      jobs.add(job!);
      // The job Slurm ran is the attempt's recorded handle, shown by `baton show`.
      const show = await runBaton(["show", t.id], dir);
      expect(show.stdout).toContain(`slurm:${job}`);
      const json = JSON.parse((await runBaton(["show", t.id, "--json"], dir)).stdout);
      expect(json.attemptsDetail[0].executor).toEqual({ kind: "slurm", id: job });
      expect(jobState(job!)).toBe("COMPLETED");
    }
    expect(jobs.size).toBe(5);
  }, 180_000);

  it("a job that exits 3 fails its task with exit code 3, its log holding the job's output", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      bad:
        run: echo "about to fail on $SLURM_JOB_ID"; exit 3
`);
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.byName("bad")).toMatchObject({ status: "failed", exitCode: 3 });
    const logs = await runBaton(["logs", r.byName("bad").id], dir);
    expect(logs.stdout).toMatch(/about to fail on \d+/);
    const show = await runBaton(["show", r.byName("bad").id], dir);
    expect(show.stdout).toContain("exited with code 3");
  }, 180_000);

  it("a job past its time limit ends with Slurm's TIMEOUT, shown by baton show", async () => {
    // Slurm counts limits in minutes and checks them about every 30 s: this takes 1-2 minutes.
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      slow:
        timeout: 2s
        run: echo started; sleep 600
`);
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.byName("slow").status).toBe("failed");
    const show = await runBaton(["show", r.byName("slow").id], dir);
    expect(show.stdout).toContain("Slurm: TIMEOUT");
    const json = JSON.parse((await runBaton(["show", r.byName("slow").id, "--json"], dir)).stdout);
    expect(json.attemptsDetail[0]).toMatchObject({ reason: "timeout", status: "failed" });
    expect(jobState(json.attemptsDetail[0].executor.id)).toBe("TIMEOUT");
  }, 300_000);

  it("baton cancel scancels the running job", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      long:
        run: echo $SLURM_JOB_ID > job.id; sleep 600; echo finished > finished.txt
`);
    const child = startBaton(["run"], dir);
    const done = collect(child);
    const job = (await waitForFile(path.join(dir, "job.id"))).trim();
    expect(jobState(job)).toBe("RUNNING");
    const runId = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout)[0].run;
    const cancel = await runBaton(["cancel", runId], dir);
    expect(cancel.code, cancel.stderr).toBe(0);
    const ended = await done;
    expect(ended.code).not.toBe(0);
    expect(jobState(job)).toBe("CANCELLED");
    const tasks = JSON.parse((await runBaton(["ls", runId, "--json"], dir)).stdout);
    expect(tasks[0]).toMatchObject({ status: "cancelled" });
    expect(fs.existsSync(path.join(dir, "finished.txt"))).toBe(false);
  }, 180_000);

  it("after kill -9 of the engine, resume adopts the job by its id: nothing is submitted twice", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      long:
        run: echo $SLURM_JOB_ID >> ledger.txt; sleep 4; echo done > "$BATON_OUTPUT_DIR/x.txt"
      after:
        needs: [long]
        run: echo after $SLURM_JOB_ID >> ledger.txt
`);
    const child = startBaton(["run"], dir);
    const done = collect(child);
    const job = (await waitForFile(path.join(dir, "ledger.txt"))).trim();
    child.kill("SIGKILL");
    await done;
    expect(jobState(job)).toMatch(/RUNNING|COMPLETING|COMPLETED/); // the job outlives its engine
    const runId = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout)[0].run;
    const resumed = await runBaton(["resume", runId, "--json"], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const tasks = JSON.parse(resumed.stdout).tasks as Array<{
      name: string;
      status: string;
      attempts: number;
      id: string;
    }>;
    const long = tasks.find((t) => t.name === "long")!;
    expect(long).toMatchObject({ status: "succeeded", attempts: 1 });
    // One sbatch for `long` (the ledger's first line), then one for `after`.
    const ledger = fs.readFileSync(path.join(dir, "ledger.txt"), "utf8").trim().split("\n");
    expect(ledger).toHaveLength(2);
    expect(ledger[0]).toBe(job);
    expect(ledger[1]).toMatch(/^after \d+$/);
    const json = JSON.parse((await runBaton(["show", long.id, "--json"], dir)).stdout);
    expect(json.attemptsDetail).toHaveLength(1);
    expect(json.attemptsDetail[0].executor).toEqual({ kind: "slurm", id: job });
    expect(json.outputs.some((o: string) => o.endsWith("x.txt"))).toBe(true);
  }, 180_000);

  it("a held job shows as queued with Slurm's reason until it is released, then runs", async () => {
    const dir = slurmProject(
      `pipelines:
  p:
    nodes:
      held:
        run: echo ran on $SLURM_JOB_ID > "$BATON_OUTPUT_DIR/ran.txt"
`,
      { slurm: 'extra: ["--hold"]' },
    );
    const child = startBaton(["run"], dir);
    const done = collect(child);
    let task: { id: string; status: string; queueReason: string | null } | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(300)) {
      const ls = await runBaton(["ls", "--json"], dir);
      task = ls.code === 0 ? JSON.parse(ls.stdout)[0] : undefined;
      if (task?.queueReason) break;
    }
    expect(task).toMatchObject({ status: "queued", queueReason: "pending in Slurm (JobHeldUser)" });
    const show = await runBaton(["show", task!.id], dir);
    expect(show.stdout).toContain("queued (pending in Slurm (JobHeldUser))");
    const [attempt] = await attemptsOf(dir, task!.id);
    expect(jobState(attempt!.executor!.id)).toBe("PENDING");
    execFileSync("scontrol", ["release", attempt!.executor!.id]);
    const ended = await done;
    expect(ended.code, ended.stderr).toBe(0);
    const after = JSON.parse((await runBaton(["show", task!.id, "--json"], dir)).stdout);
    expect(after).toMatchObject({ status: "succeeded", queueReason: null });
  }, 180_000);

  it("an engine killed before it recorded the job's id: resume finds the job by its comment and runs nothing twice", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      long:
        run: echo $SLURM_JOB_ID >> ledger.txt; sleep 4; echo done > "$BATON_OUTPUT_DIR/x.txt"
`);
    const child = startBaton(["run"], dir);
    const done = collect(child);
    const job = (await waitForFile(path.join(dir, "ledger.txt"))).trim();
    child.kill("SIGKILL");
    await done;
    // As if the engine had died between sbatch and recording the job: the attempt has no handle.
    const db = new Database(path.join(dir, ".baton", "baton.db"));
    expect(db.prepare("UPDATE attempts SET handle = NULL").run().changes).toBe(1);
    db.close();
    const runId = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout)[0].run;
    const resumed = await runBaton(["resume", runId, "--json"], dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    const long = JSON.parse(resumed.stdout).tasks[0];
    expect(long).toMatchObject({ name: "long", status: "succeeded", attempts: 1 });
    expect(fs.readFileSync(path.join(dir, "ledger.txt"), "utf8").trim().split("\n")).toEqual([job]);
    expect(long.outputs.some((o: string) => o.endsWith("x.txt"))).toBe(true);
  }, 180_000);

  it("examples/slurm runs the ML sweep on Slurm, its train fan-out as one job array", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-slurm-example-"));
    // The example's scripts are links to examples/ml-sweep: copied as files, as a user's checkout is.
    fs.cpSync(path.join(REPO, "examples", "slurm"), dir, { recursive: true, dereference: true });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const best = r.byName("find-best");
    expect(best.status).toBe("succeeded");
    expect(best.metrics).toMatchObject({ best_lr: 0.1 });
    const arrays = new Set<string>();
    for (const name of ["train[0]", "train[1]", "train[2]"]) {
      const [attempt] = await attemptsOf(dir, r.byName(name).id);
      expect(attempt?.executor?.kind).toBe("slurm");
      arrays.add(attempt!.executor!.id.split("_")[0]!);
    }
    expect(arrays.size).toBe(1);
  }, 240_000);

  it("an sbatch that took the job but printed no id (timed out, killed): the job is found by its comment, not lost", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      quiet:
        run: echo $SLURM_JOB_ID >> ledger.txt
`);
    // An sbatch in front of the real one that submits and then says nothing, as one killed by a timeout would.
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const real = execFileSync("bash", ["-c", "command -v sbatch"], { encoding: "utf8" }).trim();
    fs.writeFileSync(path.join(bin, "sbatch"), `#!/bin/sh\n${real} "$@" > /dev/null\n`, { mode: 0o755 });
    const r = await runJson([], dir, { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.byName("quiet")).toMatchObject({ status: "succeeded", attempts: 1 });
    const ledger = fs.readFileSync(path.join(dir, "ledger.txt"), "utf8").trim().split("\n");
    expect(ledger).toHaveLength(1);
    const [attempt] = await attemptsOf(dir, r.byName("quiet").id);
    expect(attempt?.executor).toEqual({ kind: "slurm", id: ledger[0] });
  }, 180_000);

  it("baton submit -N 6 to a server runs the six copies as one job array", async () => {
    const dir = slurmProject("pipelines: {}\n");
    const server = await startServer(dir);
    try {
      const r = await runBaton(
        [
          "submit",
          "-n",
          "shard",
          "-N",
          "6",
          "-P",
          "hpc",
          "--wait",
          "--",
          'echo "$SLURM_ARRAY_JOB_ID $SLURM_ARRAY_TASK_ID $BATON_SHARD_ID" > "$BATON_OUTPUT_DIR/where.txt"',
        ],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      const tasks = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout) as Array<{
        status: string;
        outputs: string[];
      }>;
      expect(tasks).toHaveLength(6);
      const arrays = new Set<string>();
      const shards = new Set<string>();
      for (const t of tasks) {
        expect(t.status).toBe("succeeded");
        const [array, , shard] = fs.readFileSync(t.outputs[0]!, "utf8").trim().split(" ");
        arrays.add(array!);
        shards.add(shard!);
      }
      expect(arrays.size).toBe(1);
      expect(shards.size).toBe(6);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
