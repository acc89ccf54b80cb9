/**
 * The `# expect ...` lines of the Valohai corpus fixtures (test/fixtures/valohai/good): what a
 * user sees when running each imported pipeline. They come at the end of a fixture, after its
 * expected warnings, and are read in order; `task`, `tasks`, `metric`, `file`, `line` and
 * `no line` lines are about the run of the nearest `run` line above them.
 *
 *   # expect run "NAME": STATUS                          baton run NAME --json; the run's status
 *   # expect run "NAME" with -p a=1 --no-cache: STATUS   ... with these extra arguments
 *   # expect run "NAME" approving "NODE": STATUS         approves NODE's task when it waits
 *   # expect run "NAME" rejecting "NODE": STATUS         rejects it instead
 *   # expect run error: TEXT                             `baton show RUN --json` .run.error
 *   # expect task "TASK": STATUS                         the task's status
 *   # expect task "TASK": STATUS after N attempts        ... and its attempts
 *   # expect task "TASK" error: TEXT                     its `error` (`baton show TASK --json`) contains TEXT
 *   # expect task "TASK" image: IMAGE                    its `image`
 *   # expect tasks "NODE[*]": N STATUS                   exactly N tasks NODE[...], all STATUS
 *   # expect metric "TASK" KEY: JSON                     a metric of the task
 *   # expect file "TASK" PATH: ["line 1", "line 2"]      an output file's lines, exactly
 *   # expect line "TASK" PATH: TEXT                      an output file has a line equal to TEXT
 *   # expect no line "TASK" PATH: TEXT                   ... and no such line
 *   # expect served /PATH: N                             the test's HTTP server was asked N times
 *   # expect release "NAME" VERSION: ["file", ...]       the release's files (through `baton server`)
 *
 * PATH is a file below the task's output folder; quote it ("title file.txt") if it has spaces.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { collect, runBaton, startBaton } from "./cli.js";
import { startServer, waitFor } from "./server.js";

export interface RunExpectation {
  line: string;
  pipeline: string;
  args: string[];
  gate?: { decision: "approve" | "reject"; node: string };
  status: string;
  checks: Check[];
}

export type Check =
  | { kind: "run error"; text: string; line: string }
  | { kind: "task"; task: string; status: string; attempts?: number; line: string }
  | { kind: "task error"; task: string; text: string; line: string }
  | { kind: "task image"; task: string; image: string; line: string }
  | { kind: "tasks"; node: string; count: number; status: string; line: string }
  | { kind: "metric"; task: string; key: string; value: unknown; line: string }
  | { kind: "file"; task: string; file: string; lines: string[]; line: string }
  | { kind: "line"; task: string; file: string; text: string; present: boolean; line: string };

export interface Expectations {
  runs: RunExpectation[];
  served: Array<{ path: string; count: number; line: string }>;
  releases: Array<{ name: string; version: number; files: string[]; line: string }>;
}

const NAME = String.raw`"([^"]+)"`;
const FILE = String.raw`("[^"]+"|\S+)`;
const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1) : s);

/** The `# expect` lines of a fixture's text; throws on a line it cannot read. */
export function parseExpectations(fixture: { name: string; text: string }): Expectations {
  const out: Expectations = { runs: [], served: [], releases: [] };
  const lines = fixture.text.split("\n").filter((l) => l.startsWith("# expect "));
  for (const line of lines) {
    const body = line.slice("# expect ".length);
    const current = () => {
      const run = out.runs.at(-1);
      if (!run) throw new Error(`${fixture.name}: "${line}" comes before any "# expect run" line`);
      return run.checks;
    };
    const forms: Array<[RegExp, (m: string[]) => void]> = [
      [/^run error: (.*)$/, (m) => current().push({ kind: "run error", text: m[1]!, line })],
      [
        new RegExp(`^run ${NAME}(?: (approving|rejecting) ${NAME})?(?: with (.+))?: (\\w+)$`),
        (m) =>
          out.runs.push({
            line,
            pipeline: m[1]!,
            gate: m[2] ? { decision: m[2] === "approving" ? "approve" : "reject", node: m[3]! } : undefined,
            args: m[4] ? m[4].split(" ") : [],
            status: m[5]!,
            checks: [],
          }),
      ],
      [
        new RegExp(`^task ${NAME}: (\\w+)(?: after (\\d+) attempts?)?$`),
        (m) =>
          current().push({
            kind: "task",
            task: m[1]!,
            status: m[2]!,
            attempts: m[3] ? Number(m[3]) : undefined,
            line,
          }),
      ],
      [
        new RegExp(`^task ${NAME} error: (.*)$`),
        (m) => current().push({ kind: "task error", task: m[1]!, text: m[2]!, line }),
      ],
      [
        new RegExp(`^task ${NAME} image: (.*)$`),
        (m) => current().push({ kind: "task image", task: m[1]!, image: m[2]!, line }),
      ],
      [
        /^tasks "([^"]+)\[\*\]": (\d+) (\w+)$/,
        (m) => current().push({ kind: "tasks", node: m[1]!, count: Number(m[2]), status: m[3]!, line }),
      ],
      [
        new RegExp(`^metric ${NAME} (\\S+): (.*)$`),
        (m) => current().push({ kind: "metric", task: m[1]!, key: m[2]!, value: JSON.parse(m[3]!), line }),
      ],
      [
        new RegExp(`^file ${NAME} ${FILE}: (\\[.*\\])$`),
        (m) =>
          current().push({ kind: "file", task: m[1]!, file: unquote(m[2]!), lines: JSON.parse(m[3]!), line }),
      ],
      [
        new RegExp(`^(no )?line ${NAME} ${FILE}: (.*)$`),
        (m) =>
          current().push({
            kind: "line",
            task: m[2]!,
            file: unquote(m[3]!),
            text: m[4]!,
            present: m[1] === undefined,
            line,
          }),
      ],
      [/^served (\/\S*): (\d+)$/, (m) => out.served.push({ path: m[1]!, count: Number(m[2]), line })],
      [
        new RegExp(`^release ${NAME} (\\d+): (\\[.*\\])$`),
        (m) => out.releases.push({ name: m[1]!, version: Number(m[2]), files: JSON.parse(m[3]!), line }),
      ],
    ];
    const form = forms.find(([re]) => re.test(body));
    if (!form) throw new Error(`${fixture.name}: cannot read "${line}"`);
    form[1](form[0].exec(body) as unknown as string[]);
  }
  return out;
}

