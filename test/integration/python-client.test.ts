/**
 * The Python client (python/baton) against a real `baton server` on 127.0.0.1: `python3`
 * scripts (test/python/) run with PYTHONPATH=python, as a user runs them, and the package
 * installed with pip (offline) into a folder of its own.
 */
import { type SpawnOptions, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { type Json, type Server, killStarted, startServer, track, waitFor } from "../helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PYTHON_DIR = path.join(ROOT, "python");
const SCRIPTS = path.join(ROOT, "test/python");

const PROJECT = `version: 1
pools:
  local: { slots: 4 }
  gpu: { slots: 2 }
pipelines:
  train:
    params:
      lr: { type: float, default: 0.1 }
    nodes:
      fit:
        params: { lr: { type: float } }
        with: { lr: "\${{ params.lr }}" }
        run: |
          for i in 1 2 3; do echo "{\\"step\\": $i, \\"loss\\": $(( 10 - i ))}" >> "$BATON_METRICS"; done
          echo "{\\"accuracy\\": $BATON_PARAM_LR}" >> "$BATON_METRICS"
          echo "lr=$BATON_PARAM_LR"
          echo "lr=$BATON_PARAM_LR" > "$BATON_OUTPUT_DIR/model.txt"
`;

interface PyResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `python3 ARGS` with the given env (no BATON_* of this process), its output once it exits. */
function python(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<PyResult> {
  const env: Record<string, string | undefined> = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
  for (const key of Object.keys(env)) if (key.startsWith("BATON_")) delete env[key];
  const spawnOptions: SpawnOptions = { cwd: options.cwd, env: { ...env, ...options.env } };
  const child = track(spawn("python3", args, spawnOptions));
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

async function script(name: string, env: Record<string, string> = {}): Promise<Json> {
  const r = await python([path.join(SCRIPTS, name)], { cwd: s.dir, env: { PYTHONPATH: PYTHON_DIR, ...env } });
  expect(r.code, `${name} failed:\n${r.stderr}\n${r.stdout}`).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

let s: Server;

beforeAll(async () => {
  s = await startServer(makeProject({ "baton.yaml": PROJECT }));
}, 60_000);

afterAll(async () => {
  await s?.stop();
  killStarted();
});

describe("the Python client", () => {
  it("drives a ClearML-style controller: template by name, clone with params, wait, metrics, follow-up", async () => {
    const out = await script("controller.py");
    expect(out.run_status).toBe("succeeded");
    expect(out.run_tasks).toEqual(["fit"]);
    expect(out.template_run).toBe(out.run_id);
    expect(out.template_params).toMatchObject({ lr: 0.1 });
    expect(out.template_outputs).toEqual(["model.txt"]);
    expect(out.template_model).toBe("lr=0.1\n");

    expect(out.clone_status).toBe("succeeded");
    expect(out.clone_labels).toMatchObject({ sweep: "s1", "baton.clone-of": out.template_id });
    expect(out.clone_metrics).toEqual({ step: 3, loss: 7, accuracy: 0.9 });
    expect(out.clone_loss).toEqual([
      [1, 9],
      [2, 8],
      [3, 7],
    ]);
    expect(out.clone_no_series).toEqual([]);
    expect(out.clone_log).toContain("lr=0.9");

    expect(out.follow_status).toBe("succeeded");
    expect(out.follow_log).toContain(`deploying ${out.clone_id}`);
    expect(out.by_label).toEqual(["deploy", "fit-lr-0.9"]);
    expect(out.latest_deploy).toBe("deploy");
    expect(out.failed_in_sweep).toEqual([]);
    expect(out.inline_status).toBe("succeeded");
    expect(out.inline_log).toContain("hi from inline");

    // What the server recorded: the clone ran in the pool asked for.
    const clone = (await s.api(`/api/v1/tasks/${out.clone_id}`)).body;
    expect(clone.pool).toBe("gpu");
  }, 300_000);

  it("makes what a task submits and clones from inside its children", async () => {
    const res = await s.api("/api/v1/tasks", {
      name: "py-parent",
      command: `python3 ${JSON.stringify(path.join(SCRIPTS, "children.py"))}`,
      env: { PYTHONPATH: PYTHON_DIR, PYTHONDONTWRITEBYTECODE: "1" },
      cwd: s.dir,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const parentId: string = res.body.ids[0];
    const parent = await waitFor(
      "the parent task to end",
      async () => {
        const t = (await s.api(`/api/v1/tasks/${parentId}`)).body;
        return ["succeeded", "failed", "cancelled"].includes(t.status) ? t : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    const log = (await fetch(`${s.url}/api/v1/tasks/${parentId}/log`, {
      headers: { authorization: `Bearer ${s.token}` },
    }).then((r) => r.text())) as string;
    expect(parent.status, log).toBe("succeeded");
    const printed = JSON.parse(log.trim().split("\n").at(-1)!);
    expect(printed.me).toBe(parentId);
    expect(printed.parents).toEqual([parentId, parentId]);
    const children = (await s.api(`/api/v1/tasks?parent=${parentId}`)).body.tasks;
    expect(children.map((t: Json) => t.name)).toEqual(["child-two", "child-one"]);
    expect(children.every((t: Json) => t.status === "succeeded")).toBe(true);
    expect(children.map((t: Json) => t.id).sort()).toEqual([...printed.ids].sort());
  }, 180_000);

  it("raises errors that carry the server's code", async () => {
    const out = await script("errors.py");
    expect(out.no_match).toMatchObject({ code: "NO_MATCH", status: 404 });
    expect(out.no_match.message).toContain("name='no such task'");
    expect(out.unknown_id).toMatchObject({ code: "STORE_NOT_FOUND", status: 404 });
    expect(out.unknown_pipeline).toMatchObject({ code: "SPEC_UNKNOWN_PIPELINE", status: 404 });
    expect(out.bad_param).toMatchObject({ code: "PARAM_INVALID", status: 400 });
    expect(out.bad_param.problems[0].path).toContain("body.params");
    expect(out.typo_param).toMatchObject({ code: "BAD_REQUEST", status: 400 });
    expect(out.typo_param.message).toContain('no param "lr_typo"');
    expect(out.typo_param.problems).toEqual([expect.objectContaining({ path: "body.params.lr_typo" })]);
    expect(out.bad_label_filter).toMatchObject({ code: "BAD_REQUEST", status: 400 });
    expect(out.bad_token).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    expect(out.unreachable).toMatchObject({ code: "UNREACHABLE", status: null });
    expect(out.wait_timeout).toMatchObject({ code: "TIMEOUT" });
    expect(out.timeout_is_builtin).toBe(true);
    expect(out.slow_after_cancel).toBe("cancelled");
    expect(out.cancel_again).toBe("cancelled");
    expect(out.clone_nothing.code).toMatch(/NOT_FOUND/);
    expect(out.no_server).toMatchObject({ code: "NO_SERVER" });
  }, 180_000);

  it("installs offline with pip into a folder of its own, from which it imports", async () => {
    const target = fs.mkdtempSync(path.join(os.tmpdir(), "baton-pip-"));
    const pip = await python(
      [
        "-m",
        "pip",
        "install",
        "--no-index",
        "--no-deps",
        "--disable-pip-version-check",
        "--target",
        target,
        PYTHON_DIR,
      ],
      { cwd: os.tmpdir(), env: { PIP_NO_INPUT: "1" } },
    );
    expect(pip.code, pip.stderr + pip.stdout).toBe(0);
    const check = await python(
      [
        "-c",
        "import baton, json; print(json.dumps([baton.__file__, baton.__version__, hasattr(baton.Baton, 'connect')]))",
      ],
      { cwd: os.tmpdir(), env: { PYTHONPATH: target } },
    );
    expect(check.code, check.stderr).toBe(0);
    const [file, version, hasConnect] = JSON.parse(check.stdout);
    expect(file.startsWith(target)).toBe(true);
    expect(version).toBe("0.1.0");
    expect(hasConnect).toBe(true);
    fs.rmSync(target, { recursive: true, force: true });
  }, 180_000);
});
