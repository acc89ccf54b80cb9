import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { helperPath } from "../../dist/executors/spawn-helper.js";
import { BATON_BIN, collect, isAlive, makeProject, runJson } from "../helpers/cli.js";

/**
 * The engine starts tasks through the native spawn helper (native/baton-spawn.c, built by
 * `npm run build` where there is a C compiler; CI requires it with BATON_REQUIRE_SPAWN_HELPER=1),
 * or through launcher processes with Node's spawn where it is missing, has died, or
 * `BATON_SPAWN_HELPER=off`. Each task here writes the name of the process that started it.
 */
const built = helperPath({}) !== undefined;
if (!built && process.env.BATON_REQUIRE_SPAWN_HELPER === "1") {
  throw new Error(
    "BATON_REQUIRE_SPAWN_HELPER=1 but dist/native/baton-spawn was not built (npm run build needs cc)",
  );
}

const FAN = `
version: 1
pools:
  local: { slots: 2 }
pipelines:
  p:
    nodes:
      fan:
        foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        run: cat /proc/$PPID/comm > "$BATON_OUTPUT_DIR/parent.txt"; sleep 0.1
`;

/** A pipeline whose first tasks (`warm`) outlast the helper's start, then `nodes` (which may need `warm`). */
const afterWarmUp = (nodes: string) => `
version: 1
pools:
  local: { slots: 2 }
pipelines:
  p:
    nodes:
      warm:
        foreach: [1, 2, 3, 4]
        run: sleep 0.2
${nodes.replace(/^\n/, "")}`;

/** Who started each task of the fan: the helper, or a Node process (a launcher, or the engine itself for the first ones). */
async function parents(env: Record<string, string>): Promise<string[]> {
  const dir = makeProject({ "baton.yaml": FAN });
  const run = await runJson([], dir, env);
  expect(run.code, run.stderr).toBe(0);
  return run.json.tasks.map((t) => fs.readFileSync(path.join(t.outputDir, "parent.txt"), "utf8").trim());
}

