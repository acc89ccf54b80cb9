import { describe, expect, it } from "vitest";
import { problems, yaml } from "../../test/helpers/spec-problems.js";
import { BatonError, formatProblem } from "../errors.js";
import { parseProjectText } from "./parse.js";

describe("pools: executor and slurm options", () => {
  it("reads a Slurm pool's executor, sbatch options and resources; other pools stay local", () => {
    const project = parseProjectText(
      yaml(
        "version: 1",
        "pools:",
        "  hpc:",
        "    executor: slurm",
        "    slots: 64",
        "    resources: { cpus: 4, memory: 8000, gpu: 1 }",
        "    slurm: { partition: gpu, account: ml, qos: normal, extra: [--constraint=a100] }",
        "  cpu: { slots: 2 }",
      ),
      "baton.yaml",
    );
    expect(project.pools.hpc).toMatchObject({
      executor: "slurm",
      slots: 64,
      resources: { cpus: 4, memory: 8000, gpu: 1 },
      slurm: { partition: "gpu", account: "ml", qos: "normal", extra: ["--constraint=a100"] },
    });
    expect(project.pools.cpu?.executor).toBeUndefined();
    expect(project.pools.local?.executor).toBeUndefined();
  });

  it("refuses an unknown executor, naming the place and the executors there are", () => {
    expect(problems(yaml("version: 1", "pools:", "  hpc:", "    executor: slurmm"))).toEqual([
      'baton.yaml:4:15 pools.hpc.executor: expected one of "local", "slurm" or "agent", found "slurmm" (did you mean "slurm"?)',
    ]);
  });

  it("refuses sbatch options on a pool that does not run on Slurm, and unknown sbatch keys", () => {
    expect(
      problems(
        yaml(
          "version: 1",
          "pools:",
          "  cpu:",
          "    slurm: { partition: debug }",
          "  hpc:",
          "    executor: slurm",
          "    slurm: { partion: debug }",
        ),
      ),
    ).toEqual([
      'baton.yaml:4:5 pools.cpu.slurm: sbatch options are for a pool with "executor: slurm"',
      'baton.yaml:7:14 pools.hpc.slurm: unknown key "partion" (did you mean "partition"?)',
    ]);
  });
});
