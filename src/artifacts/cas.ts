/**
 * The content-addressed store (`.baton/cas/`): every recorded output lives once, named by the
 * sha256 of its bytes, as `root/ab/abcdef…`. Blobs are read-only and shared by hard link
 * with the outputs that produced them whenever the file system allows it.
 *
 * Terminology:
 * - **blob**: one stored content, the file at {@link ContentStore.pathOf}.
 * - **shard**: the two-hex-character folder holding blobs whose hash starts with those characters.
 * - **put**: record a file's content; **restore**: make a file with a blob's content somewhere else.
 *
 * Shard folders are created on demand and never removed by this class; a future garbage
 * collector must not remove them while puts may run (a store caches which shards exist).
 */
import { randomBytes } from "node:crypto";
import {
  constants,
  type Stats,
  chmodSync,
  closeSync,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readSync,
  statSync,
} from "node:fs";
import {
  type FileHandle,
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  rename,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { BatonError } from "../errors.js";
import { makeStateDir, makeStateDirAsync, stateModes } from "../util/state-mode.js";
import { describeFsError, errnoOf } from "./fs-util.js";
import {
  type ContentHash,
  SMALL_FILE_LIMIT,
  hashBytes,
  hashFile,
  hashHandle,
  isSha256,
  readSmall,
} from "./hash.js";

/** Link errors after which a copy still works: other file system, hard links refused, too many links. */
const LINK_FALLBACK = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/** Temporary names start with a dot so that {@link ContentStore.listBlobs} never mistakes them for blobs. */
const TMP_PREFIX = ".tmp-";

/** Unique per process, so temp names from two processes (or two hosts on NFS) never collide. */
const PROCESS_TAG = `${process.pid}-${randomBytes(4).toString("hex")}`;
let tmpCounter = 0;

/** The content-addressed blob store rooted at one folder (normally `.baton/cas/`). */
export class ContentStore {
  /** Absolute path of the store's folder. */
  readonly root: string;
  /** Shard folders this process knows exist: saves a mkdir per put. */
  readonly #shards = new Set<string>();
  #rootDev: Promise<number> | undefined;
  /** The store folder's device, for {@link putSmallSync} (which cannot wait for `#rootDev`). */
  #rootDevSync: number | undefined;
  /** Blobs are immutable: readable by their owner only (or the group, see state-mode.ts), writable by none. */
  readonly #blobMode = stateModes().blob;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Where the blob for `sha256` lives (whether or not it exists).
   *
   * @throws BatonError `INTERNAL` when `sha256` is not 64 lowercase hex characters: the value may
   * come from a URL, and anything else (`../../etc/passwd`) must never become a path.
   * Callers facing users should check {@link isSha256} first and answer with their own error.
   */
  pathOf(sha256: string): string {
    if (!isSha256(sha256)) {
      throw new BatonError(
        "INTERNAL",
        `not a sha256 (64 lowercase hex characters): ${JSON.stringify(sha256)}`,
        {
          context: { sha256 },
        },
      );
    }
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Whether the store holds the blob `sha256`. */
  async has(sha256: string): Promise<boolean> {
    const path = this.pathOf(sha256);
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw this.#storeError(path, err);
    }
  }

  /**
   * Records the content of `file` and returns its address. Follows a symbolic link to a file,
   * unless `options.followLinks` is false (then a link fails the put).
   *
   * The blob becomes a hard link to `file` when that is safe (same file system, `file` is not a
   * symlink and has no other links), and `file` then becomes read-only along with it: recorded
   * outputs are immutable. Otherwise, or when linking is refused, the content is copied (reflinked
   * where supported). Identical content is stored once. Concurrent puts of the same content, from
   * this or other processes, all succeed: links are made straight at the final name (EEXIST means
   * an identical blob is there), copies are written to a private temp name and renamed into place.
   *
   * @throws BatonError `TASK_SETUP` when `file` cannot be read or the store cannot be written.
   */
  async put(file: string, options: { followLinks?: boolean } = {}): Promise<ContentHash> {
    const source = await this.#readSource(file, options.followLinks ?? true);
    const dest = this.pathOf(source.sha256);
    if (await this.#holds(dest, source.size)) return { sha256: source.sha256, size: source.size };
    await this.#ensureShard(source.sha256);
    const linkable =
      !source.viaSymlink && source.stats.nlink === 1 && source.stats.dev === (await this.#getRootDev());
    if (linkable) {
      const linked = await this.#linkIn(file, source);
      if (linked !== undefined) return linked;
    }
    const tmp = tmpNameFor(dest);
    try {
      if (source.data !== undefined) {
        // The bytes we hashed are the bytes we write: no window for a change.
        await writeFile(tmp, source.data, { mode: this.#blobMode, flag: "wx" });
        await chmod(tmp, this.#blobMode); // the umask may have dropped read bits
        await rename(tmp, dest);
        return { sha256: source.sha256, size: source.size };
      }
      await copyFile(file, tmp, constants.COPYFILE_FICLONE);
      await chmod(tmp, this.#blobMode);
      // The copy is ours alone: if the file changed while we copied, name the blob by what the copy holds.
      let result: ContentHash = { sha256: source.sha256, size: source.size };
      if (changedSince(await stat(file), source.stats)) {
        result = await hashFile(tmp);
        await this.#ensureShard(result.sha256);
      }
      // tmp is a fresh inode, so rename always consumes it (a rename onto a link of the same inode would not).
      await rename(tmp, this.pathOf(result.sha256));
      return result;
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if (err instanceof BatonError) throw err;
      throw this.#storeError(dest, err);
    }
  }

  /**
   * Stores `file` as a hard link: first makes it read-only (no new writer can open it), then
   * checks it did not change since it was hashed, then links it at its blob path. Linking straight
   * to the final name is atomic, and EEXIST means an identical blob won a race. Returns undefined
   * when the file system or permissions refuse, or the file changed: the caller then copies.
   */
  async #linkIn(file: string, source: SourceFile): Promise<ContentHash | undefined> {
    try {
      try {
        await chmod(file, this.#blobMode);
      } catch (err) {
        // Not our file (another user's output): we may not change its mode, so keep a copy instead.
        if (errnoOf(err) === "EPERM") return undefined;
        throw err;
      }
      // Changed (or replaced) since hashed, by a process the task left behind: copying is the safe path,
      // as the copy is hashed again and nobody else can write to it.
      if (changedSince(await lstat(file), source.stats)) return undefined;
      const result: ContentHash = { sha256: source.sha256, size: source.size };
      const dest = this.pathOf(result.sha256);
      try {
        await link(file, dest);
        return result;
      } catch (err) {
        const code = errnoOf(err);
        if (code === "EEXIST") {
          if (await this.#holds(dest, result.size)) return result;
          // A damaged blob (wrong size): replace it atomically.
          const tmp = tmpNameFor(dest);
          try {
            await link(file, tmp);
            await rename(tmp, dest);
          } finally {
            await unlink(tmp).catch(() => {});
          }
          return result;
        }
        if (LINK_FALLBACK.has(code ?? "")) return undefined;
        throw err;
      }
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw this.#storeError(this.pathOf(source.sha256), err);
    }
  }

  /**
   * Makes `dest` a file with the content of blob `sha256`: a hard link when possible (so it is
   * read-only and costs no space), else a copy. Creates `dest`'s folder unless `options.mkdir`
   * is false (callers laying out many files create folders once themselves). Replaces an
   * existing `dest`.
   *
   * @throws BatonError `TASK_SETUP` when the blob is missing (context `reason: "blob-missing"`)
   * or `dest` cannot be written.
   */
  async restore(sha256: string, dest: string, options: { mkdir?: boolean } = {}): Promise<void> {
    const blob = this.pathOf(sha256);
    try {
      if (options.mkdir !== false) await mkdir(dirname(dest), { recursive: true });
      try {
        await link(blob, dest);
        return;
      } catch (err) {
        const code = errnoOf(err);
        if (code === "EEXIST") {
          const [a, b] = await Promise.all([stat(blob), stat(dest)]);
          if (a.ino === b.ino && a.dev === b.dev) return;
          // Replace atomically, so a reader never sees dest missing or half written.
          const tmp = tmpNameFor(dest);
          try {
            await link(blob, tmp);
            await rename(tmp, dest);
          } catch (e) {
            await unlink(tmp).catch(() => {});
            if (!LINK_FALLBACK.has(errnoOf(e) ?? "")) throw e;
            await this.#copyOut(blob, dest);
          }
          return;
        }
        if (code === "ENOENT" && !(await this.has(sha256))) {
          throw new BatonError(
            "TASK_SETUP",
            `blob ${sha256} is missing from the content store ${this.root}`,
            {
              cause: err,
              context: { sha256, dest, reason: "blob-missing" },
            },
          );
        }
        if (!LINK_FALLBACK.has(code ?? "")) throw err;
        await this.#copyOut(blob, dest);
      }
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw new BatonError(
        "TASK_SETUP",
        `cannot restore ${dest} from blob ${sha256}: ${describeFsError(err)}`,
        {
          cause: err,
          context: { sha256, dest, errno: errnoOf(err) },
        },
      );
    }
  }

  /** Every blob in the store, shard by shard (in no promised order). Skips temp files of puts in progress. */
  async *listBlobs(): AsyncIterable<ContentHash> {
    let shards: string[];
    try {
      shards = await readdir(this.root);
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return;
      throw this.#storeError(this.root, err);
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      let names: string[];
      try {
        names = await readdir(join(this.root, shard));
      } catch (err) {
        if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") continue;
        throw this.#storeError(join(this.root, shard), err);
      }
      for (const name of names.sort()) {
        if (!isSha256(name) || !name.startsWith(shard)) continue;
        try {
          const st = await stat(join(this.root, shard, name));
          if (st.isFile()) yield { sha256: name, size: st.size };
        } catch (err) {
          if (errnoOf(err) !== "ENOENT") throw this.#storeError(join(this.root, shard, name), err);
        }
      }
    }
  }

  /**
   * Deletes blob `sha256`. Outputs hard-linked to it keep their content. Returns false when it
   * was not there.
   */
  async remove(sha256: string): Promise<boolean> {
    const path = this.pathOf(sha256);
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw this.#storeError(path, err);
    }
  }

  /**
   * Opens and hashes `file`. Opens with O_NOFOLLOW first: that both detects a symlink (which must
   * be copied, never hard-linked and chmod-ed, as its target may be a user's own file) and saves
   * an lstat on the common path.
   */
  async #readSource(file: string, followLinks: boolean): Promise<SourceFile> {
    let fh: FileHandle;
    let viaSymlink = false;
    try {
      try {
        fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) !== "ELOOP") throw err;
        if (!followLinks) {
          throw new BatonError("TASK_SETUP", `cannot store ${file}: it became a symbolic link`, {
            context: { file },
          });
        }
        viaSymlink = true;
        fh = await open(file, constants.O_RDONLY);
      }
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw readError(file, err);
    }
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) {
        throw new BatonError("TASK_SETUP", `cannot store ${file}: not a regular file`, { context: { file } });
      }
      const copyLikely = viaSymlink || stats.nlink !== 1;
      if (copyLikely && stats.size <= SMALL_FILE_LIMIT) {
        const data = await readSmall(fh, stats.size);
        if (data !== undefined) {
          return { sha256: hashBytes(data), size: data.length, stats, viaSymlink, data };
        }
      }
      const { sha256, size } = await hashHandle(fh, stats.size);
      return { sha256, size, stats, viaSymlink };
    } catch (err) {
      if (err instanceof BatonError) throw err;
      throw readError(file, err);
    } finally {
      await fh.close();
    }
  }

  /** True when `dest` already holds a blob of the right size (a wrong size means a damaged blob, to be replaced). */
  async #holds(dest: string, size: number): Promise<boolean> {
    try {
      return (await stat(dest)).size === size;
    } catch (err) {
      if (errnoOf(err) === "ENOENT") return false;
      throw this.#storeError(dest, err);
    }
  }

  async #copyOut(blob: string, dest: string): Promise<void> {
    // copyFile cannot open a read-only dest for writing: remove it first.
    await unlink(dest).catch((err: unknown) => {
      if (errnoOf(err) !== "ENOENT") throw err;
    });
    await copyFile(blob, dest, constants.COPYFILE_FICLONE);
  }

  async #ensureShard(sha256: string): Promise<void> {
    const shard = sha256.slice(0, 2);
    if (this.#shards.has(shard)) return;
    try {
      await makeStateDirAsync(join(this.root, shard));
    } catch (err) {
      throw this.#storeError(join(this.root, shard), err);
    }
    this.#shards.add(shard);
  }

  /** Device of the store's folder: a file elsewhere cannot be hard-linked, so it is copied without trying. */
  #getRootDev(): Promise<number> {
    this.#rootDev ??= (async () => {
      await makeStateDirAsync(this.root);
      return (await stat(this.root)).dev;
    })().catch((err: unknown) => {
      this.#rootDev = undefined;
      throw this.#storeError(this.root, err);
    });
    return this.#rootDev;
  }

  /**
   * {@link put} of a small file on its common path, without the thread pool: the file is a
   * regular file of at most `maxBytes`, not a link, with no other hard link, on the store's file
   * system, and becomes the blob by a hard link (or an identical blob is already there). Returns
   * undefined whenever anything else happens (a link, a copy needed, an error, a change while
   * hashed): the caller then calls {@link put}, which takes every other path and words the
   * errors. What this may already have done (the file made read-only, the shard folder
   * created) is what `put` does first too. For a process whose waits block nobody else (the
   * launcher): a tiny output costs about ten syscalls instead of ten thread-pool round trips.
   */
  putSmallSync(file: string, maxBytes: number): ContentHash | undefined {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    let stats: Stats;
    let sha256: string;
    try {
      stats = fstatSync(fd);
      if (!stats.isFile() || stats.nlink !== 1 || stats.size > maxBytes) return undefined;
      const buf = Buffer.allocUnsafe(stats.size + 1);
      let total = 0;
      for (;;) {
        const n = readSync(fd, buf, total, buf.length - total, total);
        total += n;
        if (total > stats.size) return undefined;
        // Fewer bytes than asked for: the end of the file (no second read to be told so).
        if (n === 0 || total < buf.length) break;
      }
      if (total !== stats.size) return undefined;
      sha256 = hashBytes(buf.subarray(0, total));
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
    const result: ContentHash = { sha256, size: stats.size };
    const dest = this.pathOf(sha256);
    try {
      // Not there is the usual case: asked without an exception (each costs microseconds).
      const there = statSync(dest, { throwIfNoEntry: false });
      if (there !== undefined) return there.size === stats.size ? result : undefined; // damaged: put replaces it
      if (this.#rootDevSync === undefined) {
        makeStateDir(this.root);
        this.#rootDevSync = statSync(this.root).dev;
      }
      if (stats.dev !== this.#rootDevSync) return undefined;
      const shard = sha256.slice(0, 2);
      if (!this.#shards.has(shard)) {
        makeStateDir(join(this.root, shard));
        this.#shards.add(shard);
      }
      chmodSync(file, this.#blobMode);
      if (changedSince(lstatSync(file), stats)) return undefined;
      try {
        linkSync(file, dest);
        return result;
      } catch (err) {
        if (errnoOf(err) === "EEXIST" && statSync(dest).size === stats.size) return result;
        return undefined;
      }
    } catch {
      return undefined;
    }
  }

  #storeError(path: string, err: unknown): BatonError {
    return new BatonError("TASK_SETUP", `cannot write content store ${path}: ${describeFsError(err)}`, {
      cause: err,
      context: { path, errno: errnoOf(err) },
    });
  }
}

interface SourceFile extends ContentHash {
  stats: Stats;
  viaSymlink: boolean;
  /** The whole content, when small and about to be copied (saves reading it twice). */
  data?: Buffer;
}

/** True when the file at a path is no longer the one hashed: other inode, size or mtime. */
function changedSince(now: Stats, then: Stats): boolean {
  return (
    now.ino !== then.ino || now.dev !== then.dev || now.size !== then.size || now.mtimeMs !== then.mtimeMs
  );
}

function tmpNameFor(dest: string): string {
  return join(dirname(dest), `${TMP_PREFIX}${PROCESS_TAG}-${++tmpCounter}`);
}

function readError(file: string, err: unknown): BatonError {
  return new BatonError("TASK_SETUP", `cannot read output file ${file}: ${describeFsError(err)}`, {
    cause: err,
    context: { file, errno: errnoOf(err) },
  });
}
