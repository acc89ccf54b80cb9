import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

describe("what would fail late is refused at submission (exit 2, naming the field and the limit)", () => {
  it("a command over the OS's one-argument limit: exit 2 with its size, nothing run", async () => {
    const dir = makeProject({});
    // 140 words of 1,000 characters: each fits in argv, the joined `bash -c` string does not.
    const words = Array.from({ length: 140 }, () => "x".repeat(1000));
    const r = await runBaton(["submit", "--", "echo", ...words], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/command: the command is 14\d{4} bytes; the system takes at most 131071 bytes/);
    expect(r.stderr).toContain("MAX_ARG_STRLEN");
    expect((await runBaton(["ls"], dir)).stdout).toBe("no runs yet\n");
  });

  it("names longer than 200 characters: a task name (-n) and a node name in a pipeline file", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1\npipelines:\n  p:\n    nodes:\n      ${"n".repeat(250)}:\n        run: echo hi\n`,
    });
    const r = await runBaton(["submit", "-n", "a".repeat(300), "--", "true"], makeProject({}));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is 300 characters long; the limit is 200");
    const v = await runBaton(["validate"], dir);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(
      /baton\.yaml:5:7 pipelines\.p\.nodes\.n+: node name "n+…" is 250 characters long; the limit is 200/,
    );
  });

  it("a pipeline task whose command is only too large once resolved fails saying so, not with a raw E2BIG", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  p:
    params: { n: { type: int, default: 140000 } }
    nodes:
      big:
        run: echo \${{ params.n }} ${"y".repeat(140_000)}
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    const show = await runBaton(["show", r.byName("big").id], dir);
    expect(show.stdout).toMatch(
      /cannot start the task: the command is 14\d{4} bytes; the system takes at most 131071 bytes/,
    );
    expect(show.stdout).not.toContain("E2BIG");
  });

  it("`baton ls` keeps its table on long names already stored: cut with an ellipsis, control characters shown as ?", async () => {
    const dir = makeProject({});
    expect((await runBaton(["submit", "-n", "short", "--", "true"], dir)).code).toBe(0);
    // Stored by an older Baton, before names had a limit.
    const db = new Database(path.join(dir, ".baton", "baton.db"));
    const long = `${"L".repeat(5000)}\u001b[2J`;
    db.prepare("UPDATE runs SET pipeline = ?").run(long);
    db.prepare("UPDATE tasks SET name = ?").run(long);
    db.close();
    const runId = (JSON.parse((await runBaton(["ls", "--json"], dir)).stdout) as Array<{ run: string }>)[0]!
      .run;
    for (const args of [["ls"], ["ls", runId], ["ls", runId, "--tree"]]) {
      const ls = await runBaton(args, dir);
      expect(ls.code, ls.stderr).toBe(0);
      for (const line of ls.stdout.split("\n")) expect(line.length).toBeLessThan(200);
      expect(ls.stdout).toContain(`${"L".repeat(59)}…`);
      expect(ls.stdout).not.toContain("\u001b");
    }
  });
});
