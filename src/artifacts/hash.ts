/**
 * Content hashing of files: sha256 over the bytes, with a fast path for small files and
 * constant memory for large ones, plus a stat-keyed cache so unchanged inputs are not re-read.
 */
import { createHash, hash } from "node:crypto";
import type { Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { resolve } from "node:path";

/** A file's content address and its size in bytes. */
export interface ContentHash {
  /** sha256 of the content, 64 lowercase hex characters. */
  sha256: string;
  /** Bytes hashed. */
  size: number;
}

/** Files up to this size are read with one `read(2)` and hashed in one call. */
export const SMALL_FILE_LIMIT = 1024 * 1024;

/** Read size when streaming a large file: large enough to keep syscalls rare, small enough to stay cheap. */
const CHUNK_SIZE = 1024 * 1024;

const SHA256_RE = /^[0-9a-f]{64}$/;

/** True when `value` is a sha256 written as 64 lowercase hex characters (and so safe in a path). */
export function isSha256(value: string): boolean {
  return SHA256_RE.test(value);
}

/** sha256 of bytes in memory, as lowercase hex. */
export function hashBytes(data: Uint8Array): string {
  return hash("sha256", data, "hex");
}

/**
 * Hashes the file behind an open handle, reading from offset 0 until end of file.
 * `sizeHint` (from fstat) picks the fast path; the file may have grown or shrunk since,
 * and the returned size is what was actually hashed.
 */
export async function hashHandle(fh: FileHandle, sizeHint: number): Promise<ContentHash> {
  if (sizeHint <= SMALL_FILE_LIMIT) {
    const data = await readSmall(fh, sizeHint);
    if (data !== undefined) return { sha256: hashBytes(data), size: data.length };
  }
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK_SIZE);
  let total = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, total);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    total += bytesRead;
  }
  return { sha256: h.digest("hex"), size: total };
}

/**
 * Reads a file expected to hold `size` bytes in (usually) one read. Asks for one byte more so
 * that a file that grew since fstat is noticed: then returns undefined and the caller streams.
 */
export async function readSmall(fh: FileHandle, size: number): Promise<Buffer | undefined> {
  const buf = Buffer.allocUnsafe(size + 1);
  let total = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
    if (bytesRead === 0) return buf.subarray(0, total);
    total += bytesRead;
    if (total > size) return undefined;
    // A regular file only reads short at end of file; skip the extra read(2) that would return 0.
    if (total === size) return buf.subarray(0, total);
  }
}

/**
 * sha256 and size of a file, following symbolic links. Files up to {@link SMALL_FILE_LIMIT}
 * are read at once; larger ones are streamed in fixed-size chunks, never held whole in memory.
 */
export async function hashFile(path: string): Promise<ContentHash> {
  const fh = await open(path, "r");
  try {
    const st = await fh.stat();
    return await hashHandle(fh, st.size);
  } finally {
    await fh.close();
  }
}

/**
 * Remembers file hashes between calls, keyed by {@link hashCacheKey}. The result cache
 * backs it by the state store; a `Map` is enough in tests.
 */
export interface HashCache {
  get(key: string): string | undefined;
  set(key: string, sha: string): void;
}

/** `${path}:${size}:${mtimeMs}:${ino}`: changes whenever the file is rewritten or replaced. */
export function hashCacheKey(path: string, st: Pick<Stats, "size" | "mtimeMs" | "ino">): string {
  return `${path}:${st.size}:${st.mtimeMs}:${st.ino}`;
}

/**
 * A file modified this recently may still change within the same mtime tick (1-2 s on some
 * file systems) without its stat changing; such hashes are returned but not remembered,
 * as git does for "racily clean" index entries.
 */
const RACY_WINDOW_MS = 2000;

/**
 * Like {@link hashFile}, but returns the remembered hash when the file's path, size, mtime and
 * inode are unchanged, so an unchanged 10 GB input costs one fstat. The path is made absolute
 * before it goes into the key, so the same file is found whatever the current folder.
 */
export async function hashFileCached(path: string, cache: HashCache): Promise<ContentHash> {
  const abs = resolve(path);
  const fh = await open(abs, "r");
  try {
    const before = await fh.stat();
    const key = hashCacheKey(abs, before);
    const known = cache.get(key);
    if (known !== undefined && isSha256(known)) return { sha256: known, size: before.size };
    const startedAt = Date.now();
    const result = await hashHandle(fh, before.size);
    const after = await fh.stat();
    const unchanged =
      after.size === before.size && after.mtimeMs === before.mtimeMs && result.size === before.size;
    if (unchanged && before.mtimeMs < startedAt - RACY_WINDOW_MS) cache.set(key, result.sha256);
    return result;
  } finally {
    await fh.close();
  }
}
