/**
 * The HTTP API (docs/api.md) against a real server on 127.0.0.1 (ephemeral port), a real engine,
 * SQLite in a temp folder and real task processes. The server runs in this process, built by
 * `createServer`; `server-cli.test.ts` starts it as `baton server`.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as ContextModule from "../../src/cli/context.js";
import type * as LocalModule from "../../src/engine/local.js";
import type * as AppModule from "../../src/server/app.js";
import type * as HttpErrorsModule from "../../src/server/http-errors.js";
import type * as TokenModule from "../../src/server/token.js";
import { makeProject } from "../helpers/cli.js";
import { sleep, waitFor, waitForRun } from "../helpers/server.js";

process.env.BATON_KILL_GRACE_MS = "1000";

/**
 * The server and engine are loaded from the build (`npm run build` first, as for the CLI tests):
 * the local executor forks `launcher.js` beside its own module, which exists only in `dist/`.
 * All of them come from there, so that the server and the engine share one `BatonError` class.
 */
const DIST = path.resolve(import.meta.dirname, "../../dist");
async function fromDist<T>(file: string): Promise<T> {
  const full = path.join(DIST, file);
  if (!fs.existsSync(full)) throw new Error(`${full} is missing: run \`npm run build\` first`);
  return (await import(pathToFileURL(full).href)) as T;
}
const { loadProject } = await fromDist<typeof ContextModule>("cli/context.js");
const { openLocalEngine } = await fromDist<typeof LocalModule>("engine/local.js");
const { createServer } = await fromDist<typeof AppModule>("server/app.js");
const { loadOrCreateToken } = await fromDist<typeof TokenModule>("server/token.js");
const { statusForCode } = await fromDist<typeof HttpErrorsModule>("server/http-errors.js");

const PROJECT = `version: 1
pools:
  local: { slots: 4 }
pipelines:
  hello:
    params:
      who: { type: string, default: world, description: "whom to greet" }
      n: { type: int, default: 2 }
      mode: { type: string, default: fast, choices: [fast, slow] }
    nodes:
      greet:
        run: echo "hello \${{ params.who }}" | tee "$BATON_OUTPUT_DIR/greeting.txt"
      count:
        needs: [greet]
        foreach: [1, 2]
        params: { n: { type: int } }
        with: { n: "\${{ params.n }}" }
        run: echo "item \${{ item }} n=$BATON_PARAM_N" > "$BATON_OUTPUT_DIR/count.txt"
  slow:
    nodes:
      ticker:
        run: for i in 1 2 3 4; do echo "line$i"; sleep 0.4; done
  sleeper:
    nodes:
      nap:
        run: sleep 30
      after:
        needs: [nap]
        run: echo never
  pair:
    nodes:
      nap:
        run: sleep 30
      other:
        run: sleep 0.5; echo ok
  flaky:
    nodes:
      good:
        run: echo good
      shaky:
        run: test -f fixed
  big-log:
    nodes:
      spew:
        run: head -c 11534336 /dev/zero | tr '\\0' 'a'
`;

const DEFINITION = {
  version: 1,
  pipelines: {
    posted: {
      params: { word: { type: "string", default: "posted" } },
      nodes: {
        make: { run: 'echo "${{ params.word }}" > "$BATON_OUTPUT_DIR/word.txt"' },
        upper: {
          needs: ["make"],
          inputs: { text: "${{ needs.make.outputs['word.txt'] }}" },
          run: 'tr a-z A-Z < ${{ inputs.text }} > "$BATON_OUTPUT_DIR/upper.txt"',
        },
      },
    },
  },
};

interface TestServer {
  dir: string;
  url: string;
  token: string;
  app: ReturnType<typeof createServer>;
  api: (
    p: string,
    init?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ) => Promise<Response>;
  json: <T = Record<string, unknown>>(
    p: string,
    init?: { method?: string; body?: unknown },
  ) => Promise<{ status: number; body: T; headers: Headers }>;
  stop: () => Promise<void>;
}

/** A server on an ephemeral loopback port over a fresh project folder. */
async function startServer(
  files: Record<string, string>,
  dir = makeProject(files),
  extra: { webRoot?: string } = {},
): Promise<TestServer> {
  const taskEnv: Record<string, string> = {};
  const { engine, store, close } = openLocalEngine(dir, { taskEnv });
  const project = fs.existsSync(path.join(dir, "baton.yaml"))
    ? loadProject(path.join(dir, "baton.yaml"))
    : undefined;
  const { token } = loadOrCreateToken(path.join(dir, ".baton"));
  const app = createServer({
    engine,
    store,
    project,
    workdir: dir,
    token,
    heartbeatMs: 300,
    pollMs: 50,
    log: () => {},
    ...extra,
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  taskEnv.BATON_URL = url;
  taskEnv.BATON_TOKEN = token;
  const api: TestServer["api"] = (p, init = {}) =>
    fetch(url + p, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
      ...(init.body === undefined
        ? {}
        : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
    });
  const json: TestServer["json"] = async (p, init) => {
    const res = await api(p, init);
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`${p}: not JSON (${res.status}): ${text.slice(0, 300)}`);
    }
    return { status: res.status, body: body as never, headers: res.headers };
  };
  const stop = async () => {
    await Promise.race([app.baton.cancelAll(), sleep(10_000)]);
    await app.close();
    // The executor's shutdown must not hold the test suite if it stalls.
    await Promise.race([close(), sleep(5000)]);
  };
  return { dir, url, token, app, api, json, stop };
}

type RunBody = {
  run: {
    id: string;
    status: string;
    pipeline: string;
    specFile: string | null;
    counts: Record<string, number>;
  };
  tasks: Array<{ id: string; name: string; status: string; outputs: string[]; attempts: number }>;
};

/** Polls `GET /runs/:id` until the run has ended. */
const runEnded = (s: TestServer, id: string) => waitForRun<RunBody>(s, id);

