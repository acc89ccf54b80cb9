import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { ensureWritableDir, materialiseInputs, resolveWorkdirPatterns } from "./inputs.js";

let dir: string;
let work: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-inputs-"));
  work = path.join(dir, "work");
  fs.mkdirSync(work);
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function touch(...rels: string[]): void {
  for (const rel of rels) {
    const file = path.join(work, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, rel);
  }
}

const opts = { optional: false, input: "raw" };
const abs = (...rels: string[]) => rels.map((r) => path.join(work, r));

async function failure(p: Promise<unknown>): Promise<BatonError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BatonError);
  return err as BatonError;
}

describe("resolveWorkdirPatterns", () => {
  it("resolves globs below their base, sorted and without duplicates", async () => {
    touch("data/raw/b.csv", "data/raw/a.csv", "data/raw/notes.txt", "data/raw/deeper/c.csv", "other/d.csv");
    expect(await resolveWorkdirPatterns(work, ["data/raw/*.csv", "data/raw/a.csv"], opts)).toEqual(
      abs("data/raw/a.csv", "data/raw/b.csv"),
    );
    expect(await resolveWorkdirPatterns(work, ["data/**/*.csv"], opts)).toEqual(
      abs("data/raw/a.csv", "data/raw/b.csv", "data/raw/deeper/c.csv"),
    );
    expect(await resolveWorkdirPatterns(work, ["./data/raw/{a,b}.csv"], opts)).toEqual(
      abs("data/raw/a.csv", "data/raw/b.csv"),
    );
  });

  it("accepts absolute paths and globs, and folders given literally", async () => {
    touch("data/raw/a.csv", "models/m.pt");
    expect(await resolveWorkdirPatterns(dir, [path.join(work, "data/raw/*.csv")], opts)).toEqual(
      abs("data/raw/a.csv"),
    );
    expect(await resolveWorkdirPatterns(work, ["models", "models/"], opts)).toEqual(abs("models"));
  });

  it("names the input, the pattern and the folder when nothing matches", async () => {
    touch("data/raw/a.txt");
    const glob = await failure(resolveWorkdirPatterns(work, ["data/raw/*.csv"], opts));
    expect(glob.code).toBe("TASK_INPUT_MISSING");
    expect(glob.message).toBe(`input "raw": no file matches "data/raw/*.csv" (in ${work})`);
    const noBase = await failure(resolveWorkdirPatterns(work, ["nope/*.csv"], opts));
    expect(noBase.message).toBe(`input "raw": no file matches "nope/*.csv" (in ${work})`);
    const literal = await failure(resolveWorkdirPatterns(work, ["data/raw/b.csv"], opts));
    expect(literal.code).toBe("TASK_INPUT_MISSING");
    expect(literal.message).toBe(`input "raw": "data/raw/b.csv" does not exist (in ${work})`);
    fs.symlinkSync(path.join(work, "gone"), path.join(work, "dangling"));
    const dangling = await failure(resolveWorkdirPatterns(work, ["dangling"], opts));
    expect(dangling.message).toBe(`input "raw": "dangling" is a broken symbolic link (in ${work})`);
  });

  it("returns what exists when the input is optional", async () => {
    touch("a.csv");
    const optional = { optional: true, input: "raw" };
    expect(await resolveWorkdirPatterns(work, ["missing.csv", "none/*.csv"], optional)).toEqual([]);
    expect(await resolveWorkdirPatterns(work, ["missing.csv", "*.csv"], optional)).toEqual(abs("a.csv"));
  });

  it("does not walk into .baton/ or node_modules/ unless the pattern names them", async () => {
    touch("src/a.js", "node_modules/lib/index.js", ".baton/runs/r/t/output/x.js", "src/node_modules/y.js");
    expect(await resolveWorkdirPatterns(work, ["**/*.js"], opts)).toEqual(abs("src/a.js"));
    expect(await resolveWorkdirPatterns(work, ["node_modules/**/*.js"], opts)).toEqual(
      abs("node_modules/lib/index.js"),
    );
    expect(await resolveWorkdirPatterns(work, [".baton/runs/*/*/output/*.js"], opts)).toEqual(
      abs(".baton/runs/r/t/output/x.js"),
    );
  });

  it("skips dotfiles unless the pattern spells the dot", async () => {
    touch("data/.gitkeep", "data/a.csv", "data/.cache/b.csv", ".env.local");
    expect(await resolveWorkdirPatterns(work, ["data/*"], opts)).toEqual(abs("data/a.csv"));
    expect(await resolveWorkdirPatterns(work, ["data/**"], opts)).toEqual(abs("data/a.csv"));
    expect(await resolveWorkdirPatterns(work, [".env*"], opts)).toEqual(abs(".env.local"));
    expect(await resolveWorkdirPatterns(work, ["data/.cache/*.csv"], opts)).toEqual(abs("data/.cache/b.csv"));
  });

  it("takes a name that looks like a glob literally when it exists", async () => {
    touch("runs/train[lr=0.1]/model.pt", "runs/t/model.pt");
    expect(await resolveWorkdirPatterns(work, ["runs/train[lr=0.1]/model.pt"], opts)).toEqual(
      abs("runs/train[lr=0.1]/model.pt"),
    );
  });

  it("follows symlinked folders without looping", async () => {
    touch("real/a.csv");
    fs.symlinkSync(path.join(work, "real"), path.join(work, "alias"));
    fs.symlinkSync(work, path.join(work, "real", "loop"));
    const got = await resolveWorkdirPatterns(work, ["**/*.csv"], opts);
    expect(got).toContain(path.join(work, "real/a.csv"));
    expect(got).toContain(path.join(work, "alias/a.csv"));
  });

  it("removes paths matched by `!` patterns", async () => {
    touch("data/a.csv", "data/b.csv", "data/skip.csv");
    expect(await resolveWorkdirPatterns(work, ["data/*.csv", "!data/skip.csv"], opts)).toEqual(
      abs("data/a.csv", "data/b.csv"),
    );
  });
});

