import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BATON_BIN, type CliResult, collect, makeProject, runBaton, runJson } from "../helpers/cli.js";
import { killStarted, startServer } from "../helpers/server.js";

afterEach(killStarted);

/** Every file below `dir`, recursively. */
function filesBelow(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

const ESC = "\x1b";
const BEL = "\x07";
/** U+009B (CSI as a C1 character), as UTF-8. */
const C1_CSI = "\u009b";

/** `baton ARGS` with a pseudo-terminal as stdout and stderr (util-linux `script`), as a user at a terminal runs it. */
function inTerminal(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, BATON_BIN, ...args].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    cwd,
    env: { ...process.env, BATON_PROGRESS: "plain", BATON_KILL_GRACE_MS: "1000", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child);
}

describe("terminal escapes in task names and logs are shown, not obeyed", () => {
  // A task name (from a matrix value) and a log full of sequences a terminal would act on:
  // window title (OSC 0), clear screen (CSI 2J), a hidden link (OSC 8), C1 CSI, a C0 control.
  const yaml = `
version: 1
pipelines:
  main:
    nodes:
      evil:
        matrix: { t: ["\\e]0;pwned\\a\\e[2J\\u009b31m"] }
        run: |
          printf 'a\\033]0;title\\007 b\\033[2J c\\033]8;;http://x\\033\\\\link\\033]8;;\\033\\\\ d\\302\\233e f\\001g\\n'
`;
  const logBytes = `a${ESC}]0;title${BEL} b${ESC}[2J c${ESC}]8;;http://x${ESC}\\link${ESC}]8;;${ESC}\\ d${C1_CSI}e f\x01g\n`;

  it("escapes them on a terminal (run, ls, show, logs), keeps raw bytes for --raw, pipes and --json", async () => {
    const dir = makeProject({ "baton.yaml": yaml });
    const run = await inTerminal(["run"], dir);
    expect(run.code, run.stdout).toBe(0);
    const evilName = `evil[t=${ESC}]0;pwned${BEL}${ESC}[2J${C1_CSI}31m]`;
    const shownName = "evil[t=^[]0;pwned^G^[[2J\\u009b31m]";
    for (const out of [run.stdout]) {
      expect(out).toContain(`${shownName} succeeded`);
      expect(out).not.toContain(ESC);
      expect(out).not.toContain(BEL);
      expect(out).not.toContain(C1_CSI);
    }

    // --json is exact: JSON escaping already makes it safe.
    const json = await runBaton(["ls", "--json"], dir);
    const tasks = JSON.parse(json.stdout) as Array<{ id: string; name: string; run: string }>;
    expect(tasks[0]!.name).toBe(evilName);
    const taskId = tasks[0]!.id;

    const shown = [
      await inTerminal(["ls"], dir),
      await inTerminal(["ls", tasks[0]!.run], dir),
      await inTerminal(["ls", "--tree", tasks[0]!.run], dir),
      await inTerminal(["show", taskId], dir),
      await inTerminal(["show", tasks[0]!.run], dir),
    ];
    for (const r of shown) {
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).not.toContain(ESC);
      expect(r.stdout).not.toContain(BEL);
      expect(r.stdout).not.toContain(C1_CSI);
    }
    expect(shown[1]!.stdout).toContain(shownName);
    expect(shown[3]!.stdout).toContain(`task      ${taskId}  ${shownName}`);

    const logs = await inTerminal(["logs", taskId], dir);
    expect(logs.code, logs.stdout).toBe(0);
    expect(logs.stdout).not.toContain(ESC);
    expect(logs.stdout).not.toContain(BEL);
    expect(logs.stdout).not.toContain(C1_CSI);
    expect(logs.stdout).toContain("a^[]0;title^G b^[[2J c^[]8;;http://x^[\\link^[]8;;^[\\ d\\u009be f^Ag");
    const runLogs = await inTerminal(["logs", tasks[0]!.run], dir);
    expect(runLogs.stdout).not.toContain(ESC);
    expect(runLogs.stdout).toContain(`==> ${shownName}`);

    // --raw on a terminal, and any pipe: the log's bytes unchanged.
    const raw = await inTerminal(["logs", "--raw", taskId], dir);
    expect(raw.stdout.replaceAll("\r\n", "\n")).toContain(logBytes);
    const piped = await runBaton(["logs", taskId], dir);
    expect(piped.stdout).toBe(logBytes);
  });

  it("escapes error messages in run progress", async () => {
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  main:
    nodes:
      leak:
        run: ln -s "/tmp/$(printf 'x\\033]0;pwned\\007')" "$BATON_OUTPUT_DIR/p"
`,
    });
    const run = await inTerminal(["run"], dir);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("leak failed");
    expect(run.stdout).not.toContain(ESC);
    expect(run.stdout).not.toContain(BEL);
  });
});

describe("symbolic links in a task's output folder", () => {
  it("refuses a link leading out of the output folder: the task fails naming it, nothing reaches the store or the API", async () => {
    const passwd = fs.readFileSync("/etc/passwd");
    const dir = makeProject({
      "baton.yaml": `
version: 1
pipelines:
  main:
    nodes:
      leak:
        run: ln -s /etc/passwd "$BATON_OUTPUT_DIR/p"
      inside:
        run: |
          mkdir "$BATON_OUTPUT_DIR/sub"
          echo kept > "$BATON_OUTPUT_DIR/sub/real.txt"
          ln -s sub/real.txt "$BATON_OUTPUT_DIR/alias.txt"
`,
    });
    const r = await runJson([], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "leak failed: collecting outputs failed: output p is a symbolic link to /etc/passwd, outside the output folder",
    );
    expect(r.byName("leak")).toMatchObject({ status: "failed", outputs: [] });
    // A link within the folder is recorded by content.
    const inside = r.byName("inside");
    expect(inside.status).toBe("succeeded");
    expect(inside.outputs.map((o) => path.basename(o)).sort()).toEqual(["alias.txt", "real.txt"]);
    const show = await runBaton(["show", r.byName("leak").id], dir);
    expect(show.stdout).toContain("output p is a symbolic link to /etc/passwd");

    const firstLine = passwd.toString("utf8").split("\n")[0]!;
    for (const blob of filesBelow(path.join(dir, ".baton", "cas"))) {
      expect(fs.readFileSync(blob, "utf8")).not.toContain(firstLine);
    }
    const s = await startServer(dir);
    const get = (sha: string) =>
      fetch(`${s.url}/api/v1/artifacts/${sha}`, { headers: { authorization: `Bearer ${s.token}` } });
    const leaked = await get(createHash("sha256").update(passwd).digest("hex"));
    expect(leaked.status).toBe(404);
    const kept = await get(createHash("sha256").update("kept\n").digest("hex"));
    expect(kept.status).toBe(200);
    expect(await kept.text()).toBe("kept\n");
    s.child.kill("SIGTERM");
  });
});

/** `baton ARGS` started with the given umask, as from a shell with that setting. */
function withUmask(umask: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const command = `umask ${umask} && exec ${[process.execPath, BATON_BIN, ...args].map(quote).join(" ")}`;
  return collect(
    spawn("/bin/sh", ["-c", command], {
      cwd,
      env: { ...process.env, BATON_PROGRESS: "plain", BATON_KILL_GRACE_MS: "1000", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
}

/** Every path below `dir` (symbolic links left out: their own mode means nothing), with its mode. */
function modesBelow(dir: string): Array<{ path: string; mode: number }> {
  const out = [{ path: dir, mode: fs.statSync(dir).mode & 0o777 }];
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isSymbolicLink()) continue;
    const p = path.join(e.parentPath, e.name);
    out.push({ path: path.relative(dir, p), mode: fs.lstatSync(p).mode & 0o777 });
  }
  return out;
}

const octal = (m: number) => m.toString(8).padStart(3, "0");

describe("permissions of .baton/", () => {
  const yaml = `
version: 1
pipelines:
  main:
    nodes:
      make:
        run: |
          echo made > "$BATON_OUTPUT_DIR/a.txt"
          echo '{"m": 1}' >> "$BATON_METRICS"
      use:
        needs: [make]
        inputs: { a: "\${{ needs.make.outputs['a.txt'] }}" }
        run: tr a-z A-Z < \${{ inputs.a }} > "$BATON_OUTPUT_DIR/b.txt"
      kid:
        run: |
          ${JSON.stringify(process.execPath)} ${JSON.stringify(BATON_BIN)} submit -n child -e SECRET=hunter2 -- echo sub
`;

  it("with umask 022, nothing Baton writes is readable by the group or others", async () => {
    const dir = makeProject({ "baton.yaml": yaml });
    const r = await withUmask("022", ["run"], dir);
    expect(r.code, r.stderr).toBe(0);
    const modes = modesBelow(path.join(dir, ".baton"));
    // The database (its WAL is gone after a clean close), the logs, status and metrics files, the store, run and task folders.
    for (const want of ["baton.db", "cas", "runs", "engines"]) {
      expect(modes.map((m) => m.path)).toContain(want);
    }
    expect(modes.some((m) => m.path.endsWith("attempt-1.log"))).toBe(true);
    expect(modes.some((m) => m.path.endsWith("attempt-1.status"))).toBe(true);
    expect(modes.some((m) => m.path.endsWith("attempt-1.metrics.jsonl"))).toBe(true);
    expect(modes.filter((m) => (m.mode & 0o077) !== 0).map((m) => `${octal(m.mode)} ${m.path}`)).toEqual([]);
    expect(modes[0]!.mode).toBe(0o700);
  });

  it("tightens an existing .baton/ and database left readable by others", async () => {
    const dir = makeProject({ "baton.yaml": yaml });
    expect((await withUmask("022", ["run"], dir)).code).toBe(0);
    const state = path.join(dir, ".baton");
    fs.chmodSync(state, 0o755);
    for (const f of ["baton.db", "baton.db-wal", "baton.db-shm"]) {
      if (fs.existsSync(path.join(state, f))) fs.chmodSync(path.join(state, f), 0o644);
    }
    const ls = await withUmask("022", ["ls"], dir);
    expect(ls.code, ls.stderr).toBe(0);
    expect(fs.statSync(state).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(state, "baton.db")).mode & 0o777).toBe(0o600);
    for (const f of ["baton.db-wal", "baton.db-shm"]) {
      const p = path.join(state, f);
      if (fs.existsSync(p)) expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    }
  });

  it("BATON_STATE_MODE=group shares with the group (0770/0660) whatever the umask; another value is refused", async () => {
    const dir = makeProject({ "baton.yaml": yaml });
    const r = await withUmask("077", ["run"], dir, { BATON_STATE_MODE: "group" });
    expect(r.code, r.stderr).toBe(0);
    const modes = modesBelow(path.join(dir, ".baton"));
    const byPath = new Map(modes.map((m) => [m.path, m.mode]));
    expect(octal(modes[0]!.mode)).toBe("770");
    expect(octal(byPath.get("baton.db")!)).toBe("660");
    expect(octal(byPath.get("runs")!)).toBe("770");
    expect(modes.filter((m) => (m.mode & 0o007) !== 0).map((m) => m.path)).toEqual([]);
    // The server token stays private: whoever holds it runs commands as you.
    const bad = await withUmask("022", ["run"], makeProject({ "baton.yaml": yaml }), {
      BATON_STATE_MODE: "world",
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('BATON_STATE_MODE="world": expected "private"');
  });
});