describe.runIf(process.platform === "linux")("the spawn helper", () => {
  it.runIf(built)(
    "starts the tasks of a run once it is up, and BATON_SPAWN_HELPER=off turns it off",
    async () => {
      const on = await parents({});
      // The first tasks may be started by the engine itself, while its helper starts.
      expect(on.filter((p) => p === "baton-spawn").length).toBeGreaterThanOrEqual(6);
      const off = await parents({ BATON_SPAWN_HELPER: "off" });
      expect(off).not.toContain("baton-spawn");
    },
  );

  it.runIf(built)(
    "a helper killed mid-run: the tasks it started finish, are followed by pid, later ones start without it, and the run succeeds",
    async () => {
      const dir = makeProject({
        "baton.yaml": afterWarmUp(`
      killer:
        needs: [warm]
        run: |
          if [ "$(cat /proc/$PPID/comm)" = baton-spawn ]; then kill -9 $PPID; echo killed > "$BATON_OUTPUT_DIR/killed.txt"; fi
          sleep 1
          echo done > "$BATON_OUTPUT_DIR/result.txt"
      after:
        needs: [killer]
        run: echo after > "$BATON_OUTPUT_DIR/after.txt"
`),
      });
      const run = await runJson([], dir);
      expect(run.code, run.stderr).toBe(0);
      const killer = run.byName("killer");
      expect(fs.readFileSync(path.join(killer.outputDir, "killed.txt"), "utf8")).toBe("killed\n");
      expect(fs.readFileSync(path.join(killer.outputDir, "result.txt"), "utf8")).toBe("done\n");
      expect(killer.status).toBe("succeeded");
      const after = run.byName("after").outputDir;
      expect(fs.readFileSync(path.join(after, "after.txt"), "utf8")).toBe("after\n");
      expect(run.stderr).toMatch(
        /spawn helper .* ended .*starting tasks through launcher processes from now on/,
      );
    },
  );

  it.runIf(built)(
    "a Ctrl-C reaches the helper too: it goes on, and reports the ends of the tasks the run cancels",
    async () => {
      const dir = makeProject({
        "baton.yaml": afterWarmUp(`
      long:
        needs: [warm]
        foreach: [1, 2]
        run: echo $$ >> pids; cat /proc/$PPID/comm >> parents; sleep 30
`),
      });
      // Its own process group, as a command typed in a terminal is: Ctrl-C signals the whole group.
      const child = spawn(process.execPath, [BATON_BIN, "run", "--json"], {
        cwd: dir,
        env: { ...process.env, BATON_PROGRESS: "plain", BATON_KILL_GRACE_MS: "1000" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const done = collect(child);
      const pidsFile = path.join(dir, "pids");
      const lines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : []);
      for (let i = 0; i < 100 && lines(pidsFile).length < 2; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(lines(path.join(dir, "parents"))).toEqual(["baton-spawn", "baton-spawn"]);
      process.kill(-child.pid!, "SIGINT");
      const r = await done;
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).not.toMatch(/spawn helper/);
      const json = JSON.parse(r.stdout) as { tasks: Array<{ name: string; status: string }> };
      expect(json.tasks.filter((t) => t.name.startsWith("long")).map((t) => t.status)).toEqual([
        "cancelled",
        "cancelled",
      ]);
      for (const pid of lines(pidsFile)) expect(isAlive(Number(pid))).toBe(false);
    },
  );
});

describe.runIf(process.platform === "linux" && built)(
  "the spawn helper holding a task for the slot of another",
  () => {
    /** The helper's replies, in the order they came: `S NAME`, `X NAME`, `H NAME`, `F NAME`. */
    async function helper() {
      const { SpawnHelper } = await import("../../dist/executors/spawn-helper.js");
      const h = await SpawnHelper.start(helperPath({})!, () => {});
      if (!h) throw new Error("the spawn helper did not start");
      const dir = makeProject({});
      const events: string[] = [];
      const waiters: Array<() => void> = [];
      const note = (e: string) => {
        events.push(e);
        for (const w of waiters.splice(0)) w();
      };
      const start = (name: string, script: string, hold?: { after: number; until?: number }) =>
        h.start(
          {
            file: "/bin/sh",
            args: ["-c", script],
            cwd: dir,
            env: {},
            logPath: path.join(dir, `${name}.log`),
            outputDir: path.join(dir, name),
            modes: { dir: 0o700, file: 0o600 },
            ...(hold ? { after: hold.after, until: hold.until ?? 0 } : {}),
          },
          {
            onStarted: () => note(`S ${name}`),
            onExited: () => note(`X ${name}`),
            onFailed: (m) => note(`F ${name} ${m}`),
            onDropped: () => note(`H ${name}`),
          },
        )!;
      const seen = async (e: string) => {
        while (!events.includes(e)) await new Promise<void>((r) => waiters.push(r));
      };
      return { h, dir, events, start, seen, close: () => h.close() };
    }

    it("starts a held task the moment the one it follows ends, before that end is told, with its files made at once", async () => {
      const t = await helper();
      try {
        const a = t.start("a", "sleep 0.4");
        const b = t.start("b", `echo b > "${t.dir}/b.txt"`, { after: a });
        const c = t.start("c", `echo c > "${t.dir}/c.txt"`, { after: b });
        await new Promise((r) => setTimeout(r, 150));
        // Held: their folders and logs are made, nothing runs.
        expect(fs.existsSync(path.join(t.dir, "b.log"))).toBe(true);
        expect(fs.existsSync(path.join(t.dir, "c"))).toBe(true);
        expect(t.events).toEqual(["S a"]);
        await t.seen("X c");
        expect(t.events).toEqual(["S a", "S b", "X a", "S c", "X b", "X c"]);
        expect(fs.readFileSync(path.join(t.dir, "c.txt"), "utf8")).toBe("c\n");
        // One that follows a task no longer running starts at once.
        t.start("d", "true", { after: a });
        await t.seen("X d");
      } finally {
        t.close();
      }
    });

    it("past its time it waits for go; dropped, it never starts; go or drop of what runs changes nothing", async () => {
      const t = await helper();
      try {
        const a = t.start("a", "sleep 0.2");
        const late = t.start("late", `echo late > "${t.dir}/late.txt"`, { after: a, until: Date.now() - 1 });
        const long = t.start("long", "sleep 3");
        const dropped = t.start("dropped", `echo no > "${t.dir}/dropped.txt"`, { after: long });
        await t.seen("X a");
        await new Promise((r) => setTimeout(r, 200));
        expect(t.events).not.toContain("S late");
        t.h.go(late);
        await t.seen("X late");
        t.h.drop(dropped);
        await t.seen("H dropped");
        t.h.go(dropped);
        t.h.drop(long);
        await new Promise((r) => setTimeout(r, 200));
        expect(fs.existsSync(path.join(t.dir, "dropped.txt"))).toBe(false);
        expect(t.events.filter((e) => e.endsWith(" long"))).toEqual(["S long"]);
      } finally {
        t.close();
      }
    });
  },
);