describe("materialiseInputs", () => {
  const inputs = () => path.join(dir, "inputs");

  function files(spec: Array<[string, string | undefined]>) {
    return spec.map(([rel, producer]) => {
      const target = path.join(dir, "src", producer ?? "none", rel);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, `${producer}:${rel}`);
      return producer === undefined ? { abs: target, rel } : { abs: target, rel, producer };
    });
  }

  const under = (name: string, links: string[]) =>
    links.map((l) => path.relative(path.join(inputs(), name), l));

  it("lays files out flat when they come from one producer", async () => {
    const given = files([
      ["model.pt", "train"],
      ["sub/stats.json", "train"],
    ]);
    const links = await materialiseInputs(inputs(), "models", given);
    expect(under("models", links)).toEqual(["model.pt", "sub/stats.json"]);
    expect(fs.readlinkSync(links[0]!)).toBe(given[0]!.abs);
    expect(fs.readFileSync(links[1]!, "utf8")).toBe("train:sub/stats.json");
  });

  it("lays files out flat when they have no producer", async () => {
    const links = await materialiseInputs(inputs(), "raw", files([["a.csv", undefined]]));
    expect(under("raw", links)).toEqual(["a.csv"]);
  });

  it("groups files by producer when several producers contribute", async () => {
    const given = files([
      ["model.pt", "train[lr=0.1]"],
      ["model.pt", "train[lr=0.01]"],
      ["model.pt", "images[input=data/a.raw]"],
    ]);
    const links = await materialiseInputs(inputs(), "models", given);
    expect(under("models", links)).toEqual([
      "train[lr=0.1]/model.pt",
      "train[lr=0.01]/model.pt",
      "images[input=data%2Fa.raw]/model.pt",
    ]);
    expect(links.map((l) => fs.readFileSync(l, "utf8"))).toEqual([
      "train[lr=0.1]:model.pt",
      "train[lr=0.01]:model.pt",
      "images[input=data/a.raw]:model.pt",
    ]);
  });

  it("adds a numeric suffix before the extension when two files land on one path", async () => {
    const a = path.join(dir, "x", "a.csv");
    const b = path.join(dir, "y", "a.csv");
    const c = path.join(dir, "z", "README");
    const d = path.join(dir, "w", "README");
    for (const f of [a, b, c, d]) {
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, f);
    }
    const links = await materialiseInputs(inputs(), "raw", [
      { abs: a, rel: "a.csv" },
      { abs: b, rel: "a.csv" },
      { abs: c, rel: "README" },
      { abs: d, rel: "README" },
      { abs: a, rel: "a.csv" },
    ]);
    expect(under("raw", links)).toEqual(["a.csv", "a-1.csv", "README", "README-1", "a-2.csv"]);
    expect(fs.readFileSync(links[1]!, "utf8")).toBe(b);
  });

  it("keeps links inside the input folder whatever `rel` says, and replaces an earlier layout", async () => {
    const [f] = files([["x.txt", undefined]]);
    await materialiseInputs(inputs(), "raw", [{ abs: f!.abs, rel: "old.txt" }]);
    const links = await materialiseInputs(inputs(), "raw", [{ abs: f!.abs, rel: "../../x.txt" }]);
    expect(under("raw", links)).toEqual(["x.txt"]);
    expect(fs.readdirSync(path.join(inputs(), "raw"))).toEqual(["x.txt"]);
  });

  it("lays out a few files and many alike: a private folder of links, nothing left from before", async () => {
    for (const count of [3, 40]) {
      const given = files(Array.from({ length: count }, (_, i) => [`f${i}.txt`, "step"] as [string, string]));
      fs.mkdirSync(path.join(inputs(), "in", "stale"), { recursive: true });
      const links = await materialiseInputs(inputs(), "in", given);
      expect(fs.readdirSync(path.join(inputs(), "in")).sort()).toEqual(given.map((f) => f.rel).sort());
      expect(links.map((l) => fs.readlinkSync(l))).toEqual(given.map((f) => f.abs));
      expect(fs.statSync(path.join(inputs(), "in")).mode & 0o777).toBe(0o700);
    }
  });

  it("refuses an input name that is not a single folder name", async () => {
    await expect(materialiseInputs(inputs(), "../x", [])).rejects.toThrow(/cannot be used as a folder name/);
  });
});

