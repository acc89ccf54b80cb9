/**
 * Velda's documented pipeline shapes (examples/velda/), run as a Velda user runs them: the
 * scripts call `baton submit` where Velda's call `vbatch`, and `baton submit --wait` where they
 * call `vrun`, found on PATH; nothing else differs (no `--`, no wrapper).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BATON_BIN, runBaton } from "../helpers/cli.js";
import { killStarted, startServer } from "../helpers/server.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/velda/", import.meta.url));
const CSV_FILES = ["sample1.csv", "sample2.csv", "sample3.csv", "sample4.csv", "sample5.csv", "sample6.csv"];
const TIMEOUT = 180_000;

interface Task {
  id: string;
  name: string;
  parent: string | null;
  status: string;
  startedAt: string | null;
  endedAt: string | null;
}

/** A copy of the example folder, and an environment whose PATH has `baton` (and `python`). */
function setUp(): { dir: string; env: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-velda-"));
  fs.cpSync(EXAMPLE, dir, {
    recursive: true,
    filter: (src) => !/[/\\](work|\.baton|__pycache__)$/.test(src),
  });
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "baton-velda-bin-"));
  fs.symlinkSync(BATON_BIN, path.join(bin, "baton"));
  const PATH = `${bin}${path.delimiter}${process.env.PATH}`;
  // Velda's scripts say `python`; a machine with only python3 gets one named so.
  try {
    execFileSync("python", ["--version"], { env: { ...process.env, PATH }, stdio: "ignore" });
  } catch {
    const python3 = execFileSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).trim();
    fs.symlinkSync(python3, path.join(bin, "python"));
  }
  return { dir, env: { PATH } };
}

/** The tasks of the latest run, each with its path of names (`script/ls/sample1.csv`). */
async function latestTree(dir: string, env: Record<string, string>) {
  const ls = await runBaton(["ls", "--json"], dir, env);
  expect(ls.code, ls.stderr).toBe(0);
  const tasks = JSON.parse(ls.stdout) as Task[];
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const pathOf = (t: Task): string => {
    const parent = t.parent ? byId.get(t.parent) : undefined;
    return parent ? `${pathOf(parent)}/${t.name}` : t.name;
  };
  const byPath = (p: string) => tasks.filter((t) => pathOf(t) === p);
  const one = (p: string) => {
    const found = byPath(p);
    expect(found, `one task at ${p}; tasks: ${tasks.map(pathOf).join(", ")}`).toHaveLength(1);
    return found[0]!;
  };
  return {
    tasks,
    byPath,
    one,
    statuses: tasks.map((t) => `${pathOf(t)}=${t.status}`).sort(),
  };
}

/** `later` started only once `earlier` had ended. */
function startedAfter(later: Task, earlier: Task): void {
  expect(Date.parse(later.startedAt!)).toBeGreaterThanOrEqual(Date.parse(earlier.endedAt!));
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));

function expectProcessed(dir: string): void {
  for (const f of CSV_FILES) {
    const rows = readJson(path.join(dir, "work", "processed", `${f}.json`)) as unknown[];
    expect(rows.length, f).toBeGreaterThan(0);
  }
}

afterEach(killStarted);

async function checkTrainingPipeline(dir: string, env: Record<string, string>) {
  const r = await runBaton(["submit", "--wait", "--", "./training_pipeline.sh"], dir, env);
  expect(r.code, r.stderr).toBe(0);
  const t = await latestTree(dir, env);
  expect(t.statuses).toEqual([
    "training_pipeline/eval=succeeded",
    "training_pipeline/process=succeeded",
    "training_pipeline/train=succeeded",
    "training_pipeline=succeeded",
  ]);
  const [process_, train, evaluate] = ["process", "train", "eval"].map((n) =>
    t.one(`training_pipeline/${n}`),
  );
  startedAfter(train!, process_!);
  startedAfter(evaluate!, train!);
  // stdout is the script's own output (its three `baton submit` lines print their ids), nothing else.
  expect(r.stdout.trim().split("\n")).toEqual([process_!.id, train!.id, evaluate!.id]);
  expect(r.stderr).toContain(t.one("training_pipeline").id);
  expect(readJson(path.join(dir, "work", "model.json")).rows).toBe(300);
  expect(readJson(path.join(dir, "work", "eval.json")).mse).toBeGreaterThanOrEqual(0);
  // Each step ran in the pool its -P named.
  for (const [task, pool] of [
    [process_!, "cpu-16"],
    [train!, "gpu-1"],
    [evaluate!, "cpu-8"],
  ] as const) {
    const show = await runBaton(["show", task.id, "--json"], dir, env);
    expect(JSON.parse(show.stdout).pool).toBe(pool);
  }
}

