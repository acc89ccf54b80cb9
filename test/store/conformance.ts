/**
 * What every Store adapter must do, tested through the Store port only (no adapter internals):
 * `describeStoreConformance("sqlite", open)` runs it on an adapter. `open` returns a new, empty
 * store each time it is called. Nothing here may depend on one adapter.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BatonError } from "../../src/errors.js";
import {
  ANY_EXPIRED,
  type AgentRow,
  type AgentTokenRow,
  type BusMessage,
  type EngineRow,
  type NewAgentWork,
  type NewRun,
  type NewTask,
  type NotificationRow,
  type Store,
  TASK_STATUSES,
  type TaskStatus,
} from "../../src/store/store.js";
import { TASK_TRANSITIONS, TRANSITION_SOURCES, canTransition } from "../../src/store/task-states.js";

const LEASE_MS = 60_000;

export function engineRow(id: string, extra: Partial<EngineRow> = {}): EngineRow {
  return {
    id,
    host: "conformance-host",
    bootId: "",
    pid: 1,
    startedAt: Date.now(),
    leaseExpiresAt: Date.now() + LEASE_MS,
    ...extra,
  };
}

export function runRow(id: string, extra: Partial<NewRun> = {}): NewRun {
  return {
    id,
    pipeline: "p",
    params: {},
    options: {},
    workdir: "/tmp",
    specFile: null,
    parentRunId: null,
    parentTaskId: null,
    createdAt: 1,
    enginePid: null,
    engineId: null,
    ...extra,
  };
}

export function taskRow(id: string, runId: string, extra: Partial<NewTask> = {}): NewTask {
  return {
    id,
    runId,
    name: id,
    node: id,
    parentId: null,
    status: "pending",
    pool: "local",
    priority: 0,
    params: {},
    item: undefined,
    outputDir: `/tmp/${id}`,
    ...extra,
  };
}

const ATTEMPT_END = {
  status: "failed" as const,
  endedAt: 5,
  exitCode: 1,
  signal: null,
  reason: "exited" as const,
  message: "exit 1",
};

function attempt(taskId: string, number: number) {
  return {
    taskId,
    number,
    status: "running" as const,
    pid: null,
    pidStart: null,
    startedAt: 3,
    logPath: "/l",
  };
}

function completion(status: "succeeded" | "failed" | "cached" | "cancelled") {
  return {
    status,
    exitCode: status === "succeeded" ? 0 : null,
    endedAt: 9,
    metrics: { m: 1 },
    outputs: [{ path: "out.txt", sha256: "ab", size: 2 }],
    error: null,
  };
}

/** Puts a new task of run `run1` in `status`, through the port's own transitions. */
async function taskIn(store: Store, id: string, status: TaskStatus): Promise<void> {
  await store.addTasks([taskRow(id, "run1")]);
  switch (status) {
    case "pending":
      return;
    case "skipped":
    case "cancelled":
      return store.endTaskWithoutRunning(id, status, "because", 2);
    case "cached":
      return store.completeTask(id, null, { ...completion("cached"), outputs: [] });
    case "waiting":
      return store.holdForApproval(id, "true", {}, "", 2);
    default:
      await store.queueTask(id, "true", {});
      if (status === "queued") return;
      await store.startAttempt(attempt(id, 1));
      if (status === "running") return;
      return store.completeTask(
        id,
        { number: 1, end: { ...ATTEMPT_END, status } },
        { ...completion(status), outputs: [] },
      );
  }
}

/** Everything a transition could change about a task: it must stay as it was when refused. */
async function snapshot(store: Store, id: string) {
  return {
    task: await store.getTask(id),
    attempts: await store.listAttempts(id),
    outputs: await store.listOutputs([id]),
    run: await store.getRun("run1"),
  };
}

/** Each Store method that changes a task's status, and the statuses it may do so from. */
const TRANSITIONS: Array<{
  name: string;
  to: TaskStatus;
  from: readonly TaskStatus[];
  apply: (store: Store, id: string) => Promise<void>;
}> = [
  {
    name: "queueTask",
    to: "queued",
    from: TRANSITION_SOURCES.queue,
    apply: (s, id) => s.queueTask(id, "c", {}),
  },
  {
    name: "endTaskWithoutRunning(cancelled)",
    to: "cancelled",
    from: TRANSITION_SOURCES.endWithoutRunning,
    apply: (s, id) => s.endTaskWithoutRunning(id, "cancelled", "x", 4),
  },
  {
    name: "endTaskWithoutRunning(skipped)",
    to: "skipped",
    from: TRANSITION_SOURCES.endWithoutRunning,
    apply: (s, id) => s.endTaskWithoutRunning(id, "skipped", "x", 4),
  },
  {
    name: "startAttempt",
    to: "running",
    from: TRANSITION_SOURCES.start,
    apply: (s, id) => s.startAttempt(attempt(id, 7)),
  },
  {
    name: "finishAttemptForRetry",
    to: "queued",
    from: TRANSITION_SOURCES.retry,
    apply: (s, id) => s.finishAttemptForRetry(id, 1, ATTEMPT_END),
  },
  {
    name: "completeTask(attempt, succeeded)",
    to: "succeeded",
    from: TRANSITION_SOURCES.completeAttempt,
    apply: (s, id) =>
      s.completeTask(
        id,
        { number: 1, end: { ...ATTEMPT_END, status: "succeeded" } },
        completion("succeeded"),
      ),
  },
  {
    name: "completeTask(no attempt, failed)",
    to: "failed",
    from: TRANSITION_SOURCES.completeWithout.failed,
    apply: (s, id) => s.completeTask(id, null, completion("failed")),
  },
  {
    name: "completeTask(no attempt, cached)",
    to: "cached",
    from: TRANSITION_SOURCES.completeWithout.cached,
    apply: (s, id) => s.completeTask(id, null, completion("cached")),
  },
  {
    name: "completeCachedTasks",
    to: "cached",
    from: TRANSITION_SOURCES.completeWithout.cached,
    apply: async (s, id) => {
      const [refused] = await s.completeCachedTasks([
        { taskId: id, completion: { ...completion("cached"), status: "cached" } },
      ]);
      if (refused) throw refused;
    },
  },
  {
    name: "holdForApproval",
    to: "waiting",
    from: TRANSITION_SOURCES.hold,
    apply: (s, id) => s.holdForApproval(id, "c", {}, "m", 4),
  },
  {
    name: "decideApproval(approved)",
    to: "queued",
    from: TRANSITION_SOURCES.decide,
    apply: async (s, id) => {
      await s.decideApproval(id, { approved: true, by: "t", at: 4, comment: null });
    },
  },
  {
    name: "decideApproval(rejected)",
    to: "failed",
    from: TRANSITION_SOURCES.decide,
    apply: async (s, id) => {
      await s.decideApproval(id, { approved: false, by: "t", at: 4, comment: "no" });
    },
  },
  {
    name: "reopenTasks",
    to: "pending",
    from: TRANSITION_SOURCES.reopen,
    apply: (s, id) => s.reopenTasks("run1", [id]),
  },
];

