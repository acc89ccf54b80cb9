import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

/** A real HTTP server on 127.0.0.1 that counts the requests for each path. */
let server: http.Server;
let base = "";
const hits = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    hits.set(url, (hits.get(url) ?? 0) + 1);
    if (url === "/data/train.csv") {
      res.writeHead(200, { "content-type": "text/csv", etag: '"v1"' });
      res.end("a,b\n1,2\n");
    } else if (url === "/moved") {
      res.writeHead(302, { location: "/data/train.csv" });
      res.end();
    } else {
      res.writeHead(404);
      res.end("not here");
    }
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((ok) => server.close(() => ok()));
});

describe("URL inputs", () => {
  it("are downloaded once into the content store and reused by later runs, laid out by URL basename or filename:", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
steps:
  use:
    inputs:
      data: { default: "${base}/data/train.csv" }
      renamed: { default: "${base}/moved", filename: table.csv }
    run: |
      cat "$BATON_INPUTS_DIR/data/train.csv" > "$BATON_OUTPUT_DIR/copy.csv"
      cat "$BATON_INPUTS_DIR/renamed/table.csv" > "$BATON_OUTPUT_DIR/renamed.csv"
pipelines:
  p:
    nodes:
      use: { step: use, cache: false }
`,
    });
    const first = await runJson([], dir);
    expect(first.code, first.stderr).toBe(0);
    const out = first.byName("use").outputDir;
    expect(fs.readFileSync(path.join(out, "copy.csv"), "utf8")).toBe("a,b\n1,2\n");
    expect(fs.readFileSync(path.join(out, "renamed.csv"), "utf8")).toBe("a,b\n1,2\n");
    const second = await runJson([], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.byName("use").cached).toBe(false);
    // Two runs, two inputs: one request per URL (the redirect followed once).
    expect(hits.get("/data/train.csv")).toBe(2);
    expect(hits.get("/moved")).toBe(1);
  });

  it("a URL that answers 404 fails the task, naming the input, the URL and the status", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      use:
        run: "true"
        inputs: { model: "${base}/missing.pt" }
`,
    });
    const r = await runJson([], dir);
    expect(r.code).not.toBe(0);
    const task = r.byName("use");
    expect(task.status).toBe("failed");
    const shown = await runBaton(["show", task.id], dir);
    expect(shown.stdout).toContain(
      `input "model": cannot download ${base}/missing.pt: the server answered 404`,
    );
  });

  it("another scheme is a validation error naming the input, the scheme and the place", async () => {
    const dir = makeProject({
      "baton.yaml": `version: 1
steps:
  s:
    run: "true"
    inputs:
      data: { default: "s3://bucket/train/*.csv" }
pipelines:
  p:
    nodes:
      a: { step: s }
      b:
        run: "true"
        inputs: { weights: "datum://0168-abc" }
`,
    });
    const v = await runBaton(["validate"], dir);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(
      /baton\.yaml:6:\d+ steps\.s\.inputs\.data\.default: input "data": s3:\/\/ URLs are not supported/,
    );
    expect(v.stderr).toMatch(
      /baton\.yaml:13:\d+ pipelines\.p\.nodes\.b\.inputs\.weights: input "weights": datum:\/\/ URLs are not supported/,
    );
  });
});

