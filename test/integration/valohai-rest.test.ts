/**
 * Releases (`release:` nodes) and Valohai's REST shape, against a real `baton server`:
 * release versions and downloads, Valohai's pipeline-creation JSON played by a Python script
 * written for Valohai's API, its errors located in the JSON body, and `Authorization: Token`.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { type Server, api, killStarted, startServer, waitForRun } from "../helpers/server.js";

const SCRIPT = fileURLToPath(new URL("../fixtures/valohai-api/create_pipeline.py", import.meta.url));
const DEPLOY_SCRIPT = fileURLToPath(new URL("../fixtures/valohai-api/deploy_pipeline.py", import.meta.url));
const TIMEOUT = 120_000;

const BATON_YAML = `version: 1
steps:
  preprocess-dataset:
    params:
      rows: 2
    run: |
      for i in $(seq 1 \${{ params.rows }}); do echo "$i,$GREETING" >> $BATON_OUTPUT_DIR/data.csv; done
  train-model:
    params:
      epochs: 1
    inputs:
      dataset: {}
    run: echo "not run, the API command replaces it"
pipelines:
  ship:
    params:
      tag: a
    nodes:
      train:
        run: |
          printf 'model %s' "\${{ params.tag }}" > $BATON_OUTPUT_DIR/model.pt
          echo notes > $BATON_OUTPUT_DIR/notes.txt
      deploy:
        needs: train
        release:
          name: mnist-model
          files: \${{ needs.train.outputs['*.pt'] }}
      check:
        needs: deploy
        inputs:
          m: \${{ needs.deploy.outputs['*'] }}
        run: ls $BATON_INPUTS_DIR/m > $BATON_OUTPUT_DIR/seen.txt
`;

const TRAIN_PY = `import glob, os, sys
rows = sum(len(open(f).read().splitlines()) for f in glob.glob(os.path.join(os.environ["BATON_INPUTS_DIR"], "dataset", "*.csv")))
with open(os.path.join(os.environ["BATON_OUTPUT_DIR"], "model.txt"), "w") as f:
    f.write("args=%s rows=%d" % (" ".join(sys.argv[1:]), rows))
`;

let server: Server;
let dir: string;

beforeAll(async () => {
  dir = makeProject({ "baton.yaml": BATON_YAML, "train.py": TRAIN_PY });
  server = await startServer(dir);
}, TIMEOUT);
afterAll(() => killStarted());

async function startShip(tag: string): Promise<string> {
  const started = await api(server, "/api/v1/runs", { pipeline: "ship", params: { tag } });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  const done = await waitForRun(server, started.body.run.id, undefined, { timeoutMs: 60_000 });
  expect(done.run.status, JSON.stringify(done.tasks)).toBe("succeeded");
  return started.body.run.id;
}

/** Runs one of the Python scripts written for Valohai's API against the server. */
function python(
  script: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "python3",
      [script, ...args],
      { env: { ...process.env, VALOHAI_URL: server.url, VALOHAI_API_TOKEN: server.token }, timeout: 150_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function fetchWith(p: string, authorization: string): Promise<Response> {
  return fetch(server.url + p, { headers: { authorization } });
}

describe("releases", () => {
  it(
    "two runs keep versions 1 and 2; a download is the bytes the task wrote; a cache hit adds no version",
    async () => {
      await startShip("a");
      const second = await startShip("b");

      const list = await api(server, "/api/v1/releases");
      expect(list.status).toBe(200);
      expect(list.body.releases).toHaveLength(1);
      expect(list.body.releases[0]).toMatchObject({
        name: "mnist-model",
        latestVersion: 2,
        versions: 2,
        run: second,
      });

      const one = await api(server, "/api/v1/releases/mnist-model");
      expect(one.status).toBe(200);
      expect(one.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
      const v1 = one.body.versions[1];
      expect(v1.files).toEqual([
        expect.objectContaining({
          path: "model.pt",
          size: "model a".length,
          url: "/api/v1/releases/mnist-model/1/files/model.pt",
        }),
      ]);

      const download = await fetchWith(v1.files[0].url, `Bearer ${server.token}`);
      expect(download.status).toBe(200);
      expect(download.headers.get("content-disposition")).toContain('attachment; filename="model.pt"');
      expect(download.headers.get("content-type")).toBe("application/octet-stream");
      expect(await download.text()).toBe("model a");
      const latest = await fetchWith(
        "/api/v1/releases/mnist-model/2/files/model.pt",
        `Bearer ${server.token}`,
      );
      expect(await latest.text()).toBe("model b");

      // The release's files are the deploy task's outputs: the node after it saw them.
      const run = await api(server, `/api/v1/runs/${second}`);
      const check = run.body.tasks.find((t: { name: string }) => t.name === "check");
      const seen = await api(server, `/api/v1/tasks/${check.id}/outputs`);
      expect(seen.body.outputs.map((o: { path: string }) => o.path)).toEqual(["seen.txt"]);
      const deploy = run.body.tasks.find((t: { name: string }) => t.name === "deploy");
      const log = await fetchWith(`/api/v1/tasks/${deploy.id}/log`, `Bearer ${server.token}`);
      expect(await log.text()).toContain("release mnist-model version 2: 1 file(s)");

      // Same files again: the release node is a cache hit and keeps version 2 as the latest.
      await startShip("b");
      const after = await api(server, "/api/v1/releases/mnist-model");
      expect(after.body.versions).toHaveLength(2);

      const missing = await api(server, "/api/v1/releases/mnist-model/9/files/model.pt");
      expect(missing.status).toBe(404);
      expect(missing.body.error.message).toContain('release "mnist-model" has no version 9 (latest: 2)');
    },
    TIMEOUT,
  );
});

describe("Valohai's REST shape", () => {
  it(
    "a Python script written for Valohai's API creates a pipeline run and polls it to completion",
    async () => {
      const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          "python3",
          [SCRIPT],
          {
            env: { ...process.env, VALOHAI_URL: server.url, VALOHAI_API_TOKEN: server.token },
            timeout: 150_000,
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect(out.stdout).toContain("node preprocess: completed");
      expect(out.stdout).toContain("node train: completed");
      expect(out.stdout).toContain("pipeline completed");
      // What train.py wrote: the command from the API ran, with the parameter and the edge's files.
      const id = /created pipeline (\S+) /.exec(out.stdout)![1]!;
      const run = await api(server, `/api/v1/runs/${id}`);
      const train = run.body.tasks.find((t: { name: string }) => t.name === "train");
      const model = await api(server, `/api/v1/tasks/${train.id}/outputs`);
      const file = model.body.outputs.find((o: { path: string }) => o.path === "model.txt");
      const bytes = await fetchWith(`/api/v1/artifacts/${file.sha256}`, `Token ${server.token}`);
      expect(await bytes.text()).toBe("args=--epochs=3 rows=5");
    },
    TIMEOUT + 60_000,
  );

  it(
    "a title with spaces, an image, on_error and a deployment node: the run, its tasks and the release",
    async () => {
      const out = await python(DEPLOY_SCRIPT);
      expect(out.code, out.stdout + out.stderr).toBe(0);
      expect(out.stdout).toContain("node Prepare data: completed");
      expect(out.stdout).toContain("node Train model: completed");
      // on_error: continue — the node failed, the pipeline did not.
      expect(out.stdout).toContain("node Flaky check: error");
      expect(out.stdout).toContain("node deploy: completed");
      expect(out.stdout).toContain("pipeline completed");
      const [, id, title] = /created pipeline (\S+) \(\w+\) (.*)/.exec(out.stdout)!;
      expect(title).toBe("Train and deploy (nightly)");

      const run = await api(server, `/api/v1/runs/${id}`);
      expect(run.body.run).toMatchObject({ pipeline: "Train and deploy (nightly)", status: "succeeded" });
      const view = await api(server, `/api/v0/pipelines/${id}/`);
      expect(view.body.title).toBe("Train and deploy (nightly)");
      const kinds = view.body.nodes.map((n: { name: string; type: string }) => `${n.name}: ${n.type}`);
      expect(kinds.sort()).toEqual([
        "Flaky check: execution",
        "Prepare data: execution",
        "Train model: execution",
        "deploy: deployment",
      ]);
      const task = (name: string) => run.body.tasks.find((t: { name: string }) => t.name === name);
      expect(task("Train model")).toMatchObject({ status: "succeeded", image: "python:3.11" });
      expect(task("Prepare data")).toMatchObject({ status: "succeeded", image: "python:3.11" });
      expect(task("Flaky check").status).toBe("failed");

      // The deployment node kept what Train model wrote as release "digits".
      const release = await api(server, "/api/v1/releases/digits");
      expect(release.status, JSON.stringify(release.body)).toBe(200);
      const version = release.body.versions.find((v: { run: string }) => v.run === id);
      expect(version.files.map((f: { path: string }) => f.path)).toEqual(["model.pt"]);
      const bytes = await fetchWith(version.files[0].url, `Token ${server.token}`);
      expect((await bytes.text()).trim()).toBe("3");
    },
    TIMEOUT + 60_000,
  );

  it("problems of the translated pipeline are answered at their place in the posted JSON", async () => {
    const out = await python(DEPLOY_SCRIPT, "--bad");
    expect(out.code, out.stderr).toBe(0);
    const answer = JSON.parse(out.stdout);
    expect(answer.status).toBe(400);
    expect(Object.keys(answer.body).sort()).toEqual([
      "nodes[0].template.parameters.rows",
      "nodes[1].template.inputs.dataset[0]",
    ]);
    expect(answer.body["nodes[0].template.parameters.rows"][0]).toContain('param "rows"');
    expect(answer.body["nodes[1].template.inputs.dataset[0]"][0]).toContain("s3:// URLs are not supported");

    // The same body on /api/v1: Baton's error shape, the same places under body.
    const bad = {
      title: "Bad on_error",
      nodes: [{ name: "a b", type: "execution", on_error: "stop-everything", template: { command: "true" } }],
    };
    const v1 = await api(server, "/api/v1/pipelines", bad);
    expect(v1.status).toBe(400);
    expect(v1.body.error.problems).toEqual([
      {
        path: "body.nodes[0].on_error",
        message: 'expected one of stop-all, stop-next, continue, retry, found "stop-everything"',
      },
    ]);
    // A title that is not a name is the title's problem.
    const title = await api(server, "/api/v0/pipelines/", {
      title: "v1.2 nightly",
      nodes: [{ name: "a", template: { command: "true" } }],
    });
    expect(title.status).toBe(400);
    expect(Object.keys(title.body)).toEqual(["title"]);
    const rows = await api(server, "/api/v1/pipelines", {
      title: "Rows",
      nodes: [{ name: "prep", template: { step: "preprocess-dataset", parameters: { rows: "many" } } }],
    });
    expect(rows.status).toBe(400);
    expect(rows.body.error.problems).toEqual([
      expect.objectContaining({ path: "body.nodes[0].template.parameters.rows" }),
    ]);
  });

  const body = (overrides: Record<string, unknown>) => ({
    project: "p",
    title: "t",
    nodes: [{ name: "prep", type: "execution", template: { step: "preprocess-dataset" } }],
    edges: [],
    ...overrides,
  });

  it("an unknown step is answered in Valohai's error shape on /api/v0, Baton's on /api/v1", async () => {
    const wrong = body({ nodes: [{ name: "prep", type: "execution", template: { step: "preprocess" } }] });
    const v0 = await api(server, "/api/v0/pipelines/", wrong);
    expect(v0.status).toBe(400);
    expect(Object.keys(v0.body)).toEqual(["nodes[0].template.step"]);
    expect(v0.body["nodes[0].template.step"][0]).toContain(
      'unknown step "preprocess": the server\'s baton.yaml has "preprocess-dataset", "train-model"',
    );
    const v1 = await api(server, "/api/v1/pipelines", wrong);
    expect(v1.status).toBe(400);
    expect(v1.body.error.problems).toEqual([
      expect.objectContaining({ path: "body.nodes[0].template.step" }),
    ]);
  });

  it("an edge to a node that does not exist names the edge's field", async () => {
    const edge = {
      source_node: "prep",
      source_type: "output",
      source_key: "*.csv",
      target_node: "trian",
      target_type: "inputs",
      target_key: "dataset",
    };
    const v0 = await api(server, "/api/v0/pipelines/", body({ edges: [edge] }));
    expect(v0.status).toBe(400);
    expect(v0.body).toEqual({
      "edges[0].target_node": ['no node "trian" in nodes (nodes: "prep")'],
      "edges[0].target_type": ['expected one of input, parameter, file, found "inputs"'],
    });
  });

  it("an unknown pipeline id is {detail} on /api/v0", async () => {
    const res = await api(server, "/api/v0/pipelines/run_nope/");
    expect(res.status).toBe(404);
    expect(Object.keys(res.body)).toEqual(["detail"]);
  });

  it("registering a definition at /api/v1/pipelines still works", async () => {
    const res = await api(server, "/api/v1/pipelines", {
      name: "hello",
      definition: { version: 1, pipelines: { hello: { nodes: { a: { run: "true" } } } } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const bad = await api(server, "/api/v1/pipelines", { definition: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error.problems[0].path).toBe("body.name");
  });

  it("Authorization: Token is accepted wherever Bearer is; a wrong token is refused", async () => {
    expect((await fetchWith("/api/v1/runs", `Token ${server.token}`)).status).toBe(200);
    expect((await fetchWith("/api/v1/runs", "Token nope")).status).toBe(401);
    expect((await fetchWith("/api/v1/releases", `token ${server.token}`)).status).toBe(200);
  });
});
