/**
 * The Valohai import corpus (test/fixtures/valohai/): every good fixture imports with the
 * warnings it lists (`# warning: LINE:COL PATH: MESSAGE`, exactly those), then is validated
 * with `baton validate` and run; every refused fixture exits 2 with the located messages it
 * lists (`# error: ...`, exactly those).
 *
 * Each good fixture also says, in `# expect ...` lines at its end, how each of its pipelines
 * runs (`baton run NAME --json`): the run's status and the tasks, files, metrics, releases and
 * downloads that show each feature working (see test/helpers/valohai-expect.ts for the lines).
 *
 * Each good fixture names the baton.yaml features of the Valohai contract it needs
 * (`# needs: compat, release`). Features in PENDING_FEATURES are not known yet by the
 * validator of this branch: for those fixtures the validate-and-run part is skipped (the
 * import-side assertions still run, in-process). Empty PENDING_FEATURES once the branches
 * that build them are merged.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { formatProblem } from "../../src/errors.js";
import { importValohaiText } from "../../src/spec/valohai.js";
import { runBaton } from "../helpers/cli.js";
import { checkExpectations, parseExpectations } from "../helpers/valohai-expect.js";

/** Contract features the validator on this branch does not know yet (see the header). */
const PENDING_FEATURES = new Set<string>([]);

const CORPUS = fileURLToPath(new URL("../fixtures/valohai/", import.meta.url));
const GOOD = path.join(CORPUS, "good");
const REFUSED = path.join(CORPUS, "refused");

interface Fixture {
  name: string;
  text: string;
  needs: string[];
  warnings: string[];
  errors: string[];
  /** Why the fixture is not run, when its header says `# run: no (...)`. */
  noRun: string | undefined;
}

function load(dir: string): Fixture[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((name) => {
      const text = fs.readFileSync(path.join(dir, name), "utf8");
      const header = (key: string) =>
        text
          .split("\n")
          .filter((l) => l.startsWith(`# ${key}: `))
          .map((l) => l.slice(key.length + 4));
      return {
        name,
        text,
        needs: (header("needs")[0] ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
        warnings: header("warning").map((w) => `${name}:${w}`),
        errors: header("error").map((e) => `${name}:${e}`),
        noRun: header("run")[0]?.startsWith("no") ? header("run")[0] : undefined,
      };
    });
}

const good = load(GOOD);
const refused = load(REFUSED);

/** Files the fixtures' defaults name, in a fresh project folder. */
function project(f: Fixture, httpBase: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton vh corpus "));
  const files: Record<string, string> = {
    "data/raw.csv": "a,b\n1,2\n",
    "data/base.csv": "base\n",
    "data/other.csv": "other\n",
    "data/notes.txt": "notes\n",
    "data/config.json": "{}\n",
    "data/images/one.png": "png\n",
    "data/tree/top.txt": "top\n",
    "data/tree/sub/deep.txt": "deep\n",
  };
  for (const [name, body] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), body);
  }
  fs.writeFileSync(path.join(dir, "valohai.yaml"), f.text.replaceAll("http://127.0.0.1:8765", httpBase));
  return dir;
}

describe("Valohai corpus", () => {
  let server: http.Server;
  let httpBase = "";
  /** Requests the test's HTTP server got, by path (reset before each fixture's run). */
  const served = new Map<string, number>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      served.set(req.url ?? "", (served.get(req.url ?? "") ?? 0) + 1);
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`served ${req.url}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    httpBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("has at least 30 fixtures, good and refused", () => {
    expect(good.length + refused.length).toBeGreaterThanOrEqual(30);
    expect(refused.length).toBeGreaterThanOrEqual(15);
  });

  describe.each(good)("$name", (f) => {
    it("imports with exactly the warnings it lists, located in the Valohai file", async () => {
      const result = importValohaiText(f.text, f.name);
      expect(result.errors.map(formatProblem)).toEqual([]);
      expect(result.warnings.map(formatProblem).sort()).toEqual([...f.warnings].sort());
      // The converted text is kept beside the fixture, so a change in it shows in review.
      const yaml = stringify(result.document, { lineWidth: 0 });
      await expect(yaml).toMatchFileSnapshot(path.join(CORPUS, "converted", f.name));
    });

    const pending = f.needs.filter((n) => PENDING_FEATURES.has(n));
    const skip = pending.length > 0 || f.noRun !== undefined;
    it.skipIf(skip)(
      `imports with bin/baton.js, validates and runs as its expect lines say${pending.length ? ` (pending: ${pending.join(", ")})` : ""}`,
      async () => {
        served.clear();
        const dir = project(f, httpBase);
        const imported = await runBaton(["import", "valohai", "valohai.yaml", "-o", "baton.yaml"], dir);
        expect(imported.stderr).toContain("wrote baton.yaml");
        expect(imported.code).toBe(0);
        for (const w of f.warnings)
          expect(imported.stderr).toContain(`warning: ${w.replace(f.name, "valohai.yaml")}`);
        const validated = await runBaton(["validate"], dir);
        expect(validated.code, validated.stderr).toBe(0);
        const doc = importValohaiText(
          fs.readFileSync(path.join(dir, "valohai.yaml"), "utf8"),
          "valohai.yaml",
        );
        // Every pipeline of the fixture is run at least once, and each run says what it expects.
        const pipelines = Object.keys((doc.document?.pipelines ?? {}) as object).sort();
        const expected = parseExpectations(f);
        expect([...new Set(expected.runs.map((r) => r.pipeline))].sort()).toEqual(pipelines);
        await checkExpectations(f, expected, dir, served);
      },
      180_000,
    );
  });

  it("imports examples/valohai-import/valohai.yaml with only the endpoint warning", () => {
    const file = fileURLToPath(new URL("../../examples/valohai-import/valohai.yaml", import.meta.url));
    const result = importValohaiText(fs.readFileSync(file, "utf8"), "valohai.yaml");
    expect(result.errors.map(formatProblem)).toEqual([]);
    expect(result.warnings.map((w) => w.message)).toEqual([
      'deployment node "release": Baton does not serve endpoints; the files sent to it are kept as release "digits-model"',
    ]);
  });

  describe.each(refused)("$name (refused)", (f) => {
    it("exits 2 with exactly its located messages", async () => {
      expect(f.errors.length).toBeGreaterThan(0);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-vh-refused-"));
      fs.copyFileSync(path.join(REFUSED, f.name), path.join(dir, f.name));
      const result = await runBaton(["import", "valohai", f.name, "-o", "baton.yaml"], dir);
      expect(result.code).toBe(2);
      const lines = result.stderr.split("\n").filter((l) => l.startsWith(`${f.name}:`));
      expect(lines).toEqual(f.errors);
      expect(fs.existsSync(path.join(dir, "baton.yaml"))).toBe(false);
    }, 60_000);
  });
});
