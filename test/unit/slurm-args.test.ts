/** What the Slurm executor asks sbatch for: a job's place, its options, and the array size limit. */
import { describe, expect, it } from "vitest";
import type { LaunchRequest } from "../../src/executors/executor.js";
import { jobOptions, jobPlace, maxArraySizeOf, sbatchArgs } from "../../src/executors/slurm-executor.js";

const request: LaunchRequest = {
  runId: "run_1",
  taskId: "task_1",
  name: "train[3]",
  attempt: 1,
  command: "true",
  cwd: "/proj",
  env: {},
  outputs: [],
  timeoutMs: 90_000,
  pool: {
    name: "hpc",
    slots: 4,
    executor: "slurm",
    resources: { cpus: 1.5, memory: 512, gpu: 2 },
    slurm: { partition: "gpu", account: "lab", qos: "high", extra: ["--constraint=a100"] },
  },
};

describe("sbatch arguments", () => {
  it("map the pool's options, resources and the timeout (rounded up to whole minutes)", () => {
    expect(jobOptions(request)).toEqual([
      "--partition=gpu",
      "--account=lab",
      "--qos=high",
      "--cpus-per-task=2",
      "--mem=512M",
      "--gres=gpu:2",
      "--time=2",
      "--constraint=a100",
    ]);
  });

  it("write the log where the attempt's log is, a literal % doubled", () => {
    expect(sbatchArgs(request, "/p/50%/attempt-1.log", "/p/s.sbatch")).toEqual([
      "--parsable",
      "--job-name=train[3]",
      "--output=/p/50%%/attempt-1.log",
      "--error=/p/50%%/attempt-1.log",
      "--open-mode=append",
      "--chdir=/proj",
      ...jobOptions(request),
      "/p/s.sbatch",
    ]);
  });

  it("keep an array's %a (its index) in the output pattern, and only that", () => {
    expect(jobPlace("train", "/p/50%/slurm/%a.log", "/proj")).toContain("--output=/p/50%%/slurm/%a.log");
  });

  it("read MaxArraySize from scontrol show config, Slurm's default 1001 when absent", () => {
    expect(maxArraySizeOf("MaxArraySize            = 40001\nMaxJobCount = 10000\n")).toBe(40001);
    expect(maxArraySizeOf("MaxJobCount = 10000\n")).toBe(1001);
  });
});
