/**
 * Triggers fired by `baton server` (docs/pipeline-file.md#triggers): real servers on 127.0.0.1,
 * real time, real SQLite and PostgreSQL (test/helpers/postgres.ts), the real CLI.
 */
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeProject, runBaton } from "../helpers/cli.js";
import { type TestPostgres, missingPostgres, startPostgres } from "../helpers/postgres.js";
import {
  type Endpoint,
  type Json,
  type Server,
  killStarted,
  sleep,
  startServer,
  waitFor,
  waitForRun,
} from "../helpers/server.js";

const missing = missingPostgres();
if (missing) console.warn(`triggers: PostgreSQL cases skipped: ${missing}`);

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  if (!missing) pgServer = await startPostgres();
}, 120_000);
afterAll(async () => {
  killStarted();
  await pgServer?.stop();
}, 60_000);
afterEach(() => killStarted());

/** Runs of `server` (newest first), all of them. */
async function runs(server: Endpoint, pipeline?: string): Promise<Json[]> {
  const res = await fetch(`${server.url}/api/v1/runs?limit=500${pipeline ? `&pipeline=${pipeline}` : ""}`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as Json).runs;
}

async function triggers(server: Server): Promise<Json[]> {
  const res = await server.api("/api/v1/triggers");
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.triggers;
}

/** `POST path` with `headers` (no token unless given) and a JSON body. */
async function post(server: Endpoint, p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + p, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : undefined };
}

const perSecond = (extra = "", run = "echo tick") => `version: 1
pipelines:
  tick:
    nodes: { t: { run: '${run}' } }
    triggers:
      - cron: "* * * * * *"
        name: every-second
${extra}`;

/** Counts the runs a per-second trigger started between `from` and `to` (ms) should be. */
const secondsBetween = (from: number, to: number) => Math.floor(to / 1000) - Math.floor(from / 1000);

describe("cron triggers", () => {
  it("a per-second trigger running for about 4 s starts one run a second, labelled with the trigger", async () => {
    const dir = makeProject({ "baton.yaml": perSecond("        overlap: allow\n") });
    const server = await startServer(dir);
    const from = Date.now();
    await sleep(4_000);
    const paused = await runBaton(["triggers", "pause", "every-second"], dir);
    const to = Date.now();
    expect(paused.code, paused.stderr).toBe(0);
    await sleep(1_500);
    const started = await runs(server, "tick");
    const expected = secondsBetween(from, to);
    expect(Math.abs(started.length - expected), `${started.length} runs, ${expected} s`).toBeLessThanOrEqual(
      1,
    );
    expect(started.every((r) => r.trigger === "every-second")).toBe(true);
    // Paused: no more.
    expect((await runs(server, "tick")).length).toBe(started.length);
    await server.stop();
  }, 60_000);

  it("overlap: skip (the default) skips fires while the trigger's previous run is running, and says so", async () => {
    const dir = makeProject({ "baton.yaml": perSecond("", "sleep 4") });
    const server = await startServer(dir);
    const [first] = await waitFor("the first run", async () => {
      const r = await runs(server, "tick");
      return r.length > 0 && r;
    });
    await sleep(2_500);
    expect((await runs(server, "tick")).map((r) => r.id)).toEqual([first.id]);
    expect(server.stderr()).toContain(
      `trigger "every-second" skipped: previous run ${first.id} is still running`,
    );
    const [view] = await triggers(server);
    expect(view.lastOutcome.outcome).toBe("skipped");
    expect(view.lastRun).toEqual({ id: first.id, status: "running" });
    // Once it ended, the next fire starts a run.
    await waitForRun(server, first.id, undefined, { timeoutMs: 20_000 });
    await waitFor("a second run", async () => (await runs(server, "tick")).length === 2, {
      timeoutMs: 10_000,
    });
    await server.stop();
  }, 60_000);

  it("overlap: queue starts one queued fire when the previous run ends, never two at once", async () => {
    // A run of 3 s spans the fires of two whole seconds (one queued, one skipped as queued already)
    // even when its task starts within milliseconds of its fire.
    const dir = makeProject({ "baton.yaml": perSecond("        overlap: queue\n", "sleep 3") });
    const server = await startServer(dir);
    const [first] = await waitFor("the first run", async () => {
      const r = await runs(server, "tick");
      return r.length > 0 && r;
    });
    const [second] = await waitFor(
      "the queued run",
      async () => {
        const r = await runs(server, "tick");
        return r.length > 1 && r;
      },
      { timeoutMs: 20_000 },
    );
    await runBaton(["triggers", "pause", "every-second"], dir);
    const ended = (await waitForRun(server, first.id)).run;
    // It started once the first ended (not alongside it), and the fires meanwhile were queued or skipped.
    expect(Date.parse(second.createdAt)).toBeGreaterThanOrEqual(Date.parse(ended.endedAt));
    expect(server.stderr()).toContain(`trigger "every-second" queued: waits for run ${first.id} to end`);
    expect(server.stderr()).toContain("and a fire is queued already (overlap: queue)");
    await server.stop();
  }, 60_000);

  /** A trigger firing at 3 consecutive seconds, about 8 s from now (none of them yet). */
  function soonSchedule(): { cron: string; lastAt: number } {
    const start = Math.floor(Date.now() / 1000) + 8;
    const seconds = [start, start + 1, start + 2].map((s) => s % 60);
    return { cron: `${seconds.join(",")} * * * * *`, lastAt: (start + 2) * 1000 };
  }

  it.each([
    ["latest", 1],
    ["none", 0],
  ])(
    "after a restart, fires missed while no server ran: catchup %s fires %i run",
    async (catchup, count) => {
      const { cron, lastAt } = soonSchedule();
      const dir = makeProject({
        "baton.yaml": `version: 1
pipelines:
  nightly:
    nodes: { t: { run: 'echo night' } }
    triggers:
      - { cron: "${cron}", name: nightly, catchup: ${catchup} }
`,
      });
      const first = await startServer(dir);
      await waitFor("the server to record the trigger", async () => (await triggers(first))[0]?.nextFireAt);
      await first.stop();
      expect(Date.now()).toBeLessThan(lastAt - 2_000);
      // All three fires are missed.
      await sleep(lastAt - Date.now() + 1_000);
      const second = await startServer(dir);
      await sleep(3_000);
      const started = await runs(second, "nightly");
      expect(started.length).toBe(count);
      if (count === 1) {
        expect(started[0].trigger).toBe("nightly");
        expect(second.stderr()).toContain('trigger "nightly" started run');
      } else {
        expect(second.stderr()).toMatch(
          /trigger "nightly" skipped: missed at .* while no server ran \(catchup: none\)/,
        );
      }
      await second.stop();
    },
    90_000,
  );
});

