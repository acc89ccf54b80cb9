import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { ContentStore } from "./cas.js";
import { compileOutputGlobs } from "./glob.js";
import { collectOutputs, collectSmallOutputsSync, restoreOutputs, selectOutputs } from "./outputs.js";

let dir: string;
let cas: ContentStore;
let out: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-outputs-"));
  cas = new ContentStore(path.join(dir, "cas"));
  out = path.join(dir, "output");
  fs.mkdirSync(out);
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(rel: string, content = rel): void {
  const file = path.join(out, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

const files = [
  "a.npz",
  "sub/b.npz",
  "sub/deep/c.npz",
  "model.pt",
  "model-best.pt",
  "sub/model.pt",
  ".env",
  ".hidden/x.txt",
  "notes.txt",
].map((p) => ({ path: p }));

function pick(glob: string): string[] {
  return selectOutputs(files, glob).map((f) => f.path);
}

describe("selectOutputs", () => {
  it("matches the basename at any depth when the pattern has no slash", () => {
    expect(pick("*.npz")).toEqual(["a.npz", "sub/b.npz", "sub/deep/c.npz"]);
    expect(pick("model*")).toEqual(["model.pt", "model-best.pt", "sub/model.pt"]);
  });

  it("matches the whole relative path when the pattern has a slash", () => {
    expect(pick("sub/*.npz")).toEqual(["sub/b.npz"]);
    expect(pick("sub/**/*.npz")).toEqual(["sub/b.npz", "sub/deep/c.npz"]);
    expect(pick("**/*.txt")).toEqual([".hidden/x.txt", "notes.txt"]);
    expect(pick("./sub/model.pt")).toEqual(["sub/model.pt"]);
  });

  it("matches dotfiles and files in dot-folders", () => {
    expect(pick("*")).toHaveLength(files.length);
    expect(pick(".env")).toEqual([".env"]);
    expect(pick("*.txt")).toEqual([".hidden/x.txt", "notes.txt"]);
  });

  it("keeps the extra fields and accepts `rel` records as the engine passes them", () => {
    const produced = [
      { rel: "model.pt", producer: "train[0]" },
      { rel: "log.txt", producer: "train[0]" },
    ];
    expect(selectOutputs(produced, "model*")).toEqual([{ rel: "model.pt", producer: "train[0]" }]);
  });

  it("excludes what a `!` pattern matches when compiling a list", () => {
    const keep = compileOutputGlobs(["*.pt", "!sub/**"]);
    expect(files.map((f) => f.path).filter(keep)).toEqual(["model.pt", "model-best.pt"]);
    expect(["a.tmp", "b.txt"].filter(compileOutputGlobs(["!*.tmp"]))).toEqual(["b.txt"]);
  });
});

describe("collectOutputs", () => {
  it("keeps everything, recursively and sorted, when the list is empty", async () => {
    write("z.txt");
    write("sub/deep/b.bin");
    write("a.txt");
    write(".meta");
    const got = await collectOutputs(out, [], cas);
    expect(got.map((f) => f.path)).toEqual([".meta", "a.txt", "sub/deep/b.bin", "z.txt"]);
    for (const f of got) {
      expect(f.size).toBe(f.path.length);
      expect(fs.readFileSync(cas.pathOf(f.sha256), "utf8")).toBe(f.path);
    }
  });

  it("keeps only files matching one of the globs", async () => {
    write("data.npz");
    write("sub/more.npz");
    write("sub/model.pt");
    write("log.txt");
    const got = await collectOutputs(out, ["*.npz", "sub/*.pt"], cas);
    expect(got.map((f) => f.path)).toEqual(["data.npz", "sub/model.pt", "sub/more.npz"]);
    let count = 0;
    for await (const _ of cas.listBlobs()) count++;
    expect(count).toBe(3);
  });

  it("stores a link to a file inside the folder by content, skips links to folders and broken links inside", async () => {
    const elsewhere = path.join(dir, "dataset");
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, "big.csv"), "1,2\n");
    fs.symlinkSync(elsewhere, path.join(out, "dataset"));
    write("sub/real.txt", "r");
    fs.symlinkSync("sub/real.txt", path.join(out, "linked.txt"));
    fs.symlinkSync(path.join(out, "sub"), path.join(out, "via-abs"));
    fs.symlinkSync("nothing", path.join(out, "dangling"));
    const got = await collectOutputs(out, [], cas);
    expect(got.map((f) => f.path)).toEqual(["linked.txt", "sub/real.txt"]);
    expect(got[0]!.sha256).toBe(got[1]!.sha256);
  });

  it.each([
    ["an absolute link", (p: string) => fs.symlinkSync("/etc/passwd", p), "/etc/passwd"],
    ["a ../ link", (p: string) => fs.symlinkSync("../secret.txt", p), "../secret.txt"],
    ["a broken link out", (p: string) => fs.symlinkSync("/nonexistent/x", p), "/nonexistent/x"],
    [
      "a chain of links that ends outside",
      (p: string) => {
        fs.symlinkSync(path.join(dir, "secret.txt"), path.join(out, "hop"));
        fs.symlinkSync("hop", p);
      },
      "hop (which leads to",
    ],
  ])("refuses %s leaving the output folder, naming it and its target", async (_what, make, shown) => {
    fs.writeFileSync(path.join(dir, "secret.txt"), "secret\n");
    write("ok.txt");
    make(path.join(out, "p"));
    await expect(collectOutputs(out, ["p", "ok.txt"], cas)).rejects.toThrow(
      `output p is a symbolic link to ${shown}`,
    );
    await expect(collectOutputs(out, ["p"], cas)).rejects.toThrow("outside the output folder");
    // Nothing of the target reached the store.
    for await (const blob of cas.listBlobs()) {
      expect(fs.readFileSync(cas.pathOf(blob.sha256), "utf8")).not.toContain("secret");
      expect(fs.readFileSync(cas.pathOf(blob.sha256), "utf8")).not.toContain("root:");
    }
  });

  it("leaves out a link going outside that the globs do not keep", async () => {
    fs.symlinkSync("/etc/passwd", path.join(out, "p"));
    write("ok.txt");
    expect((await collectOutputs(out, ["*.txt"], cas)).map((f) => f.path)).toEqual(["ok.txt"]);
  });

  it("refuses an output folder replaced by a link", async () => {
    fs.rmSync(out, { recursive: true });
    fs.symlinkSync("/etc", out);
    await expect(collectOutputs(out, [], cas)).rejects.toThrow("was replaced by a symbolic link to /etc");
  });

  it("returns an empty list for an empty folder", async () => {
    expect(await collectOutputs(out, [], cas)).toEqual([]);
  });

  it("names the folder when it cannot be read", async () => {
    const missing = path.join(dir, "no-such-output");
    await expect(collectOutputs(missing, [], cas)).rejects.toThrow(
      `cannot read output folder ${missing}: no such file or folder (ENOENT)`,
    );
  });
});

