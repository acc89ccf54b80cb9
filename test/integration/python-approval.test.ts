/**
 * Approval gates from the Python client (python/baton) against a real `baton server` on
 * 127.0.0.1: a task in status `waiting`, its `approval`, `Task.approve` / `Task.reject`, and
 * `wait()` not taking `waiting` for an end. The script (test/python/approval.py) runs with
 * PYTHONPATH=python, as a user runs it.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeProject } from "../helpers/cli.js";
import { type Json, type Server, killStarted, startServer, track } from "../helpers/server.js";

const ROOT = path.resolve(import.meta.dirname, "../..");

const PROJECT = `version: 1
pipelines:
  ship:
    nodes:
      train: { run: echo trained }
      deploy:
        needs: train
        approval: "Deploy to production?"
        run: echo deployed
      other:
        approval: true
        run: echo other
      after:
        needs: other
        run: echo after
`;

let s: Server;

beforeAll(async () => {
  s = await startServer(makeProject({ "baton.yaml": PROJECT }));
}, 60_000);

afterAll(async () => {
  await s?.stop();
  killStarted();
});

function runScript(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
  for (const key of Object.keys(env)) if (key.startsWith("BATON_")) delete env[key];
  env.PYTHONPATH = path.join(ROOT, "python");
  const child = track(spawn("python3", [path.join(ROOT, "test/python/approval.py")], { cwd: s.dir, env }));
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

describe("approval gates from the Python client", () => {
  it("sees tasks waiting, approves one and rejects the other; wait() does not end on waiting", async () => {
    const r = await runScript();
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const out: Json = JSON.parse(r.stdout.trim().split("\n").at(-1)!);

    expect(out.deploy_status).toBe("waiting");
    expect(out.deploy_waiting).toBe(true);
    expect(out.deploy_approval_before).toMatchObject({
      state: "waiting",
      message: "Deploy to production?",
      by: null,
      at: null,
      comment: null,
    });
    expect(out.wait).toMatch(/^timeout: .*is still waiting after 1.5 s/);

    expect(out.approved_status_at_once).not.toBe("waiting");
    expect(out.deploy_status_after).toBe("succeeded");
    expect(out.deploy_approval_after).toMatchObject({ state: "approved", comment: "looks good" });
    expect(out.deploy_approval_after.by).toMatch(/^python(:.+)?$/);
    expect(out.deploy_log).toContain("deployed");
    expect(out.approve_again).toContain("is not waiting for approval (it is succeeded)");

    expect(out.other_status).toBe("failed");
    expect(out.other_approval).toMatchObject({ state: "rejected", by: "python:ops", comment: "not now" });
    expect(out.other_error).toContain("rejected by python:ops: not now");
    expect(out.after_status).toEqual(["skipped"]);
    expect(out.run_status).toBe("failed");

    // What the server recorded, as the API shows it.
    const run = (await s.api(`/api/v1/runs/${out.run_id}`)).body;
    const deploy = run.tasks.find((t: Json) => t.name === "deploy");
    expect(deploy.approval).toMatchObject({ state: "approved", comment: "looks good" });
  }, 180_000);
});
