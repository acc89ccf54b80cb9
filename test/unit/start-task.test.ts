import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SpawnReply, SpawnRequest } from "../../dist/executors/spawner.js";
import { startTask } from "../../dist/executors/start-task.js";

/** What a launcher (or the engine, before one is ready) does for one request: start, report, collect. */

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
    args: ["-eo", "pipefail", "-c", command],
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
function run(m: SpawnRequest): Promise<SpawnReply[]> {
  return new Promise((resolve) => {
    const replies: SpawnReply[] = [];
    startTask(m, (r) => {
      replies.push(r);
      if (r.type !== "started") resolve(replies);
    });
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

describe.runIf(process.platform === "linux")("startTask", () => {
  it("tells the start time of a process that ends at once, so that its handle tells a reused pid apart", async () => {
    for (let i = 0; i < 5; i++) {
      const [started, end] = await run(request("exit 0"));
      expect(started).toMatchObject({ type: "started", pid: expect.any(Number) });
      expect((started as { pidStart?: unknown }).pidStart).toMatch(/^\d+$/);
      expect(end).toMatchObject({ type: "exited", code: 0 });
    }
  });

  it("kills what the shell left running in its group before it reports the end", async () => {
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
  });
});
