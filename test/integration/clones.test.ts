/**
 * Honest clones, against a real `baton server` on 127.0.0.1: a clone lists the params it runs
 * with, refuses params its original does not know, renders a pipeline task's command again, and
 * becomes a child of the task that clones; `needs.X.task_id` / `task_ids` in expressions.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Baton } from "../../dist/index.js";
import { makeProject, runBaton } from "../helpers/cli.js";
import { type Json, type Server, killStarted, startServer, waitFor, waitForRun } from "../helpers/server.js";

const DIST = path.resolve(import.meta.dirname, "../../dist/index.js");

const PROJECT = `version: 1
pipelines:
  train:
    params:
      lr: { type: float, default: 0.1 }
      epochs: { type: int, default: 2 }
    nodes:
      prep:
        run: echo prepared > "$BATON_OUTPUT_DIR/data.txt"
      shards:
        foreach: [a, b, c]
        run: echo "\${{ item }}" > "$BATON_OUTPUT_DIR/shard.txt"
      fit:
        needs: [prep, shards]
        params: { lr: { type: float }, epochs: { type: int } }
        with: { lr: "\${{ params.lr }}", epochs: "\${{ params.epochs }}" }
        run: echo "fit --lr \${{ params.lr }} --epochs \${{ params.epochs }} --data \${{ needs.prep.output_dir }} --prep \${{ needs.prep.task_id }} --shards \${{ needs.shards.task_ids }} env=$BATON_PARAM_LR" | tee "$BATON_OUTPUT_DIR/cmd.txt"
`;

/** A program run as a task: it clones a template without an idempotency key. */
const CLONE_INSIDE = `import { Baton } from ${JSON.stringify(DIST)};
const baton = await Baton.connect();
const copy = await baton.clone(process.argv[2], { params: { lr: 0.7 }, name: "inner-clone" });
await copy.wait();
console.log(JSON.stringify({ id: copy.id }));
await baton.close();
`;

let dir: string;
let s: Server;

