/**
 * Adding a hook changes nothing but running the hook: a pipeline with hooks is ONE engine run,
 * laid out, cached and pooled as without them, and rendered as `baton run` renders it.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Baton, type Pipeline, pipeline } from "../../dist/index.js";
import { makeProject, runBaton, runJson } from "../helpers/cli.js";

/** A 3-step pipeline: files passed by glob from `make` to `use`, a pool, a param through `with:`. */
function threeSteps(hook?: () => void): Pipeline {
  const dump =
    'env | grep -E "^(BATON_PARAM_|GREETING=)" | sort; ls "$BATON_INPUTS_DIR"/* 2>/dev/null || true; echo "cmd-list=${{ params.words }}"';
  return pipeline("three")
    .params({ words: { type: "list", default: ["a", "b"] }, count: 3 })
    .pool("small", { slots: 1 })
    .step("make", {
      run: 'for i in 1 2; do echo "part $i" > "$BATON_OUTPUT_DIR/part$i.txt"; done',
      outputs: ["*.txt"],
      pool: "small",
      ...(hook ? { after: hook } : {}),
    })
    .step("use", {
      run: `${dump}; cat "$BATON_INPUTS_DIR"/data/*`,
      needs: ["make"],
      params: { n: { type: "int" } },
      with: { n: "${{ params.count }}" },
      env: { GREETING: "hi ${{ params.words }}" },
      inputs: { data: "${{ needs.make.outputs['*.txt'] }}" },
      pool: "small",
    })
    .step("last", { run: `echo "n=$BATON_PARAM_N"; ${dump}`, needs: ["use"] });
}

/** `baton show --json` of each task of a run. */
async function shownTasks(root: string, runId: string): Promise<Shown["tasks"]> {
  const run = JSON.parse((await runBaton(["show", "--json", runId], root)).stdout) as Shown;
  const out: Shown["tasks"] = [];
  for (const t of run.tasks) {
    const shown = await runBaton(["show", "--json", t.id], root);
    const body = JSON.parse(shown.stdout) as Shown["tasks"][number] | { task: Shown["tasks"][number] };
    out.push("task" in body ? body.task : body);
  }
  return out;
}

interface Shown {
  run: { id: string };
  tasks: Array<{
    id: string;
    name: string;
    status: string;
    pool: string;
    params: Record<string, unknown>;
    command: string;
  }>;
}

describe("a pipeline with hooks is one engine run", () => {
  let dir: string;
  let baton: Baton;
  beforeAll(async () => {
    dir = makeProject({});
    baton = await Baton.connect({ workdir: dir, env: {} });
  });
  afterAll(async () => {
    await baton?.close();
  });

  it("one run in `baton ls`, inputs under $BATON_INPUTS_DIR, params and pool shown, a second run fully cached", async () => {
    const seen: string[] = [];
    const run = await baton.run(
      threeSteps(() => void seen.push("after")),
      { controllerId: "first" },
    );
    const result = await run.wait();
    expect(result.status).toBe("succeeded");
    expect(seen).toEqual(["after"]);
    const use = result.steps!.use!.tasks[0]!;
    expect(await use.task!.log()).toMatch(/part 1\npart 2/);

    const again = await (
      await baton.run(
        threeSteps(() => undefined),
        { controllerId: "second" },
      )
    ).wait();
    expect(again.id).not.toBe(result.id);
    expect(again.tasks.map((t) => t.status)).toEqual(["cached", "cached", "cached"]);

    await baton.close();
    try {
      const ls = await runBaton(["ls"], dir);
      expect(ls.code, ls.stderr).toBe(0);
      const ids = (ls.stdout.match(/run_[0-9A-Z]+/g) ?? []).sort();
      expect(ids, ls.stdout).toEqual([result.id, again.id].sort());
      const byName = Object.fromEntries((await shownTasks(dir, result.id)).map((t) => [t.name, t]));
      expect(byName.use).toMatchObject({ pool: "small", params: { n: 3 } });
      expect(byName.make!.pool).toBe("small");
    } finally {
      baton = await Baton.connect({ workdir: dir, env: {} });
    }
  });

  it("`return run.cancel()` inside after() ends the run, cancelled", async () => {
    const box: { run?: { cancel(): Promise<void> } } = {};
    const p = pipeline("cancel-inside")
      .step("first", { run: "echo first", after: () => box.run!.cancel() })
      .step("second", { run: "sleep 30", needs: ["first"] });
    const run = await baton.run(p);
    box.run = run;
    const result = await Promise.race([
      run.wait(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("hung")), 60_000)),
    ]);
    expect(result.status).toBe("cancelled");
    expect(result.steps!.second!.status).toBe("cancelled");
  }, 90_000);

  it("the same commands and environment as `baton run -f` of the same definition", async () => {
    const cliDir = makeProject({});
    fs.writeFileSync(path.join(cliDir, "baton.json"), JSON.stringify(threeSteps().toDefinition()));
    const cli = await runJson(["three", "-f", "baton.json"], cliDir);
    expect(cli.code, cli.stderr).toBe(0);
    const viaSdk = await (
      await baton.run(
        threeSteps(() => undefined),
        // Not the results of the first test (same folder): cached tasks have no log to compare.
        { controllerId: "compare", noCache: true },
      )
    ).wait();
    expect(viaSdk.status).toBe("succeeded");

    const normalise = (text: string, root: string, runId: string) =>
      text
        .replaceAll(root, "<dir>")
        .replaceAll(runId, "<run>")
        .replace(/task_[0-9A-Z]+/g, "<task>");
    const what = async (root: string, runId: string) => {
      const out: Record<string, { command: string; log: string }> = {};
      for (const t of await shownTasks(root, runId)) {
        const log = await runBaton(["logs", t.id], root);
        out[t.name] = {
          command: normalise(t.command, root, runId),
          log: normalise(log.stdout, root, runId),
        };
      }
      return out;
    };
    await baton.close();
    let fromCli: Awaited<ReturnType<typeof what>>;
    let fromSdk: typeof fromCli;
    try {
      fromCli = await what(cliDir, cli.json.run.id);
      fromSdk = await what(dir, viaSdk.id);
    } finally {
      baton = await Baton.connect({ workdir: dir, env: {} });
    }
    expect(fromSdk).toEqual(fromCli);
    expect(fromCli.use!.command).toMatch(/cmd-list=a b/);
    expect(fromCli.use!.log).toMatch(/BATON_PARAM_N=3/);
    expect(fromCli.use!.log).toMatch(/GREETING=hi a b/);
  });
});
