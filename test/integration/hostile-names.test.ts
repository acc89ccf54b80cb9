/**
 * Names that are properties of JavaScript objects (`constructor`, `__proto__`...) through real
 * processes: `baton run` runs nodes of those names, and a real `baton server` registers, lists
 * and runs pipelines of those names.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Server, startServer } from "../e2e/harness.js";
import { HOSTILE_NAMES } from "../fixtures/hostile-names.js";
import { makeProject, runJson } from "../helpers/cli.js";
import { killStarted, waitForRun } from "../helpers/server.js";

afterAll(killStarted);

describe("baton run: nodes named like members of JavaScript objects", () => {
  it("runs every one of them, and needs: [__proto__] waits for __proto__", async () => {
    const nodes = HOSTILE_NAMES.map(
      (name) => `      ${name}:\n        run: echo "${name}" > "$BATON_OUTPUT_DIR/${name}.txt"`,
    ).join("\n");
    const dir = makeProject({
      "baton.yaml": `version: 1
pipelines:
  main:
    params: { constructor: { type: string, default: built } }
    nodes:
${nodes}
      last:
        needs: [__proto__]
        run: cat \${{ needs.__proto__.outputs['*.txt'] }} > "$BATON_OUTPUT_DIR/last.txt"; echo "\${{ params.constructor }}" >> "$BATON_OUTPUT_DIR/last.txt"
`,
    });
    const r = await runJson([], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.run.status).toBe("succeeded");
    expect(r.json.tasks.map((t) => t.name).sort()).toEqual([...HOSTILE_NAMES, "last"].sort());
    for (const name of HOSTILE_NAMES) {
      const task = r.byName(name);
      expect(task.status).toBe("succeeded");
      expect(fs.readFileSync(path.join(task.outputDir, `${name}.txt`), "utf8")).toBe(`${name}\n`);
    }
    const last = r.byName("last");
    const proto = r.byName("__proto__");
    expect(Date.parse(last.startedAt!)).toBeGreaterThanOrEqual(Date.parse(proto.endedAt!));
    expect(fs.readFileSync(path.join(last.outputDir, "last.txt"), "utf8")).toBe("__proto__\nbuilt\n");
  }, 120_000);
});

describe("baton server: pipelines registered under names like members of JavaScript objects", () => {
  let s: Server;
  beforeAll(async () => {
    s = await startServer({
      "baton.yaml": "version: 1\npipelines:\n  here:\n    nodes:\n      a: { run: echo here }\n",
    });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  const definition = (pipeline: string) => ({
    version: 1,
    pipelines: {
      [pipeline]: {
        params: { constructor: { type: "string", default: "c" } },
        nodes: { toString: { run: 'echo "${{ params.constructor }}" > "$BATON_OUTPUT_DIR/out.txt"' } },
      },
    },
  });

  it("registers, lists and runs them, and GET /pipelines stays 200", async () => {
    for (const name of HOSTILE_NAMES) {
      const res = await s.api<{ pipeline: { name: string } }>("/api/v1/pipelines", {
        name,
        definition: definition(name === "__proto__" ? "p" : name),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.pipeline.name).toBe(name);
      expect(fs.existsSync(path.join(s.dir, ".baton", "pipelines", `${name}.json`))).toBe(true);
    }
    const list = await s.api<{ pipelines: Array<{ name: string; params: Array<{ name: string }> }> }>(
      "/api/v1/pipelines",
    );
    expect(list.status).toBe(200);
    expect(list.body.pipelines.map((p) => p.name).sort()).toEqual([...HOSTILE_NAMES, "here"].sort());
    for (const p of list.body.pipelines.filter((x) => x.name !== "here")) {
      expect(p.params.map((x) => x.name)).toEqual(["constructor"]);
    }

    for (const name of ["constructor", "__proto__"]) {
      const started = await s.api<{ run: { id: string } }>("/api/v1/runs", {
        pipeline: name,
        params: { constructor: "given" },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const done = await waitForRun(s, started.body.run.id, (d) => d.run.status !== "running", {
        timeoutMs: 60_000,
      });
      expect(done.run.status).toBe("succeeded");
    }
    expect((await s.api("/api/v1/pipelines")).status).toBe(200);
  }, 120_000);

  it("refuses a name that cannot be stored, naming the field, and writes nothing", async () => {
    const before = fs.readdirSync(path.join(s.dir, ".baton", "pipelines")).sort();
    for (const name of ["../escape", "a/b", "", "x".repeat(300)]) {
      const res = await s.api<{ error: { problems?: Array<{ path: string }> } }>("/api/v1/pipelines", {
        name,
        definition: definition("p"),
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain("body.name");
    }
    expect(fs.readdirSync(path.join(s.dir, ".baton", "pipelines")).sort()).toEqual(before);
    expect((await s.api("/api/v1/pipelines")).status).toBe(200);
  });
});

describe("baton server: a stored definition that cannot be used", () => {
  let s: Server | undefined;
  afterAll(async () => {
    await s?.stop();
  });

  it("is left out with a warning; GET /pipelines answers 200 with the others", async () => {
    const good = { version: 1, pipelines: { ok: { nodes: { a: { run: "echo" } } } } };
    // Stored by an older Baton: the file's name is not a pipeline of its definition.
    const stale = { version: 1, pipelines: { p: { nodes: { a: { run: "echo" } } } } };
    s = await startServer({
      "baton.yaml": "version: 1\npipelines:\n  here:\n    nodes:\n      a: { run: echo here }\n",
      ".baton/pipelines/ok.json": JSON.stringify(good),
      ".baton/pipelines/constructor.json": JSON.stringify(stale),
      ".baton/pipelines/toString.json": "{ not json",
    });
    const list = await s.api<{ pipelines: Array<{ name: string }> }>("/api/v1/pipelines");
    expect(list.status).toBe(200);
    expect(list.body.pipelines.map((p) => p.name).sort()).toEqual(["here", "ok"]);
    expect(s.stderr()).toMatch(/constructor\.json ignored/);
    expect(s.stderr()).toMatch(/toString\.json ignored/);
  }, 60_000);
});
