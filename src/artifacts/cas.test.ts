import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BatonError } from "../errors.js";
import { ContentStore } from "./cas.js";

let dir: string;
let cas: ContentStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-cas-"));
  cas = new ContentStore(path.join(dir, "cas"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(rel: string, content: string | Buffer): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

function sha(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

async function blobs(store: ContentStore): Promise<Array<{ sha256: string; size: number }>> {
  const out: Array<{ sha256: string; size: number }> = [];
  for await (const b of store.listBlobs()) out.push(b);
  return out;
}

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

describe("ContentStore.put and restore", () => {
  it("stores identical content once, as a hard link of the first file", async () => {
    const a = write("out1/a.txt", "hello");
    const b = write("out2/b.txt", "hello");
    const ra = await cas.put(a);
    const rb = await cas.put(b);
    expect(ra).toEqual({ sha256: sha("hello"), size: 5 });
    expect(rb).toEqual(ra);
    expect(await blobs(cas)).toEqual([{ sha256: sha("hello"), size: 5 }]);
    const blob = cas.pathOf(ra.sha256);
    expect(blob).toBe(path.join(dir, "cas", ra.sha256.slice(0, 2), ra.sha256));
    expect(fs.statSync(blob).ino).toBe(fs.statSync(a).ino);
    expect(await cas.has(ra.sha256)).toBe(true);
  });

  it("restores a blob as a hard link, creating the folders", async () => {
    const { sha256 } = await cas.put(write("out/model.pt", "weights"));
    const dest = path.join(dir, "fresh", "deep", "model.pt");
    await cas.restore(sha256, dest);
    expect(fs.readFileSync(dest, "utf8")).toBe("weights");
    expect(fs.statSync(dest).ino).toBe(fs.statSync(cas.pathOf(sha256)).ino);
    // Restoring again onto the same link is a no-op.
    await cas.restore(sha256, dest);
    expect(fs.readFileSync(dest, "utf8")).toBe("weights");
  });

  it("replaces a different file at the restore destination", async () => {
    const { sha256 } = await cas.put(write("out/x", "new"));
    const dest = write("fresh/x", "old content");
    await cas.restore(sha256, dest);
    expect(fs.readFileSync(dest, "utf8")).toBe("new");
  });

  it("makes blobs read-only and private, and with them the outputs they were linked from", async () => {
    const file = write("out/a.bin", "data");
    fs.chmodSync(file, 0o644);
    const { sha256 } = await cas.put(file);
    expect(mode(cas.pathOf(sha256))).toBe(0o400);
    expect(mode(file)).toBe(0o400);
    // Copies too, and the folders of the store.
    const copied = await cas.put(write("out/b.bin", "small copy"), {});
    expect(mode(cas.pathOf(copied.sha256))).toBe(0o400);
    expect(mode(cas.root)).toBe(0o700);
    expect(mode(path.dirname(cas.pathOf(sha256)))).toBe(0o700);
  });

  it("shares blobs and folders with the group under BATON_STATE_MODE=group, whatever the umask", async () => {
    const before = process.env.BATON_STATE_MODE;
    const umask = process.umask(0o077);
    process.env.BATON_STATE_MODE = "group";
    try {
      const shared = new ContentStore(path.join(dir, "cas-group"));
      const { sha256 } = await shared.put(write("out/g.bin", "group"));
      expect(mode(shared.pathOf(sha256))).toBe(0o440);
      expect(mode(shared.root)).toBe(0o770);
      expect(mode(path.dirname(shared.pathOf(sha256)))).toBe(0o770);
    } finally {
      process.umask(umask);
      process.env.BATON_STATE_MODE = before ?? "";
    }
  });

  it("hashes and links files larger than the one-read limit", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const file = write("out/big.bin", big);
    const r = await cas.put(file);
    expect(r).toEqual({ sha256: sha(big), size: big.length });
    expect(fs.statSync(cas.pathOf(r.sha256)).ino).toBe(fs.statSync(file).ino);
  });

  it("copies a symlinked file instead of linking it, leaving the target's mode alone", async () => {
    const target = write("data/user-file.csv", "a,b\n1,2\n");
    fs.chmodSync(target, 0o644);
    const link = path.join(dir, "out", "user-file.csv");
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(target, link);
    const { sha256 } = await cas.put(link);
    expect(sha256).toBe(sha("a,b\n1,2\n"));
    expect(fs.statSync(cas.pathOf(sha256)).ino).not.toBe(fs.statSync(target).ino);
    expect(mode(cas.pathOf(sha256))).toBe(0o400);
    expect(mode(target)).toBe(0o644);
  });

  it("copies a file that has other hard links, which may be a user's file", async () => {
    const original = write("data/shared.bin", "shared");
    fs.chmodSync(original, 0o644);
    const out = path.join(dir, "out", "shared.bin");
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.linkSync(original, out);
    const { sha256 } = await cas.put(out);
    expect(fs.statSync(cas.pathOf(sha256)).ino).not.toBe(fs.statSync(original).ino);
    expect(mode(original)).toBe(0o644);
  });

  it("accepts a file already restored from the store", async () => {
    const { sha256 } = await cas.put(write("out/a", "same"));
    const restored = path.join(dir, "again", "a");
    await cas.restore(sha256, restored);
    expect(await cas.put(restored)).toEqual({ sha256, size: 4 });
    expect(await blobs(cas)).toHaveLength(1);
  });

  it("survives concurrent puts of the same content (one blob, no temp files left)", async () => {
    const files = Array.from({ length: 20 }, (_, i) => write(`out${i}/same.txt`, "same content"));
    const other = new ContentStore(path.join(dir, "cas")); // as another process would
    const results = await Promise.all([
      ...files.map((f, i) => (i % 2 === 0 ? cas : other).put(f)),
      cas.put(files[0] as string),
      other.put(files[0] as string),
    ]);
    expect(new Set(results.map((r) => r.sha256))).toEqual(new Set([sha("same content")]));
    expect(await blobs(cas)).toHaveLength(1);
    const shard = path.dirname(cas.pathOf(sha("same content")));
    expect(fs.readdirSync(shard)).toEqual([sha("same content")]);
  });

  it("refuses anything but 64 lowercase hex characters as a sha256", async () => {
    for (const bad of [
      "../../etc/passwd",
      "ab/../../x",
      "A".repeat(64),
      "a".repeat(63),
      `${"a".repeat(64)}/`,
      "",
    ]) {
      expect(() => cas.pathOf(bad)).toThrow(BatonError);
      expect(() => cas.pathOf(bad)).toThrow(/not a sha256/);
      await expect(cas.has(bad)).rejects.toThrow(/not a sha256/);
      await expect(cas.restore(bad, path.join(dir, "x"))).rejects.toThrow(/not a sha256/);
      await expect(cas.remove(bad)).rejects.toThrow(/not a sha256/);
    }
  });

  it("says which blob is missing when restoring one that is not stored", async () => {
    const missing = "0".repeat(64);
    const err = await cas.restore(missing, path.join(dir, "out", "x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatonError);
    expect((err as BatonError).code).toBe("TASK_SETUP");
    expect((err as BatonError).message).toBe(
      `blob ${missing} is missing from the content store ${path.join(dir, "cas")}`,
    );
    expect((err as BatonError).context.reason).toBe("blob-missing");
  });

  it("removes blobs and lists what is left, ignoring stray temp files", async () => {
    const a = await cas.put(write("out/a", "a"));
    const b = await cas.put(write("out/b", "bb"));
    fs.writeFileSync(path.join(path.dirname(cas.pathOf(a.sha256)), ".tmp-123-abc-1"), "junk");
    expect((await blobs(cas)).map((x) => x.sha256).sort()).toEqual([a.sha256, b.sha256].sort());
    expect(await cas.remove(a.sha256)).toBe(true);
    expect(await cas.remove(a.sha256)).toBe(false);
    expect(await blobs(cas)).toEqual([{ sha256: b.sha256, size: 2 }]);
    expect(await cas.has(a.sha256)).toBe(false);
    // The output that shared the blob's inode keeps its content.
    expect(fs.readFileSync(path.join(dir, "out", "a"), "utf8")).toBe("a");
  });

  it("lists nothing for a store that was never written", async () => {
    expect(await blobs(new ContentStore(path.join(dir, "nowhere")))).toEqual([]);
  });

  it("names the file when an output cannot be read", async () => {
    const missing = path.join(dir, "out", "gone.txt");
    await expect(cas.put(missing)).rejects.toThrow(
      `cannot read output file ${missing}: no such file or folder (ENOENT)`,
    );
  });
});
