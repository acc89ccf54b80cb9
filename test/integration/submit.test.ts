import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton } from "../helpers/cli.js";
import { killStarted, startServer } from "../helpers/server.js";

/** A Velda-style script exercising nesting, fan-out, failure and always edges, and shards. */
const script = `#!/usr/bin/env bash
set -euo pipefail
b() { node ${JSON.stringify(BATON_BIN)} "$@"; }
b submit -n prepare -- 'echo ready > "$BATON_PIPELINE_DIR/ready"'
b submit -n shards -N 3 --after-success prepare -- 'echo "$BATON_SHARD_ID/$BATON_TOTAL_SHARDS" > "$BATON_PIPELINE_DIR/shard-$BATON_SHARD_ID"'
b submit -n fan --after-success prepare -- 'for i in 1 2 3; do node ${JSON.stringify(BATON_BIN)} submit -n "item-$i" -- "echo $i > \\"\\$BATON_PIPELINE_DIR/item-$i\\""; done'
b submit -n breaks --after-success shards -- 'exit 3'
b submit -n on-failure --after-fail breaks -- 'echo alerted > "$BATON_PIPELINE_DIR/alert"'
b submit -n on-success --after-success breaks -- 'echo wrong > "$BATON_PIPELINE_DIR/wrong"'
b submit -n finally --after fan --after breaks -- 'ls "$BATON_PIPELINE_DIR" > "$BATON_OUTPUT_DIR/seen.txt"'
`;

interface TreeTask {
  name: string;
  status: string;
  parent: string | null;
  exitCode: number | null;
  outputs: string[];
}

/** What a user would compare between two runs of the script: who ran, how it ended, what was seen. */
function summary(tasks: TreeTask[]) {
  const byId = new Map((tasks as Array<TreeTask & { id: string }>).map((t) => [t.id, t]));
  return tasks.map((t) => `${t.parent ? `${byId.get(t.parent)?.name}/` : ""}${t.name}=${t.status}`).sort();
}

async function checkScriptRun(dir: string, env: Record<string, string> = {}) {
  const r = await runBaton(["submit", "-n", "pipeline", "--wait", "--", "./pipeline.sh"], dir, env);
  // The tree fails because `breaks` failed; --wait exits with the script task's code (it failed through a child).
  expect(r.code).toBe(1);
  const ls = await runBaton(["ls", "--json"], dir, env);
  const tasks = JSON.parse(ls.stdout) as TreeTask[];
  const shared = path.join(dir, ".baton", "runs", (tasks[0] as unknown as { run: string }).run, "shared");
  expect(fs.readFileSync(path.join(shared, "alert"), "utf8")).toBe("alerted\n");
  expect(fs.existsSync(path.join(shared, "wrong"))).toBe(false);
  for (const i of [0, 1, 2])
    expect(fs.readFileSync(path.join(shared, `shard-${i}`), "utf8")).toBe(`${i}/3\n`);
  const seen = fs.readFileSync(tasks.find((t) => t.name === "finally")!.outputs[0]!, "utf8");
  // `finally` ran after the whole `fan` subtree: all three items were written before it looked.
  expect(seen).toContain("item-1\nitem-2\nitem-3\n");
  return summary(tasks);
}

const expected = [
  "fan/item-1=succeeded",
  "fan/item-2=succeeded",
  "fan/item-3=succeeded",
  "pipeline/breaks=failed",
  "pipeline/fan=succeeded",
  "pipeline/finally=succeeded",
  "pipeline/on-failure=succeeded",
  "pipeline/on-success=skipped",
  "pipeline/prepare=succeeded",
  "pipeline/shards[0]=succeeded",
  "pipeline/shards[1]=succeeded",
  "pipeline/shards[2]=succeeded",
  "pipeline=failed",
];

afterAll(killStarted);

