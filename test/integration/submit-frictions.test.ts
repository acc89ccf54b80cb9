/**
 * `baton submit` as a Velda user types it: options end at the command's first word, `--wait`
 * prints only the command's output, and the messages name what the user wrote.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BATON_BIN, makeProject, runBaton } from "../helpers/cli.js";

interface Task {
  id: string;
  name: string;
  parent: string | null;
  status: string;
}

async function tasksOfLatestRun(dir: string): Promise<Task[]> {
  const ls = await runBaton(["ls", "--json"], dir);
  expect(ls.code, ls.stderr).toBe(0);
  return JSON.parse(ls.stdout) as Task[];
}

describe("baton submit: options stop at the command", () => {
  it("passes -n, --lr and -c to the command, and --wait prints only its output", async () => {
    const dir = makeProject({ "a.csv": "x\n", "b.csv": "x\n" });

    const echo = await runBaton(["submit", "--wait", "echo", "-n", "hello"], dir);
    expect(echo.code, echo.stderr).toBe(0);
    expect(echo.stdout).toBe("hello");
    const [task] = await tasksOfLatestRun(dir);
    expect(task!.name).toBe("echo");
    expect((await runBaton(["logs", task!.id], dir)).stdout).toBe("hello");
    // The id went to stderr.
    expect(echo.stderr).toContain(task!.id);

    const py = await runBaton(
      ["submit", "--wait", "python3", "-c", "import sys; print(*sys.argv[1:])", "--lr", "0.1"],
      dir,
    );
    expect(py.code, py.stderr).toBe(0);
    expect(py.stdout).toBe("--lr 0.1\n");

    const sh = await runBaton(["submit", "--wait", "bash", "-c", "ls *.csv | xargs echo got"], dir);
    expect(sh.code, sh.stderr).toBe(0);
    expect(sh.stdout).toBe("got a.csv b.csv\n");
    // Named after the inline script's first command, not `_ls`.
    expect((await tasksOfLatestRun(dir))[0]!.name).toBe("ls");

    // `--` still marks the command; baton's own options before it still count.
    const dashed = await runBaton(["submit", "--wait", "-n", "greet", "--", "echo", "-n", "hi"], dir);
    expect(dashed.code, dashed.stderr).toBe(0);
    expect(dashed.stdout).toBe("hi");
    expect((await tasksOfLatestRun(dir))[0]!.name).toBe("greet");

    // Without --wait the id is what stdout holds (id=$(baton submit ...)).
    const plain = await runBaton(["submit", "-n", "quiet", "true"], dir);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(`${(await tasksOfLatestRun(dir))[0]!.id}\n`);
  });

  it("exits with the command's own code under --wait", async () => {
    const dir = makeProject({});
    const r = await runBaton(["submit", "--wait", "sh", "-c", "echo out; exit 7"], dir);
    expect(r.code).toBe(7);
    expect(r.stdout).toBe("out\n");
  });
});

describe("baton submit: messages that name what the user wrote", () => {
  it("an unknown pool says how to declare it and points at baton pools", async () => {
    const dir = makeProject({ "baton.yaml": "version: 1\npools:\n  a100: { slots: 1 }\n" });
    const r = await runBaton(["submit", "-P", "cpu-16", "echo", "hi"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown pool "cpu-16"; pools: local, a100.');
    expect(r.stderr).toContain("Declare it in baton.yaml:\n  pools:\n    cpu-16: { slots: 16 }\n");
    expect(r.stderr).toContain("baton pools");
    expect(fs.existsSync(path.join(dir, ".baton", "runs"))).toBe(false);
  });

  it("baton pools lists the project file's pools without a server", async () => {
    const dir = makeProject({
      "baton.yaml": "version: 1\npools:\n  local: { slots: 3 }\n  gpu-1: { slots: 1 }\n",
    });
    const table = await runBaton(["pools"], dir);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n").map((l) => l.split(/\s+/).join(" "))).toEqual([
      "POOL EXECUTOR SLOTS IN USE QUEUED",
      "local local 3 - -",
      "gpu-1 local 1 - -",
      "",
    ]);
    const json = await runBaton(["pools", "--json"], dir);
    expect(JSON.parse(json.stdout)).toEqual([
      { name: "local", executor: "local", slots: 3, inUse: null, queued: null },
      { name: "gpu-1", executor: "local", slots: 1, inUse: null, queued: null },
    ]);
  });

  it("a bad --after-success/--after-fail name is reported under that flag", async () => {
    const dir = makeProject({});
    const success = await runBaton(["submit", "--after-success", "compute", "echo"], dir);
    expect(success.code).toBe(2);
    expect(success.stderr).toContain('--after-success compute: no task named "compute"');
    const fail = await runBaton(["submit", "--after-fail", "compute", "echo"], dir);
    expect(fail.stderr).toContain('--after-fail compute: no task named "compute"');
  });

  it("a skip names the task it waited for; ls --tree shows the latest run with '(1 child)'; show has the pool", async () => {
    const dir = makeProject({
      "baton.yaml": "version: 1\npools:\n  cpu-8: { slots: 2 }\n",
      "pipe.sh": [
        "#!/bin/sh",
        'baton() { node "$BATON_BIN" "$@"; }',
        "baton submit -P cpu-8 --name compute sh -c 'exit 3'",
        "baton submit --name validate --after-success compute echo never",
        "",
      ].join("\n"),
    });
    const bin = BATON_BIN;
    const r = await runBaton(["submit", "--wait", "--", "./pipe.sh"], dir, { BATON_BIN: bin });
    expect(r.code).toBe(1);
    const tasks = await tasksOfLatestRun(dir);
    const compute = tasks.find((t) => t.name === "compute")!;
    const validate = tasks.find((t) => t.name === "validate")!;
    expect(validate.status).toBe("skipped");
    const show = await runBaton(["show", validate.id, "--json"], dir);
    expect(JSON.parse(show.stdout).error).toBe(
      `needs compute (${compute.id}) to end in success, but it failed`,
    );

    const tree = await runBaton(["ls", "--tree"], dir);
    expect(tree.code, tree.stderr).toBe(0);
    expect(tree.stdout).toMatch(/pipe \(2 children\)/);
    expect(tree.stdout).toMatch(/└ compute\s/);

    const shown = await runBaton(["show", compute.id], dir);
    expect(shown.stdout).toMatch(/^pool {6}cpu-8$/m);
    expect(JSON.parse((await runBaton(["show", compute.id, "--json"], dir)).stdout).pool).toBe("cpu-8");

    const one = makeProject({});
    await runBaton(["submit", "-n", "outer", "sh", "-c", 'node "$BATON_BIN" submit -n inner true'], one, {
      BATON_BIN: bin,
    });
    expect((await runBaton(["ls", "--tree"], one)).stdout).toMatch(/outer \(1 child\)/);
  });
});

describe("baton logs: -f is --follow", () => {
  it("`logs ID -f FILE` says to use --file, exit 2; --file works", async () => {
    const dir = makeProject({ "baton.yaml": "version: 1\n" });
    await runBaton(["submit", "-n", "hello", "echo", "hi"], dir);
    const id = (await tasksOfLatestRun(dir))[0]!.id;
    const bad = await runBaton(["logs", id, "-f", "baton.yaml"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("-f is --follow for logs");
    expect(bad.stderr).toContain(`baton logs ${id} --file baton.yaml`);
    const good = await runBaton(["logs", id, "--file", "baton.yaml"], dir);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toBe("hi\n");
    const follow = await runBaton(["logs", "-f", id], dir);
    expect(follow.stdout).toBe("hi\n");
  });
});
