import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BATON_BIN, type CliResult, collect, makeProject, runBaton } from "../helpers/cli.js";
import { type Server, api, killStarted, startServer, waitForRun } from "../helpers/server.js";

afterAll(killStarted);

/** `baton ARGS` in `cwd` with `input` on its standard input (what `ls | baton submit --each` does). */
function batonWithInput(args: string[], cwd: string, input: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BATON_BIN, ...args], {
    cwd,
    env: { ...process.env, BATON_PROGRESS: "plain", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.end(input);
  return collect(child);
}

/** File names a shell would mangle if `{}` were pasted into the command unquoted. */
const HOSTILE = [
  "plain.csv",
  "with space.csv",
  "it's.csv",
  "semi;$(touch pwned).csv",
  "back`touch pwned2`.csv",
];

function dataProject(): string {
  const dir = makeProject({});
  fs.mkdirSync(path.join(dir, "data"));
  for (const [i, name] of HOSTILE.entries())
    fs.writeFileSync(path.join(dir, "data", name), "x".repeat(i + 1));
  return dir;
}

async function runOf(server: Server, taskId: string): Promise<string> {
  return (await api(server, `/api/v1/tasks/${taskId}`)).body.run as string;
}

function ids(r: CliResult): string[] {
  return r.stdout.trim().split("\n").filter(Boolean);
}

describe("baton submit --each: one task per line of standard input", () => {
  it("runs one task per line, {} replaced by the line as one argument, under one run", async () => {
    const dir = dataProject();
    const server = await startServer(dir);
    const lines = `${HOSTILE.map((n) => `data/${n}`).join("\n")}\n\n`;
    const r = await batonWithInput(
      [
        "submit",
        "--each",
        "-n",
        "count-{}",
        "--",
        "sh",
        "-c",
        'wc -c < "$1" | tr -d " " > "$1.n"',
        "sh",
        "{}",
      ],
      dir,
      lines,
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(ids(r)).toHaveLength(HOSTILE.length); // the blank line is no task
    const run = await runOf(server, ids(r)[0]!);
    for (const id of ids(r)) expect(await runOf(server, id)).toBe(run);
    const detail = await waitForRun(server, run);
    expect(detail.run.status).toBe("succeeded");
    for (const [i, name] of HOSTILE.entries())
      expect(fs.readFileSync(path.join(dir, "data", `${name}.n`), "utf8")).toBe(`${i + 1}\n`);
    expect(fs.existsSync(path.join(dir, "pwned"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "pwned2"))).toBe(false);
    // `/` (and other characters a name cannot hold) became `_` in the names; in line order.
    const names = (detail.tasks as Array<{ id: string; name: string }>)
      .sort((a, b) => ids(r).indexOf(a.id) - ids(r).indexOf(b.id))
      .map((t) => t.name);
    expect(names).toEqual(HOSTILE.map((n) => `count-data_${n.replace(/['$`]/g, "_")}`));
  });

  it("quotes the line for the shell in a one-word command, and appends it when there is no {}", async () => {
    const dir = dataProject();
    await startServer(dir);
    const input = HOSTILE.map((n) => `data/${n}`).join("\n");
    const copy = await batonWithInput(["submit", "--each", "--wait", "--", "cp {} {}.copy"], dir, input);
    expect(copy.code).toBe(0);
    for (const name of HOSTILE) expect(fs.existsSync(path.join(dir, "data", `${name}.copy`))).toBe(true);
    const touch = await batonWithInput(["submit", "--each", "--wait", "--", "touch"], dir, "a b\nc\n");
    expect(touch.code).toBe(0);
    expect(fs.existsSync(path.join(dir, "a b"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "c"))).toBe(true);
    expect(fs.existsSync(path.join(dir, "pwned"))).toBe(false);
    // Without {} in -n (or without -n) the tasks are numbered like the copies of -N.
    const ls = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout) as Array<{ name: string }>;
    expect(ls.map((t) => t.name).sort()).toEqual(["touch[0]", "touch[1]"]);
  });

  it("without a server runs them here; --wait exits with the first failing task's code", async () => {
    const dir = makeProject({});
    const r = await batonWithInput(
      [
        "submit",
        "--each",
        "--wait",
        "-n",
        "exit-{}",
        "--",
        "sh",
        "-c",
        'echo "$1" > "out-$1"; exit "$1"',
        "sh",
        "{}",
      ],
      dir,
      "0\n3\n0\n",
    );
    expect(r.code).toBe(3);
    expect(
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith("out-"))
        .sort(),
    ).toEqual(["out-0", "out-3"]);
    const ls = JSON.parse((await runBaton(["ls", "--json"], dir)).stdout) as Array<{
      name: string;
      status: string;
    }>;
    expect(ls.map((t) => `${t.name}=${t.status}`).sort()).toEqual([
      "exit-0=succeeded",
      "exit-0=succeeded",
      "exit-3=failed",
    ]);
  });

  it("inside a task the lines become its children, and the parent ends after them", async () => {
    const dir = makeProject({});
    const server = await startServer(dir);
    const parent = `seq 3 | node ${JSON.stringify(BATON_BIN)} submit --each -n 'child-{}' -- 'sleep 0.3; echo {} > "$BATON_PIPELINE_DIR/child-{}"'`;
    const r = await runBaton(["submit", "-n", "parent", "--", parent], dir);
    expect(r.code).toBe(0);
    const run = await runOf(server, r.stdout.trim());
    const detail = await waitForRun(server, run);
    expect(detail.run.status).toBe("succeeded");
    const byName = new Map(
      (detail.tasks as Array<{ id: string; name: string; parent: string | null }>).map((t) => [t.name, t]),
    );
    for (const i of [1, 2, 3]) {
      expect(byName.get(`child-${i}`)?.parent).toBe(byName.get("parent")!.id);
      expect(fs.readFileSync(path.join(dir, ".baton", "runs", run, "shared", `child-${i}`), "utf8")).toBe(
        `${i}\n`,
      );
    }
  });

  it("submits 200 lines in one request: one run of 200 tasks", async () => {
    const dir = makeProject({});
    const server = await startServer(dir);
    const input = Array.from({ length: 200 }, (_, i) => `item${i}`).join("\n");
    const r = await batonWithInput(["submit", "--each", "--", "true"], dir, input);
    expect(r.code).toBe(0);
    expect(ids(r)).toHaveLength(200);
    const runs = (await api(server, "/api/v1/runs")).body.runs as Array<{ id: string }>;
    expect(runs).toHaveLength(1);
    const detail = await waitForRun(server, runs[0]!.id, undefined, { timeoutMs: 120_000 });
    expect(detail.tasks).toHaveLength(200);
    expect(detail.run.status).toBe("succeeded");
  });

  it("refuses bad input with exit 2, naming the line, and submits nothing", async () => {
    const dir = makeProject({});
    const server = await startServer(dir);
    const shards = await batonWithInput(["submit", "--each", "-N", "2", "--", "true"], dir, "a\n");
    expect(shards.code).toBe(2);
    expect(shards.stderr).toContain("--each and -N do not go together");
    // The second line makes a name over the limit: the API names the entry.
    const long = "x".repeat(300);
    const bad = await batonWithInput(["submit", "--each", "-n", "t-{}", "--", "true"], dir, `ok\n${long}\n`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("tasks[1].name: expected at most 200 characters");
    // The second line names a task that does not exist: the engine names the line.
    expect((await runBaton(["submit", "-n", "prep-ok", "--", "true"], dir)).code).toBe(0);
    const after = await batonWithInput(
      ["submit", "--each", "--after-success", "prep-{}", "--", "true"],
      dir,
      "ok\nmissing\n",
    );
    expect(after.code).toBe(2);
    expect(after.stderr).toContain("task 2 of 2");
    expect(after.stderr).toContain("prep-missing");
    expect((await api(server, "/api/v1/runs")).body.runs).toHaveLength(1); // prep-ok's alone
    const empty = await batonWithInput(["submit", "--each", "--", "true"], dir, "\n\n");
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toContain("nothing submitted");
  });
});
