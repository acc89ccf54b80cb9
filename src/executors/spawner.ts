import { type ChildProcess, fork } from "node:child_process";
import type { CollectRequest, Collected } from "../artifacts/collect.js";
import { SpawnHelper, helperPath } from "./spawn-helper.js";
import { startTask } from "./start-task.js";

/** A request to start `FILE ARGS` (a shell) with the log file as stdout and stderr, in its own session. */
export interface SpawnRequest {
  id: number;
  /** The shell (shell.ts). */
  file: string;
  args: string[];
  cwd: string;
  /** Added to the engine's environment. */
  env: Record<string, string>;
  logPath: string;
  /** Created before the process starts. */
  outputDir: string;
  /** Emptied first (an attempt after the first starts from an empty output folder). */
  freshOutput?: boolean;
  /** Created if missing before the process starts (the run's shared folder). */
  sharedDir?: string;
  /** Collected in the launcher once the process ends. */
  collect?: CollectRequest;
  /**
   * Held by the spawn helper until request `after` ends (see {@link Spawner.canHold}), if before
   * `until` (ms since the epoch, 0: no limit); else started by {@link Spawner.go}.
   */
  hold?: { after: number; until: number };
}

export type SpawnReply =
  | { type: "ready" }
  /** `pidStart`: the kernel's start time of the process (/proc), null where it cannot be read. */
  | { type: "started"; id: number; pid: number; pidStart: string | null }
  | {
      type: "exited";
      id: number;
      code: number | null;
      signal: NodeJS.Signals | null;
      /** A promise only from the engine's own process (`collectLater` in start-task.ts), never sent to a launcher. */
      collected?: Collected | Promise<Collected>;
    }
  | { type: "failed"; id: number; message: string }
  /** A held request dropped before it started (the helper's only). */
  | { type: "dropped"; id: number };

export interface SpawnHandlers {
  onStarted(pid: number, pidStart: string | null): void;
  onExited(
    code: number | null,
    signal: NodeJS.Signals | null,
    collected?: Collected | Promise<Collected>,
  ): void;
  onFailed(message: string): void;
  /** The launcher died after starting the process: the process may live on, unwatched. */
  onOrphaned(): void;
  /** A held request was dropped ({@link Spawner.drop}) before its process started. */
  onDropped?(): void;
}

interface Launcher {
  child: ChildProcess;
  /** Requests this launcher has not answered with an end yet. */
  ids: Set<number>;
  closing: boolean;
  /** It has started up and takes requests. */
  ready: boolean;
}

function forkLauncher(): ChildProcess {
  return fork(new URL("./launcher.js", import.meta.url), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    execArgv: ["--max-old-space-size=256"],
    serialization: "json",
  });
}

/** Above this resident size the engine leaves even its first tasks to a launcher (see launcher.ts). */
const START_HERE_MAX_RSS = 256 * 1024 * 1024;

/**
 * Starts task processes. Where the native spawn helper was built (spawn-helper.ts), the engine
 * starts every task through its own helper: no fork of the engine (the helper starts processes
 * for it), and no process in between, so a task's start and end each cost one hop. The helper
 * starts with the second task (the engine starts the first ones itself meanwhile). The engine
 * then prepares the task's files and collects its outputs itself, as a launcher would
 * (start-task.ts): a few small outputs with synchronous calls, anything else asynchronously.
 *
 * Without a helper (no C compiler at install, `BATON_SPAWN_HELPER=off`, or one that died),
 * processes are started through a few launcher processes (`BATON_LAUNCHERS`, default 2; see
 * `launcher.ts` for why), each request going to the least busy one. The engine starts the
 * first task itself, and the tasks that follow until a launcher is ready, while it is small: a
 * one-task run forks no launcher, and no task waits for one to boot. The first launcher starts
 * with the second task, the others when a request finds every launcher busy. An idle launcher
 * (or helper) does not keep the engine alive.
 */
export class Spawner {
  private readonly launchers: Launcher[] = [];
  private readonly handlers = new Map<number, SpawnHandlers>();
  private nextId = 1;

