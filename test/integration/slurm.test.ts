/**
 * The Slurm executor against a real single-node Slurm (test/helpers/slurm.ts starts it with
 * scripts/slurm-start.sh): pools with `executor: slurm` run each task as an sbatch job. Real
 * processes throughout: the built CLI, SQLite, slurmctld and slurmd; the project folder in /tmp
 * is the "shared file system" the node sees.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, runJson, startBaton } from "../helpers/cli.js";
import { jobState, missingSlurm } from "../helpers/slurm.js";

const missing = missingSlurm();
if (missing) console.warn(`slurm: Slurm tests skipped: ${missing}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(file: string, ms = 60_000): Promise<string> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (text.trim() !== "") return text;
  }
  throw new Error(`${file} did not appear within ${ms} ms`);
}

/** A project whose `hpc` pool runs on Slurm. */
function slurmProject(pipeline: string): string {
  return makeProject({
    "baton.yaml": `version: 1
pools:
  hpc:
    executor: slurm
    slots: 8
    resources: { cpus: 1, memory: 64 }
    slurm: { partition: debug, extra: ["--nodes=1"] }
defaults: { pool: hpc }
${pipeline}`,
  });
}

describe.skipIf(missing !== undefined).concurrent("the Slurm executor", () => {
  it("runs a foreach of 5 as 5 jobs: each sees SLURM_JOB_ID and writes its output", async () => {
    const dir = slurmProject(`pipelines:
  p:
    nodes:
      sq:
        foreach: [1, 2, 3, 4, 5]
        run: echo "\${{ item }} $SLURM_JOB_ID" > "$BATON_OUTPUT_DIR/out.txt"; echo "loss=0.\${{ item }}" >> /dev/null
`);
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
});
