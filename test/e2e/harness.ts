/**
 * What the browser tests share: a real `baton server` process on a project folder, a real
 * Chromium (Debian's, driven by playwright-core), screenshots under test-output/, and the
 * measurements written to bench/RESULTS.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, type Page, chromium } from "playwright-core";
import {
  type Server,
  type WaitOptions,
  startServer as startBatonServer,
  waitFor as waitForValue,
} from "../helpers/server.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CHROMIUM = process.env.BATON_CHROMIUM ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.join(ROOT, "test-output", "screenshots");

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

export type { Server };

/** The shared `waitFor`, checking every 100 ms: each check asks the browser. */
export const waitFor = <T>(what: string, check: () => T | Promise<T>, options: WaitOptions<T> = {}) =>
  waitForValue(what, check, { intervalMs: 100, ...options });

/** Writes `files` into a fresh folder and starts `baton server --port 0 -f baton.yaml` in it; `stop` removes the folder. */
export async function startServer(files: Record<string, string>): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-e2e-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  const server = await startBatonServer(dir, { args: ["-f", path.join(dir, "baton.yaml")] });
  return {
    ...server,
    async stop() {
      const end = await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      return end;
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
