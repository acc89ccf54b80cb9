import { type ChildProcess, fork } from "node:child_process";
import type { CollectRequest, Collected } from "../artifacts/collect.js";

/** A request to start `/bin/bash ARGS` with the log file as stdout and stderr, in its own session. */
export interface SpawnRequest {
  id: number;
  args: string[];
  cwd: string;
  /** Added to the engine's environment. */
  env: Record<string, string>;
  logPath: string;
  /** Created before the process starts. */
  outputDir: string;
  /** Collected in the launcher once the process ends. */
  collect?: CollectRequest;
}

export type SpawnReply =
  | { type: "started"; id: number; pid: number }
  | { type: "exited"; id: number; code: number | null; signal: NodeJS.Signals | null; collected?: Collected }
  | { type: "failed"; id: number; message: string };

export interface SpawnHandlers {
  onStarted(pid: number): void;
  onExited(code: number | null, signal: NodeJS.Signals | null, collected?: Collected): void;
  onFailed(message: string): void;
}

interface Launcher {
  child: ChildProcess;
  busy: number;
}

/**
 * Starts processes through a few launcher processes (`BATON_LAUNCHERS`, default 2; see
 * `launcher.ts` for why), each request going to the least busy one. An idle launcher does not
 * keep the engine alive.
 */
export class Spawner {
  private readonly launchers: Launcher[] = [];
  private readonly handlers = new Map<number, SpawnHandlers>();
  private nextId = 1;

  constructor(count = Number(process.env.BATON_LAUNCHERS) || 2) {
    const file = new URL("./launcher.js", import.meta.url);
    for (let i = 0; i < count; i++) {
      const child = fork(file, [], {
        stdio: ["ignore", "ignore", "inherit", "ipc"],
        execArgv: ["--max-old-space-size=64"],
        serialization: "json",
      });
      const entry: Launcher = { child, busy: 0 };
      child.on("message", (r: SpawnReply) => this.onReply(entry, r));
      this.setRef(entry, false);
      this.launchers.push(entry);
    }
  }

  spawn(request: Omit<SpawnRequest, "id">, handlers: SpawnHandlers): void {
    const id = this.nextId++;
    this.handlers.set(id, handlers);
    const entry = this.launchers.reduce((a, b) => (b.busy < a.busy ? b : a));
    entry.busy++;
    // While a process is alive the engine must not exit under it.
    if (entry.busy === 1) this.setRef(entry, true);
    entry.child.send({ ...request, id } satisfies SpawnRequest);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.launchers.map(
        (l) =>
          new Promise<void>((resolve) => {
            if (l.child.exitCode !== null || !l.child.connected) return resolve();
            l.child.once("exit", () => resolve());
            l.child.disconnect();
          }),
      ),
    );
  }

  private setRef(l: Launcher, on: boolean): void {
    const channel = l.child.channel as { ref(): void; unref(): void } | undefined;
    if (on) {
      l.child.ref();
      channel?.ref();
    } else {
      l.child.unref();
      channel?.unref();
    }
  }

  private onReply(entry: Launcher, r: SpawnReply): void {
    const h = this.handlers.get(r.id);
    if (!h) return;
    if (r.type === "started") {
      h.onStarted(r.pid);
      return;
    }
    this.handlers.delete(r.id);
    entry.busy--;
    if (entry.busy === 0) this.setRef(entry, false);
    if (r.type === "exited") h.onExited(r.code, r.signal, r.collected);
    else h.onFailed(r.message);
  }
}