describe("two servers sharing one database", () => {
  it.each(["sqlite", "postgres"])(
    "%s: each fire of a per-second trigger starts exactly one run",
    async (kind) => {
      if (kind === "postgres" && missing) return;
      const db =
        kind === "postgres"
          ? await pgServer!.createDatabase("triggers")
          : path.join(makeProject({}), "shared.db");
      const text = perSecond("        overlap: allow\n");
      const a = await startServer(makeProject({ "baton.yaml": text }), { args: ["--db", db] });
      const b = await startServer(makeProject({ "baton.yaml": text }), { args: ["--db", db] });
      // Both run now: count the runs started in the next 4 s.
      const from = Date.now();
      await sleep(4_000);
      const to = Date.now();
      const pause = await a.api("/api/v1/triggers/every-second/pause", {});
      expect(pause.status).toBe(200);
      await sleep(1_500);
      const all = await runs(a, "tick");
      const inWindow = all.filter((r) => Date.parse(r.createdAt) >= from && Date.parse(r.createdAt) < to);
      const expected = secondsBetween(from, to);
      expect(
        Math.abs(inWindow.length - expected),
        `${inWindow.length} runs, ${expected} s`,
      ).toBeLessThanOrEqual(1);
      // Every run was started by one of the two servers, and told once: no fire started two.
      const starters = `${a.stderr()}\n${b.stderr()}`.match(/trigger "every-second" started run/g) ?? [];
      expect(starters.length).toBe(all.length);
      await Promise.all([a.stop(), b.stop()]);
    },
    90_000,
  );
});