describe("Velda's documented scripts, with only vbatch/vrun renamed", () => {
  it(
    "training_pipeline.sh: process -> train -> eval, each in its pool, as children of the script",
    async () => {
      const { dir, env } = setUp();
      await checkTrainingPipeline(dir, env);
    },
    TIMEOUT,
  );

  it(
    "training_pipeline.sh against a running baton server; the server takes a pool added to its file meanwhile",
    async () => {
      const { dir, env } = setUp();
      const server = await startServer(dir, { env });
      await checkTrainingPipeline(dir, env);
      // The server ran the tasks (they were not run by an embedded engine).
      const pools = await runBaton(["pools", "--json"], dir, env);
      expect(pools.code, pools.stderr).toBe(0);
      const listed = JSON.parse(pools.stdout) as Array<{ name: string; slots: number; inUse: number | null }>;
      expect(listed.map((p) => `${p.name}:${p.slots}:${p.inUse}`)).toEqual([
        "local:8:0",
        "cpu-16:2:0",
        "cpu-8:4:0",
        "cpu-4:4:0",
        "gpu-1:1:0",
      ]);
      expect(pools.stderr).toContain("server http://127.0.0.1:");

      fs.appendFileSync(path.join(dir, "baton.yaml"), "  cpu-32: { slots: 2 }\n");
      const more = await runBaton(["submit", "--wait", "-P", "cpu-32", "echo", "-n", "on cpu-32"], dir, env);
      expect(more.code, more.stderr).toBe(0);
      expect(more.stdout).toBe("on cpu-32");
      await server.stop();
    },
    TIMEOUT,
  );

  it(
    "the fan-out line: one task per .csv file, named after it, under the bash -c task",
    async () => {
      const { dir, env } = setUp();
      const r = await runBaton(["submit", "--wait", "--", "./fan_out.sh"], dir, env);
      expect(r.code, r.stderr).toBe(0);
      const t = await latestTree(dir, env);
      expect(t.statuses).toEqual([
        ...CSV_FILES.map((f) => `fan_out/ls/${f}=succeeded`),
        "fan_out/ls=succeeded",
        "fan_out=succeeded",
      ]);
      expectProcessed(dir);
    },
    TIMEOUT,
  );

  it(
    "the chunked xargs line: up to 100 files per task, so one task processes all six",
    async () => {
      const { dir, env } = setUp();
      const r = await runBaton(["submit", "--wait", "--", "./fan_out_chunked.sh"], dir, env);
      expect(r.code, r.stderr).toBe(0);
      const t = await latestTree(dir, env);
      expect(t.statuses).toEqual([
        "fan_out_chunked/ls/process_file=succeeded",
        "fan_out_chunked/ls=succeeded",
        "fan_out_chunked=succeeded",
      ]);
      expectProcessed(dir);
      const log = await runBaton(["logs", t.one("fan_out_chunked/ls/process_file").id], dir, env);
      expect(log.stdout.trim().split("\n")).toEqual(CSV_FILES.map((f) => `${f}: 50 rows`));
    },
    TIMEOUT,
  );

  it(
    "process_all.sh embedded as a step: train waits for every file it ran with vrun (--wait)",
    async () => {
      const { dir, env } = setUp();
      const r = await runBaton(["submit", "--wait", "--", "./preprocess_pipeline.sh"], dir, env);
      expect(r.code, r.stderr).toBe(0);
      const t = await latestTree(dir, env);
      expect(t.statuses).toEqual([
        ...CSV_FILES.map(() => "preprocess_pipeline/preprocess/process_file=succeeded"),
        "preprocess_pipeline/preprocess=succeeded",
        "preprocess_pipeline/train=succeeded",
        "preprocess_pipeline/validate=succeeded",
        "preprocess_pipeline=succeeded",
      ]);
      const files = t.byPath("preprocess_pipeline/preprocess/process_file");
      const train = t.one("preprocess_pipeline/train");
      for (const f of files) startedAfter(train, f);
      // vrun waits: each file's task started after the one before ended.
      const sorted = [...files].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
      for (let i = 1; i < sorted.length; i++) startedAfter(sorted[i]!, sorted[i - 1]!);
      startedAfter(t.one("preprocess_pipeline/validate"), train);
      // The preprocess task's log holds what its vrun steps printed, in order (and, from their
      // stderr, the ids of the tasks they submitted).
      const log = await runBaton(["logs", t.one("preprocess_pipeline/preprocess").id], dir, env);
      const printed = log.stdout.split("\n").filter((l) => l.includes(" rows"));
      expect(printed).toEqual(CSV_FILES.map((f) => `${f}: 50 rows`));
      for (const f of files) expect(log.stdout).toContain(f.id);
      expect(readJson(path.join(dir, "work", "validation.json"))).toEqual({ files: 6, ok: true });
    },
    TIMEOUT,
  );

  it(
    "the recursive fan-out: inference_and_eval.sh per file, its two vrun steps as its children",
    async () => {
      const { dir, env } = setUp();
      const r = await runBaton(["submit", "--wait", "--", "./eval_all.sh"], dir, env);
      expect(r.code, r.stderr).toBe(0);
      const t = await latestTree(dir, env);
      expect(t.statuses).toEqual([
        ...CSV_FILES.flatMap((f) => [
          `eval_all/ls/${f}/evaluate_inference=succeeded`,
          `eval_all/ls/${f}/inference=succeeded`,
          `eval_all/ls/${f}=succeeded`,
        ]),
        "eval_all/ls=succeeded",
        "eval_all=succeeded",
      ]);
      for (const f of CSV_FILES) {
        startedAfter(t.one(`eval_all/ls/${f}/evaluate_inference`), t.one(`eval_all/ls/${f}/inference`));
        expect(readJson(path.join(dir, "work", "evals", `${f}.json`)).file).toBe(f);
      }
    },
    TIMEOUT,
  );
});