async function taskEnded(id: string): Promise<Json> {
  return waitFor(
    `task ${id} to end`,
    async () => {
      const t = (await s.api(`/api/v1/tasks/${id}`)).body;
      return ["succeeded", "failed", "cancelled", "skipped", "cached"].includes(t.status) ? t : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
}

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await s.api("/api/v1/tasks", body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.ids[0];
}

beforeAll(async () => {
  dir = makeProject({ "baton.yaml": PROJECT, "clone-inside.mjs": CLONE_INSIDE });
  s = await startServer(dir);
}, 60_000);

afterAll(async () => {
  await s?.stop();
  killStarted();
});

describe("clones of pipeline tasks", () => {
  let run: Json;
  let fit: Json;
  let prep: Json;
  let shards: Json[];
  beforeAll(async () => {
    const started = await s.api("/api/v1/runs", { pipeline: "train", params: { lr: 0.1 }, noCache: true });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    run = await waitForRun(s, started.body.run.id, undefined, { timeoutMs: 60_000 });
    expect(run.run.status).toBe("succeeded");
    fit = run.tasks.find((t: Json) => t.name === "fit");
    prep = run.tasks.find((t: Json) => t.name === "prep");
    shards = ["shards[0]", "shards[1]", "shards[2]"].map((n) => run.tasks.find((t: Json) => t.name === n));
  }, 90_000);

  it("renders needs.X.task_id and needs.X.task_ids (in fan-out order) into the command", async () => {
    const detail = (await s.api(`/api/v1/tasks/${fit.id}`)).body;
    const ran = fs.readFileSync(path.join(detail.outputDir, "cmd.txt"), "utf8");
    expect(ran).toContain(`--prep ${prep.id} --shards ${shards.map((t) => t.id).join(" ")} env=0.1`);
  });

  it("renders the command again with the new params, keeping what the rest rendered to", async () => {
    const res = await s.api(`/api/v1/tasks/${fit.id}/clone`, { params: { lr: 0.5 } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const clone = await taskEnded(res.body.ids[0]);
    expect(clone.status).toBe("succeeded");
    expect(clone.params).toMatchObject({ lr: 0.5, epochs: 2 });
    const original = (await s.api(`/api/v1/tasks/${fit.id}`)).body;
    expect(clone.command).toBe(original.command.replace("--lr 0.1 ", "--lr 0.5 "));
    expect(clone.command).toContain(`--prep ${prep.id} --shards ${shards.map((t) => t.id).join(" ")}`);
    const ran = fs.readFileSync(path.join(clone.outputDir, "cmd.txt"), "utf8");
    expect(ran).toMatch(/^fit --lr 0.5 --epochs 2 --data \S+ --prep/);
    expect(ran).toContain("env=0.5");
  });

  it("refuses a param the node does not declare, naming it and the known ones", async () => {
    const res = await s.api(`/api/v1/tasks/${fit.id}/clone`, { params: { lr_rate: 0.5 } });
    expect(res.status).toBe(400);
    expect(res.body.error.problems[0].path).toBe("body.params.lr_rate");
    expect(res.body.error.message).toContain('no param "lr_rate"');
    expect(res.body.error.message).toMatch(/params: .*lr.*epochs|params: .*epochs.*lr/);
  });

  it("says in validation that a fan-out has task_ids, not a task_id", async () => {
    const bad = makeProject({
      "baton.yaml": PROJECT.replace("needs.shards.task_ids", "needs.shards.task_id"),
    });
    const r = await runBaton(["validate"], bad);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(/node "shards" fans out \(foreach\).*needs\.shards\.task_ids/);
    expect(r.stderr + r.stdout).toMatch(/baton\.yaml:\d+:\d+/);
  }, 60_000);
});

describe("clones of submitted tasks", () => {
  let template: string;
  beforeAll(async () => {
    template = await submit({
      name: "template",
      command: 'echo "lr=$BATON_PARAM_LR epochs=$BATON_PARAM_EPOCHS"',
      params: { lr: 0.1, epochs: 3 },
    });
    expect((await taskEnded(template)).status).toBe("succeeded");
  }, 60_000);

  it("lists the params the clone runs with: the overrides and the template's others", async () => {
    const res = await s.api(`/api/v1/tasks/${template}/clone`, { params: { lr: 0.5 } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const clone = await taskEnded(res.body.ids[0]);
    expect(clone.params).toEqual({ lr: 0.5, epochs: 3 });
    const shown = await runBaton(["show", "--json", clone.id], dir);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout).params).toEqual({ lr: 0.5, epochs: 3 });
  }, 60_000);

  it("refuses a param the template was not submitted with, listing those it was", async () => {
    const res = await s.api(`/api/v1/tasks/${template}/clone`, { params: { test_sise: 0.5 } });
    expect(res.status).toBe(400);
    expect(res.body.error.problems[0].path).toBe("body.params.test_sise");
    expect(res.body.error.message).toContain('no param "test_sise"; params: lr, epochs');

    const bare = await submit({ name: "bare", command: "true" });
    const none = await s.api(`/api/v1/tasks/${bare}/clone`, { params: { lr: 1 } });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain("it was submitted with none");
    // Without overrides, a task submitted without params is cloned as before.
    expect((await s.api(`/api/v1/tasks/${bare}/clone`, {})).status).toBe(201);
  }, 60_000);

  it("through the TypeScript SDK: the template and its clone list their params; a typo is an error", async () => {
    const baton = await Baton.connect({ workdir: dir, env: { BATON_URL: s.url, BATON_TOKEN: s.token } });
    try {
      const tpl = await baton.submit({
        name: "sdk-template",
        command: "true",
        params: { lr: 0.1, epochs: 3 },
      });
      expect(tpl.info?.params).toEqual({ lr: 0.1, epochs: 3 });
      expect(tpl.info?.command).toBe("true");
      await tpl.wait();
      const copy = await baton.clone(tpl, { params: { epochs: 9 } });
      expect(copy.info?.params).toEqual({ lr: 0.1, epochs: 9 });
      const err = await baton.clone(tpl, { params: { epoch: 9 } }).catch((e: Error) => e);
      expect(err).toMatchObject({ code: "USAGE" });
      expect((err as Error).message).toContain('no param "epoch" (did you mean "epochs"?)');
    } finally {
      await baton.close();
    }
  }, 60_000);

  it("made by the TypeScript SDK inside a task, without an idempotency key, is that task's child", async () => {
    const parent = await submit({
      name: "cloner",
      command: `node clone-inside.mjs ${template}`,
      cwd: dir,
    });
    const ended = await taskEnded(parent);
    const log = (await fetch(`${s.url}/api/v1/tasks/${parent}/log`, {
      headers: { authorization: `Bearer ${s.token}` },
    }).then((r) => r.text())) as string;
    expect(ended.status, log).toBe("succeeded");
    const { id } = JSON.parse(log.trim().split("\n").at(-1)!);
    const clone = (await s.api(`/api/v1/tasks/${id}`)).body;
    expect(clone.parent).toBe(parent);
    expect(clone.params).toEqual({ lr: 0.7, epochs: 3 });
  }, 90_000);
});
