import { spawn } from "node:child_process";
/**
 * Several `baton server` processes on one PostgreSQL database (real processes, a real
 * PostgreSQL from test/helpers/postgres.ts): one is SIGKILLed in the middle of its runs, round
 * after round, and the other takes its runs and submitted trees over. Every task appends to a
 * ledger when its process starts and ends, so a task that ran twice shows twice.
 *
 * Also: eight `baton submit` processes at once, spread over two servers.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BATON_BIN, collect, makeProject } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import { type Server, killStarted, sleep, startServer, waitFor, waitForRun } from "../helpers/server.js";

const missing = missingPostgres();
if (missing) console.warn(`failover: PostgreSQL tests skipped: ${missing}`);

let pg: TestPostgres;
beforeAll(async () => {
  if (!missing) pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
}, 60_000);
afterEach(killStarted);

/** Short leases, so that a round takes seconds; two servers in one folder (one host). */
const LEASE_MS = 3000;
const ROUNDS = Number(process.env.FAILOVER_ROUNDS) || 10;

/**
 * The script every task runs: it records its start and end in the ledger, sleeps in between and
 * writes one output file.
 */
const LEDGER_SH = `echo "start $BATON_TASK_ID" >> "$(dirname "$0")/ledger.txt"
sleep "$1"
echo "$BATON_TASK_ID" > "$BATON_OUTPUT_DIR/out.txt"
echo "end $BATON_TASK_ID" >> "$(dirname "$0")/ledger.txt"
`;

function ledgerCommand(dir: string, seconds: string): string {
  return `bash ${dir}/ledger.sh ${seconds}`;
}

function project(dir: string): string {
  return `version: 1
pools:
  local: { slots: 6 }
pipelines:
  work:
    nodes:
      step:
        foreach: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        run: ${JSON.stringify(ledgerCommand(dir, "0.$((RANDOM % 9 + 1))$((RANDOM % 2))"))}
      merge:
        needs: [step]
        run: ${JSON.stringify(ledgerCommand(dir, "0.2"))}
`;
}

/** How many times each task id appears as started and as ended in the ledger. */
function readLedger(file: string): { starts: Map<string, number>; ends: Map<string, number> } {
  const starts = new Map<string, number>();
  const ends = new Map<string, number>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  for (const line of text.split("\n")) {
    const [kind, id] = line.split(" ");
    if (!id) continue;
    const map = kind === "start" ? starts : ends;
    map.set(id, (map.get(id) ?? 0) + 1);
  }
  return { starts, ends };
}

function serverEnv(db: string): Record<string, string> {
  return { BATON_DB: db, BATON_ENGINE_LEASE_MS: String(LEASE_MS) };
}

/**
 * Starts what one round runs on `server`: a pipeline run, three lone tasks, and a parent that
 * submits three children and ends when they have. Returns the runs started.
 */
async function startWork(server: Server, dir: string): Promise<string[]> {
  const runs: string[] = [];
  const run = await server.api("/api/v1/runs", { pipeline: "work", noCache: true });
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  runs.push(run.body.run.id);
  const children = [1, 2, 3]
    .map(
      (i) =>
        `node ${JSON.stringify(BATON_BIN)} submit --name child-${i} -- ${ledgerCommand(dir, `${i * 0.7}`)}`,
    )
    .join(" && ");
  const submissions = [0, 1, 2].map((i) => ({
    name: `lone-${i}`,
    command: ledgerCommand(dir, `${1 + i * 0.5}`),
  }));
  submissions.push({ name: "parent", command: `${children} && ${ledgerCommand(dir, "0.1")}` });
  for (const body of submissions) {
    const submitted = await server.api("/api/v1/tasks", body);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    runs.push((await server.api(`/api/v1/tasks/${submitted.body.ids[0]}`)).body.run);
  }
  return runs;
}

