/**
 * Hostile request bodies against one real `baton server` on 127.0.0.1: first the cases that
 * used to fail late or answer 500, then a seeded fuzz of the POST bodies. Every answer must be a
 * 2xx, or a 4xx with a JSON error naming a field or a problem; never a 5xx, never a hang.
 * `BATON_FUZZ_SEED=N` replays another seed (the seed is printed with any failure).
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { type Server, startServer, waitFor } from "../helpers/server.js";

const SEED = Number(process.env.BATON_FUZZ_SEED ?? 20_261_205);
const FUZZ_REQUESTS = 300;
const REQUEST_TIMEOUT_MS = 15_000;

const PROJECT = `version: 1
pools:
  local: { slots: 2 }
pipelines:
  hello:
    params:
      who: { type: string, default: world }
    nodes:
      greet:
        run: echo "hello \${{ params.who }}"
`;

const DEFINITION = { version: 1, pipelines: { p: { nodes: { a: { run: "true" } } } } };

let server: Server;
let dir = "";
let doneTask = "";

interface Answer {
  status: number;
  text: string;
  json: { error?: { code?: string; message?: string; problems?: Array<{ path?: string; message: string }> } };
}

async function send(
  route: string,
  body: string | undefined,
  contentType: string | undefined = "application/json",
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${server.token}` };
  if (contentType !== undefined) headers["content-type"] = contentType;
  const res = await fetch(`${server.url}/api/v1${route}`, {
    method: "POST",
    headers,
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let json: Answer["json"] = {};
  try {
    json = JSON.parse(text) as Answer["json"];
  } catch {
    // checked by the callers
  }
  return { status: res.status, text, json };
}

const post = (route: string, body: unknown) => send(route, JSON.stringify(body));

beforeAll(async () => {
  dir = makeProject({ "baton.yaml": PROJECT, "a-file.txt": "not a folder\n" });
  server = await startServer(dir);
  // A task that has ended, to clone.
  const submitted = await post("/tasks", { name: "base", command: "true" });
  doneTask = (submitted.json as unknown as { ids: string[] }).ids[0]!;
  await waitFor(
    `task ${doneTask} to succeed`,
    async () => (await server.api(`/api/v1/tasks/${doneTask}`)).body,
    {
      until: (task) => task.status === "succeeded",
      intervalMs: 100,
    },
  );
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe("the API checks bodies before acting on them", () => {
  it("JSON nested 100,000 deep is a 400 naming the body, quickly, and the server stays healthy", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    for (const [route, body] of [
      ["/tasks", `{"command":"true","params":{"a":${deep}}}`],
      ["/runs", `{"pipeline":"hello","params":{"who":${deep}}}`],
      ["/pipelines", `{"name":"x","definition":{"a":${deep}}}`],
      [`/tasks/${doneTask}/clone`, `{"params":{"who":${deep}}}`],
      ["/tasks", deep],
    ] as const) {
      const started = Date.now();
      const r = await send(route, body);
      expect(r.status, `${route}: ${r.text}`).toBe(400);
      expect(r.json.error?.problems?.[0]?.path).toBe("body");
      expect(r.json.error?.message).toMatch(/JSON nested deeper than 128 levels/);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("a body over 1 MiB is a 413 with a JSON error", async () => {
    const r = await post("/tasks", { command: `echo ${"x".repeat(1_100_000)}` });
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a __proto__ key is a 400 that says so, not 'not valid JSON'", async () => {
    const r = await send("/runs", '{"pipeline": "p", "params": {"__proto__": {"x": 1}}}');
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toContain('a key named "__proto__"');
    expect(r.json.error?.problems?.[0]?.path).toBe("body");
  });

  it("a cwd that does not exist, or is a file, is a 400 naming body.cwd and the path", async () => {
    const missing = path.join(dir, "no-such-folder");
    const r = await post("/tasks", { command: "true", cwd: missing });
    expect(r.status, r.text).toBe(400);
    expect(r.json.error?.problems).toEqual([
      { path: "body.cwd", message: `working directory ${missing} does not exist` },
    ]);
    const file = path.join(dir, "a-file.txt");
    const f = await post("/tasks", { command: "true", cwd: file });
    expect(f.status, f.text).toBe(400);
    expect(f.json.error?.problems?.[0]).toEqual({
      path: "body.cwd",
      message: `working directory ${file} is not a directory`,
    });
  });

  it("a command over the OS's argument limit is a 400 with its size and the limit", async () => {
    const r = await post("/tasks", { command: `echo ${"x".repeat(200_000)}` });
    expect(r.status, r.text).toBe(400);
    expect(r.json.error?.problems?.[0]?.path).toBe("body.command");
    expect(r.json.error?.message).toMatch(
      /the command is 200005 bytes; the system takes at most 131071 bytes/,
    );
    const env = await post("/tasks", { command: "true", env: { BIG: "y".repeat(140_000) } });
    expect(env.status, env.text).toBe(400);
    expect(env.json.error?.message).toMatch(/environment variable BIG is 140004 bytes/);
  });

  it("names over 200 characters and labels with control characters are a 400 naming the field", async () => {
    const long = "n".repeat(201);
    for (const [route, body, field] of [
      ["/tasks", { command: "true", name: long }, "body.name"],
      ["/pipelines", { name: long, definition: DEFINITION }, "body.name"],
      ["/runs", { pipeline: long }, "body.pipeline"],
      [`/tasks/${doneTask}/clone`, { name: long }, "body.name"],
      ["/tasks", { command: "true", labels: { team: "a\nb" } }, "body.labels.team"],
      [`/tasks/${doneTask}/clone`, { labels: { [long]: "x" } }, "body.labels"],
    ] as const) {
      const r = await post(route, body);
      expect(r.status, `${route} ${r.text}`).toBe(400);
      expect(r.json.error?.problems?.[0]?.path, r.text).toBe(field);
    }
  });
});

// The fuzz -------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  "a.b",
  "\u0000",
  "é",
];

function fuzzer(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!;
  const setOwn = (o: Record<string, unknown>, k: string, v: unknown) =>
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  const value = (depth = 0): unknown => {
    switch (int(depth > 2 ? 9 : 12)) {
      case 0:
        return null;
      case 1:
        return pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 10_001]);
      case 2:
        return random() < 0.5;
      case 3:
        return pick([
          "",
          " ",
          "x",
          "hello",
          "true",
          "a\nb",
          "\u0000",
          "${{ params.who }}",
          "../..",
          "/",
          "\u202e",
        ]);
      case 4:
        return "s".repeat(pick([199, 201, 5000, 140_000]));
      case 5:
        return pick(HOSTILE_KEYS);
      case 6:
        return String(int(1e9));
      case 7:
        return pick(["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-an-id", doneTask]);
      case 8:
        return [];
      case 9: {
        const o: Record<string, unknown> = {};
        for (let i = int(4); i > 0; i--)
          setOwn(o, pick([...HOSTILE_KEYS, "who", "a", "A_B"]), value(depth + 1));
        return o;
      }
      case 10:
        return Array.from({ length: int(4) }, () => value(depth + 1));
      default:
        return { nested: [value(depth + 1)] };
    }
  };
  const mutate = (body: Record<string, unknown>): unknown => {
    const out: Record<string, unknown> = { ...body };
    for (let n = 1 + int(3); n > 0; n--) {
      const keys = Object.keys(out);
      switch (int(5)) {
        case 0:
          if (keys.length > 0) delete out[pick(keys)];
          break;
        case 1:
          setOwn(out, pick(HOSTILE_KEYS), value());
          break;
        case 2:
          if (keys.length > 0) setOwn(out, pick(keys), value());
          break;
        case 3: {
          // Inside a map-valued field (params, labels, env, definition).
          const key = pick(keys);
          const inner = key === undefined ? undefined : out[key];
          if (inner && typeof inner === "object" && !Array.isArray(inner)) {
            const copy = { ...(inner as Record<string, unknown>) };
            setOwn(copy, pick([...HOSTILE_KEYS, ...Object.keys(copy), "x"]), value());
            out[key!] = copy;
          }
          break;
        }
        default:
          if (random() < 0.1) return value();
      }
    }
    return out;
  };
  return { int, pick, value, mutate };
}

describe("API fuzz", () => {
  it(`${FUZZ_REQUESTS} random and mutated POST bodies: never a 5xx, never a hang, every 4xx says what is wrong (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const f = fuzzer(random);
    const bases: Array<[string, Record<string, unknown>]> = [
      ["/runs", { pipeline: "hello", params: { who: "fuzz" } }],
      ["/runs", { definition: DEFINITION }],
      ["/tasks", { name: "t", command: "true", labels: { a: "b" }, env: { A: "1" }, params: { p: 1 } }],
      ["/tasks", { command: "true", afterSuccess: ["base"], retries: 0, shards: 2, priority: 1 }],
      ["/pipelines", { name: "reg", definition: DEFINITION }],
      [`/tasks/${doneTask}/clone`, { name: "c", params: { p: 2 }, labels: { x: "y" } }],
    ];
    const started = Date.now();
    let ok = 0;
    for (let i = 0; i < FUZZ_REQUESTS; i++) {
      const [route, base] = f.pick(bases);
      let text: string | undefined = JSON.stringify(f.mutate(base));
      let contentType: string | undefined = "application/json";
      const twist = f.int(20);
      if (twist === 0 && text)
        text = text.slice(0, f.int(text.length)); // invalid JSON
      else if (twist === 1) text = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
      else if (twist === 2)
        contentType = f.pick([
          "text/plain",
          "application/x-www-form-urlencoded",
          "application/xml",
          undefined,
        ]);
      else if (twist === 3) contentType = "application/json; charset=utf-16";
      else if (twist === 4) text = f.pick(["", "null", "[]", "1", '"x"', "{", "}", "\u0000"]);
      const context = `seed ${SEED}, request ${i}: POST ${route} (${contentType}) ${text === undefined ? "" : text.slice(0, 2000)}`;
      let r: Answer;
      try {
        r = await send(route, text, contentType);
      } catch (err) {
        throw new Error(`${context}\nno answer: ${(err as Error).message}`);
      }
      expect(r.status, `${context}\n=> ${r.status} ${r.text.slice(0, 500)}`).toBeLessThan(500);
      if (r.status >= 400) {
        expect(r.json.error?.code, `${context}\n=> ${r.status} ${r.text.slice(0, 500)}`).toBeTruthy();
        expect(r.json.error?.message?.length ?? 0, `${context}\n=> ${r.text.slice(0, 500)}`).toBeGreaterThan(
          0,
        );
      } else ok++;
    }
    // A generous bound against hangs, not a performance check.
    expect(Date.now() - started).toBeLessThan(100_000);
    expect(ok).toBeGreaterThan(0);
    const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    expect(health.status).toBe(200);
    expect(server.stderr()).not.toMatch(/internal error|Maximum call stack/);
  }, 150_000);
});
