import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type HashCache, hashCacheKey, hashFile, hashFileCached, isSha256 } from "./hash.js";

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-hash-"));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function sha(content: string | Buffer): string {
  return createHash("sha256").update(content).digest("hex");
}

/** A Map-backed cache that counts lookups and stores. */
function mapCache(): HashCache & { map: Map<string, string>; sets: number } {
  const map = new Map<string, string>();
  const cache = {
    map,
    sets: 0,
    get: (key: string) => map.get(key),
    set: (key: string, value: string) => {
      cache.sets++;
      map.set(key, value);
    },
  };
  return cache;
}

/** Makes a file look untouched for a minute, outside the racy window. */
function age(file: string): void {
  const past = new Date(Date.now() - 60_000);
  fs.utimesSync(file, past, past);
}

describe("hashFile", () => {
  it("hashes empty, small and streamed large files", async () => {
    const empty = path.join(dir, "empty");
    fs.writeFileSync(empty, "");
    expect(await hashFile(empty)).toEqual({ sha256: sha(""), size: 0 });

    const small = path.join(dir, "small");
    fs.writeFileSync(small, "hello\n");
    expect(await hashFile(small)).toEqual({ sha256: sha("hello\n"), size: 6 });

    const exact = Buffer.alloc(1024 * 1024, 7);
    fs.writeFileSync(path.join(dir, "exact"), exact);
    expect(await hashFile(path.join(dir, "exact"))).toEqual({ sha256: sha(exact), size: exact.length });

    const big = Buffer.alloc(5 * 1024 * 1024 + 3, 9);
    fs.writeFileSync(path.join(dir, "big"), big);
    expect(await hashFile(path.join(dir, "big"))).toEqual({ sha256: sha(big), size: big.length });
  });

  it("recognises sha256 strings", () => {
    expect(isSha256(sha("x"))).toBe(true);
    expect(isSha256(sha("x").toUpperCase())).toBe(false);
    expect(isSha256("../x")).toBe(false);
  });
});

describe("hashFileCached", () => {
  it("does not read an unchanged file again", async () => {
    const file = path.join(dir, "input.bin");
    fs.writeFileSync(file, "v1");
    age(file);
    const cache = mapCache();
    expect(await hashFileCached(file, cache)).toEqual({ sha256: sha("v1"), size: 2 });
    expect(cache.sets).toBe(1);
    const st = fs.statSync(file);
    const key = hashCacheKey(file, st);
    expect(key).toBe(`${file}:${st.size}:${st.mtimeMs}:${st.ino}`);
    expect(cache.map.get(key)).toBe(sha("v1"));
    // Plant a different hash under the key: if it comes back, the file was not read.
    const planted = sha("planted");
    cache.map.set(key, planted);
    expect(await hashFileCached(file, cache)).toEqual({ sha256: planted, size: 2 });
  });

  it("hashes again when the file changed", async () => {
    const file = path.join(dir, "input.bin");
    fs.writeFileSync(file, "v1");
    age(file);
    const cache = mapCache();
    await hashFileCached(file, cache);
    fs.writeFileSync(file, "version 2");
    age(file);
    expect(await hashFileCached(file, cache)).toEqual({ sha256: sha("version 2"), size: 9 });
  });

  it("does not remember a file modified just now (its mtime may not change on the next write)", async () => {
    const file = path.join(dir, "fresh.bin");
    fs.writeFileSync(file, "fresh");
    const cache = mapCache();
    expect(await hashFileCached(file, cache)).toEqual({ sha256: sha("fresh"), size: 5 });
    expect(cache.sets).toBe(0);
  });

  it("keys by absolute path", async () => {
    const file = path.join(dir, "rel.bin");
    fs.writeFileSync(file, "x");
    age(file);
    const cache = mapCache();
    await hashFileCached(path.relative(process.cwd(), file), cache);
    expect([...cache.map.keys()][0]?.startsWith(`${file}:`)).toBe(true);
  });
});
