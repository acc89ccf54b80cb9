import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { BATON_BIN, type CliResult, collect, makeProject } from "../helpers/cli.js";

/**
 * What a command loads is what it pays for at start-up (issue 17): a one-task `baton run` must
 * not bring in the server, PostgreSQL, e-mail, cron or the other executors, and the reading
 * commands not the pipeline parser. The CLI runs with a load hook (`--import`) that records
 * every module it loads, ES modules and CommonJS alike: as tsc built it (dist/cli/, what its
 * imports make lazy), and as bin/baton.js runs it (the bundle, scripts/bundle-cli.mjs).
 */
const HOOK = `
import fs from "node:fs";
import { createRequire, register } from "node:module";
const out = process.env.BATON_TEST_MODULES;
register("data:text/javascript," + encodeURIComponent(
  "import fs from 'node:fs';" +
  "export async function load(url, context, next) {" +
  "  fs.appendFileSync(" + JSON.stringify(out) + ", url + '\\\\n');" +
  "  return next(url, context);" +
  "}"
));
const cache = createRequire(import.meta.url).cache;
process.on("exit", () => fs.appendFileSync(out, Object.keys(cache).map((f) => "file://" + f + "\\n").join("")));
`;

const ROOT = path.resolve(path.dirname(BATON_BIN), "..");

/** The CLI as tsc built it, module by module (not the bundle bin/baton.js runs). */
function unbundledCli(cwd: string): string {
  const entry = path.join(cwd, "unbundled-cli.mjs");
  const main = pathToFileURL(path.join(ROOT, "dist", "cli", "main.js")).href;
  fs.writeFileSync(entry, `import(${JSON.stringify(main)}).then((m) => m.main(process.argv.slice(2)));\n`);
  return entry;
}

/**
 * Runs `baton ARGS` in `cwd` (through `entry`: by default bin/baton.js) and returns its result
 * and the URLs of the modules it loaded.
 */
async function loadedBy(
  args: string[],
  cwd: string,
  entry = BATON_BIN,
): Promise<CliResult & { modules: string[] }> {
  const hook = path.join(cwd, "load-hook.mjs");
  fs.writeFileSync(hook, HOOK);
  const list = path.join(cwd, `modules-${args[0]}.txt`);
  fs.rmSync(list, { force: true });
  const child = spawn(process.execPath, ["--import", pathToFileURL(hook).href, entry, ...args], {
    cwd,
    env: { ...process.env, BATON_PROGRESS: "plain", BATON_TEST_MODULES: list },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const result = await collect(child);
  const modules = fs.existsSync(list) ? fs.readFileSync(list, "utf8").split("\n").filter(Boolean) : [];
  return { ...result, modules: withBundledModules(modules) };
}

/**
 * bin/baton.js runs the bundle (dist/bundle/, scripts/bundle-cli.mjs) when it is up to date: a
 * split bundle file loaded stands for the modules it holds, as its metafile says.
 */
function withBundledModules(urls: string[]): string[] {
  const root = ROOT;
  const metafile = path.join(root, "dist", "bundle", "metafile.json");
  if (!fs.existsSync(metafile)) return urls;
  const { outputs } = JSON.parse(fs.readFileSync(metafile, "utf8")) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const held = new Map(
    Object.entries(outputs).map(([file, o]) => [
      pathToFileURL(path.join(root, file)).href,
      Object.keys(o.inputs).map((input) => pathToFileURL(path.join(root, input)).href),
    ]),
  );
  return urls.flatMap((url) => [url, ...(held.get(url) ?? [])]);
}

/** The loaded modules that match any of `patterns` (package names or paths under dist/). */
function matching(modules: string[], patterns: RegExp[]): string[] {
  return [...new Set(modules.filter((m) => patterns.some((p) => p.test(m))))];
}

const pkg = (name: string) => new RegExp(`/node_modules/${name}/`);
const built = (file: string) => new RegExp(`/dist/${file.replace(/\./g, "\\.")}$`);

/** Never needed by a run of local tasks with no `notify:` and no server. */
const NOT_FOR_A_LOCAL_RUN = [
  pkg("fastify"),
  pkg("@fastify/[^/]+"),
  pkg("pino"),
  pkg("pg"),
  pkg("pg-[^/]+"),
  pkg("nodemailer"),
  pkg("croner"),
  built("executors/slurm-executor.js"),
  built("executors/agent-executor.js"),
  built("store/postgres-store.js"),
  built("server/app.js"),
  built("server/triggers/scheduler.js"),
  built("cli/remote-run.js"),
];

describe("start-up: a command loads only what it uses", () => {
  it("a one-task baton run (new state folder, then a cache hit) loads no server, PostgreSQL, e-mail, cron, Slurm or agent code", async () => {
    const dir = makeProject({
      "baton.yaml": 'version: 1\npipelines:\n  main:\n    nodes:\n      hello:\n        run: "true"\n',
    });
    const cli = unbundledCli(dir);
    for (const args of [["run"], ["run"], ["run", "--no-cache"]]) {
      const r = await loadedBy(args, dir, cli);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/run run_\w+ succeeded/);
      // The hook saw the run: the CLI, the engine and SQLite were loaded.
      expect(matching(r.modules, [built("cli/commands/run.js"), built("engine/engine.js")])).toHaveLength(2);
      expect(matching(r.modules, [pkg("better-sqlite3")]).length).toBeGreaterThan(0);
      expect(matching(r.modules, NOT_FOR_A_LOCAL_RUN)).toEqual([]);
    }
    // The bundle holds all the code in one file, where what is imported lazily runs only when
    // first imported: the packages left to node_modules show it.
    const bundled = await loadedBy(["run", "--no-cache"], dir);
    expect(bundled.code, bundled.stderr).toBe(0);
    expect(matching(bundled.modules, [pkg("better-sqlite3")]).length).toBeGreaterThan(0);
    expect(matching(bundled.modules, NOT_FOR_A_LOCAL_RUN)).toEqual([]);
  }, 60_000);

  it("validate loads no database or engine; ls and show load no pipeline parser, engine or executor", async () => {
    const dir = makeProject({
      "baton.yaml": 'version: 1\npipelines:\n  main:\n    nodes:\n      hello:\n        run: "true"\n',
    });
    const validate = await loadedBy(["validate"], dir, unbundledCli(dir));
    expect(validate.code, validate.stderr).toBe(0);
    expect(matching(validate.modules, [built("spec/parse.js")])).toHaveLength(1);
    expect(
      matching(validate.modules, [
        ...NOT_FOR_A_LOCAL_RUN,
        pkg("better-sqlite3"),
        built("store/sqlite-store.js"),
        built("engine/engine.js"),
      ]),
    ).toEqual([]);

    const run = await loadedBy(["run", "--json"], dir);
    expect(run.code, run.stderr).toBe(0);
    const runId = (JSON.parse(run.stdout) as { run: { id: string } }).run.id;
    const notForReading = [
      ...NOT_FOR_A_LOCAL_RUN,
      pkg("yaml"),
      pkg("zod"),
      built("spec/parse.js"),
      built("engine/engine.js"),
      built("executors/local-executor.js"),
      built("executors/spawner.js"),
    ];
    for (const args of [["ls"], ["ls", runId], ["show", runId]]) {
      const r = await loadedBy(args, dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(args[0] === "ls" && args.length === 1 ? runId : "hello");
      expect(matching(r.modules, [pkg("better-sqlite3")]).length).toBeGreaterThan(0);
      expect(matching(r.modules, notForReading)).toEqual([]);
    }
  }, 60_000);
});
