import type { ChildProcess } from "node:child_process";
import os from "node:os";
import { describe, expect, it } from "vitest";
import { collect, makeProject, runBaton, startBaton } from "../helpers/cli.js";

/** Starts `baton submit ARGS` in the background (no server: its own embedded engine); resolves with its task id once recorded. */
async function submitInBackground(
  dir: string,
  args: string[],
): Promise<{ child: ChildProcess; id: string; done: ReturnType<typeof collect> }> {
  const child = startBaton(["submit", ...args], dir);
  const done = collect(child);
  const id = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /^(task_[0-9A-Z]{26})\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", () => reject(new Error(`submit exited before printing an id: ${out}`)));
  });
  return { child, id, done };
}

describe("embedded engines in one folder see each other's tasks (no server)", () => {
  it("`submit -n a -- sleep 3 &` then `submit -n b --after-success a`: b runs once a succeeded", async () => {
    const dir = makeProject({});
    const a = await submitInBackground(dir, ["-n", "a", "--", "sleep 3"]);
    const started = Date.now();
    const b = await runBaton(["submit", "-n", "b", "--after-success", "a", "--", "echo", "after"], dir);
    expect(b.code, b.stderr).toBe(0);
    // b waited for a (which sleeps 3 s), and returned once the whole thing was over.
    expect(Date.now() - started).toBeGreaterThan(1500);
    const aDone = await a.done;
    expect(aDone.code).toBe(0);
    const bId = b.stdout.trim();
    const show = await runBaton(["show", bId], dir);
    expect(show.stdout).toMatch(/succeeded/);
    const log = await runBaton(["logs", bId], dir);
    expect(log.stdout).toBe("after\n");
  }, 60_000);

  it("the --after-fail variant: b is skipped once a succeeded", async () => {
    const dir = makeProject({});
    const a = await submitInBackground(dir, ["-n", "a", "--", "sleep 2"]);
    const b = await runBaton(["submit", "-n", "b", "--after-fail", "a", "--", "echo", "after"], dir);
    expect(b.code, b.stderr).toBe(0);
    expect((await a.done).code).toBe(0);
    const show = await runBaton(["show", b.stdout.trim()], dir);
    expect(show.stdout).toMatch(/skipped/);
    expect(show.stdout).toMatch(/needs a \(task_[0-9A-Z]{26}\) to end in failure, but it succeeded/);
    const log = await runBaton(["logs", b.stdout.trim()], dir);
    expect(log.stdout).toBe("");
  }, 60_000);

  it("a dependency that already ended is judged at once", async () => {
    const dir = makeProject({});
    expect((await runBaton(["submit", "-n", "a", "--", "exit 3"], dir)).code).toBe(1);
    const b = await runBaton(["submit", "-n", "b", "--after-fail", "a", "--", "echo", "after"], dir);
    expect(b.code, b.stderr).toBe(0);
    expect((await runBaton(["logs", b.stdout.trim()], dir)).stdout).toBe("after\n");
  }, 60_000);

  it("a dependency whose engine died: b fails at once, naming the dead engine and `baton resume RUN`", async () => {
    const dir = makeProject({});
    const a = await submitInBackground(dir, ["-n", "a", "--", "sleep 4"]);
    a.child.kill("SIGKILL");
    await a.done;
    const started = Date.now();
    const b = await runBaton(["submit", "-n", "b", "--after-success", "a", "--", "echo", "after"], dir);
    expect(b.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    const show = await runBaton(["show", b.stdout.trim()], dir);
    expect(show.stdout).toMatch(/failed/);
    expect(show.stdout).toMatch(
      new RegExp(`engine eng_\\w+ \\(pid ${a.child.pid} on host ${os.hostname()}\\) is gone`),
    );
    expect(show.stdout).toMatch(/baton resume run_[0-9A-Z]{26}/);
    expect((await runBaton(["logs", b.stdout.trim()], dir)).stdout).toBe("");
  }, 60_000);
});