describe("triggers through the CLI and the API", () => {
  const PROJECT = `version: 1
pipelines:
  ingest:
    params: { ok: { type: bool, default: true } }
    nodes: { t: { run: 'test \${{ params.ok }} = true' } }
  retrain:
    params: { msg: { default: weekly }, n: { type: int, default: 1 } }
    nodes: { t: { run: 'echo \${{ params.msg }}' } }
    triggers:
      - cron: "0 9 * * MON"
        name: weekly-retrain
        timezone: Europe/Helsinki
      - after: { pipeline: ingest, status: success }
        name: retrain-after-ingest
        with: { msg: after-ingest }
      - webhook: { secret: s3cret }
        name: from-ci
`;

  it("lists, pauses, resumes, runs and removes triggers (baton triggers ...)", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const server = await startServer(dir);
    const ls = await runBaton(["triggers", "ls", "--json"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    const listed = JSON.parse(ls.stdout) as Json[];
    expect(listed.map((t) => [t.name, t.pipeline, t.kind, t.paused])).toEqual([
      ["from-ci", "retrain", "webhook", false],
      ["retrain-after-ingest", "retrain", "after", false],
      ["weekly-retrain", "retrain", "cron", false],
    ]);
    const weekly = listed.find((t) => t.name === "weekly-retrain")!;
    // Mondays 09:00 in Helsinki: 06:00 or 07:00 UTC.
    expect(new Date(weekly.nextFireAt).getUTCDay()).toBe(1);
    expect([6, 7]).toContain(new Date(weekly.nextFireAt).getUTCHours());
    expect(weekly.where).toBe("baton.yaml:10:9");

    expect((await runBaton(["triggers", "pause", "weekly-retrain"], dir)).code).toBe(0);
    let view = (await triggers(server)).find((t) => t.name === "weekly-retrain");
    expect(view.paused).toBe(true);
    expect(view.nextFireAt).toBeNull();
    const table = await runBaton(["triggers", "ls"], dir);
    expect(table.stdout).toMatch(
      /weekly-retrain\s+retrain\s+0 9 \* \* MON \(Europe\/Helsinki\)\s+-\s+-\s+paused/,
    );
    expect((await runBaton(["triggers", "resume", "weekly-retrain"], dir)).code).toBe(0);
    view = (await triggers(server)).find((t) => t.name === "weekly-retrain");
    expect(view.paused).toBe(false);

    const run = await runBaton(["triggers", "run", "weekly-retrain"], dir);
    expect(run.code, run.stderr).toBe(0);
    const runId = run.stdout.trim();
    const detail = await waitForRun(server, runId);
    expect(detail.run.status).toBe("succeeded");
    expect(detail.run.trigger).toBe("weekly-retrain");
    expect(detail.run.params).toEqual({ msg: "weekly", n: 1 });
    const show = await runBaton(["show", runId], dir);
    expect(show.stdout).toMatch(/^trigger {3}weekly-retrain$/m);
    view = (await triggers(server)).find((t) => t.name === "weekly-retrain");
    expect(view.lastRun).toEqual({ id: runId, status: "succeeded" });

    // A trigger of the file is removed from the file.
    const rmFile = await runBaton(["triggers", "rm", "weekly-retrain"], dir);
    expect(rmFile.code).not.toBe(0);
    expect(rmFile.stderr).toContain('trigger "weekly-retrain" is defined in baton.yaml:10:9');
    // One created over the API is removed by rm.
    const created = await server.api("/api/v1/triggers", {
      pipeline: "retrain",
      trigger: { cron: "0 0 1 1 *", name: "yearly", with: { n: 2 } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.trigger).toMatchObject({ name: "yearly", source: "api", schedule: "0 0 1 1 *" });
    const bad = await server.api("/api/v1/triggers", {
      pipeline: "retrain",
      trigger: { cron: "0 0 1 1 *", timezone: "Mars/Olympus", with: { n: "two" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.problems.map((p: Json) => p.path)).toEqual([
      "body.trigger.timezone",
      "body.trigger.with.n",
    ]);
    const rm = await runBaton(["triggers", "rm", "yearly"], dir);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await triggers(server)).map((t) => t.name)).not.toContain("yearly");
    const unknown = await runBaton(["triggers", "pause", "nope"], dir);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no trigger "nope"');
    await server.stop();
  }, 90_000);

  it("a webhook trigger needs its secret (401 without, 403 wrong) or the token, and takes the payload as params", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const server = await startServer(dir);
    const fire = "/api/v1/triggers/from-ci/fire";
    expect((await post(server, fire, { msg: "x" })).status).toBe(401);
    expect((await post(server, fire, { msg: "x" }, { "x-baton-secret": "wrong" })).status).toBe(403);
    expect((await post(server, fire, { msg: "x" }, { authorization: "Bearer wrong" })).status).toBe(401);
    const badPayload = await post(
      server,
      fire,
      { msg: "x", n: "many", lr: 1 },
      { "x-baton-secret": "s3cret" },
    );
    expect(badPayload.status).toBe(400);
    expect(badPayload.body.error.problems.map((p: Json) => p.path).sort()).toEqual(["body.lr", "body.n"]);
    expect(await runs(server, "retrain")).toEqual([]);

    const ok = await post(server, fire, { msg: "from-ci", n: 3 }, { "x-baton-secret": "s3cret" });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    const detail = await waitForRun(server, ok.body.run.id);
    expect(detail.run).toMatchObject({
      status: "succeeded",
      trigger: "from-ci",
      params: { msg: "from-ci", n: 3 },
    });
    await server.stop();
  }, 60_000);

  it("an after: trigger starts its pipeline when a run of the other one succeeds (and not when it fails)", async () => {
    const dir = makeProject({ "baton.yaml": PROJECT });
    const server = await startServer(dir);
    const failed = await server.api("/api/v1/runs", { pipeline: "ingest", params: { ok: false } });
    expect(failed.status).toBe(201);
    await waitForRun(server, failed.body.run.id);
    const ok = await server.api("/api/v1/runs", { pipeline: "ingest" });
    expect((await waitForRun(server, ok.body.run.id)).run.status).toBe("succeeded");
    const [retrain] = await waitFor("a retrain run", async () => {
      const r = await runs(server, "retrain");
      return r.length > 0 && r;
    });
    expect(retrain).toMatchObject({ trigger: "retrain-after-ingest", params: { msg: "after-ingest", n: 1 } });
    await sleep(2_500);
    expect((await runs(server, "retrain")).length).toBe(1);
    await server.stop();
  }, 60_000);
});
