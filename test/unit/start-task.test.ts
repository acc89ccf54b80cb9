import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { wrapCommand } from "../../dist/executors/shell.js";
import { SpawnHelper, helperPath } from "../../dist/executors/spawn-helper.js";
import type { SpawnReply, SpawnRequest } from "../../dist/executors/spawner.js";
import { startTask } from "../../dist/executors/start-task.js";

/**
 * What a launcher (or the engine, before one is ready) does for one request: start, report,
 * collect; by forking itself (Node's spawn), and through the native helper (native/baton-spawn.c),
 * which `npm run build` builds where there is a C compiler. CI requires it
 * (BATON_REQUIRE_SPAWN_HELPER=1); elsewhere its cases are skipped without it.
 */
const helperFile = helperPath({});
if (!helperFile && process.env.BATON_REQUIRE_SPAWN_HELPER === "1") {
  throw new Error(
    "BATON_REQUIRE_SPAWN_HELPER=1 but dist/native/baton-spawn was not built (npm run build needs cc)",
  );
}

let dir: string;
let seq = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-start-task-"));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function request(command: string): SpawnRequest {
  const id = ++seq;
  const task = path.join(dir, `task${id}`);
  const outputDir = path.join(task, "output");
  return {
    id,
    file: "/bin/bash",
    args: ["-eo", "pipefail", "-c", wrapCommand(command)],
    cwd: dir,
    env: { BATON_OUTPUT_DIR: outputDir, BATON_STATUS_FILE: path.join(task, "attempt-1.status") },
    logPath: path.join(task, "attempt-1.log"),
    outputDir,
    collect: {
      outputDir,
      globs: ["*"],
      casRoot: path.join(dir, "cas"),
      metricsPath: path.join(task, "attempt-1.metrics.jsonl"),
      logPath: path.join(task, "attempt-1.log"),
    },
  };
}

/** The replies to one request, up to its end. */
function runWith(m: SpawnRequest, helper: SpawnHelper | undefined): Promise<SpawnReply[]> {
  return new Promise((resolve) => {
    const replies: SpawnReply[] = [];
    startTask(
      m,
      (r) => {
        replies.push(r);
        if (r.type !== "started") resolve(replies);
      },
      process.env,
      helper,
    );
  });
}

/** Gone, or a zombie waiting for its new parent: no longer running. */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const ways = [
  { way: "with Node's spawn", helper: false },
  { way: "through the spawn helper", helper: true },
];

