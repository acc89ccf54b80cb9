import { describe, expect, it } from "vitest";
import { reservedTaskEnvProblem } from "../spec/reserved-env.js";
import { StateLayout } from "./layout.js";
import { buildTaskEnv } from "./task-env.js";

const layout = new StateLayout("/p/.baton");
const base = {
  layout,
  runId: "run_1",
  task: { id: "task_1", name: "train", outputDir: "/p/.baton/runs/run_1/task_1/output" },
  params: {},
  userEnv: {},
  engineEnv: {},
};

describe("buildTaskEnv", () => {
  it("gives the task its ids and its own folders", () => {
    expect(buildTaskEnv(base)).toEqual({
      BATON_RUN_ID: "run_1",
      BATON_TASK_ID: "task_1",
      BATON_TASK_NAME: "train",
      BATON_OUTPUT_DIR: "/p/.baton/runs/run_1/task_1/output",
      BATON_INPUTS_DIR: "/p/.baton/runs/run_1/task_1/inputs",
      BATON_PIPELINE_DIR: "/p/.baton/runs/run_1/shared",
    });
  });

  it("adds the attempt's files, the shard and the engine's API", () => {
    const env = buildTaskEnv({
      ...base,
      engineEnv: { BATON_URL: "http://127.0.0.1:1", BATON_TOKEN: "t", EXTRA: "e" },
      shard: { id: 2, total: 3 },
      attempt: 2,
    });
    expect(env).toMatchObject({
      BATON_URL: "http://127.0.0.1:1",
      BATON_TOKEN: "t",
      EXTRA: "e",
      BATON_SHARD_ID: "2",
      BATON_TOTAL_SHARDS: "3",
      BATON_ATTEMPT: "2",
      BATON_METRICS: "/p/.baton/runs/run_1/task_1/attempt-2.metrics.jsonl",
      BATON_STATUS_FILE: "/p/.baton/runs/run_1/task_1/attempt-2.status",
    });
  });

  it("passes the user's variables and the task's own params", () => {
    const env = buildTaskEnv({
      ...base,
      params: { "learning-rate": 0.5, tags: ["x"] },
      userEnv: { SEED: "1", BATON_PROGRESS: "plain" },
      engineEnv: { EXTRA: "engine" },
    });
    expect(env).toMatchObject({
      SEED: "1",
      BATON_PROGRESS: "plain",
      BATON_PARAM_LEARNING_RATE: "0.5",
      BATON_PARAM_TAGS: '["x"]',
      EXTRA: "engine",
    });
    expect(buildTaskEnv({ ...base, userEnv: { EXTRA: "mine" }, engineEnv: { EXTRA: "engine" } }).EXTRA).toBe(
      "mine",
    );
  });

  it("never lets the user's variables replace Baton's own", () => {
    const env = buildTaskEnv({
      ...base,
      userEnv: {
        BATON_OUTPUT_DIR: "/elsewhere",
        BATON_TASK_ID: "task_other",
        BATON_URL: "http://127.0.0.1:2",
        BATON_SHARD_ID: "9",
        BATON_PARAM_STALE: "1",
      },
      engineEnv: { BATON_URL: "http://127.0.0.1:1" },
    });
    expect(env.BATON_OUTPUT_DIR).toBe(base.task.outputDir);
    expect(env.BATON_TASK_ID).toBe("task_1");
    expect(env.BATON_URL).toBe("http://127.0.0.1:1");
    expect(env.BATON_SHARD_ID).toBeUndefined();
    expect(env.BATON_PARAM_STALE).toBeUndefined();
  });
});

describe("reservedTaskEnvProblem", () => {
  it("refuses Baton's variables and BATON_PARAM_*, and lets other BATON_* names through", () => {
    expect(reservedTaskEnvProblem("BATON_OUTPUT_DIR")).toMatch(/BATON_OUTPUT_DIR is set by Baton/);
    expect(reservedTaskEnvProblem("BATON_PARAM_LR")).toMatch(/as a param/);
    expect(reservedTaskEnvProblem("BATON_PROGRESS")).toBeUndefined();
    expect(reservedTaskEnvProblem("PATH")).toBeUndefined();
  });
});