/** Waits (polling) until `check` holds, at most 10 s. */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function refusal(p: Promise<unknown>): Promise<BatonError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "the transition was applied").toBeInstanceOf(BatonError);
  return err as BatonError;
}

/**
 * `openPair` opens two stores on one new, empty database (as two engines sharing it would): the
 * messages between engines are tested with it.
 */
export function describeStoreConformance(
  name: string,
  open: () => Promise<Store>,
  openPair: () => Promise<[Store, Store]>,
): void {
  const opened: Store[] = [];
  const fresh = async (): Promise<Store> => {
    const store = await open();
    opened.push(store);
    return store;
  };
  /** A store with run `run1` (no engine). */
  const withRun = async (): Promise<Store> => {
    const store = await fresh();
    await store.createRun(runRow("run1"));
    return store;
  };

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });

  describe(`Store conformance: ${name}`, () => {
    describe("task state machine", () => {
      it("every method's allowed predecessors are transitions of the table", () => {
        for (const t of TRANSITIONS)
          for (const from of t.from) expect(canTransition(from, t.to), `${from} → ${t.to}`).toBe(true);
        for (const from of TASK_STATUSES) expect(TASK_TRANSITIONS[from]).toBeDefined();
      });

      for (const t of TRANSITIONS) {
        for (const from of TASK_STATUSES) {
          const allowed = t.from.includes(from);
          it(`${t.name} from ${from}: ${allowed ? "applied" : "refused with STATE_CONFLICT, nothing written"}`, async () => {
            const store = await withRun();
            await taskIn(store, "t1", from);
            if (allowed) {
              await t.apply(store, "t1");
              expect((await store.getTask("t1"))?.status).toBe(t.to);
              return;
            }
            const before = await snapshot(store, "t1");
            const err = await refusal(t.apply(store, "t1"));
            expect(err.code).toBe("STATE_CONFLICT");
            expect(err.context).toEqual({ taskId: "t1", from: [...t.from], to: t.to, actual: from });
            expect(err.message).toContain("t1");
            expect(err.message).toContain(`it is ${from}`);
            expect(await snapshot(store, "t1")).toEqual(before);
          });
        }
      }

      it("a task goes pending → queued → running → queued (retry) → running → succeeded, then back to pending", async () => {
        const store = await withRun();
        await store.addTasks([taskRow("t1", "run1")]);
        await store.queueTask("t1", "echo", { a: 1 });
        await store.startAttempt(attempt("t1", 1));
        await store.finishAttemptForRetry("t1", 1, ATTEMPT_END);
        expect((await store.getTask("t1"))?.status).toBe("queued");
        await store.startAttempt(attempt("t1", 2));
        await store.completeTask(
          "t1",
          { number: 2, end: { ...ATTEMPT_END, status: "succeeded" } },
          completion("succeeded"),
        );
        const done = await store.getTask("t1");
        expect(done).toMatchObject({ status: "succeeded", attempts: 2, command: "echo", metrics: { m: 1 } });
        expect((await store.listAttempts("t1")).map((a) => a.status)).toEqual(["failed", "succeeded"]);
        expect(await store.listOutputs(["t1"])).toHaveLength(1);
        await store.finishRun("run1", "succeeded", 10);
        await store.reopenTasks("run1", ["t1"]);
        expect((await store.getTask("t1"))?.status).toBe("pending");
        expect(await store.listOutputs(["t1"])).toEqual([]);
        expect((await store.getRun("run1"))?.status).toBe("running");
      });

      it("a handle written with soon (nothing waits for it) is recorded all the same", async () => {
        const store = await withRun();
        await taskIn(store, "t1", "running");
        await store.setAttemptHandle(
          "t1",
          1,
          { handle: "local:42:7", pid: 42, pidStart: "7" },
          { soon: true },
        );
        expect((await store.listAttempts("t1"))[0]).toMatchObject({
          handle: "local:42:7",
          pid: 42,
          pidStart: "7",
        });
      });

      it("an attempt's handle that says more (HANDLE@AGENT) is not replaced by the bare handle", async () => {
        const store = await withRun();
        await taskIn(store, "t1", "running");
        const where = (handle: string) => ({ handle, pid: null, pidStart: null });
        // The agent's claim is recorded first, then the engine records what launch returned.
        await store.setAttemptHandle("t1", 1, where("agent:t1:1@gpu-a"));
        await store.setAttemptHandle("t1", 1, where("agent:t1:1"));
        expect((await store.listAttempts("t1"))[0]?.handle).toBe("agent:t1:1@gpu-a");
        // Any other handle is replaced as before.
        await store.setAttemptHandle("t1", 1, where("agent:t1:1@gpu-b"));
        expect((await store.listAttempts("t1"))[0]?.handle).toBe("agent:t1:1@gpu-b");
        await store.setAttemptHandle("t1", 1, where("slurm:12"));
        expect((await store.listAttempts("t1"))[0]?.handle).toBe("slurm:12");
      });

      it("a running task's queue reason is kept until it starts, and a new attempt clears it", async () => {
        const store = await withRun();
        await taskIn(store, "t1", "running");
        await store.setQueueReason("t1", "pending in Slurm (Priority)");
        expect((await store.getTask("t1"))?.queueReason).toBe("pending in Slurm (Priority)");
        await store.setQueueReason("t1", null);
        expect((await store.getTask("t1"))?.queueReason).toBeNull();
        await store.setQueueReason("t1", "pending in Slurm (Resources)");
        await store.finishAttemptForRetry("t1", 1, ATTEMPT_END);
        // Not running: nothing is written.
        await store.setQueueReason("t1", "late word from the executor");
        await store.startAttempt(attempt("t1", 2));
        expect((await store.getTask("t1"))?.queueReason).toBeNull();
      });

      it("reopenTasks reopens all the tasks or none", async () => {
        const store = await withRun();
        await taskIn(store, "done", "succeeded");
        await taskIn(store, "busy", "running");
        const err = await refusal(store.reopenTasks("run1", ["done", "busy"]));
        expect(err.code).toBe("STATE_CONFLICT");
        expect((await store.getTask("done"))?.status).toBe("succeeded");
      });

      it("a transition of an unknown task is STORE_NOT_FOUND, not a silent no-op", async () => {
        const store = await withRun();
        expect((await refusal(store.queueTask("nope", "c", {}))).code).toBe("STORE_NOT_FOUND");
      });

      it("two writers racing on one task: exactly one wins, the other gets STATE_CONFLICT, other writes go through", async () => {
        const store = await withRun();
        await taskIn(store, "t1", "queued");
        await store.addTasks([taskRow("t2", "run1")]);
        // A cancel and a start of the same queued task, with an unrelated write, all at once.
        const results = await Promise.allSettled([
          store.endTaskWithoutRunning("t1", "cancelled", "cancelled", 4),
          store.startAttempt(attempt("t1", 1)),
          store.queueTask("t2", "c", {}),
        ]);
        expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
        const err = (results[1] as PromiseRejectedResult).reason as BatonError;
        expect(err.code).toBe("STATE_CONFLICT");
        expect(err.context.actual).toBe("cancelled");
        expect((await store.getTask("t1"))?.status).toBe("cancelled");
        expect(await store.listAttempts("t1")).toEqual([]);
        expect((await store.getTask("t2"))?.status).toBe("queued");
      });

      it("two engines ending one running task: the second completion is refused and changes nothing", async () => {
        const store = await withRun();
        await taskIn(store, "t1", "running");
        const first = store.completeTask(
          "t1",
          { number: 1, end: { ...ATTEMPT_END, status: "succeeded" } },
          completion("succeeded"),
        );
        const second = store.completeTask(
          "t1",
          { number: 1, end: ATTEMPT_END },
          { ...completion("failed"), outputs: [] },
        );
        const [a, b] = await Promise.allSettled([first, second]);
        expect(a.status).toBe("fulfilled");
        expect(b.status).toBe("rejected");
        expect(await store.getTask("t1")).toMatchObject({ status: "succeeded", exitCode: 0 });
        expect((await store.listAttempts("t1"))[0]?.status).toBe("succeeded");
      });
    });

    describe("cache hits in bulk", () => {
      /** A task that succeeded with `key`, ended at `endedAt`, with outputs. */
      const succeeded = async (
        store: Store,
        id: string,
        key: string,
        endedAt: number,
        outputs = [
          { path: "b.txt", sha256: `${id}-b`, size: 2 },
          { path: "a.txt", sha256: `${id}-a`, size: 1 },
        ],
      ) => {
        await store.addTasks([taskRow(id, "run1")]);
        await store.queueTask(id, "true", {});
        await store.startAttempt(attempt(id, 1));
        await store.completeTask(
          id,
          { number: 1, end: { ...ATTEMPT_END, status: "succeeded", exitCode: 0, message: null } },
          {
            ...completion("succeeded"),
            endedAt,
            cacheKey: key,
            metrics: { id },
            outputs,
          },
        );
      };

      it("findCachedResults gives, for each key, what findCachedResult gives; keys without a result are left out", async () => {
        const store = await withRun();
        await succeeded(store, "old1", "k1", 10);
        await succeeded(store, "new1", "k1", 20);
        await succeeded(store, "only2", "k2", 15);
        await store.addTasks([taskRow("pending3", "run1")]);
        await store.completeTask("pending3", null, {
          ...completion("failed"),
          cacheKey: "k3",
        });
        // A result that kept no file is a hit all the same.
        await succeeded(store, "empty4", "k4", 30, []);
        const found = await store.findCachedResults(["k1", "k2", "k3", "none", "k1", "k4"]);
        expect([...found.keys()].sort()).toEqual(["k1", "k2", "k4"]);
        for (const key of ["k1", "k2", "k4"])
          expect(found.get(key)).toEqual(await store.findCachedResult(key));
        expect(found.get("k4")?.outputs).toEqual([]);
        expect(found.get("k1")).toEqual({
          taskId: "new1",
          cachedFrom: null,
          outputDir: (await store.getTask("new1"))?.outputDir,
          metrics: { id: "new1" },
          outputs: [
            { path: "a.txt", sha256: "new1-a", size: 1 },
            { path: "b.txt", sha256: "new1-b", size: 2 },
          ],
        });
        expect((await store.findCachedResults([])).size).toBe(0);
      });

      it("a lookup finds the result that was computed, not a later task that reused it; gc keeps what kept runs reused", async () => {
        const store = await withRun();
        await succeeded(store, "computed", "k1", 10);
        await succeeded(store, "old2", "k2", 10);
        // run2 reuses k1's result (a cached task keeps the key, and points at what computed it).
        await store.createRun(runRow("run2", { createdAt: 2 }));
        await store.addTasks([taskRow("reuse", "run2")]);
        await store.completeCachedTasks([
          {
            taskId: "reuse",
            completion: {
              ...completion("cached"),
              status: "cached" as const,
              exitCode: 0,
              endedAt: 50,
              cacheKey: "k1",
              cachedFrom: "computed",
              outputDir: "/tmp/reused",
              outputs: [{ path: "a.txt", sha256: "computed-a", size: 1 }],
            },
          },
        ]);
        expect((await store.getTask("reuse"))?.cacheKey).toBe("k1");
        expect((await store.findCachedResult("k1"))?.taskId).toBe("computed");
        expect((await store.findCachedResults(["k1"])).get("k1")?.taskId).toBe("computed");
        expect((await store.listCacheEntries(10)).map((e) => e.taskId).sort()).toEqual(["computed", "old2"]);
        // Keeping run2 only: k2 (run1's alone) is forgotten; k1, which run2 reused, stays findable.
        expect(await store.forgetCachedResults(["run2"])).toBe(1);
        expect(await store.findCachedResult("k2")).toBeUndefined();
        expect((await store.findCachedResult("k1"))?.taskId).toBe("computed");
        expect(await store.forgetCachedResults()).toBe(2);
        expect(await store.findCachedResult("k1")).toBeUndefined();
      });

      it("completeCachedTasks ends every task it can cached in one call, and refuses one already ended without touching it", async () => {
        const store = await withRun();
        await taskIn(store, "h1", "pending");
        await taskIn(store, "h2", "cancelled");
        await taskIn(store, "h3", "queued");
        const before = await snapshot(store, "h2");
        const hit = (id: string) => ({
          taskId: id,
          completion: {
            ...completion("cached"),
            status: "cached" as const,
            exitCode: 0,
            cacheKey: `key-${id}`,
            cachedFrom: "earlier",
            outputDir: "/tmp/earlier",
            command: "echo hi",
          },
        });
        const results = await store.completeCachedTasks([hit("h1"), hit("h2"), hit("h3")]);
        expect(results[0]).toBeNull();
        expect(results[2]).toBeNull();
        expect(results[1]?.code).toBe("STATE_CONFLICT");
        expect(results[1]?.context).toMatchObject({ taskId: "h2", to: "cached", actual: "cancelled" });
        expect(await snapshot(store, "h2")).toEqual(before);
        for (const id of ["h1", "h3"]) {
          const task = await store.getTask(id);
          expect(task).toMatchObject({
            status: "cached",
            cached: true,
            cacheKey: `key-${id}`,
            cachedFrom: "earlier",
            outputDir: "/tmp/earlier",
            command: "echo hi",
            exitCode: 0,
            metrics: { m: 1 },
          });
          expect(await store.listOutputs([id])).toEqual([
            { taskId: id, path: "out.txt", sha256: "ab", size: 2 },
          ]);
        }
        expect(await store.completeCachedTasks([])).toEqual([]);
      });
    });

    describe("engines, leases and run ownership", () => {
      it("registers an engine and renews or ends its lease", async () => {
        const store = await fresh();
        const e = engineRow("eng_a", { pid: 42 });
        await store.registerEngine(e);
        expect(await store.getEngine("eng_a")).toEqual(e);
        expect(await store.renewEngineLease("eng_a", e.leaseExpiresAt + 1000)).toBe(true);
        expect((await store.getEngine("eng_a"))?.leaseExpiresAt).toBe(e.leaseExpiresAt + 1000);
        expect(await store.renewEngineLease("eng_nope", 1)).toBe(false);
        await store.endEngineLease("eng_a", 100);
        expect((await store.getEngine("eng_a"))?.leaseExpiresAt).toBe(100);
      });

      it("a run records its engine; of two engines claiming it from the owner they saw, exactly one gets it", async () => {
        const store = await fresh();
        await store.registerEngine(engineRow("eng_dead", { pid: 7, leaseExpiresAt: 1 }));
        await store.registerEngine(engineRow("eng_a", { pid: 11 }));
        await store.registerEngine(engineRow("eng_b", { pid: 12 }));
        await store.createRun(runRow("run1", { engineId: "eng_dead", enginePid: 7 }));
        expect(await store.getRun("run1")).toMatchObject({ engineId: "eng_dead", enginePid: 7 });
        const claims = await Promise.all([
          store.claimRun("run1", "eng_a", "eng_dead"),
          store.claimRun("run1", "eng_b", "eng_dead"),
        ]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        const winner = claims[0] ? "eng_a" : "eng_b";
        expect(await store.getRun("run1")).toMatchObject({
          engineId: winner,
          enginePid: winner === "eng_a" ? 11 : 12,
        });
        // Unconditional (a retry of a run nobody drives).
        expect(await store.claimRun("run1", "eng_b")).toBe(true);
        expect((await store.getRun("run1"))?.engineId).toBe("eng_b");
      });

      it("claims a run with ANY_EXPIRED only once its engine's lease has expired", async () => {
        const store = await fresh();
        await store.registerEngine(engineRow("eng_a"));
        await store.registerEngine(engineRow("eng_b"));
        await store.createRun(runRow("run1", { engineId: "eng_a" }));
        expect(await store.claimRun("run1", "eng_b", ANY_EXPIRED)).toBe(false);
        expect((await store.getRun("run1"))?.engineId).toBe("eng_a");
        await store.endEngineLease("eng_a", Date.now() - 1);
        const [b, c] = await Promise.all([
          store.claimRun("run1", "eng_b", ANY_EXPIRED),
          store.claimRun("run1", "eng_b", "eng_a"),
        ]);
        expect(b).toBe(true);
        expect(c).toBe(false); // it is eng_b's now, not eng_a's
        expect((await store.getRun("run1"))?.engineId).toBe("eng_b");
        // A run with no engine is free for the taking.
        await store.createRun(runRow("run2"));
        expect(await store.claimRun("run2", "eng_a", ANY_EXPIRED)).toBe(true);
        expect(await store.claimRun("run2", "eng_b", null)).toBe(false);
      });

      it("getTaskStates names the engine driving each task's run, with its lease", async () => {
        const store = await fresh();
        const e = engineRow("eng_a", { pid: 5 });
        await store.registerEngine(e);
        await store.createRun(runRow("run1", { engineId: "eng_a", enginePid: 5 }));
        await store.addTasks([taskRow("t1", "run1")]);
        expect(await store.getTaskStates(["t1", "unknown"])).toEqual([
          {
            id: "t1",
            name: "t1",
            status: "pending",
            runId: "run1",
            runStatus: "running",
            enginePid: 5,
            engineId: "eng_a",
            engine: e,
          },
        ]);
      });
    });

    describe("pool slots", () => {
      it("never grants more slots than the pool has, across engines", async () => {
        const store = await fresh();
        await store.registerEngine(engineRow("eng_a"));
        await store.registerEngine(engineRow("eng_b"));
        const now = Date.now();
        expect(await store.claimSlots("gpu", 2, "eng_a", ["a1", "a2", "a3"], now)).toEqual(["a1", "a2"]);
        expect(await store.claimSlots("gpu", 2, "eng_b", ["b1"], now)).toEqual([]);
        // Another pool is counted apart.
        expect(await store.claimSlots("cpu", 1, "eng_b", ["b2"], now)).toEqual(["b2"]);
        // A task holding a slot keeps it when asked again.
        expect(await store.claimSlots("gpu", 2, "eng_a", ["a1"], now)).toEqual(["a1"]);
        expect(await store.countSlots(now)).toEqual({ gpu: 2, cpu: 1 });
        await store.releaseSlots(["a1"]);
        expect(await store.claimSlots("gpu", 2, "eng_b", ["b1", "b3"], now)).toEqual(["b1"]);
        expect(await store.countSlots(now)).toEqual({ gpu: 2, cpu: 1 });
      });

      it("a slot handed from one task to the next keeps the count", async () => {
        const store = await fresh();
        await store.registerEngine(engineRow("eng_a"));
        await store.registerEngine(engineRow("eng_b"));
        const now = Date.now();
        expect(await store.claimSlots("gpu", 1, "eng_a", ["a1"], now)).toEqual(["a1"]);
        expect(await store.transferSlot("a1", "a2", now)).toBe(true);
        expect(await store.transferSlot("a1", "a3", now)).toBe(false);
        expect(await store.countSlots(now)).toEqual({ gpu: 1 });
        expect(await store.claimSlots("gpu", 1, "eng_b", ["b1"], now)).toEqual([]);
        await store.releaseSlots(["a2"]);
        expect(await store.claimSlots("gpu", 1, "eng_b", ["b1"], now)).toEqual(["b1"]);
      });

      it("claims made at once by two engines share the slots, never exceeding them", async () => {
        const store = await fresh();
        await store.registerEngine(engineRow("eng_a"));
        await store.registerEngine(engineRow("eng_b"));
        const now = Date.now();
        const [a, b] = await Promise.all([
          store.claimSlots("gpu", 3, "eng_a", ["a1", "a2"], now),
          store.claimSlots("gpu", 3, "eng_b", ["b1", "b2"], now),
        ]);
        expect(a.length + b.length).toBe(3);
        expect((await store.countSlots(now)).gpu).toBe(3);
      });

      it("slots of an engine whose lease expired do not count; ending a lease gives them back", async () => {
        const store = await fresh();
        const now = Date.now();
        await store.registerEngine(engineRow("eng_a", { leaseExpiresAt: now + 100 }));
        await store.registerEngine(engineRow("eng_b", { leaseExpiresAt: now + LEASE_MS }));
        await store.registerEngine(engineRow("eng_c", { leaseExpiresAt: now + LEASE_MS }));
        expect(await store.claimSlots("gpu", 1, "eng_a", ["a1"], now)).toEqual(["a1"]);
        expect(await store.claimSlots("gpu", 1, "eng_b", ["b1"], now)).toEqual([]);
        // Later than eng_a's lease: its slot is not counted.
        expect(await store.claimSlots("gpu", 1, "eng_b", ["b1"], now + 200)).toEqual(["b1"]);
        expect(await store.countSlots(now + 200)).toEqual({ gpu: 1 });
        await store.endEngineLease("eng_b", now);
        expect(await store.countSlots(now + 200)).toEqual({});
        expect(await store.claimSlots("gpu", 1, "eng_c", ["c1"], now + 200)).toEqual(["c1"]);
      });

      it("claiming a run releases the slots its previous engine held for the run's tasks", async () => {
        const store = await fresh();
        const now = Date.now();
        await store.registerEngine(engineRow("eng_a"));
        await store.registerEngine(engineRow("eng_b"));
        await store.createRun(runRow("run1", { engineId: "eng_a" }));
        await store.addTasks([taskRow("t1", "run1")]);
        expect(await store.claimSlots("gpu", 1, "eng_a", ["t1"], now)).toEqual(["t1"]);
        expect(await store.claimRun("run1", "eng_b", "eng_a")).toBe(true);
        expect(await store.countSlots(now)).toEqual({});
      });
    });

    describe("listings and idempotency", () => {
      it("listRunningRoots: root runs still running, oldest first", async () => {
        const store = await fresh();
        await store.createRun(runRow("r_late", { createdAt: 9 }));
        await store.createRun(runRow("r_early", { createdAt: 2 }));
        await store.createRun(runRow("r_done", { createdAt: 1 }));
        await store.finishRun("r_done", "succeeded", 3, null);
        await store.addTasks([taskRow("parent", "r_early")]);
        await store.createRun(
          runRow("r_child", { createdAt: 4, parentRunId: "r_early", parentTaskId: "parent" }),
        );
        expect((await store.listRunningRoots()).map((r) => r.id)).toEqual(["r_early", "r_late"]);
      });

      it("listRuns: newest first by creation time, then the later-recorded first; child runs oldest first", async () => {
        const store = await fresh();
        await store.createRun(runRow("r_b", { createdAt: 5 }));
        await store.createRun(runRow("r_a", { createdAt: 5 }));
        await store.createRun(runRow("r_c", { createdAt: 9, pipeline: "q" }));
        await store.createRun(runRow("r_old", { createdAt: 1 }));
        expect((await store.listRuns()).map((r) => r.id)).toEqual(["r_c", "r_a", "r_b", "r_old"]);
        expect((await store.listRuns({ pipeline: "p", limit: 2 })).map((r) => r.id)).toEqual(["r_a", "r_b"]);
        const page = await store.listRuns({ before: { id: "r_a", createdAt: 5 } });
        expect(page.map((r) => r.id)).toEqual(["r_b", "r_old"]);
        await store.addTasks([taskRow("parent", "r_c")]);
        await store.createRun(
          runRow("child2", { createdAt: 20, parentRunId: "r_c", parentTaskId: "parent" }),
        );
        await store.createRun(
          runRow("child1", { createdAt: 30, parentRunId: "r_c", parentTaskId: "parent" }),
        );
        expect((await store.listRuns({ parentTaskId: "parent" })).map((r) => r.id)).toEqual([
          "child2",
          "child1",
        ]);
        expect((await store.listRuns({ parentRunId: "r_c" })).map((r) => r.id)).toEqual(["child2", "child1"]);
      });

      it("listTasks: in the order the tasks were recorded, filtered by run, parent and status", async () => {
        const store = await withRun();
        await store.addTasks([
          taskRow("z", "run1"),
          taskRow("a", "run1"),
          taskRow("m", "run1", { parentId: "z" }),
        ]);
        await store.queueTask("a", "c", {});
        expect((await store.listTasks({ run: "run1" })).map((t) => t.id)).toEqual(["z", "a", "m"]);
        expect((await store.listTasks({ run: "run1", status: ["pending"] })).map((t) => t.id)).toEqual([
          "z",
          "m",
        ]);
        expect((await store.listTasks({ parent: "z" })).map((t) => t.id)).toEqual(["m"]);
        expect(await store.countTasks("run1")).toEqual({ pending: 2, queued: 1 });
        // What a view shows, in the same order, with the same values as the whole records.
        const whole = await store.listTasks({ run: "run1" });
        const shown = await store.listTaskViewRows("run1");
        expect(shown.map((t) => t.id)).toEqual(["z", "a", "m"]);
        expect(shown).toEqual(
          whole.map((t) => ({
            id: t.id,
            runId: t.runId,
            name: t.name,
            node: t.node,
            parentId: t.parentId,
            status: t.status,
            queueReason: t.queueReason,
            exitCode: t.exitCode,
            attempts: t.attempts,
            cached: t.cached,
            startedAt: t.startedAt,
            endedAt: t.endedAt,
            outputDir: t.outputDir,
            metrics: t.metrics,
            image: t.image,
            submit: t.submit,
            approval: t.approval,
          })),
        );
      });

      it("an idempotency key finds its submission's tasks; the same key and name again records nothing", async () => {
        const store = await fresh();
        const key = { idempotencyKey: "k1", node: null };
        await store.addSubmittedTasks(
          runRow("run1"),
          [taskRow("s0", "run1", { ...key, name: "s[0]" }), taskRow("s1", "run1", { ...key, name: "s[1]" })],
          [],
        );
        expect((await store.findTasksByIdempotencyKey("k1")).map((t) => t.id)).toEqual(["s0", "s1"]);
        expect(await store.findTasksByIdempotencyKey("k2")).toEqual([]);
        const again = store.addSubmittedTasks(
          runRow("run2"),
          [taskRow("s9", "run2", { ...key, name: "s[0]" })],
          [],
        );
        await expect(again).rejects.toThrow();
        expect(await store.getRun("run2")).toBeUndefined();
        expect(await store.getTask("s9")).toBeUndefined();
      });
    });

    describe("triggers", () => {
      const fire = (slot: string, slotAt: number | null = null) => ({
        trigger: "weekly",
        slot,
        slotAt,
        at: 5,
        outcome: "claimed" as const,
        runId: null,
        message: null,
      });

      it("a fire is claimed once: of two stores on one database claiming the same slots, exactly one gets each", async () => {
        const [a, b] = await openPair();
        opened.push(a, b);
        await a.ensureTrigger("weekly", 1);
        const slots = Array.from({ length: 20 }, (_, i) => `cron:${i}`);
        const results = await Promise.all(
          slots.flatMap((slot, i) => [a.claimTriggerFire(fire(slot, i)), b.claimTriggerFire(fire(slot, i))]),
        );
        for (let i = 0; i < slots.length; i++) {
          expect([results[2 * i], results[2 * i + 1]].filter(Boolean)).toHaveLength(1);
        }
        expect(await a.claimTriggerFire(fire("cron:3", 3))).toBe(false);
        expect((await b.listTriggerStates())[0]).toMatchObject({
          name: "weekly",
          lastSlotAt: 19,
          paused: false,
        });
        expect(await b.hasTriggerFire("weekly", "cron:7")).toBe(true);
        expect(await b.hasTriggerFire("weekly", "cron:70")).toBe(false);
      }, 30_000);

      it("a fire's outcome is a compare-and-set; its run becomes the trigger's last run", async () => {
        const store = await fresh();
        expect(await store.ensureTrigger("weekly", 1)).toMatchObject({ createdAt: 1, lastRunId: null });
        expect(await store.ensureTrigger("weekly", 2)).toMatchObject({ createdAt: 1 });
        await store.claimTriggerFire(fire("after:run_1"));
        const started = { outcome: "started" as const, runId: "run_9", message: null };
        expect(await store.updateTriggerFire("weekly", "after:run_1", "claimed", started)).toBe(true);
        expect(await store.updateTriggerFire("weekly", "after:run_1", "claimed", started)).toBe(false);
        expect((await store.listTriggerStates())[0]!.lastRunId).toBe("run_9");
        expect(await store.listTriggerFires("weekly", 5, "started")).toMatchObject([
          { slot: "after:run_1", runId: "run_9", outcome: "started" },
        ]);
        await store.setTriggerPaused("weekly", true, 50);
        expect((await store.listTriggerStates())[0]).toMatchObject({ paused: true, lastSlotAt: null });
        // Resuming drops what was missed while paused.
        await store.setTriggerPaused("weekly", false, 60);
        expect((await store.listTriggerStates())[0]).toMatchObject({ paused: false, lastSlotAt: 60 });
        await store.putTriggerDefinition("api-made", { pipeline: "p", trigger: { name: "api-made" } }, 3);
        expect((await store.listTriggerStates()).map((t) => [t.name, t.definition])).toEqual([
          ["api-made", { pipeline: "p", trigger: { name: "api-made" } }],
          ["weekly", null],
        ]);
        expect(await store.deleteTrigger("api-made")).toBe(true);
        expect(await store.deleteTrigger("api-made")).toBe(false);
      });
    });

    describe("remote agents: claims, leases, heartbeats", () => {
      const work = (key: string, pool = "gpu", createdAt = 1): NewAgentWork => ({
        key,
        runId: "run1",
        taskId: key.split(":")[0]!,
        attempt: 1,
        pool,
        work: JSON.stringify({ command: `echo ${key}` }),
        createdAt,
      });

      it("an open attempt is claimed once, oldest first, only by an agent of its pool", async () => {
        const store = await fresh();
        await store.offerAgentWork(work("t2:1", "gpu", 2));
        await store.offerAgentWork(work("t1:1", "gpu", 1));
        await store.offerAgentWork(work("t3:1", "cpu", 0));
        await store.offerAgentWork(work("t1:1", "gpu", 1)); // again: nothing changes
        expect(await store.claimAgentWork("a", ["other"], "x", 10, 100)).toBeUndefined();
        const first = await store.claimAgentWork("a", ["gpu"], "tok-a", 10, 100);
        expect(first).toMatchObject({
          key: "t1:1",
          state: "claimed",
          agent: "a",
          token: "tok-a",
          leaseUntil: 100,
        });
        const [b, c] = await Promise.all([
          store.claimAgentWork("b", ["gpu"], "tok-b", 11, 100),
          store.claimAgentWork("c", ["gpu"], "tok-c", 11, 100),
        ]);
        // Two agents at once: one gets t2, the other nothing.
        expect([b?.key, c?.key].filter(Boolean)).toEqual(["t2:1"]);
        expect((await store.listClaimedAgentWork()).map((r) => r.key).sort()).toEqual(["t1:1", "t2:1"]);
      });

      it("a result counts only with the claim's token and before the lease was declared lost", async () => {
        const store = await fresh();
        await store.offerAgentWork(work("t1:1"));
        await store.offerAgentWork(work("t2:1"));
        await store.claimAgentWork("a", ["gpu"], "tok-a", 10, 100);
        await store.claimAgentWork("b", ["gpu"], "tok-b", 10, 100);
        expect(await store.finishAgentClaim("t1:1", "wrong", "{}")).toBe(false);
        // Not expired yet at 50; renewed to 300 by a heartbeat, so not expired at 200 either.
        expect(await store.expireAgentClaim("t1:1", 50)).toBe(false);
        const renewed = await store.renewAgentClaims(
          [
            { key: "t1:1", token: "tok-a" },
            { key: "t2:1", token: "stale" },
          ],
          300,
        );
        expect(renewed.map((r) => [r.key, r.leaseUntil])).toEqual([
          ["t1:1", 300],
          ["t2:1", 100],
        ]);
        expect(await store.expireAgentClaim("t1:1", 200)).toBe(false);
        expect(await store.expireAgentClaim("t2:1", 200)).toBe(true);
        expect(await store.finishAgentClaim("t2:1", "tok-b", '{"exitCode":0}')).toBe(false);
        expect(await store.finishAgentClaim("t1:1", "tok-a", '{"exitCode":0}')).toBe(true);
        expect(await store.getAgentClaim("t1:1")).toMatchObject({ state: "done", result: '{"exitCode":0}' });
        expect(await store.getAgentClaim("t2:1")).toMatchObject({ state: "lost", result: null });
      });

      it("cancel ends an open attempt at once and flags a claimed one for its agent", async () => {
        const store = await fresh();
        await store.offerAgentWork(work("t1:1"));
        await store.offerAgentWork(work("t2:1"));
        await store.claimAgentWork("a", ["gpu"], "tok-a", 10, 100);
        expect(await store.cancelAgentClaim("t2:1")).toMatchObject({
          state: "cancelled",
          cancelRequested: true,
        });
        expect(await store.cancelAgentClaim("t1:1")).toMatchObject({
          state: "claimed",
          cancelRequested: true,
        });
        expect(await store.claimAgentWork("b", ["gpu"], "tok-b", 10, 100)).toBeUndefined();
        const [row] = await store.renewAgentClaims([{ key: "t1:1", token: "tok-a" }], 200);
        expect(row?.cancelRequested).toBe(true);
      });

      it("agents are recorded by their heartbeats and listed by name", async () => {
        const store = await fresh();
        const agent = (name: string, seenAt: number): AgentRow => ({
          name,
          host: "h",
          pools: ["gpu"],
          slots: 2,
          resources: { gpu: "1" },
          startedAt: 1,
          seenAt,
        });
        await store.recordAgent(agent("b", 10));
        await store.recordAgent(agent("a", 5));
        await store.recordAgent({ ...agent("a", 20), slots: 4 });
        expect(await store.listAgents(0)).toEqual([{ ...agent("a", 20), slots: 4 }, agent("b", 10)]);
        expect((await store.listAgents(15)).map((a) => a.name)).toEqual(["a"]);
      });

      it("per-agent tokens are found by their hash, touched, listed and removed", async () => {
        const store = await fresh();
        const token = (id: string, createdAt: number): AgentTokenRow => ({
          id,
          name: `n-${id}`,
          pools: ["gpu", "cpu"],
          hash: `hash-${id}`,
          createdAt,
          lastUsedAt: null,
        });
        await store.createAgentToken(token("at_b", 20));
        await store.createAgentToken(token("at_a", 10));
        expect(await store.findAgentToken("hash-at_b")).toEqual(token("at_b", 20));
        expect(await store.findAgentToken("nope")).toBeUndefined();
        await store.touchAgentToken("at_b", 30);
        expect(await store.listAgentTokens()).toEqual([
          token("at_a", 10),
          { ...token("at_b", 20), lastUsedAt: 30 },
        ]);
        expect(await store.deleteAgentToken("at_b")).toBe(true);
        expect(await store.deleteAgentToken("at_b")).toBe(false);
        expect(await store.findAgentToken("hash-at_b")).toBeUndefined();
        expect((await store.listAgentTokens()).map((t) => t.id)).toEqual(["at_a"]);
      });
    });

    describe("messages between engines", () => {
      const pair = async (): Promise<[Store, Store]> => {
        const stores = await openPair();
        opened.push(...stores);
        return stores;
      };
      const message = (n: number, body: unknown = { n }): BusMessage => ({
        from: "eng_a",
        kind: n % 2 === 0 ? "event" : "control",
        body,
      });

      it("a message published by one store reaches a subscriber on another, in order", async () => {
        const [a, b] = await pair();
        const got: BusMessage[] = [];
        const unsubscribe = await b.subscribe("eng_b", (m) => got.push(m));
        const long = { text: "é".repeat(12_000) }; // longer than any single notification
        const sent = [message(1), message(2), message(3, long), message(4)];
        await a.publish(sent.slice(0, 2));
        await a.publish(sent.slice(2));
        await waitUntil(() => got.length >= 4);
        expect(got).toEqual(sent);
        await unsubscribe();
      }, 30_000);

      it("a subscriber is a member while subscribed; after unsubscribe it is not and receives nothing", async () => {
        const [a, b] = await pair();
        expect(await a.busMembers(Date.now())).toEqual([]);
        const got: BusMessage[] = [];
        const unsubscribe = await b.subscribe("eng_b", (m) => got.push(m));
        expect(await a.busMembers(Date.now())).toEqual(["eng_b"]);
        await a.publish([message(1)]);
        await waitUntil(() => got.length >= 1);
        await unsubscribe();
        expect(await a.busMembers(Date.now())).toEqual([]);
        await a.publish([message(2)]);
        await new Promise((r) => setTimeout(r, 800));
        expect(got).toEqual([message(1)]);
      }, 30_000);

      it("close() with a live subscription does not hang, and the member leaves", async () => {
        const [a, b] = await pair();
        await b.subscribe("eng_b", () => {});
        const closing = b.close();
        const result = await Promise.race([
          closing.then(() => "closed"),
          new Promise((r) => setTimeout(() => r("hung"), 10_000)),
        ]);
        expect(result).toBe("closed");
        expect(await a.busMembers(Date.now())).toEqual([]);
      }, 30_000);
    });

    describe("notifications", () => {
      const delivery = (id: string, at: number): NotificationRow => ({
        id,
        runId: "run1",
        event: "failure",
        kind: "webhook",
        target: "http://127.0.0.1:1/hook",
        status: "pending",
        attempts: 0,
        lastStatusCode: null,
        lastError: null,
        createdAt: at,
        updatedAt: at,
        nextAttemptAt: at,
        engineId: "eng_a",
        request: '{"kind":"webhook"}',
      });

      it("records deliveries and their attempts; an ended one drops its request", async () => {
        const store = await withRun();
        await store.addNotification(delivery("ntf_1", 1000));
        await store.addNotification(delivery("ntf_2", 2000));
        await store.updateNotification("ntf_1", {
          status: "pending",
          attempts: 1,
          lastStatusCode: 500,
          lastError: "HTTP 500",
          updatedAt: 1500,
          nextAttemptAt: 2500,
        });
        expect((await store.listNotifications("run1"))[0]).toMatchObject({
          status: "pending",
          attempts: 1,
          lastStatusCode: 500,
          request: '{"kind":"webhook"}',
        });
        await store.updateNotification("ntf_1", {
          status: "delivered",
          attempts: 2,
          lastStatusCode: 200,
          lastError: "HTTP 500",
          updatedAt: 3000,
          nextAttemptAt: null,
        });
        const rows = await store.listNotifications("run1");
        expect(rows.map((r) => r.id)).toEqual(["ntf_1", "ntf_2"]);
        expect(rows[0]).toEqual({
          ...delivery("ntf_1", 1000),
          status: "delivered",
          attempts: 2,
          lastStatusCode: 200,
          lastError: "HTTP 500",
          updatedAt: 3000,
          nextAttemptAt: null,
          request: null,
        });
        expect((await store.listPendingNotifications()).map((r) => r.id)).toEqual(["ntf_2"]);
        expect(await store.listNotifications("run_other")).toEqual([]);
      });

      it("a pending delivery is claimed by one engine only", async () => {
        const store = await withRun();
        await store.addNotification(delivery("ntf_1", 1000));
        const claims = await Promise.all([
          store.claimNotification("ntf_1", "eng_a", "eng_b"),
          store.claimNotification("ntf_1", "eng_a", "eng_c"),
        ]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        const owner = (await store.listNotifications("run1"))[0]!.engineId;
        expect(owner).toBe(claims[0] ? "eng_b" : "eng_c");
      });
    });
  });
}