describe("restoreOutputs", () => {
  it("recreates an output folder from the store", async () => {
    write("model.pt", "weights");
    write("sub/deep/metrics.json", "{}");
    write("sub/other.txt", "o");
    const recorded = await collectOutputs(out, [], cas);
    const fresh = path.join(dir, "runs", "r2", "t2", "output");
    await restoreOutputs(fresh, recorded, cas);
    const again = await collectOutputs(fresh, [], cas);
    expect(again).toEqual(recorded);
    expect(fs.readFileSync(path.join(fresh, "model.pt"), "utf8")).toBe("weights");
  });

  it("refuses paths that would leave the output folder", async () => {
    write("a", "a");
    const [rec] = await collectOutputs(out, [], cas);
    const bad = { ...rec!, path: "../escape" };
    const err = await restoreOutputs(path.join(dir, "fresh"), [bad], cas).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).message).toBe(
      'cannot restore output "../escape": the path leaves the output folder',
    );
    expect(fs.existsSync(path.join(dir, "escape"))).toBe(false);
  });
});

describe("collectSmallOutputsSync (the launcher's quick path)", () => {
  it("records a flat folder of small files as collectOutputs does: same list, blobs stored, files read-only", async () => {
    write("b.txt", "bee\n");
    write("a.txt", "ay\n");
    write("skip.log", "not kept\n");
    const quick = collectSmallOutputsSync(out, ["*.txt"], cas);
    expect(quick).toEqual([
      { path: "a.txt", sha256: expect.any(String), size: 3 },
      { path: "b.txt", sha256: expect.any(String), size: 4 },
    ]);
    for (const f of quick ?? []) {
      expect(fs.readFileSync(cas.pathOf(f.sha256), "utf8")).toBe(
        fs.readFileSync(path.join(out, f.path), "utf8"),
      );
      expect(fs.statSync(path.join(out, f.path)).mode & 0o222).toBe(0);
    }
    // The same answer as the full path gives over the same folder.
    expect(await collectOutputs(out, ["*.txt"], cas)).toEqual(quick);
  });

  it("stores a file whose content the store already holds without linking it again", () => {
    write("a.txt", "same\n");
    write("b.txt", "same\n");
    const quick = collectSmallOutputsSync(out, [], cas);
    expect(quick?.map((f) => f.path)).toEqual(["a.txt", "b.txt"]);
    expect(quick?.[0]?.sha256).toBe(quick?.[1]?.sha256);
  });

  it("leaves folders with sub-folders, links or hard-linked files to collectOutputs", () => {
    write("sub/a.txt");
    expect(collectSmallOutputsSync(out, [], cas)).toBeUndefined();
    fs.rmSync(path.join(out, "sub"), { recursive: true });
    write("a.txt");
    fs.symlinkSync("a.txt", path.join(out, "l.txt"));
    expect(collectSmallOutputsSync(out, [], cas)).toBeUndefined();
    fs.rmSync(path.join(out, "l.txt"));
    fs.linkSync(path.join(out, "a.txt"), path.join(dir, "other-link"));
    expect(collectSmallOutputsSync(out, [], cas)).toBeUndefined();
    expect(collectSmallOutputsSync(path.join(dir, "missing"), [], cas)).toBeUndefined();
  });
});