describe("keep-directories", () => {
  it("lays files out by basename (none), whole relative path (full) or path below the glob's base (suffix)", async () => {
    const dir = makeProject({
      "data/a/x.txt": "x",
      "data/b/y.txt": "y",
      "baton.yaml": `
version: 1
steps:
  list:
    inputs:
      none: { default: "data/**/*.txt", keep-directories: none }
      full: { default: "data/**/*.txt", keep-directories: full }
      suffix: { default: "data/**/*.txt", keep-directories: suffix }
    run: cd "$BATON_INPUTS_DIR" && find . -name '*.txt' | sort > "$BATON_OUTPUT_DIR/layout.txt"
pipelines:
  p:
    nodes:
      list: { step: list }
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const layout = fs
      .readFileSync(path.join(r.byName("list").outputDir, "layout.txt"), "utf8")
      .trim()
      .split("\n");
    expect(layout).toEqual([
      "./full/data/a/x.txt",
      "./full/data/b/y.txt",
      "./none/x.txt",
      "./none/y.txt",
      "./suffix/a/x.txt",
      "./suffix/b/y.txt",
    ]);
  });
});

describe("no-output-timeout", () => {
  it("stops a task whose log stays silent, as a timeout that is retried, with the reason in baton show", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      quiet:
        run: echo start; sleep 30
        no-output-timeout: 1s
        retries: 1
      chatty:
        run: for i in 1 2 3 4; do echo $i; sleep 0.5; done
        no-output-timeout: 1500ms
`,
    });
    const started = Date.now();
    const r = await runJson([], dir);
    expect(Date.now() - started).toBeLessThan(25_000);
    const quiet = r.byName("quiet");
    expect(quiet.status).toBe("failed");
    expect(quiet.attempts).toBe(2);
    expect(r.byName("chatty").status).toBe("succeeded");
    const shown = await runBaton(["show", quiet.id], dir);
    expect(shown.stdout).toContain("no output for 1s");
    const json = JSON.parse((await runBaton(["show", "--json", quiet.id], dir)).stdout) as {
      error: string;
      attemptsDetail: Array<{ status: string; reason: string; message: string }>;
    };
    expect(json.error).toBe("no output for 1s");
    expect(json.attemptsDetail.map((a) => [a.status, a.reason, a.message])).toEqual([
      ["failed", "timeout", "no output for 1s"],
      ["failed", "timeout", "no output for 1s"],
    ]);
  }, 60_000);
});

describe("image", () => {
  it("is recorded on the task and shown by baton show and --json", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
defaults: { image: "python:3.11" }
pipelines:
  p:
    nodes:
      a: { run: "true" }
      b: { run: "true", image: "ghcr.io/org/trainer:2" }
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const a = r.json.tasks.find((t) => t.name === "a") as unknown as { id: string; image: string | null };
    const b = r.json.tasks.find((t) => t.name === "b") as unknown as { id: string; image: string | null };
    expect(a.image).toBe("python:3.11");
    expect(b.image).toBe("ghcr.io/org/trainer:2");
    const shown = await runBaton(["show", b.id], dir);
    expect(shown.stdout).toMatch(/image\s+ghcr\.io\/org\/trainer:2/);
  });
});

describe("compat: valohai", () => {
  it("gives a task Valohai's folders, config files and stdout metadata as metrics", async () => {
    const dir = makeProject({
      "data/digits.csv": "1,2,3\n",
      "train.py": `
import json, os
params = json.load(open(os.path.join(os.environ["VH_CONFIG_DIR"], "parameters.json")))
inputs = json.load(open(os.path.join(os.environ["VH_CONFIG_DIR"], "inputs.json")))
files = sorted(os.listdir(os.path.join(os.environ["VH_INPUTS_DIR"], "dataset")))
with open(os.path.join(os.environ["VH_OUTPUTS_DIR"], "model.txt"), "w") as f:
    f.write(json.dumps({"lr": params["lr"], "files": files, "path": inputs["dataset"]["files"][0]["path"], "repo": os.environ["VH_REPOSITORY_DIR"], "job": os.environ.get("VH_JOB_ID", "")}))
print(json.dumps({"accuracy": 0.5}))
print("training done")
print(json.dumps({"accuracy": 0.9, "epoch": 3}))
`,
      "baton.yaml": `
version: 1
pipelines:
  p:
    nodes:
      train:
        compat: valohai
        params: { lr: 0.1 }
        inputs: { dataset: "data/*.csv" }
        run: python3 train.py
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    const train = r.byName("train");
    const model = JSON.parse(fs.readFileSync(path.join(train.outputDir, "model.txt"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(model.lr).toBe(0.1);
    expect(model.files).toEqual(["digits.csv"]);
    expect(String(model.path)).toMatch(/inputs\/dataset\/digits\.csv$/);
    expect(fs.realpathSync(String(model.repo))).toBe(fs.realpathSync(dir));
    expect(model.job).toBe(train.id);
    expect(train.metrics).toEqual({ accuracy: 0.9, epoch: 3 });
  });
});
