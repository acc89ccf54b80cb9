/**
 * What the browser tests share: a real `baton server` process on a project folder, a real
 * Chromium (Debian's, driven by playwright-core), screenshots under test-output/, and the
 * measurements written to bench/RESULTS.md.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, type Page, chromium } from "playwright-core";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CHROMIUM = process.env.BATON_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(ROOT, "test-output", "screenshots");
const BATON_BIN = path.join(ROOT, "bin", "baton.js");

/** Why the browser tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} is missing: install it with scripts/install-test-deps.sh (apt-get install chromium)`;
    // CI installs the browser and sets this: there a missing browser is a failure, not a skip.
    if (process.env.BATON_REQUIRE_BROWSER === "1") throw new Error(why);
    return why;
  }
  return undefined;
}

/** Fails with a clear message when the code under test has not been built. */
export function assertBuilt(): void {
  for (const file of ["dist/cli/main.js", "web/dist/index.html"]) {
    if (!fs.existsSync(path.join(ROOT, file)))
      throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Server {
  child: ChildProcess;
  dir: string;
  url: string;
  token: string;
  signInUrl: string;
  stderr: () => string;
  api<T = unknown>(method: "GET" | "POST", p: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** Writes `files` into a fresh folder and starts `baton server --port 0 -f baton.yaml` in it. */
export async function startServer(files: Record<string, string>): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-e2e-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const child = spawn(
    process.execPath,
    [BATON_BIN, "server", "--port", "0", "-f", path.join(dir, "baton.yaml")],
    {
      cwd: dir,
      env: { ...process.env, BATON_KILL_GRACE_MS: "1000", BATON_PROGRESS: "plain" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  child.stdout?.on("data", () => {});
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const deadline = Date.now() + 30_000;
  let signIn: RegExpExecArray | null = null;
  while (!signIn) {
    signIn = /Sign in: (http:\/\/[^/\s]+)\/\?token=([0-9A-Za-z_-]+)/.exec(stderr);
    if (signIn) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`baton server did not start (exit ${child.exitCode}):\n${stderr}`);
    }
    await sleep(25);
  }
  const url = signIn[1]!;
  const token = signIn[2]!;
  return {
    child,
    dir,
    url,
    token,
    signInUrl: `${url}/?token=${token}`,
    stderr: () => stderr,
    async api<T>(method: "GET" | "POST", p: string, body?: unknown) {
      const res = await fetch(url + p, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Errors the page threw or logged: a finished UI has none. */
  errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "baton-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Polls `fn` until it returns something truthy. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const HEADING = "## Web UI";
const KEEP = 10;

/**
 * Records a measurement in bench/RESULTS.md under "## Web UI" (made when missing), keeping the
 * latest {@link KEEP} lines; the rest of the file (other people's sections) is left as it is.
 */
export function recordResult(line: string): void {
  // Only when asked (`BATON_RECORD_BENCH=1 npm run test:e2e`): a test run must not edit tracked files.
  if (process.env.BATON_RECORD_BENCH !== "1") return;
  const file = path.join(ROOT, "bench", "RESULTS.md");
  let text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Baton benchmark results\n";
  if (!text.split("\n").some((l) => l.trim() === HEADING)) {
    text = `${text.replace(/\n*$/, "")}\n\n${HEADING}\n\n${PROSE}\n`;
  }
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === HEADING);
  let end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  if (end < 0) end = lines.length;
  const section = lines.slice(start + 1, end);
  const entries = [...section.filter((l) => l.startsWith("- ")), `- ${line}`].slice(-KEEP);
  const prose = section.filter((l) => !l.startsWith("- ") && l.trim() !== "");
  const body = ["", ...prose, "", ...entries, ""];
  const out = [...lines.slice(0, start + 1), ...body, ...lines.slice(end)].join("\n");
  fs.writeFileSync(file, out.endsWith("\n") ? out : `${out}\n`);
}

const PROSE =
  "Run pages in headless Chromium, measured by `test/e2e/web-ui.test.ts` (`npm run test:e2e`): a run of 5,000 `true` tasks, opened while it runs. First render: navigation start to the run page drawn from the API's data; graph: to the laid-out DAG; frames: the longest gap between animation frames while live events stream in. Latest 10 runs.";