async function startRun(s: TestServer, body: unknown): Promise<string> {
  const res = await s.json<{ run: { id: string } }>("/api/v1/runs", { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.run.id;
}

/** A raw request whose path is sent exactly as written (no URL normalisation). */
function rawGet(url: string, rawPath: string, token?: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        path: rawPath,
        method: "GET",
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("the API over a real engine", () => {
  let s: TestServer;
  let helloRun: RunBody;

  beforeAll(async () => {
    s = await startServer({ "baton.yaml": PROJECT });
    helloRun = await runEnded(s, await startRun(s, { pipeline: "hello", params: { who: "api" } }));
  });
  afterAll(async () => {
    await s?.stop();
  });

  describe("auth", () => {
    it("refuses every route without the token (401, JSON), except /healthz (and webhooks check their secret)", async () => {
      const routes = s.app.baton.routes;
      expect(routes.length).toBeGreaterThanOrEqual(19);
      for (const route of routes) {
        const url = route.path
          .replace(":sha256", "0".repeat(64))
          .replace(":id", helloRun.tasks[0]!.id)
          .replace(":name", "any-trigger")
          .replace(/^/, route.absolute ? "" : "/api/v1");
        const attempts: Array<Record<string, string>> = [
          {},
          { authorization: "Bearer wrong" },
          { authorization: `Basic ${s.token}` },
        ];
        for (const headers of attempts) {
          const res = await fetch(s.url + url, {
            method: route.method,
            headers: {
              ...headers,
              ...(route.method === "POST" ? { "content-type": "application/json" } : {}),
            },
            ...(route.method === "POST"
              ? { body: JSON.stringify({ pipeline: "hello", command: "touch pwned" }) }
              : {}),
          });
          if (route.path === "/healthz") {
            expect(res.status, `${route.method} ${url}`).toBe(200);
            await res.body?.cancel();
            continue;
          }
          expect(res.status, `${route.method} ${url}`).toBe(401);
          expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
          const body = (await res.json()) as { error: { code: string; message: string } };
          expect(body.error.code).toBe("UNAUTHORIZED");
        }
      }
      // A webhook takes its trigger's secret instead of the token: it checks both itself.
      expect(routes.filter((r) => !r.auth).map((r) => r.path)).toEqual(["/healthz", "/triggers/:name/fire"]);
      expect(fs.existsSync(path.join(s.dir, "pwned"))).toBe(false);
    });

    it("needs the token on API-looking paths no route matches, however they are spelt", async () => {
      for (const p of [
        "/api/v1/nope",
        "/api/v2/runs",
        "/%61pi/v1/runs",
        "/api//v1/runs",
        "/api/v1/runs/../runs",
      ]) {
        const res = await rawGet(s.url, p);
        expect(res.status, p).toBe(401);
      }
      const res = await s.json<{ error: { code: string } }>("/api/v1/nope");
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("NOT_FOUND");
    });

    it("answers every GET route with 200 given the token, as a header or as ?token=", async () => {
      const task = helloRun.tasks.find((t) => t.name === "greet")!;
      const sha = (await s.json<{ outputs: Array<{ sha256: string }> }>(`/api/v1/tasks/${task.id}/outputs`))
        .body.outputs[0]!.sha256;
      for (const route of s.app.baton.routes.filter((r) => r.method === "GET")) {
        // A release's routes need a release: test/integration/valohai-rest.test.ts reads them.
        if (route.path.startsWith("/releases/")) continue;
        const id =
          route.path.startsWith("/runs") || route.path.startsWith("/api/v0/pipelines")
            ? helloRun.run.id
            : task.id;
        const p = (route.absolute ? "" : "/api/v1") + route.path.replace(":id", id).replace(":sha256", sha);
        const viaHeader = await s.api(p);
        expect(viaHeader.status, p).toBe(200);
        await viaHeader.body?.cancel();
        const viaQuery = await fetch(`${s.url}${p}?token=${s.token}`);
        expect(viaQuery.status, `${p}?token=`).toBe(200);
        await viaQuery.body?.cancel();
      }
    });

    it("serves /healthz without a token", async () => {
      const res = await fetch(`${s.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true });
    });

    it("keeps the token in .baton/token, mode 0600, and tightens a looser mode", () => {
      const file = path.join(s.dir, ".baton", "token");
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, "utf8").trim()).toMatch(/^[0-9a-f]{64}$/);
      fs.chmodSync(file, 0o644);
      expect(loadOrCreateToken(path.join(s.dir, ".baton")).token).toBe(s.token);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    });

    it("serves a page at / without a token", async () => {
      const res = await fetch(`${s.url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/text\/html/);
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(await res.text()).toContain("<html");
    });
  });

  describe("runs", () => {
    it("starts a pipeline by name; the run, its tasks and outputs can be read back", async () => {
      expect(helloRun.run).toMatchObject({ pipeline: "hello", status: "succeeded" });
      expect(helloRun.run.counts).toMatchObject({ succeeded: 3, failed: 0 });
      expect(helloRun.tasks.map((t) => t.name).sort()).toEqual(["count[0]", "count[1]", "greet"]);
      const greet = helloRun.tasks.find((t) => t.name === "greet")!;
      expect(greet.outputs.map((o) => path.basename(o))).toEqual(["greeting.txt"]);
      const detail = await s.json<{
        command: string;
        params: Record<string, unknown>;
        attemptsDetail: Array<{ status: string; logUrl: string }>;
      }>(`/api/v1/tasks/${greet.id}`);
      expect(detail.status).toBe(200);
      expect(detail.body.command).toContain('echo "hello api"');
      expect(detail.body.attemptsDetail).toMatchObject([{ status: "succeeded" }]);
      const log = await s.api(detail.body.attemptsDetail[0]!.logUrl);
      expect(await log.text()).toBe("hello api\n");
      expect(log.headers.get("content-type")).toMatch(/^text\/plain/);
      const count = helloRun.tasks.find((t) => t.name === "count[1]")!;
      const outputs = await s.json<{
        outputs: Array<{ path: string; size: number; sha256: string; url: string }>;
      }>(`/api/v1/tasks/${count.id}/outputs`);
      const [out] = outputs.body.outputs;
      expect(out).toMatchObject({ path: "count.txt", size: "item 2 n=2\n".length });
      expect(out!.url).toBe(`/api/v1/artifacts/${out!.sha256}`);
      const blob = await s.api(out!.url);
      expect(blob.status).toBe(200);
      expect(blob.headers.get("content-type")).toBe("application/octet-stream");
      const bytes = Buffer.from(await blob.arrayBuffer());
      expect(bytes.toString()).toBe("item 2 n=2\n");
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(out!.sha256);
    });

    it("lists runs newest first with task counts, filtered by status and pipeline", async () => {
      const second = await runEnded(s, await startRun(s, { pipeline: "hello", params: { n: 5 } }));
      const list = await s.json<{
        runs: Array<{ id: string; status: string; counts: Record<string, number> }>;
      }>("/api/v1/runs?limit=2");
      expect(list.status).toBe(200);
      expect(list.body.runs[0]!.id).toBe(second.run.id);
      // Its tasks ran before with the same command: they may be cached.
      const counts = list.body.runs[0]!.counts;
      expect(counts.succeeded! + counts.cached!).toBe(3);
      const filtered = await s.json<{ runs: Array<{ pipeline: string }> }>(
        "/api/v1/runs?status=succeeded&pipeline=hello",
      );
      expect(filtered.body.runs.length).toBeGreaterThanOrEqual(2);
      expect(new Set(filtered.body.runs.map((r) => r.pipeline))).toEqual(new Set(["hello"]));
      const none = await s.json<{ runs: unknown[] }>("/api/v1/runs?status=cancelled&pipeline=hello");
      expect(none.body.runs).toEqual([]);
      const tasks = await s.json<{ tasks: Array<{ run: string; status: string }> }>(
        `/api/v1/tasks?run=${second.run.id}&status=succeeded,cached`,
      );
      expect(tasks.body.tasks).toHaveLength(3);
      expect(tasks.body.tasks.every((t) => t.run === second.run.id)).toBe(true);
    });

    it("lists the child runs of a run's pipeline: nodes", async () => {
      const definition = {
        version: 1,
        pipelines: {
          ...DEFINITION.pipelines,
          outer: { nodes: { sub: { pipeline: "posted", with: { word: "nested" } } } },
        },
      };
      const run = await runEnded(s, await startRun(s, { definition, pipeline: "outer" }));
      expect(run.run.status).toBe("succeeded");
      const sub = run.tasks.find((t) => t.name === "sub")!;
      const { body } = await s.json<{ childRuns: Array<Record<string, string>> }>(
        `/api/v1/runs/${run.run.id}`,
      );
      expect(body.childRuns).toEqual([
        { id: expect.any(String), pipeline: "posted", status: "succeeded", parentTask: sub.id },
      ]);
    });

    it("starts a run of a whole JSON definition, and records the definition with the run", async () => {
      const run = await runEnded(s, await startRun(s, { definition: DEFINITION, params: { word: "json" } }));
      expect(run.run).toMatchObject({ pipeline: "posted", status: "succeeded" });
      expect(run.run.specFile).toMatch(/\.baton\/definitions\/[0-9a-f]{64}\.json$/);
      expect(JSON.parse(fs.readFileSync(run.run.specFile!, "utf8"))).toEqual(DEFINITION);
      const upper = run.tasks.find((t) => t.name === "upper")!;
      expect(fs.readFileSync(upper.outputs[0]!, "utf8")).toBe("JSON\n");
    });

    it("registers a definition by name, lists it, runs it, and keeps it across restarts", async () => {
      const reg = await s.json<{ pipeline: { name: string; source: string } }>("/api/v1/pipelines", {
        body: { name: "shouty", definition: DEFINITION },
      });
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
      expect(reg.body.pipeline).toMatchObject({ name: "shouty", source: "registered" });
      expect(fs.existsSync(path.join(s.dir, ".baton", "pipelines", "shouty.json"))).toBe(true);

      const list = await s.json<{
        pipelines: Array<{
          name: string;
          source: string;
          params: Array<Record<string, unknown>>;
          nodes: Array<{ name: string; needs: Array<{ node: string }>; fanout?: string }>;
        }>;
      }>("/api/v1/pipelines");
      const hello = list.body.pipelines.find((p) => p.name === "hello")!;
      expect(hello.source).toBe("file");
      expect(hello.params).toContainEqual({
        name: "who",
        type: "string",
        required: false,
        default: "world",
        description: "whom to greet",
      });
      expect(hello.params).toContainEqual({
        name: "mode",
        type: "string",
        required: false,
        default: "fast",
        choices: ["fast", "slow"],
      });
      expect(hello.nodes).toContainEqual({
        name: "count",
        kind: "task",
        needs: [{ node: "greet", condition: "success" }],
        fanout: "foreach",
      });
      expect(list.body.pipelines.find((p) => p.name === "shouty")?.source).toBe("registered");

      const run = await runEnded(s, await startRun(s, { pipeline: "shouty", params: { word: "named" } }));
      expect(run.run).toMatchObject({ pipeline: "shouty", status: "succeeded" });

      // A second server on the same folder finds the registration on disk.
      const again = await startServer({}, s.dir);
      try {
        const names = (await again.json<{ pipelines: Array<{ name: string }> }>("/api/v1/pipelines")).body
          .pipelines;
        expect(names.map((p) => p.name)).toContain("shouty");
      } finally {
        await again.stop();
      }
    });

    it("refuses to register a name of the server's file, or a definition without that pipeline", async () => {
      const taken = await s.json<{ error: { problems: Array<{ path: string }> } }>("/api/v1/pipelines", {
        body: { name: "hello", definition: DEFINITION },
      });
      expect(taken.status).toBe(400);
      expect(taken.body.error.problems[0]!.path).toBe("body.name");
      const two = {
        ...DEFINITION,
        pipelines: { a: DEFINITION.pipelines.posted, b: DEFINITION.pipelines.posted },
      };
      const missing = await s.json<{ error: { message: string } }>("/api/v1/pipelines", {
        body: { name: "c", definition: two },
      });
      expect(missing.status).toBe(400);
      expect(missing.body.error.message).toContain('body.name: the definition has no pipeline "c"');
      const badName = await s.json<{ error: { problems: Array<{ path: string }> } }>("/api/v1/pipelines", {
        body: { name: "../evil", definition: DEFINITION },
      });
      expect(badName.status).toBe(400);
      expect(badName.body.error.problems[0]!.path).toBe("body.name");
      expect(fs.readdirSync(path.join(s.dir, ".baton", "pipelines"))).toEqual(["shouty.json"]);
    });

    it("cancels a run it drives, and says 409 once it has ended", async () => {
      const id = await startRun(s, { pipeline: "sleeper" });
      await waitFor("nap to run", async () => {
        const { body } = await s.json<RunBody>(`/api/v1/runs/${id}`);
        return body.tasks.find((t) => t.name === "nap")?.status === "running" ? true : undefined;
      });
      const res = await s.json<{ run: { status: string }; cancelled: string }>(`/api/v1/runs/${id}/cancel`, {
        method: "POST",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ cancelled: id, run: { status: "cancelled" } });
      const run = await runEnded(s, id);
      expect(run.tasks.map((t) => t.status).sort()).toEqual(["cancelled", "cancelled"]);
      const again = await s.json<{ error: { code: string } }>(`/api/v1/runs/${id}/cancel`, {
        method: "POST",
      });
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe("CONFLICT");
    });

    it("cancels one task of a pipeline run; the others go on", async () => {
      const id = await startRun(s, { pipeline: "pair" });
      const nap = await waitFor("nap to run", async () => {
        const { body } = await s.json<RunBody>(`/api/v1/runs/${id}`);
        const t = body.tasks.find((x) => x.name === "nap");
        return t?.status === "running" ? t : undefined;
      });
      const res = await s.json<{ cancelled: string; status: string }>(`/api/v1/tasks/${nap.id}/cancel`, {
        method: "POST",
        body: {},
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ cancelled: nap.id, status: "cancelled" });
      const run = await runEnded(s, id);
      const byName = Object.fromEntries(run.tasks.map((t) => [t.name, t.status]));
      expect(byName).toEqual({ nap: "cancelled", other: "succeeded" });
      const again = await s.json<{ error: { code: string } }>(`/api/v1/tasks/${nap.id}/cancel`, {
        method: "POST",
      });
      expect(again.status).toBe(409);
    });

    it("retries a failed run in place: failed tasks get a new attempt, successes are kept", async () => {
      const first = await runEnded(s, await startRun(s, { pipeline: "flaky" }));
      expect(first.run.status).toBe("failed");
      fs.writeFileSync(path.join(s.dir, "fixed"), "");
      const res = await s.json<{ run: { id: string } }>(`/api/v1/runs/${first.run.id}/retry`, {
        body: { failedOnly: true },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const after = await runEnded(s, first.run.id);
      expect(after.run.status).toBe("succeeded");
      const byName = Object.fromEntries(after.tasks.map((t) => [t.name, t]));
      expect(byName.good).toMatchObject({ status: "succeeded", attempts: 1 });
      expect(byName.shaky).toMatchObject({ status: "succeeded", attempts: 2 });
      fs.rmSync(path.join(s.dir, "fixed"));

      // The same through one of the run's tasks.
      const again = await runEnded(s, await startRun(s, { pipeline: "flaky" }));
      const shaky = again.tasks.find((t) => t.name === "shaky")!;
      fs.writeFileSync(path.join(s.dir, "fixed"), "");
      expect((await s.api(`/api/v1/tasks/${shaky.id}/retry`, { method: "POST" })).status).toBe(202);
      expect((await runEnded(s, again.run.id)).run.status).toBe("succeeded");
    });
  });

  describe("bad requests name the field and the problem", () => {
    it("a param of the wrong type", async () => {
      const res = await s.json<{
        error: { code: string; message: string; problems: Array<{ path: string; message: string }> };
      }>("/api/v1/runs", { body: { pipeline: "hello", params: { n: "three", mode: "medium", nope: 1 } } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("PARAM_INVALID");
      const byPath = Object.fromEntries(res.body.error.problems.map((p) => [p.path, p.message]));
      expect(byPath["body.params.n"]).toContain('expected an integer (type int), found "three"');
      expect(byPath["body.params.mode"]).toContain('"medium" is not one of the choices "fast" or "slow"');
      expect(byPath["body.params.nope"]).toContain('has no param "nope"');
    });

    it("a body field of the wrong type, and an unknown one", async () => {
      const res = await s.json<{
        error: { code: string; message: string; problems: Array<{ path: string; message: string }> };
      }>("/api/v1/runs", { body: { pipeline: "hello", params: "n=3", noCahce: true } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
      expect(res.body.error.problems).toContainEqual({
        path: "body.params",
        message: 'expected a map, found "n=3"',
      });
      expect(res.body.error.problems).toContainEqual({
        path: "body.noCahce",
        message: 'unknown key "noCahce" (did you mean "noCache"?)',
      });
      expect(res.body.error.message).toContain("body.params: expected a map");
      const empty = await s.json<{ error: { message: string } }>("/api/v1/runs", { body: {} });
      expect(empty.status).toBe(400);
      expect(empty.body.error.message).toContain('give "pipeline"');
      const notJson = await s.json<{ error: { code: string } }>("/api/v1/runs", { body: "{nope" });
      expect(notJson.status).toBe(400);
      expect(notJson.body.error.code).toBe("BAD_REQUEST");
    });

    it("an unknown pipeline: 404 with a suggestion", async () => {
      const res = await s.json<{
        error: { code: string; message: string; problems: Array<{ path: string }> };
      }>("/api/v1/runs", { body: { pipeline: "helo" } });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("SPEC_UNKNOWN_PIPELINE");
      expect(res.body.error.message).toContain('did you mean "hello"?');
      expect(res.body.error.problems[0]!.path).toBe("body.pipeline");
    });

    it("a malformed definition: every problem located under body.definition", async () => {
      const res = await s.json<{
        error: { code: string; problems: Array<{ path: string; message: string }> };
      }>("/api/v1/runs", {
        body: {
          definition: {
            version: 1,
            pipelines: {
              p: {
                nodes: {
                  a: { run: "echo a", neds: ["b"] },
                  b: { run: "echo ${{ params.missing }}", needs: ["nothere"] },
                },
              },
            },
          },
        },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("SPEC_INVALID");
      expect(res.body.error.problems).toEqual([
        {
          path: "body.definition.pipelines.p.nodes.a",
          file: "definition",
          message: 'unknown key "neds" (did you mean "needs"?)',
        },
        {
          path: "body.definition.pipelines.p.nodes.b.needs[0]",
          file: "definition",
          message: 'unknown node "nothere"',
        },
        {
          path: "body.definition.pipelines.p.nodes.b.run",
          file: "definition",
          message: 'node "b" has no param "missing" (it declares no params)',
        },
      ]);
    });

    it("a query parameter out of range, and an unknown node in targets", async () => {
      const res = await s.json<{ error: { problems: Array<{ path: string }> } }>("/api/v1/runs?limit=0");
      expect(res.status).toBe(400);
      expect(res.body.error.problems[0]!.path).toBe("query.limit");
      const status = await s.json<{ error: { message: string } }>("/api/v1/tasks?status=finished");
      expect(status.status).toBe(400);
      expect(status.body.error.message).toContain("query.status");
      const target = await s.json<{ error: { problems: Array<{ path: string }> } }>("/api/v1/runs", {
        body: { pipeline: "hello", targets: ["greet", "nope"] },
      });
      expect(target.status).toBe(400);
      expect(target.body.error.problems[0]!.path).toBe("body.targets[1]");
    });

    it("unknown ids: 404", async () => {
      for (const p of [
        "/api/v1/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "/api/v1/tasks/01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "/api/v1/tasks/zz",
      ]) {
        const res = await s.json<{ error: { code: string } }>(p);
        expect(res.status, p).toBe(404);
      }
      const runAsTask = await s.json<{ error: { message: string } }>(`/api/v1/tasks/${helloRun.run.id}`);
      expect(runAsTask.status).toBe(404);
      expect(runAsTask.body.error.message).toContain("is a run, not a task");
    });

    it("ids by prefix: run_/task_ and a few characters, 409 naming the candidates of an ambiguous one", async () => {
      const run = helloRun.run.id;
      const task = helloRun.tasks[0]!;
      expect(run).toMatch(/^run_[0-9A-Z]{26}$/);
      const byPrefix = await s.json<{ run: { id: string } }>(
        `/api/v1/runs/${run.slice(0, "run_".length + 14)}`,
      );
      expect(byPrefix.status).toBe(200);
      expect(byPrefix.body.run.id).toBe(run);
      const bare = await s.json<{ id: string }>(`/api/v1/tasks/${task.id.slice("task_".length)}`);
      expect(bare.status).toBe(200);
      expect(bare.body.id).toBe(task.id);
      // Every task of the server's runs shares the first characters of its time.
      const shared = task.id.slice(0, "task_".length + 4);
      const ambiguous = await s.json<{ error: { code: string; message: string } }>(`/api/v1/tasks/${shared}`);
      expect(ambiguous.status).toBe(409);
      expect(ambiguous.body.error.message).toMatch(new RegExp(`^"${shared}" matches \\d+ tasks: task_`));
      const short = await s.json<{ error: { message: string } }>("/api/v1/runs/run_01");
      expect(short.status).toBe(404);
      expect(short.body.error.message).toContain("at least 4 characters");
    });

    it("a body over 1 MiB: 413", async () => {
      const big = { pipeline: "hello", params: { who: "x".repeat(1024 * 1024 + 10) } };
      const res = await s.json<{ error: { code: string; message: string } }>("/api/v1/runs", { body: big });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe("PAYLOAD_TOO_LARGE");
    });

    it("submit and clone validate their bodies", async () => {
      const missing = await s.json<{ error: { problems: Array<{ path: string; message: string }> } }>(
        "/api/v1/tasks",
        {
          body: { name: "x", shards: 0 },
        },
      );
      expect(missing.status).toBe(400);
      const paths = missing.body.error.problems.map((p) => p.path);
      expect(paths).toContain("body.command");
      expect(paths).toContain("body.shards");

      const greet = helloRun.tasks.find((t) => t.name === "greet")!;
      const wrong = await s.json<{ error: { problems: Array<{ path: string; message: string }> } }>(
        `/api/v1/tasks/${greet.id}/clone`,
        { body: { params: { whom: "x" } } },
      );
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.problems[0]).toMatchObject({ path: "body.params.whom" });
      expect(wrong.body.error.problems[0]!.message).toContain('did you mean "who"?');
      const badType = await s.json<{ error: { problems: Array<{ path: string }> } }>(
        `/api/v1/tasks/${greet.id}/clone`,
        {
          body: { params: { n: "many" } },
        },
      );
      expect(badType.status).toBe(400);
      expect(badType.body.error.problems[0]!.path).toBe("body.params.n");
    });
  });

  describe("files: no path ever escapes", () => {
    it("refuses anything but a sha256 for artifacts (400), and 404s unknown blobs", async () => {
      for (const p of [
        "/api/v1/artifacts/..%2F..%2Fetc%2Fpasswd",
        `/api/v1/artifacts/${"..%2F".repeat(21)}a`,
        `/api/v1/artifacts/${"A".repeat(64)}`,
        `/api/v1/artifacts/${"0".repeat(63)}`,
        `/api/v1/artifacts/${"..%2F".repeat(12)}etc%2Fpasswd`,
      ]) {
        const res = await s.json<{ error: { code: string; problems: Array<{ path: string }> } }>(p);
        expect(res.status, p).toBe(400);
        expect(res.body.error.problems[0]!.path).toBe("path.sha256");
      }
      const unknown = await s.json<{ error: { code: string } }>(`/api/v1/artifacts/${"0".repeat(64)}`);
      expect(unknown.status).toBe(404);
      for (const p of [
        "/api/v1/artifacts/../../../../etc/passwd",
        `/api/v1/artifacts/${"../".repeat(21)}a`,
        "/api/v1/artifacts/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/tasks/../../../../etc/passwd/log",
        "/api/v1/tasks/..%2F..%2F..%2Fetc%2Fpasswd/log",
        `/api/v1/tasks/${helloRun.tasks[0]!.id}/log?attempt=..%2F..%2Fetc%2Fpasswd`,
      ]) {
        const res = await rawGet(s.url, p, s.token);
        // Paths no API route takes fall to the web UI's files (when built), which answer 403 to `..`.
        expect([400, 403, 404], `${p}: ${res.status}`).toContain(res.status);
        expect(res.body).not.toContain("root:");
      }
    });

    it("a log without follow is at most the last 10 MiB, and says it was cut", async () => {
      const run = await runEnded(s, await startRun(s, { pipeline: "big-log" }));
      const spew = run.tasks[0]!;
      const res = await s.api(`/api/v1/tasks/${spew.id}/log`);
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(10 * 1024 * 1024);
      expect(Number(res.headers.get("x-baton-log-truncated"))).toBe(11534336 - 10 * 1024 * 1024);
      expect(res.headers.get("x-baton-log-size")).toBe("11534336");
      const none = await s.api(`/api/v1/tasks/${spew.id}/log?attempt=2`);
      expect(none.status).toBe(404);
    });

    it("follows a log while the task runs, and ends the stream when it ends", async () => {
      const id = await startRun(s, { pipeline: "slow" });
      const ticker = await waitFor("ticker to start", async () => {
        const { body } = await s.json<RunBody>(`/api/v1/runs/${id}`);
        const t = body.tasks[0];
        return t && t.status === "running" ? t : undefined;
      });
      const res = await s.api(`/api/v1/tasks/${ticker.id}/log?follow=1`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      let sawLineWhileRunning = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (!sawLineWhileRunning && text.includes("line1")) {
          const { body } = await s.json<RunBody>(`/api/v1/runs/${id}`);
          sawLineWhileRunning = body.tasks[0]!.status === "running";
        }
      }
      expect(sawLineWhileRunning).toBe(true);
      expect(text).toBe("line1\nline2\nline3\nline4\n");
      const { body } = await s.json<RunBody>(`/api/v1/runs/${id}`);
      expect(body.tasks[0]!.status).toBe("succeeded");
    });
  });

  describe("submitted tasks", () => {
    type TaskBody = { id: string; status: string; name: string; exitCode: number | null; outputs: string[] };
    const taskEnded = (id: string) =>
      waitFor(`task ${id} to end`, async () => {
        const { body } = await s.json<TaskBody>(`/api/v1/tasks/${id}`);
        return ["pending", "queued", "running"].includes(body.status) ? undefined : body;
      });

    async function submit(body: unknown): Promise<string[]> {
      const res = await s.json<{ ids: string[]; error?: { code: string; message: string } }>(
        "/api/v1/tasks",
        { body },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.ids;
    }

    it("submits a task that runs, with its log readable", async () => {
      const ids = await submit({ command: 'echo "submitted $BATON_TASK_NAME"', name: "sub" });
      expect(ids).toHaveLength(1);
      const task = await taskEnded(ids[0]!);
      expect(task).toMatchObject({ name: "sub", status: "succeeded", exitCode: 0 });
      expect(await (await s.api(`/api/v1/tasks/${ids[0]}/log`)).text()).toBe("submitted sub\n");
    });

    it("cancels a run of submitted tasks", async () => {
      const ids = await submit({ command: "sleep 30", name: "tree-top" });
      const task = await waitFor("tree-top to run", async () => {
        const { body } = await s.json<TaskBody & { run: string }>(`/api/v1/tasks/${ids[0]}`);
        return body.status === "running" ? body : undefined;
      });
      const res = await s.json<{ run: { status: string } }>(`/api/v1/runs/${task.run}/cancel`, {
        method: "POST",
      });
      expect(res.status).toBe(200);
      expect(res.body.run.status).toBe("cancelled");
    });

    it("cancels a submitted task on its own", async () => {
      const ids = await submit({ command: "sleep 30", name: "long" });
      await waitFor("long to run", async () =>
        (await s.json<TaskBody>(`/api/v1/tasks/${ids[0]}`)).body.status === "running" ? true : undefined,
      );
      const res = await s.json<{ cancelled: string; status: string }>(`/api/v1/tasks/${ids[0]}/cancel`, {
        method: "POST",
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ cancelled: ids[0], status: "cancelled" });
    });

    it("clones a pipeline task with a param override, seen as BATON_PARAM_<NAME>", async () => {
      const count = helloRun.tasks.find((x) => x.name === "count[1]")!;
      const res = await s.json<{ ids: string[]; error?: { message: string } }>(
        `/api/v1/tasks/${count.id}/clone`,
        {
          body: { params: { n: 7 } },
        },
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const { ids } = res.body;
      const clone = await taskEnded(ids[0]!);
      expect(clone).toMatchObject({ name: "count[1]", status: "succeeded" });
      expect(fs.readFileSync(clone.outputs[0]!, "utf8")).toBe("item 2 n=7\n");
    });
  });

  describe("events", () => {
    it("streams every engine event of a run as Server-Sent Events, with heartbeats", async () => {
      const controller = new AbortController();
      const res = await fetch(`${s.url}/api/v1/events?token=${s.token}`, { signal: controller.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      const id = await startRun(s, { pipeline: "hello", params: { who: "events" }, noCache: true });
      let text = "";
      const events: Array<{ event: string; data: Record<string, unknown> }> = [];
      try {
        while (!events.some((e) => e.event === "run-ended" && e.data.runId === id)) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          let end = text.indexOf("\n\n");
          while (end >= 0) {
            const block = text.slice(0, end);
            text = text.slice(end + 2);
            const event = /^event: (.+)$/m.exec(block)?.[1];
            const data = /^data: (.+)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) });
            end = text.indexOf("\n\n");
          }
        }
        // Heartbeats arrive every 300 ms in this test.
        let beat = "";
        while (!beat.includes(": heartbeat")) {
          const { value } = await reader.read();
          beat += decoder.decode(value, { stream: true });
        }
      } finally {
        controller.abort();
      }
      const mine = events.filter((e) => e.data.runId === id);
      expect(mine[0]).toMatchObject({ event: "run-started", data: { pipeline: "hello" } });
      expect(mine.at(-1)).toMatchObject({ event: "run-ended", data: { status: "succeeded" } });
      const taskEvents = mine.filter((e) => e.event === "task");
      for (const name of ["greet", "count[0]", "count[1]"]) {
        const statuses = taskEvents.filter((e) => e.data.name === name).map((e) => e.data.status);
        expect(statuses, name).toContain("running");
        expect(statuses.at(-1), name).toBe("succeeded");
      }
    });
  });

  describe("openapi.json", () => {
    it("is an OpenAPI 3.1 document listing every route, from the request schemas", async () => {
      const res = await s.json<{
        openapi: string;
        paths: Record<
          string,
          Record<
            string,
            {
              security: unknown[];
              requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
              parameters: Array<{ name: string; in: string }>;
            }
          >
        >;
        components: { schemas: Record<string, unknown> };
      }>("/api/v1/openapi.json");
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe("3.1.0");
      for (const route of s.app.baton.routes) {
        const p = (route.absolute ? "" : "/api/v1") + route.path.replace(/:(\w+)/g, "{$1}");
        const op = res.body.paths[p]?.[route.method.toLowerCase()];
        expect(op, `${route.method} ${p}`).toBeDefined();
        expect(op!.security.length > 0, p).toBe(route.auth);
      }
      const startRunBody =
        res.body.paths["/api/v1/runs"]!.post!.requestBody!.content["application/json"]!.schema;
      const props = startRunBody.properties as Record<string, Record<string, unknown>>;
      expect(props.definition!.$ref).toBe("#/components/schemas/PipelineDefinition");
      expect(props.params!.type).toBe("object");
      expect(startRunBody.additionalProperties).toBe(false);
      expect(res.body.components.schemas.PipelineDefinition).toMatchObject({ type: "object" });
      const logParams = res.body.paths["/api/v1/tasks/{id}/log"]!.get!.parameters.map(
        (p) => `${p.in}:${p.name}`,
      );
      expect(logParams).toEqual(["path:id", "query:attempt", "query:follow"]);
    });
  });
});

const CACHE_PROJECT = `version: 1
pools:
  local: { slots: 4 }
pipelines:
  train:
    params: { lr: { type: float, default: 0.01 } }
    nodes:
      prep:
        run: echo "rows" > "$BATON_OUTPUT_DIR/data.txt"
      fit:
        needs: [prep]
        inputs: { data: "\${{ needs.prep.outputs['data.txt'] }}" }
        with: { lr: "\${{ params.lr }}" }
        params: { lr: { type: float } }
        run: echo "lr=$BATON_PARAM_LR" > "$BATON_OUTPUT_DIR/model.txt"
  tick:
    nodes: { a: { run: "true" } }
  tock:
    nodes: { a: { run: "true" } }
  boom:
    nodes: { a: { run: "exit 3" } }
`;

interface CacheJson {
  key: string;
  verdict: string;
  hit: boolean;
  reusedFrom: string | null;
  reusedFromRun: string | null;
  parts: { command: string; params: Record<string, unknown>; inputs: Record<string, number> } | null;
  previousTaskId: string | null;
  previousRunId: string | null;
  changes: Array<{
    part: string;
    name: string | null;
    before: string | null;
    after: string | null;
    text: string;
  }>;
}

describe("cache explanations and pages of runs", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ "baton.yaml": CACHE_PROJECT });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const cacheOf = async (run: RunBody, name: string) => {
    const task = run.tasks.find((t) => t.name === name)!;
    const res = await s.json<{ cacheKey: string | null; cache: CacheJson | null }>(
      `/api/v1/tasks/${task.id}`,
    );
    expect(res.status).toBe(200);
    return { id: task.id, status: task.status, cacheKey: res.body.cacheKey, cache: res.body.cache! };
  };

  it("GET /tasks/:id says why a task ran (what changed since the previous run) or whose result it reused", async () => {
    const first = await runEnded(s, await startRun(s, { pipeline: "train" }));
    const second = await runEnded(s, await startRun(s, { pipeline: "train", params: { lr: 0.02 } }));
    expect([first.run.status, second.run.status]).toEqual(["succeeded", "succeeded"]);

    // The first run: nothing earlier to compare with.
    const fit1 = await cacheOf(first, "fit");
    expect(fit1.cache).toMatchObject({
      key: fit1.cacheKey,
      verdict: "first-run",
      hit: false,
      reusedFrom: null,
      previousTaskId: null,
      previousRunId: null,
      changes: [],
    });
    expect(fit1.cache.parts).toMatchObject({ params: { lr: 0.01 }, inputs: { data: 1 } });

    // prep did not change: its result is reused from the first run's prep.
    const prep1 = await cacheOf(first, "prep");
    const prep2 = await cacheOf(second, "prep");
    expect(prep2.status).toBe("cached");
    expect(prep2.cache).toEqual({
      key: prep1.cacheKey,
      verdict: "reused",
      hit: true,
      reusedFrom: prep1.id,
      reusedFromRun: first.run.id,
      parts: null,
      previousTaskId: null,
      previousRunId: null,
      changes: [],
    });

    // fit ran again because lr changed; the command itself did not (it reads $BATON_PARAM_LR).
    const fit2 = await cacheOf(second, "fit");
    expect(fit2.status).toBe("succeeded");
    expect(fit2.cache).toMatchObject({
      verdict: "changed",
      hit: false,
      reusedFrom: null,
      previousTaskId: fit1.id,
      previousRunId: first.run.id,
    });
    expect(fit2.cache.changes).toEqual([
      { part: "param", name: "lr", before: "0.01", after: "0.02", text: "param lr: 0.01 -> 0.02" },
    ]);

    // A cached task reused from a task that was itself reused names the task that ran.
    // The latest result of prep's key is the second run's, itself reused from the first run's.
    const again = await runEnded(s, await startRun(s, { pipeline: "train", params: { lr: 0.02 } }));
    expect((await cacheOf(again, "prep")).cache).toMatchObject({ hit: true, reusedFrom: prep1.id });
    expect((await cacheOf(again, "fit")).cache).toMatchObject({
      hit: true,
      reusedFrom: fit2.id,
      reusedFromRun: second.run.id,
    });

    // The same key again, with caching off: it ran although the key had not changed. The
    // previous task it is compared with is the latest that ran (cached ones record no parts).
    const third = await runEnded(
      s,
      await startRun(s, { pipeline: "train", params: { lr: 0.02 }, noCache: true }),
    );
    const fit3 = await cacheOf(third, "fit");
    expect(fit3.cache).toMatchObject({
      key: fit2.cacheKey,
      verdict: "same-key",
      previousTaskId: fit2.id,
      previousRunId: second.run.id,
      changes: [],
    });

    // The OpenAPI document describes the field, from the same schema.
    const doc = await s.json<{ paths: Record<string, { get?: unknown }> }>("/api/v1/openapi.json");
    expect(JSON.stringify(doc.body.paths["/api/v1/tasks/{id}"]?.get)).toContain("previousTaskId");
    expect(JSON.stringify(doc.body.paths["/api/v1/runs"]?.get)).toContain("nextCursor");
  });

  it("pages through runs newest first with a cursor, filtered by pipeline and status in the store", async () => {
    // 60 runs: tick and tock are cached after their first run (no process); boom fails each time.
    const started: string[] = [];
    const plan = Array.from({ length: 60 }, (_, i) =>
      i % 12 === 5 ? "boom" : i % 3 === 0 ? "tock" : "tick",
    );
    for (let i = 0; i < plan.length; i += 10) {
      started.push(
        ...(await Promise.all(plan.slice(i, i + 10).map((pipeline) => startRun(s, { pipeline })))),
      );
    }
    await Promise.all(started.map((id) => runEnded(s, id)));

    type Page = {
      runs: Array<{ id: string; pipeline: string; status: string; createdAt: string }>;
      nextCursor: string | null;
    };
    const walk = async (query: string, limit: number) => {
      const seen: Page["runs"] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: { status: number; body: Page } = await s.json<Page>(
          `/api/v1/runs?limit=${limit}${query}${cursor ? `&before=${cursor}` : ""}`,
        );
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.runs.length).toBeLessThanOrEqual(limit);
        if (res.body.nextCursor !== null) {
          expect(res.body.runs).toHaveLength(limit);
          expect(res.body.nextCursor).toBe(res.body.runs.at(-1)!.id);
        }
        seen.push(...res.body.runs);
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor !== null && pages < 100);
      return { runs: seen, pages };
    };
    // Newest first; runs of one millisecond in creation order (which ids do not tell: the
    // store's tests check that order).
    const newestFirst = (runs: Page["runs"]) =>
      runs.every((r, i) => i === 0 || runs[i - 1]!.createdAt >= r.createdAt);

    // Every run of this server: the ones of the test before and these 60.
    const everything = await walk("", 1000);
    expect(everything.pages).toBe(1);
    const all = everything.runs;
    expect(all.length).toBeGreaterThanOrEqual(64);
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(newestFirst(all)).toBe(true);
    expect(all.map((r) => r.id)).toEqual(expect.arrayContaining(started));

    // Walked 7 at a time: the same runs in the same order, none twice, none left out.
    const paged = await walk("", 7);
    expect(paged.pages).toBe(Math.ceil(all.length / 7));
    expect(paged.runs.map((r) => r.id)).toEqual(all.map((r) => r.id));

    const expectFiltered = async (
      query: string,
      keep: (r: Page["runs"][number]) => boolean,
      limit: number,
    ) => {
      const want = all.filter(keep).map((r) => r.id);
      const got = await walk(query, limit);
      expect(
        got.runs.map((r) => r.id),
        query,
      ).toEqual(want);
      expect(got.pages, query).toBe(Math.max(1, Math.ceil(want.length / limit)));
      return want.length;
    };
    expect(await expectFiltered("&pipeline=tock", (r) => r.pipeline === "tock", 6)).toBe(20);
    expect(await expectFiltered("&status=failed", (r) => r.status === "failed", 2)).toBe(5);
    expect(
      await expectFiltered("&pipeline=tick&status=succeeded,failed", (r) => r.pipeline === "tick", 9),
    ).toBe(35);
    expect(await expectFiltered("&pipeline=nope", () => false, 5)).toBe(0);
    // A page that ends exactly at the last run says there is no next one.
    expect(await expectFiltered("&status=failed", (r) => r.status === "failed", 5)).toBe(5);

    // Runs started while paging are newer than the cursor: the pages after it do not shift.
    const page1 = await s.json<Page>("/api/v1/runs?limit=10");
    const late = await startRun(s, { pipeline: "tick" });
    await runEnded(s, late);
    let cursor = page1.body.nextCursor;
    const rest: string[] = [];
    while (cursor) {
      const page: { body: Page } = await s.json<Page>(`/api/v1/runs?limit=10&before=${cursor}`);
      rest.push(...page.body.runs.map((r) => r.id));
      cursor = page.body.nextCursor;
    }
    expect([...page1.body.runs.map((r) => r.id), ...rest]).toEqual(all.map((r) => r.id));
    const newest = await s.json<Page>("/api/v1/runs?limit=1");
    expect(newest.body.runs[0]!.id).toBe(late);
    // The default page size.
    expect((await s.json<Page>("/api/v1/runs")).body.runs).toHaveLength(50);
  });

  it("a bad cursor is a 400 naming query.before", async () => {
    const task = (await s.json<{ tasks: Array<{ id: string }> }>("/api/v1/tasks?limit=1")).body.tasks[0]!;
    for (const before of ["nope", "not-a-cursor", "0".repeat(26), task.id]) {
      const res = await s.json<{
        error: { code: string; message: string; problems: Array<{ path: string; message: string }> };
      }>(`/api/v1/runs?before=${before}`);
      expect(res.status, before).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
      expect(res.body.error.problems.map((p) => p.path)).toEqual(["query.before"]);
      expect(res.body.error.message).toMatch(/cursor|nextCursor/);
    }
  });
});

describe("a server with no pipeline file", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({});
  });
  afterAll(async () => {
    await s?.stop();
  });

  it("still runs posted definitions and lists registered pipelines only", async () => {
    const none = await s.json<{ error: { message: string } }>("/api/v1/runs", {
      body: { pipeline: "anything" },
    });
    expect(none.status).toBe(404);
    expect(none.body.error.message).toContain("no pipeline file");
    expect((await s.json<{ pipelines: unknown[] }>("/api/v1/pipelines")).body.pipelines).toEqual([]);
    const run = await runEnded(s, await startRun(s, { definition: DEFINITION }));
    expect(run.run.status).toBe("succeeded");
  });
});

describe("the server around the API", () => {
  it("says at / when the web UI is not built", async () => {
    const s = await startServer({}, undefined, { webRoot: makeProject({}) });
    try {
      const res = await fetch(`${s.url}/`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("not built");
    } finally {
      await s.stop();
    }
  });

  it("serves a built web UI at / without a token, its own routes included, and keeps the API closed", async () => {
    const webRoot = makeProject({
      "index.html": "<!doctype html><title>Baton UI</title>",
      "assets/app.js": "1",
    });
    const s = await startServer({}, undefined, { webRoot });
    try {
      for (const p of ["/", "/?token=x", "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/assets/app.js"]) {
        const res = await fetch(s.url + p);
        expect(res.status, p).toBe(200);
        expect(await res.text(), p).toBe(
          p === "/assets/app.js" ? "1" : "<!doctype html><title>Baton UI</title>",
        );
      }
      for (const p of ["/api/v1/runs", "/api/v1/nope", "/%61pi/v1/runs"]) {
        expect((await rawGet(s.url, p)).status, p).toBe(401);
      }
      for (const p of [
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2F..%2F..%2Fetc%2Fpasswd",
      ]) {
        const res = await rawGet(s.url, p);
        expect(res.body, p).not.toContain("root:");
      }
    } finally {
      await s.stop();
    }
  });

  it("reads its baton.yaml again when it changes", async () => {
    const s = await startServer({
      "baton.yaml": "version: 1\npipelines:\n  one:\n    nodes: { a: { run: 'true' } }\n",
    });
    try {
      const names = async () =>
        (await s.json<{ pipelines: Array<{ name: string }> }>("/api/v1/pipelines")).body.pipelines.map(
          (p) => p.name,
        );
      expect(await names()).toEqual(["one"]);
      fs.writeFileSync(
        path.join(s.dir, "baton.yaml"),
        "version: 1\npipelines:\n  one:\n    nodes: { a: { run: 'true' } }\n  two:\n    nodes: { b: { run: 'true' } }\n",
      );
      expect(await names()).toEqual(["one", "two"]);
      expect((await runEnded(s, await startRun(s, { pipeline: "two" }))).run.status).toBe("succeeded");
      fs.writeFileSync(
        path.join(s.dir, "baton.yaml"),
        "version: 1\npipelines:\n  one:\n    nodes: { a: { rn: x } }\n",
      );
      const broken = await s.json<{ error: { code: string; problems: Array<{ line?: number }> } }>(
        "/api/v1/pipelines",
      );
      expect(broken.status).toBe(400);
      expect(broken.body.error.code).toBe("SPEC_INVALID");
      expect(broken.body.error.problems[0]!.line).toBe(4);
    } finally {
      await s.stop();
    }
  });

  it("maps Baton error codes to HTTP statuses", () => {
    expect(statusForCode("SPEC_INVALID")).toBe(400);
    expect(statusForCode("PARAM_INVALID")).toBe(400);
    expect(statusForCode("USAGE")).toBe(400);
    expect(statusForCode("EXPR_SYNTAX")).toBe(400);
    expect(statusForCode("STORE_NOT_FOUND")).toBe(404);
    expect(statusForCode("SPEC_UNKNOWN_PIPELINE")).toBe(404);
    expect(statusForCode("STORE_AMBIGUOUS")).toBe(409);
    expect(statusForCode("STORE_UNAVAILABLE")).toBe(503);
    expect(statusForCode("INTERNAL")).toBe(500);
    expect(statusForCode("TASK_SETUP")).toBe(500);
  });
});
