/**
 * Inputs given as `http://` / `https://` URLs: downloaded once into the content store and
 * reused by later tasks and runs. The URL index is a folder of small JSON files,
 * `.baton/cas/urls/<sha256 of the URL>.json` ({ url, sha256, size, etag, lastModified,
 * fetchedAt }), beside the blobs it names: no table to migrate, removed along with the store,
 * and written atomically (temp name, then rename), so two engines downloading the same URL at
 * once both end with a whole entry. A URL once downloaded is reused as is, without asking the
 * server again (no revalidation): the entry records its ETag and Last-Modified for display
 * only. Change the URL (or delete its entry) to download it again.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BatonError } from "../errors.js";
import type { ContentStore } from "./cas.js";
import { describeFsError } from "./fs-util.js";
import { isSha256 } from "./hash.js";

/** One URL in the index. */
export interface UrlEntry {
  url: string;
  sha256: string;
  size: number;
  etag: string | null;
  lastModified: string | null;
  /** When it was downloaded (ms since the epoch). */
  fetchedAt: number;
}

/** Give up on a download after this long (whole transfer), unless told otherwise. */
export const URL_FETCH_TIMEOUT_MS = 30 * 60 * 1000;

/** Downloads URL inputs into a content store, once per URL. */
export class UrlInputs {
  readonly indexDir: string;
  /** Downloads under way in this process, by URL: two tasks wanting one URL share one download. */
  readonly #inflight = new Map<string, Promise<UrlEntry>>();

  constructor(
    readonly cas: ContentStore,
    readonly timeoutMs: number = Number(process.env.BATON_URL_TIMEOUT_MS) || URL_FETCH_TIMEOUT_MS,
  ) {
    this.indexDir = join(cas.root, "urls");
  }

  /**
   * The blob holding `url`'s content: from the index when it was downloaded before (and its blob
   * is still there), else downloaded now (redirects followed).
   *
   * @throws BatonError `TASK_INPUT_MISSING` naming the input, the URL and the HTTP status (or the
   * network error) when it cannot be downloaded.
   */
  async get(url: string, input: string): Promise<UrlEntry> {
    const known = await this.#lookup(url);
    if (known) return known;
    let work = this.#inflight.get(url);
    if (!work) {
      work = this.#download(url, input).finally(() => this.#inflight.delete(url));
      this.#inflight.set(url, work);
    }
    return work;
  }

  /** What the index says of `url`, when its blob is still in the store. */
  async #lookup(url: string): Promise<UrlEntry | undefined> {
    let entry: UrlEntry;
    try {
      entry = JSON.parse(await readFile(this.#entryPath(url), "utf8")) as UrlEntry;
    } catch {
      return undefined;
    }
    if (entry?.url !== url || typeof entry.sha256 !== "string" || !isSha256(entry.sha256)) return undefined;
    return (await this.cas.has(entry.sha256)) ? entry : undefined;
  }

  async #download(url: string, input: string): Promise<UrlEntry> {
    const fail = (what: string, cause?: unknown) =>
      new BatonError("TASK_INPUT_MISSING", `input "${input}": cannot download ${url}: ${what}`, {
        cause,
        context: { input, url },
      });
    let res: Response;
    try {
      res = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw fail(networkText(err, this.timeoutMs), err);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw fail(`the server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    await mkdir(this.indexDir, { recursive: true });
    const tmp = join(this.cas.root, `.tmp-url-${process.pid}-${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    try {
      if (res.body) {
        const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
        body.on("data", (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.length;
        });
        await pipeline(body, createWriteStream(tmp, { flags: "wx" }));
      } else {
        await writeFile(tmp, "", { flag: "wx" });
      }
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if (
        err instanceof Error &&
        /ENOSPC|EACCES|EROFS|EEXIST/.test(String((err as NodeJS.ErrnoException).code))
      )
        throw fail(`cannot write ${tmp}: ${describeFsError(err)}`, err);
      throw fail(networkText(err, this.timeoutMs), err);
    }
    const sha256 = hash.digest("hex");
    try {
      const stored = await this.cas.put(tmp);
      if (stored.sha256 !== sha256) throw fail("the downloaded file changed while it was stored");
    } finally {
      await unlink(tmp).catch(() => {});
    }
    const entry: UrlEntry = {
      url,
      sha256,
      size,
      etag: res.headers.get("etag"),
      lastModified: res.headers.get("last-modified"),
      fetchedAt: Date.now(),
    };
    const path = this.#entryPath(url);
    const tmpEntry = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    await writeFile(tmpEntry, `${JSON.stringify(entry)}\n`);
    await rename(tmpEntry, path);
    return entry;
  }

  #entryPath(url: string): string {
    return join(this.indexDir, `${createHash("sha256").update(url).digest("hex")}.json`);
  }
}

function networkText(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError")
    return `no answer within ${Math.round(timeoutMs / 1000)}s`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e?.message ?? "network error"} (${cause})` : (e?.message ?? String(err));
}

/**
 * Where a URL's file goes below its input's folder: its last path segment (`none`, `suffix`),
 * or its whole path (`full`). Percent-escapes are decoded; a URL ending in `/` is named after
 * its host.
 */
export function urlFileRel(url: URL, keep: "none" | "full" | "suffix" | undefined): string {
  const segments = url.pathname
    .split("/")
    .filter((s) => s !== "")
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .map((s) => s.replaceAll("/", "%2F").replaceAll("\0", ""));
  if (segments.length === 0) return url.hostname || "download";
  if (keep === "full") return posix.join(...segments);
  return segments[segments.length - 1] as string;
}