describe.runIf(process.platform === "linux").each(ways)("startTask, $way", ({ helper: useHelper }) => {
  let helper: SpawnHelper | undefined;
  const run = (m: SpawnRequest) => runWith(m, helper);

  beforeAll(async () => {
    if (!useHelper || !helperFile) return;
    helper = await SpawnHelper.start(helperFile, (why) => {
      throw new Error(why);
    });
  });
  afterAll(() => helper?.close());

  it.runIf(!useHelper || helperFile)(
    "runs the command in its folder, in a session of its own, with its variables and no stdin",
    async () => {
      const m = request(
        'pwd; echo "var=$EXTRA home=${HOME:+set}"; ps -o sid= -o pgid= -p $$ | tr -s " "; echo $$; cat; echo "arg: $0"',
      );
      m.env.EXTRA = "two words\nand a line";
      const [started, end] = await run(m);
      expect(end).toMatchObject({ type: "exited", code: 0, signal: null });
      const pid = (started as { pid: number }).pid;
      const log = fs.readFileSync(m.logPath, "utf8").split("\n");
      expect(log[0]).toBe(fs.realpathSync(dir));
      expect(log[1]).toBe("var=two words");
      expect(log[2]).toBe("and a line home=set");
      expect(log[3]?.trim()).toBe(`${pid} ${pid}`);
      expect(log[4]).toBe(String(pid));
      expect(log[5]).toBe("arg: /bin/bash");
    },
  );

  it.runIf(!useHelper || helperFile)(
    "reports the exit code, and the signal that ended a process",
    async () => {
      expect((await run(request("exit 3")))[1]).toMatchObject({ type: "exited", code: 3, signal: null });
      expect((await run(request("kill -TERM $$")))[1]).toMatchObject({
        type: "exited",
        code: null,
        signal: "SIGTERM",
      });
    },
  );

  it.runIf(!useHelper || helperFile)("says why a process could not start, naming what it tried", async () => {
    const m = request("true");
    m.cwd = path.join(dir, "no-such-folder");
    const [failed] = await run(m);
    expect(failed?.type).toBe("failed");
    expect((failed as { message: string }).message).toMatch(
      /^cannot start \/bin\/bash.*(ENOENT|No such file)/,
    );
  });

  it.runIf(!useHelper || helperFile)("runs many at once and tells each its own end", async () => {
    const ms = Array.from({ length: 40 }, (_, i) =>
      request(`echo ${i} > "$BATON_OUTPUT_DIR/n.txt"; exit ${i % 4}`),
    );
    const ends = await Promise.all(ms.map((m) => run(m)));
    ends.forEach(([, end], i) => {
      expect(end).toMatchObject({ type: "exited", code: i % 4 });
      expect(fs.readFileSync(path.join(ms[i]!.outputDir, "n.txt"), "utf8")).toBe(`${i}\n`);
    });
    // Outputs of the successful ones were collected into the content store.
    expect((ends[0]![1] as { collected?: { outputs: unknown[] } }).collected?.outputs).toHaveLength(1);
  });

  it.runIf(!useHelper || helperFile)(
    "makes the output folder and log with the state modes, narrows an existing log; the shell makes the status file alike",
    async () => {
      const mode = (p: string) => fs.statSync(p).mode & 0o777;
      const m = request('echo hi > "$BATON_OUTPUT_DIR/a.txt"');
      const status = m.env.BATON_STATUS_FILE!;
      // Left by an earlier attempt, too open: it keeps its content and loses the extra bits.
      fs.mkdirSync(path.dirname(m.logPath));
      fs.writeFileSync(m.logPath, "earlier\n", { mode: 0o666 });
      fs.chmodSync(m.logPath, 0o666);
      const umask022 = process.umask(0o022);
      let end: unknown;
      try {
        [, end] = await run(m);
      } finally {
        process.umask(umask022);
      }
      expect(end).toMatchObject({ type: "exited", code: 0 });
      expect(mode(m.outputDir)).toBe(0o700);
      // Made by the task's shell as it exited, private whatever the task's umask.
      expect(fs.readFileSync(status, "utf8")).toBe("0\n");
      expect([mode(m.logPath), mode(status)]).toEqual([0o600, 0o600]);
      expect(fs.readFileSync(m.logPath, "utf8")).toBe("earlier\n");

      // Shared with the group (BATON_STATE_MODE=group), whatever the umask takes away.
      process.env.BATON_STATE_MODE = "group";
      const umask = process.umask(0o077);
      try {
        const g = request("true");
        const [, gEnd] = await run(g);
        expect(gEnd).toMatchObject({ type: "exited", code: 0 });
        expect([mode(path.dirname(g.outputDir)), mode(g.outputDir)]).toEqual([0o770, 0o770]);
        expect([mode(g.logPath), mode(g.env.BATON_STATUS_FILE!)]).toEqual([0o660, 0o660]);
      } finally {
        process.umask(umask);
        Reflect.deleteProperty(process.env, "BATON_STATE_MODE");
      }
    },
  );

  it.runIf(!useHelper || helperFile)(
    "says which folder it cannot make, and why, and starts nothing",
    async () => {
      const m = request('echo ran > "$BATON_OUTPUT_DIR/../ran"');
      // The task's folder is a file: its output folder cannot be made below it.
      fs.writeFileSync(path.dirname(m.outputDir), "in the way");
      const replies = await run(m);
      expect(replies).toEqual([
        {
          type: "failed",
          id: m.id,
          message: `cannot write output folder ${m.outputDir}: a parent is not a folder (ENOTDIR)`,
        },
      ]);
    },
  );

  it.runIf(!useHelper || helperFile)(
    "tells the start time of a process that ends at once, so that its handle tells a reused pid apart",
    async () => {
      for (let i = 0; i < 5; i++) {
        const [started, end] = await run(request("exit 0"));
        expect(started).toMatchObject({ type: "started", pid: expect.any(Number) });
        expect((started as { pidStart?: unknown }).pidStart).toMatch(/^\d+$/);
        expect(end).toMatchObject({ type: "exited", code: 0 });
      }
    },
  );

  it.runIf(!useHelper || helperFile)(
    "kills what the shell left running in its group before it reports the end",
    async () => {
      const m = request('sleep 30 & echo $! > "$BATON_OUTPUT_DIR/../bg.pid"; exit 0');
      const [, end] = await run(m);
      expect(end).toMatchObject({ type: "exited", code: 0 });
      const bg = Number(fs.readFileSync(path.join(m.outputDir, "..", "bg.pid"), "utf8"));
      try {
        // SIGKILL is sent when the shell ends; the kernel may take a moment to finish it.
        const until = Date.now() + 5000;
        while (running(bg) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        expect(running(bg)).toBe(false);
      } finally {
        try {
          process.kill(bg, "SIGKILL");
        } catch {
          // Gone.
        }
      }
    },
  );
});

describe.runIf(process.platform === "linux")("SpawnHelper.start", () => {
  it("is undefined (the caller then uses spawn) for a binary that cannot start or ends before it says it is ready", async () => {
    const deaths: string[] = [];
    expect(await SpawnHelper.start(path.join(dir, "no-such-helper"), (w) => deaths.push(w))).toBeUndefined();
    // As a helper built for another system would: it starts, then ends without a word.
    expect(await SpawnHelper.start("/bin/true", (w) => deaths.push(w))).toBeUndefined();
    expect(deaths).toEqual([]);
  });
});

describe.runIf(process.platform === "linux" && helperFile)("startTask in the engine's own process", () => {
  it("tells the end at once and collects the outputs on the next turn (the freed slot starts its next task first)", async () => {
    const helper = await SpawnHelper.start(helperFile!, (why) => {
      throw new Error(why);
    });
    try {
      const m = request('echo kept > "$BATON_OUTPUT_DIR/kept.txt"');
      const out = path.join(m.outputDir, "kept.txt");
      const end = await new Promise<SpawnReply>((resolve) =>
        startTask(m, (r) => r.type !== "started" && resolve(r), process.env, helper, true),
      );
      expect(end).toMatchObject({ type: "exited", code: 0, signal: null });
      const collected = (end as { collected?: unknown }).collected;
      expect(collected).toBeInstanceOf(Promise);
      // Not in the content store yet: a stored output is hard-linked there (and made read-only).
      expect(fs.statSync(out).nlink).toBe(1);
      const { outputs } = await (collected as Promise<{ outputs: Array<{ path: string; sha256: string }> }>);
      expect(outputs.map((o) => o.path)).toEqual(["kept.txt"]);
      expect(fs.statSync(out).nlink).toBe(2);
      expect(
        fs.readFileSync(
          path.join(m.collect!.casRoot, outputs[0]!.sha256.slice(0, 2), outputs[0]!.sha256),
          "utf8",
        ),
      ).toBe("kept\n");
    } finally {
      helper?.close();
    }
  });
});