/** A project in a new folder served by two servers on a new database: the one to stop, and the other. */
async function twoServers(db: string): Promise<{ dir: string; frozen: Server; survivor: Server }> {
  const dir = makeProject({ "ledger.sh": LEDGER_SH });
  fs.writeFileSync(path.join(dir, "baton.yaml"), project(dir));
  const env = serverEnv(await pg.createDatabase(db));
  const frozen = await startServer(dir, { env });
  return { dir, frozen, survivor: await startServer(dir, { env }) };
}

/** Resolves once each of `runs` has ended or is driven by `survivor` (within three leases). */
async function takenOver(survivor: Server, runs: string[]): Promise<void> {
  await waitFor(
    "the surviving server to drive the runs of the one that stopped",
    async () => {
      for (const id of runs) {
        const run = (await survivor.api(`/api/v1/runs/${id}`)).body.run;
        if (run.status === "running" && !run.driven) return false;
      }
      return true;
    },
    { timeoutMs: LEASE_MS * 3, intervalMs: 50 },
  );
}

describe.skipIf(missing)("servers sharing PostgreSQL: one is SIGKILLed, another takes its work over", () => {
  it(
    `${ROUNDS} rounds: every task ran exactly once, none lost, takeover within the lease`,
    async () => {
      const dir = makeProject({});
      const ledger = path.join(dir, "ledger.txt");
      fs.writeFileSync(path.join(dir, "baton.yaml"), project(dir));
      fs.writeFileSync(path.join(dir, "ledger.sh"), LEDGER_SH);
      const db = await pg.createDatabase("failover");
      const env = serverEnv(db);
      const binEnv = env;
      let servers: [Server, Server] = [
        await startServer(dir, { env: binEnv }),
        await startServer(dir, { env: binEnv }),
      ];
      const figures: string[] = [];
      let kills = 0;
      let takeoverMax = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const victim = servers[round % 2]!;
        const survivor = servers[(round + 1) % 2]!;
        const victimRuns = await startWork(victim, dir);
        const survivorRuns = await startWork(survivor, dir);
        // The kill comes once the parents have submitted their children: a `baton submit` caught
        // by its server's end is another case ("a `baton submit` held by a server…" below).
        await waitFor(
          "the parents to submit their children",
          async () =>
            ((await survivor.api("/api/v1/tasks?name=child-3&limit=1000")).body.tasks as unknown[]).length >=
            2 * (round + 1),
          { timeoutMs: 30_000, intervalMs: 100 },
        );
        await sleep(Math.floor(Math.random() * 1200));
        victim.child.kill("SIGKILL");
        const killedAt = Date.now();
        await victim.exited;
        kills++;
        // Each of the victim's runs is driven by the survivor, or has ended.
        await takenOver(survivor, victimRuns);
        takeoverMax = Math.max(takeoverMax, Date.now() - killedAt);
        // Everything of the round ends, and succeeds.
        for (const id of [...victimRuns, ...survivorRuns])
          await waitForRun(survivor, id, undefined, { timeoutMs: 60_000 });
        // The next round has two servers again.
        const replacement = await startServer(dir, { env: binEnv });
        servers = round % 2 === 0 ? [replacement, survivor] : [survivor, replacement];
      }
      // The ledger against the store: every task succeeded, started once and ended once.
      const tasks = (await servers[0].api("/api/v1/tasks?limit=1000")).body.tasks as Array<{
        id: string;
        name: string;
        status: string;
        attempts: number;
      }>;
      const { starts, ends } = readLedger(ledger);
      const notSucceeded = tasks.filter((t) => t.status !== "succeeded").map((t) => `${t.name}=${t.status}`);
      const twice = tasks.filter((t) => (starts.get(t.id) ?? 0) > 1).map((t) => t.id);
      const neverEnded = tasks.filter((t) => (ends.get(t.id) ?? 0) !== 1).map((t) => t.id);
      let lost = 0;
      for (const t of tasks) {
        const outputs = (await servers[1].api(`/api/v1/tasks/${t.id}/outputs`)).body;
        if (!JSON.stringify(outputs).includes("out.txt")) {
          lost++;
          if (process.env.FAILOVER_DEBUG) console.log("LOST", t.name, JSON.stringify(outputs));
        }
      }
      figures.push(
        `kills ${kills}, tasks ${tasks.length}, run twice ${twice.length}, results lost ${lost}, takeover max ${takeoverMax} ms (lease ${LEASE_MS} ms)`,
      );
      console.log(`failover: ${figures.join("; ")}`);
      if (process.env.FAILOVER_DEBUG) {
        for (const t of tasks.filter((t) => (starts.get(t.id) ?? 0) > 1).slice(0, 5))
          console.log(
            "TWICE",
            JSON.stringify((await servers[0].api(`/api/v1/tasks/${t.id}`)).body).slice(0, 3000),
          );
        console.log(
          "OUT",
          JSON.stringify((await servers[0].api(`/api/v1/tasks/${tasks[0]!.id}/outputs`)).body),
        );
        console.log("STDERR0", servers[0].stderr().slice(-3000));
        console.log("STDERR1", servers[1].stderr().slice(-3000));
      }
      expect(tasks.length).toBe(ROUNDS * 2 * (10 + 1 + 3 + 1 + 3));
      expect(notSucceeded).toEqual([]);
      expect(twice).toEqual([]);
      expect(neverEnded).toEqual([]);
      expect(lost).toBe(0);
      expect(takeoverMax).toBeLessThan(LEASE_MS * 2);
      expect(starts.size).toBe(tasks.length);
    },
    15 * 60_000,
  );

  it(
    "eight `baton submit` processes at once over two servers: every task recorded once, run once",
    async () => {
      const dir = makeProject({ "ledger.sh": LEDGER_SH });
      fs.writeFileSync(path.join(dir, "baton.yaml"), project(dir));
      const env = serverEnv(await pg.createDatabase("submitters"));
      const servers = [await startServer(dir, { env }), await startServer(dir, { env })];
      const PER_PROCESS = 6;
      const loop = (i: number) =>
        `for j in $(seq 1 ${PER_PROCESS}); do node ${JSON.stringify(BATON_BIN)} submit --name "p${i}-$j" -- ${ledgerCommand(dir, "0.05")} || exit 1; done`;
      const results = await Promise.all(
        [0, 1, 2, 3, 4, 5, 6, 7].map((i) => {
          const server = servers[i % 2]!;
          return collect(
            spawn("bash", ["-c", loop(i)], {
              cwd: dir,
              env: { ...process.env, BATON_URL: server.url, BATON_TOKEN: server.token },
            }),
          );
        }),
      );
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const expected = 8 * PER_PROCESS;
      const tasks = await waitFor(
        `${expected} tasks to end`,
        async () => {
          const list = (await servers[0]!.api("/api/v1/tasks?limit=1000")).body.tasks as Array<{
            id: string;
            name: string;
            status: string;
          }>;
          return list.length === expected &&
            list.every((t) => t.status !== "running" && t.status !== "queued")
            ? list
            : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 250 },
      );
      const { starts, ends } = readLedger(path.join(dir, "ledger.txt"));
      expect(new Set(tasks.map((t) => t.name)).size).toBe(expected);
      expect(tasks.filter((t) => t.status !== "succeeded")).toEqual([]);
      expect(tasks.filter((t) => starts.get(t.id) !== 1 || ends.get(t.id) !== 1)).toEqual([]);
      console.log(`failover: 8 submitters, ${expected} tasks, each ran once`);
    },
    5 * 60_000,
  );

  it(
    "a server that stops answering (SIGSTOP) keeps its runs until its lease expires, then they are taken over; woken up, it exits",
    async () => {
      const { dir, frozen, survivor } = await twoServers("frozen");
      const runs = await startWork(frozen, dir);
      await sleep(700);
      frozen.child.kill("SIGSTOP");
      const stoppedAt = Date.now();
      try {
        await takenOver(survivor, runs);
        const takeover = Date.now() - stoppedAt;
        console.log(`failover: frozen server taken over after ${takeover} ms (lease ${LEASE_MS} ms)`);
        // Not before its lease could have expired (its process is alive), and soon after.
        expect(takeover).toBeGreaterThan(LEASE_MS / 2);
        expect(takeover).toBeLessThan(LEASE_MS + 3000);
        // Woken up, it finds its runs driven by another engine and exits rather than drive them too.
        frozen.child.kill("SIGCONT");
        const exit = await Promise.race([frozen.exited, sleep(LEASE_MS * 3).then(() => undefined)]);
        expect(exit?.code, frozen.stderr()).toBe(1);
        expect(frozen.stderr()).toMatch(
          /lease expired .* another engine took over .*: exiting, leaving them to it/,
        );
      } finally {
        frozen.child.kill("SIGKILL");
      }
      for (const id of runs) {
        const detail = await waitForRun(survivor, id, undefined, { timeoutMs: 60_000 });
        expect(detail.run.status).toBe("succeeded");
      }
      const { starts } = readLedger(path.join(dir, "ledger.txt"));
      const twice = [...starts.entries()].filter(([, n]) => n > 1);
      // What a task that ran twice went through, and what each server said, for the log.
      for (const [id] of twice)
        console.log("ran twice:", JSON.stringify((await survivor.api(`/api/v1/tasks/${id}`)).body));
      if (twice.length > 0)
        console.log(`stopped server:\n${frozen.stderr()}\nsurvivor:\n${survivor.stderr()}`);
      expect(twice).toEqual([]);
    },
    3 * 60_000,
  );

  it(
    "a `baton submit` held by a server stopped past its lease is recorded once, by the server that took over",
    async () => {
      const { dir, frozen, survivor } = await twoServers("held");
      const go = path.join(dir, "go");
      const submitting = path.join(dir, "submitting");
      // The parent waits for `go`, then submits its child (to the server that started it).
      const command = `while [ ! -e ${go} ]; do sleep 0.05; done; touch ${submitting}; node ${JSON.stringify(BATON_BIN)} submit --name child -- ${ledgerCommand(dir, "0.1")} && ${ledgerCommand(dir, "0.1")}`;
      const submitted = await frozen.api("/api/v1/tasks", { name: "parent", command });
      expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
      const parentId = submitted.body.ids[0] as string;
      const run = (await frozen.api(`/api/v1/tasks/${parentId}`)).body.run as string;
      await waitFor(
        "the parent to run",
        async () => (await frozen.api(`/api/v1/tasks/${parentId}`)).body.status === "running",
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      frozen.child.kill("SIGSTOP");
      try {
        await takenOver(survivor, [run]);
        // The parent's `baton submit` now reaches the stopped server, which cannot answer.
        fs.writeFileSync(go, "");
        await waitFor("the parent to submit", async () => fs.existsSync(submitting), {
          timeoutMs: 30_000,
          intervalMs: 50,
        });
        await sleep(1500);
        const early = (await survivor.api(`/api/v1/runs/${run}`)).body.tasks as Array<{ name: string }>;
        expect(early.map((t) => t.name)).toEqual(["parent"]);
        // Woken up, it exits before recording anything, and the submit goes to the survivor.
        frozen.child.kill("SIGCONT");
        const exit = await Promise.race([frozen.exited, sleep(LEASE_MS * 3).then(() => undefined)]);
        expect(exit?.code, frozen.stderr()).toBe(1);
        expect(frozen.stderr()).toMatch(/lease expired .* another engine took over/);
      } finally {
        frozen.child.kill("SIGKILL");
      }
      const detail = await waitForRun(survivor, run, undefined, { timeoutMs: 60_000 });
      const tasks = detail.tasks as Array<{
        id: string;
        name: string;
        status: string;
        parent: string | null;
      }>;
      expect(detail.run.status, JSON.stringify(tasks)).toBe("succeeded");
      expect(tasks.map((t) => [t.name, t.status, t.parent])).toEqual([
        ["parent", "succeeded", null],
        ["child", "succeeded", parentId],
      ]);
      const { starts } = readLedger(path.join(dir, "ledger.txt"));
      expect(starts.get(tasks[1]!.id)).toBe(1);
    },
    3 * 60_000,
  );
});