  private readonly started = new Set<number>();
  private closed = false;
  /** The engine's own spawn helper: undefined until the first task, a promise while it starts, null when there is none. */
  private helper: SpawnHelper | Promise<SpawnHelper | undefined> | null | undefined;
  /** Requests sent through the helper and not ended yet, with the helper's id of each. */
  private readonly viaHelper = new Map<number, number>();
  /** Requests that came while the helper was starting, in a process too big to fork. */
  private waitingForHelper: Array<() => void> = [];

  /**
   * The environment tasks start from: this process's, copied once, as the helper and the
   * launchers inherit it when they start. Copying `process.env` asks the system for each
   * variable: tens of microseconds, too much for every task.
   */
  readonly baseEnv: Readonly<Record<string, string | undefined>> = { ...process.env };

  constructor(private readonly count = Number(process.env.BATON_LAUNCHERS) || 2) {}

  /** The helper if it runs; starts it on first use. */
  private readyHelper(): SpawnHelper | undefined {
    if (this.helper === undefined) {
      const file = helperPath();
      if (!file || this.closed) {
        this.helper = null;
        return undefined;
      }
      const starting = SpawnHelper.start(file, (why) => this.onHelperDeath(why));
      this.helper = starting;
      void starting.then((h) => {
        // Unless it died meanwhile (then it is null already, and what waited goes elsewhere).
        if (this.helper === starting) this.helper = h ?? null;
        if (h && this.helper === h && !this.closed) h.setRef(false);
        else h?.close();
        for (const go of this.waitingForHelper.splice(0)) go();
      });
    }
    return this.helper instanceof SpawnHelper ? this.helper : undefined;
  }

  /**
   * The helper died while the engine lives: what it had started is handed back to be watched by
   * pid, what it had not fails; later tasks go through launchers.
   */
  private onHelperDeath(why: string): void {
    if (this.closed) return;
    process.stderr.write(`baton: ${why}; starting tasks through launcher processes from now on\n`);
    this.helper = null;
    this.abandon(this.viaHelper, "the spawn helper");
  }

  /** `ids` lost the process that was starting them: the started ones are watched by pid, the others fail. */
  private abandon(ids: Set<number> | Map<number, number>, who: string): void {
    for (const id of ids.keys()) {
      const h = this.handlers.get(id);
      this.handlers.delete(id);
      if (!h) continue;
      if (this.started.delete(id)) h.onOrphaned();
      else h.onFailed(`${who} died before starting the task`);
    }
    ids.clear();
  }

  private startLauncher(): Launcher {
    const child = forkLauncher();
    const entry: Launcher = { child, ids: new Set(), closing: false, ready: false };
    child.on("message", (r: SpawnReply) => this.onReply(entry, r));
    child.on("exit", () => this.onLauncherExit(entry));
    // A send to a launcher that has just died fails here; its exit handler deals with the tasks.
    child.on("error", () => undefined);
    this.setRef(entry, false);
    return entry;
  }

  /**
   * A launcher died (killed, out of memory): what it had not started fails; what it had started
   * is handed back to be watched by pid. A new launcher takes its place.
   */
  private onLauncherExit(entry: Launcher): void {
    this.abandon(entry.ids, "the launcher process");
    const i = this.launchers.indexOf(entry);
    if (i >= 0 && !this.closed && !entry.closing) this.launchers[i] = this.startLauncher();
  }

  /** Starts a process (or holds it: `request.hold`); returns the request's id. */
  spawn(request: Omit<SpawnRequest, "id">, handlers: SpawnHandlers): number {
    const id = this.nextId++;
    this.handlers.set(id, handlers);
    this.route({ ...request, id });
    return id;
  }

  /**
   * Whether a request may be held until request `after` ends: only the spawn helper holds, and
   * only after a request it has (running, or held itself).
   */
  canHold(after: number): boolean {
    return this.helper instanceof SpawnHelper && this.viaHelper.has(after);
  }

  /** Starts held request `id` now; nothing if it started, ended, or was never held. */
  go(id: number): void {
    const sent = this.viaHelper.get(id);
    if (sent !== undefined && this.helper instanceof SpawnHelper) this.helper.go(sent);
  }

  /** Drops held request `id` (its `onDropped` follows), unless it started meanwhile. */
  drop(id: number): void {
    const sent = this.viaHelper.get(id);
    if (sent !== undefined && this.helper instanceof SpawnHelper) this.helper.drop(sent);
  }