describe("baton submit: Velda-style task trees", () => {
  it("a shell pipeline with nested submits, fan-out, failure/always edges and shards runs embedded", async () => {
    const dir = makeProject({ "pipeline.sh": script });
    expect(await checkScriptRun(dir)).toEqual(expected);
  });

  it("the same script gives the same results against a started server", async () => {
    const dir = makeProject({ "pipeline.sh": script });
    const server = await startServer(dir);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fs.existsSync(path.join(dir, ".baton", "server.json"))).toBe(true);
    expect(await checkScriptRun(dir)).toEqual(expected);
    // The server ran the tree: it lists the run, and no embedded engine ever started.
    const runs = (await server.api<{ runs: Array<{ pipeline: string }> }>("/api/v1/runs")).body;
    expect(runs.runs.map((r) => r.pipeline)).toEqual(["pipeline"]);
    expect(fs.existsSync(path.join(dir, ".baton", "engines"))).toBe(false);
    await server.stop();
  });

  it("bad submissions get a clear error and create nothing", async () => {
    const dir = makeProject({});
    const unknownSibling = await runBaton(["submit", "--after-success", "nope", "--", "true"], dir);
    expect(unknownSibling.code).toBe(2);
    expect(unknownSibling.stderr).toContain(
      '--after-success nope: no task named "nope" among top-level submitted tasks',
    );
    const noCommand = await runBaton(["submit", "-n", "x"], dir);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toContain("give the command to run");
    const badPool = await runBaton(["submit", "-P", "gpu", "--", "true"], dir);
    expect(badPool.code).toBe(2);
    expect(badPool.stderr).toMatch(/unknown pool "gpu"/);
    const ls = await runBaton(["ls"], dir);
    expect(ls.stdout).toBe("no runs yet\n");
  });

  it("--wait streams the log and exits with the task's own exit code", async () => {
    const dir = makeProject({});
    const r = await runBaton(["submit", "--wait", "--", "echo hello; exit 7"], dir);
    // stdout is the command's output alone (the id went to stderr), as with Velda's vrun.
    expect(r.stdout).toBe("hello\n");
    expect(r.code).toBe(7);
  });
});

describe("a submitted task whose results cannot be collected", () => {
  it("fails, saying why, like a pipeline task: nothing of its output folder is recorded", async () => {
    const dir = makeProject({});
    const r = await runBaton(
      ["submit", "-n", "leak", "--wait", "--", 'ln -s /etc/passwd "$BATON_OUTPUT_DIR/p"'],
      dir,
    );
    expect(r.code, r.stderr).not.toBe(0);
    const ls = await runBaton(["ls", "--json"], dir);
    const [task] = JSON.parse(ls.stdout) as Array<{ id: string; status: string; outputs: string[] }>;
    expect(task).toMatchObject({ status: "failed", outputs: [] });
    const show = await runBaton(["show", task!.id, "--json"], dir);
    expect(JSON.parse(show.stdout).error).toMatch(
      /^collecting outputs failed: output p is a symbolic link to \/etc\/passwd, outside the output folder/,
    );
  });
});

describe("pipeline tasks that submit children", () => {
  it("a pipeline task's submits become its children, and it ends only after them", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      spawn:
        run: node ${JSON.stringify(BATON_BIN)} submit -n child -- 'sleep 0.5; echo child > "$BATON_PIPELINE_DIR/child.txt"'
      after:
        needs: [spawn]
        run: cat "$BATON_PIPELINE_DIR/child.txt" > "$BATON_OUTPUT_DIR/seen.txt"
`,
    });
    const r = await runBaton(["run", "--json"], dir);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as {
      tasks: Array<{ name: string; status: string; parent: string | null; id: string; outputs: string[] }>;
    };
    const spawn = json.tasks.find((t) => t.name === "spawn")!;
    const child = json.tasks.find((t) => t.name === "child")!;
    expect(child).toMatchObject({ status: "succeeded", parent: spawn.id });
    expect(fs.readFileSync(json.tasks.find((t) => t.name === "after")!.outputs[0]!, "utf8")).toBe("child\n");
  });

  it("a retry is judged by its own children: those of the failed attempt do not fail it", async () => {
    const b = `node ${JSON.stringify(BATON_BIN)}`;
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    nodes:
      flaky:
        retries: 1
        run: if [ -f tried ]; then echo second; else touch tried; ${b} submit -n doomed -- 'exit 4'; sleep 1; exit 1; fi
`,
    });
    const r = await runBaton(["run", "--json"], dir);
    expect(r.code, r.stderr).toBe(0);
    const tasks = JSON.parse(r.stdout).tasks as Array<{ name: string; status: string; attempts: number }>;
    expect(tasks.find((t) => t.name === "flaky")).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(tasks.find((t) => t.name === "doomed")?.status).toMatch(/failed|cancelled/);
  });

  it("a submitted task's retry is judged by its own children too", async () => {
    const b = `node ${JSON.stringify(BATON_BIN)}`;
    const dir = makeProject({});
    const r = await runBaton(
      [
        "submit",
        "--retries",
        "1",
        "--wait",
        "--",
        `if [ -f tried ]; then echo second; else touch tried; ${b} submit -n doomed -- 'exit 4'; sleep 1; exit 1; fi`,
      ],
      dir,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("second");
  });
});