interface TaskJson {
  id: string;
  name: string;
  status: string;
  attempts: number;
  outputDir: string;
  outputs: string[];
  metrics: Record<string, unknown>;
  image?: string | null;
}

/** `baton run NAME --json ...`, approving or rejecting a gate when the run asks for it. */
async function runOnce(run: RunExpectation, dir: string) {
  const child = startBaton(["run", run.pipeline, "--json", ...run.args], dir);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const done = collect(child);
  if (run.gate) {
    const gate = run.gate;
    const waiting = new RegExp(
      `${gate.node.replace(/[[\]().*+?^$|\\]/g, "\\$&")} waiting: .*baton approve (task_\\w+)`,
    );
    const taskId = await waitFor(
      `${run.line}: ${gate.node} to wait for approval`,
      () => {
        if (child.exitCode !== null) throw new Error(`the run ended before ${gate.node} waited:\n${stderr}`);
        return waiting.exec(stderr)?.[1];
      },
      { timeoutMs: 60_000 },
    );
    const decided = await runBaton([gate.decision, taskId, "--comment", "corpus test"], dir, {
      USER: "corpus",
    });
    expect(decided.code, decided.stderr).toBe(0);
  }
  const result = await done;
  let json: { run: { id: string; status: string }; tasks: TaskJson[] };
  try {
    json = JSON.parse(result.stdout);
  } catch {
    throw new Error(`${run.line}: baton run printed no JSON (exit ${result.code}):\n${result.stderr}`);
  }
  return { result, json, stderr: result.stderr };
}

