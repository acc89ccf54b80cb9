/**
 * examples/valohai-import, followed as its README tells a new user: a fresh copy of the folder,
 * `baton import valohai valohai.yaml -o baton.yaml`, `baton validate`, `baton run "Train and
 * release" -p epochs=5`, then (from another process, when `pick best` waits) `baton ls` and
 * `baton approve`. The run succeeds, the best model is picked and kept as release
 * `digits-model`, downloadable through `GET /api/v1/releases/...`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { collect, runBaton, startBaton } from "../helpers/cli.js";
import { killStarted, startServer, track, waitFor } from "../helpers/server.js";

const EXAMPLE = fileURLToPath(new URL("../../examples/valohai-import/", import.meta.url));

/** A fresh copy of the example folder, without anything a run there may have left. */
function freshCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton valohai example "));
  fs.cpSync(EXAMPLE, dir, {
    recursive: true,
    filter: (src) => !/[/\\](\.baton|baton\.yaml|__pycache__)$/.test(src),
  });
  return dir;
}

interface LsTask {
  id: string;
  name: string;
  status: string;
  run: string;
}

async function ls(dir: string): Promise<LsTask[]> {
  const listed = await runBaton(["ls", "--json"], dir);
  expect(listed.code, listed.stderr).toBe(0);
  return JSON.parse(listed.stdout) as LsTask[];
}

describe("examples/valohai-import, as its README says", () => {
  afterEach(() => killStarted());

  it("imports, validates, runs the sweep, waits for approval, and releases the best model", async () => {
    const readme = fs.readFileSync(path.join(EXAMPLE, "README.md"), "utf8");
    // The commands the test follows are the README's.
    expect(readme).toContain("npx baton import valohai valohai.yaml -o baton.yaml");
    expect(readme).toContain('npx baton run "Train and release" -p epochs=5');
    expect(readme).toContain('npx baton approve <task id of "pick best"> --comment "scores look right"');

    const dir = freshCopy();
    const imported = await runBaton(["import", "valohai", "valohai.yaml", "-o", "baton.yaml"], dir);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("Baton does not serve endpoints");
    expect(imported.stderr).toContain("wrote baton.yaml");
    const validated = await runBaton(["validate"], dir);
    expect(validated.code, validated.stderr).toBe(0);

    const run = track(startBaton(["run", "Train and release", "-p", "epochs=5", "--json"], dir));
    let progress = "";
    run.stderr?.on("data", (d) => {
      progress += d;
    });
    const done = collect(run);
    // "in another terminal, when `pick best` waits for approval: npx baton ls"
    const waiting = await waitFor(
      "pick best to wait for approval",
      async () => {
        if (run.exitCode !== null) throw new Error(`the run ended before pick best waited:\n${progress}`);
        // Until the run has recorded itself, `baton ls` has nothing to list.
        if (!fs.existsSync(path.join(dir, ".baton", "baton.db"))) return undefined;
        return (await ls(dir)).find((t) => t.name === "pick best" && t.status === "waiting");
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(progress).toContain(
      `pick best waiting: waiting for approval (approve: baton approve ${waiting.id}`,
    );
    const runs = await runBaton(["ls"], dir);
    expect(runs.stdout).toMatch(new RegExp(`${waiting.run}\\s+Train and release\\s+running .*1 waiting`));
    const tasks = await runBaton(["ls", waiting.run], dir);
    expect(tasks.stdout).toMatch(new RegExp(`${waiting.id}\\s+pick best\\s+waiting`));
    const approved = await runBaton(["approve", waiting.id, "--comment", "scores look right"], dir, {
      USER: "newcomer",
    });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toContain(`approved task ${waiting.id} pick best`);

    const end = await done;
    expect(end.code, progress).toBe(0);
    const json = JSON.parse(end.stdout) as {
      run: { id: string; status: string };
      tasks: Array<{
        name: string;
        status: string;
        outputDir: string;
        outputs: string[];
        metrics: Record<string, unknown>;
      }>;
    };
    expect(json.run.status).toBe("succeeded");
    const byName = (name: string) => json.tasks.find((t) => t.name === name)!;
    // The sweep: one task per learning rate, each with the pipeline's epochs.
    const sweep = json.tasks.filter((t) => t.name.startsWith("train["));
    expect(sweep.map((t) => t.name).sort()).toEqual(["train[0]", "train[1]", "train[2]"]);
    for (const t of sweep) {
      expect(t.status).toBe("succeeded");
      const model = JSON.parse(fs.readFileSync(t.outputs.find((o) => /model-lr.*\.json$/.test(o))!, "utf8"));
      expect(model.epochs).toBe(5);
    }
    expect(byName("evaluate").metrics.models).toBe(3);
    // The best model (learning rate 0.01) was picked.
    const best = JSON.parse(
      fs.readFileSync(path.join(byName("pick best").outputDir, "best-model.json"), "utf8"),
    );
    expect(best.learning_rate).toBe(0.01);
    expect(byName("pick best").metrics.best_accuracy).toBe(best.accuracy);
    expect(byName("release").status).toBe("succeeded");

    // `baton show RUN`: the sweep's tasks, the approval, the release.
    const shown = await runBaton(["show", json.run.id], dir);
    expect(shown.code, shown.stderr).toBe(0);
    for (const name of ["train[0]", "train[1]", "train[2]", "pick best", "release"])
      expect(shown.stdout).toContain(name);
    const pick = await runBaton(["show", waiting.id], dir);
    expect(pick.stdout).toMatch(/approval {2}approved by cli:newcomer at \S+: scores look right/);

    // `GET /api/v1/releases/digits-model` lists its version, and the file downloads.
    const server = await startServer(dir);
    try {
      const release = await server.api("/api/v1/releases/digits-model");
      expect(release.status).toBe(200);
      expect(release.body.versions).toHaveLength(1);
      expect(release.body.versions[0].version).toBe(1);
      expect(release.body.versions[0].files.map((f: { path: string }) => f.path)).toEqual([
        "best-model.json",
      ]);
      const res = await fetch(`${server.url}/api/v1/releases/digits-model/1/files/best-model.json`, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      expect(res.status).toBe(200);
      expect(JSON.parse(await res.text())).toEqual(best);
    } finally {
      await server.stop();
    }
  }, 300_000);
});