  private route(request: SpawnRequest): void {
    const id = request.id;
    if (!this.handlers.has(id)) return;
    // A one-task run starts no helper: the first task is started here, the helper with the second.
    const helper = id === 1 ? undefined : this.readyHelper();
    if (helper) {
      // A held request names the one it follows by the helper's id of it.
      let sent = request;
      if (request.hold) {
        const after = this.viaHelper.get(request.hold.after);
        sent = { ...request, hold: after === undefined ? undefined : { after, until: request.hold.until } };
      }
      this.viaHelper.set(id, 0);
      if (this.viaHelper.size === 1) helper.setRef(true);
      const helperId = startTask(sent, (r) => this.onReply(undefined, r), this.baseEnv, helper, true);
      if (helperId !== undefined && this.viaHelper.has(id)) this.viaHelper.set(id, helperId);
      return;
    }
    const small = process.memoryUsage.rss() < START_HERE_MAX_RSS;
    if (this.helper instanceof Promise) {
      // The helper is starting (a few milliseconds): a small engine starts this task itself
      // meanwhile, a big one waits rather than fork itself.
      if (small) startTask(request, (r) => this.onReply(undefined, r));
      else this.waitingForHelper.push(() => this.route(request));
      return;
    }
    const first = id === 1;
    if (!this.launchers.some((l) => l.ready) && small) {
      if (!first && this.launchers.length === 0) this.launchers.push(this.startLauncher());
      startTask(request, (r) => this.onReply(undefined, r));
      return;
    }
    if (this.launchers.length < this.count && this.launchers.every((l) => l.ids.size > 0)) {
      this.launchers.push(this.startLauncher());
    }
    const live = this.launchers.filter((l) => l.child.connected);
    const entry = (live.length ? live : this.launchers).reduce((a, b) => (b.ids.size < a.ids.size ? b : a));
    entry.ids.add(id);
    // While a process is alive the engine must not exit under it.
    if (entry.ids.size === 1) this.setRef(entry, true);
    entry.child.send(request, (err) => {
      const handlers = this.handlers.get(id);
      if (!err || !handlers) return;
      // The launcher went away before it got the request: nothing was started.
      this.handlers.delete(id);
      this.release(entry, id);
      handlers.onFailed(`the launcher process could not take the task: ${err.message}`);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Its tasks, if any, run on in their own sessions.
    if (this.helper instanceof SpawnHelper) this.helper.close();
    for (const l of this.launchers) {
      l.closing = true;
      // Held until they exit: an unref'd launcher would let the process end before close() resolves.
      this.setRef(l, true);
    }
    await Promise.all(
      this.launchers.map(
        (l) =>
          new Promise<void>((resolve) => {
            if (l.child.exitCode !== null || !l.child.connected) return resolve();
            l.child.once("exit", () => resolve());
            // An idle launcher has nothing to finish (its tasks run in their own sessions): it
            // is stopped rather than waited for, which could take its whole start-up.
            if (l.ids.size === 0) l.child.kill("SIGKILL");
            else l.child.disconnect();
          }),
      ),
    );
  }

  /** A request ended (answered, or never delivered): an idle launcher no longer keeps the engine alive. */
  private release(entry: Launcher, id: number): void {
    entry.ids.delete(id);
    if (entry.ids.size === 0) this.setRef(entry, false);
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

  /** A reply from a launcher, or from a task started here (no entry). */
  private onReply(entry: Launcher | undefined, r: SpawnReply): void {
    if (r.type === "ready") {
      if (entry) entry.ready = true;
      return;
    }
    const h = this.handlers.get(r.id);
    if (!h) return;
    if (r.type === "started") {
      this.started.add(r.id);
      h.onStarted(r.pid, r.pidStart);
      return;
    }
    this.handlers.delete(r.id);
    this.started.delete(r.id);
    if (entry) this.release(entry, r.id);
    if (this.viaHelper.delete(r.id) && this.viaHelper.size === 0 && this.helper instanceof SpawnHelper) {
      this.helper.setRef(false);
    }
    if (r.type === "exited") h.onExited(r.code, r.signal, r.collected);
    else if (r.type === "dropped") h.onDropped?.();
    else h.onFailed(r.message);
  }
}