/** Runs each expected run in order and asserts what its lines say. */
export async function checkExpectations(
  fixture: { name: string },
  expected: Expectations,
  dir: string,
  served: Map<string, number>,
): Promise<void> {
  for (const run of expected.runs) {
    const { result, json, stderr } = await runOnce(run, dir);
    const where = `${fixture.name}: ${run.line}\n${stderr}`;
    expect(json.run.status, where).toBe(run.status);
    expect(result.code, where).toBe(run.status === "succeeded" ? 0 : 1);
    const task = (name: string, line: string) => {
      const t = json.tasks.find((x) => x.name === name);
      if (!t)
        throw new Error(
          `${fixture.name}: ${line}: no task "${name}" in ${json.tasks.map((x) => x.name).join(", ")}`,
        );
      return t;
    };
    const outputFile = (t: TaskJson, file: string, line: string) => {
      const full = path.join(t.outputDir, file);
      expect(t.outputs, `${fixture.name}: ${line}: output ${file}`).toContain(full);
      return fs.readFileSync(full, "utf8").replace(/\n$/, "").split("\n");
    };
    const show = async (id: string) => {
      const shown = await runBaton(["show", id, "--json"], dir);
      expect(shown.code, shown.stderr).toBe(0);
      return JSON.parse(shown.stdout);
    };
    for (const c of run.checks) {
      const msg = `${fixture.name}: ${c.line}`;
      switch (c.kind) {
        case "run error":
          expect((await show(json.run.id)).run.error, msg).toBe(c.text);
          break;
        case "task": {
          const t = task(c.task, c.line);
          expect(t.status, msg).toBe(c.status);
          if (c.attempts !== undefined) expect(t.attempts, msg).toBe(c.attempts);
          break;
        }
        case "task error":
          expect((await show(task(c.task, c.line).id)).error ?? "", msg).toContain(c.text);
          break;
        case "task image":
          expect(task(c.task, c.line).image, msg).toBe(c.image);
          break;
        case "tasks": {
          const fanned = json.tasks.filter((t) => t.name.startsWith(`${c.node}[`));
          expect(fanned.length, msg).toBe(c.count);
          expect(
            fanned.map((t) => t.status),
            msg,
          ).toEqual(fanned.map(() => c.status));
          break;
        }
        case "metric":
          expect(task(c.task, c.line).metrics[c.key], msg).toEqual(c.value);
          break;
        case "file":
          expect(outputFile(task(c.task, c.line), c.file, c.line), msg).toEqual(c.lines);
          break;
        case "line":
          if (c.present) expect(outputFile(task(c.task, c.line), c.file, c.line), msg).toContain(c.text);
          else expect(outputFile(task(c.task, c.line), c.file, c.line), msg).not.toContain(c.text);
          break;
      }
    }
  }
  for (const s of expected.served)
    expect(served.get(s.path) ?? 0, `${fixture.name}: ${s.line}`).toBe(s.count);
  if (expected.releases.length > 0) {
    const server = await startServer(dir);
    try {
      for (const r of expected.releases) {
        const msg = `${fixture.name}: ${r.line}`;
        const got = await server.api(`/api/v1/releases/${encodeURIComponent(r.name)}`);
        expect(got.status, msg).toBe(200);
        const version = got.body.versions.find((v: { version: number }) => v.version === r.version);
        expect(version, msg).toBeDefined();
        const files: Array<{ path: string; sha256: string }> = version.files;
        expect(files.map((f) => f.path).sort(), msg).toEqual([...r.files].sort());
        for (const f of files) {
          const res = await fetch(
            `${server.url}/api/v1/releases/${encodeURIComponent(r.name)}/${r.version}/files/${f.path}`,
            { headers: { authorization: `Bearer ${server.token}` } },
          );
          expect(res.status, msg).toBe(200);
          expect((await res.arrayBuffer()).byteLength, msg).toBeGreaterThan(0);
        }
      }
    } finally {
      await server.stop();
    }
  }
}
