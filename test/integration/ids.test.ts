import path from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

const PIPELINE = `
version: 1
pipelines:
  main:
    nodes:
      fit:
        foreach: [1, 2, 3]
        run: echo "fit \${{ item }}"
`;

function commonPrefix(ids: string[]): string {
  let n = 0;
  while (ids.every((id) => id[n] !== undefined && id[n] === ids[0]![n])) n++;
  return ids[0]!.slice(0, n);
}

describe("ids: run_/task_ kinds, and prefixes that identify one run or task", () => {
  it("baton show takes a short run_ or task_ prefix, lists the candidates of an ambiguous one, refuses a too-short one", async () => {
    const dir = makeProject({ "baton.yaml": PIPELINE });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const runId = r.json.run.id;
    const tasks = r.json.tasks;
    expect(runId).toMatch(/^run_[0-9A-Z]{26}$/);
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect(t.id).toMatch(/^task_[0-9A-Z]{26}$/);

    // The run and its tasks, made in the same few milliseconds, differ early in their ULIDs.
    const run = await runBaton(["show", runId.slice(0, "run_".length + 12)], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`run       ${runId}`);

    const fit1 = tasks[1]!;
    const task = await runBaton(["show", fit1.id.slice(0, "task_".length + 16)], dir);
    expect(task.code, task.stderr).toBe(0);
    expect(task.stdout).toContain(fit1.id);
    expect(task.stdout).toContain(fit1.name);

    // The bare ULID of a new id also names it.
    const bare = await runBaton(["show", "--json", fit1.id.slice("task_".length)], dir);
    expect(bare.code, bare.stderr).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ id: fit1.id, name: fit1.name });

    // A prefix every task shares: exit 2, naming each candidate with its name.
    const shared = commonPrefix(tasks.map((t) => t.id));
    expect(shared.length).toBeGreaterThanOrEqual("task_".length + 4);
    const ambiguous = await runBaton(["show", shared], dir);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(`"${shared}" matches 3 tasks: `);
    for (const t of tasks) expect(ambiguous.stderr).toContain(`${t.id} (${t.name})`);
    expect(ambiguous.stdout).toBe("");

    const short = await runBaton(["show", "run_01"], dir);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('"run_01" is too short');
    expect(short.stderr).toContain("at least 4 characters");
  });

  it("submit --after takes a sibling's task_ id, or its bare ULID in any case", async () => {
    const dir = makeProject({});
    const first = await runBaton(["submit", "-n", "first", "--", "echo one"], dir);
    expect(first.code, first.stderr).toBe(0);
    const id = first.stdout.trim();
    expect(id).toMatch(/^task_[0-9A-Z]{26}$/);
    for (const ref of [id, id.slice("task_".length).toLowerCase()]) {
      const next = await runBaton(["submit", "-n", "next", "--after", ref, "--wait", "--", "echo two"], dir);
      expect(next.code, next.stderr).toBe(0);
      // --wait: the id goes to stderr, stdout is the command's output alone.
      expect(next.stdout).toBe("two\n");
      expect(next.stderr).toMatch(/task_[0-9A-Z]{26}/);
    }
  });

  it("a database written with plain ULIDs (before ids had kinds) still resolves full ids and prefixes", async () => {
    const dir = makeProject({ "baton.yaml": PIPELINE });
    // Ids as the old monotonic generator made them in one millisecond: 25 shared characters.
    const base = "01J9ZK3F9QWXYZ0000000000";
    const runId = `${base}00`;
    const taskIds = [`${base}01`, `${base}02`];
    const store = SqliteStore.open(path.join(dir, ".baton", "baton.db"));
    await store.createRun({
      id: runId,
      pipeline: "main",
      params: {},
      options: {},
      workdir: dir,
      specFile: path.join(dir, "baton.yaml"),
      parentRunId: null,
      parentTaskId: null,
      createdAt: Date.now() - 1000,
      enginePid: null,
    });
    await store.addTasks(
      taskIds.map((id, i) => ({
        id,
        runId,
        name: `fit[${i}]`,
        node: "fit",
        parentId: null,
        status: "pending" as const,
        pool: "local",
        priority: 0,
        params: {},
        item: i,
        outputDir: path.join(dir, ".baton", "runs", runId, id, "output"),
      })),
    );
    await store.finishRun(runId, "succeeded", Date.now());
    await store.close();

    const full = await runBaton(["show", runId], dir);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain(`run       ${runId}`);
    const fullTask = await runBaton(["show", "--json", taskIds[1]!], dir);
    expect(fullTask.code, fullTask.stderr).toBe(0);
    expect(JSON.parse(fullTask.stdout)).toMatchObject({ id: taskIds[1], name: "fit[1]" });

    // A bare prefix matches the run and both tasks; the kind tells them apart.
    const both = await runBaton(["show", base.toLowerCase()], dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("matches 1 run and 2 tasks");
    expect(both.stderr).toContain(`${runId} (pipeline main)`);
    const byKind = await runBaton(["show", `run_${base.slice(0, 12)}`], dir);
    expect(byKind.code, byKind.stderr).toBe(0);
    expect(byKind.stdout).toContain(`run       ${runId}`);
    const taskByKind = await runBaton(["show", "--json", `task_${taskIds[0]}`], dir);
    expect(taskByKind.code, taskByKind.stderr).toBe(0);
    expect(JSON.parse(taskByKind.stdout)).toMatchObject({ id: taskIds[0], name: "fit[0]" });

    // A new run beside the old one gets kinded ids, and the latest run is still the new one.
    const next = await runJson([], dir);
    expect(next.code, next.stderr).toBe(0);
    expect(next.json.run.id).toMatch(/^run_/);
    const ls = await runBaton(["ls"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.indexOf(next.json.run.id)).toBeLessThan(ls.stdout.indexOf(runId));
  });
});