describe("ensureWritableDir", () => {
  it("names the folder by its role when not told", () => {
    fs.mkdirSync(path.join(dir, "t"));
    fs.writeFileSync(path.join(dir, "t", "output"), "");
    expect(() => ensureWritableDir(path.join(dir, "t", "output"))).toThrow(
      `cannot write output folder ${path.join(dir, "t", "output")}: a file is in the way (EEXIST)`,
    );
  });

  it("creates the folder", () => {
    const target = path.join(dir, "a", "b", "output");
    ensureWritableDir(target, "output folder");
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it("says what is in the way", () => {
    fs.writeFileSync(path.join(dir, "file"), "");
    const target = path.join(dir, "file");
    expect(() => ensureWritableDir(target, "output folder")).toThrow(
      `cannot write output folder ${target}: a file is in the way (EEXIST)`,
    );
    const below = path.join(dir, "file", "sub");
    expect(() => ensureWritableDir(below, "output folder")).toThrow(
      `cannot write output folder ${below}: a parent is not a folder (ENOTDIR)`,
    );
  });

  it.skipIf(process.getuid?.() === 0)("reports a folder it may not write", () => {
    const locked = path.join(dir, "locked");
    fs.mkdirSync(locked, { mode: 0o555 });
    const target = path.join(locked, "output");
    let err: unknown;
    try {
      ensureWritableDir(target, "output folder");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe("TASK_SETUP");
    expect((err as BatonError).message).toBe(
      `cannot write output folder ${target}: permission denied (EACCES)`,
    );
    fs.chmodSync(locked, 0o755);
  });
});
