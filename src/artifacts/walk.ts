/**
 * A small recursive file walker (readdir with file types, one call per folder), used for
 * output folders and workdir globs. Returns paths relative to the root with `/` separators.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { errnoOf } from "./fs-util.js";

/** What {@link walkFiles} does at each folder, file and symbolic link. */
export interface WalkOptions {
  /**
   * Symbolic links to folders: `false` skips them (output folders: a link must not pull a
   * whole dataset into the outputs); `true` follows them, entering each real folder at most once
   * so link cycles end.
   */
  followDirLinks: boolean;
  /** Return false to skip the folder `rel` (`name` is its last segment, `depth` 0 below the root). */
  enterDir?: (rel: string, name: string, depth: number) => boolean;
  /** Return false to leave the file out. Symbolic links to files count as files. */
  acceptFile?: (rel: string) => boolean;
  /**
   * Called for each symbolic link that is not to a folder and that `acceptFile` accepts: a link
   * to a file (also returned) or a broken one (`broken`, left out of the result).
   */
  onFileLink?: (rel: string, broken: boolean) => void;
  /** Folders below the root that cannot be read: `"throw"` (default) or `"skip"`. */
  onDirError?: "throw" | "skip";
}

/**
 * Lists the files below `root` (not sorted). Broken symbolic links are left out. An error
 * reading `root` itself is always thrown (an errno error; callers word it for users).
 */
export async function walkFiles(root: string, options: WalkOptions): Promise<string[]> {
  const found: string[] = [];
  // Real folders (dev:ino) entered through links, seeded with the root on first use.
  let visited: Set<string> | undefined;

  const seenBefore = async (abs: string): Promise<boolean> => {
    if (visited === undefined) {
      const rootStat = await stat(root);
      visited = new Set([`${rootStat.dev}:${rootStat.ino}`]);
    }
    const st = await stat(abs);
    const id = `${st.dev}:${st.ino}`;
    if (visited.has(id)) return true;
    visited.add(id);
    return false;
  };

  const walk = async (absDir: string, relDir: string, depth: number): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(absDir, { withFileTypes: true });
    } catch (err) {
      if (depth > 0 && options.onDirError === "skip") return;
      // A folder removed while we walk is not an error.
      if (depth > 0 && errnoOf(err) === "ENOENT") return;
      throw err;
    }
    const subdirs: Promise<void>[] = [];
    const links: Promise<void>[] = [];
    for (const entry of entries) {
      const name = entry.name;
      const rel = relDir === "" ? name : `${relDir}/${name}`;
      const abs = join(absDir, name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      const isLink = entry.isSymbolicLink();
      if (!isDir && !isFile && !isLink) {
        // Some file systems do not report types in readdir; ask.
        try {
          const st = await stat(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          continue;
        }
      }
      if (isFile) {
        if (options.acceptFile?.(rel) ?? true) found.push(rel);
      } else if (isDir) {
        if (options.enterDir?.(rel, name, depth) ?? true) subdirs.push(walk(abs, rel, depth + 1));
      } else if (isLink) {
        links.push(
          (async () => {
            let target: Awaited<ReturnType<typeof stat>>;
            try {
              target = await stat(abs);
            } catch {
              // A broken link.
              if (options.onFileLink && (options.acceptFile?.(rel) ?? true)) options.onFileLink(rel, true);
              return;
            }
            if (target.isFile()) {
              if (options.acceptFile?.(rel) ?? true) {
                found.push(rel);
                options.onFileLink?.(rel, false);
              }
            } else if (target.isDirectory() && options.followDirLinks) {
              if ((options.enterDir?.(rel, name, depth) ?? true) && !(await seenBefore(abs))) {
                await walk(abs, rel, depth + 1);
              }
            }
          })(),
        );
      }
    }
    await Promise.all([...subdirs, ...links]);
  };

  await walk(root, "", 0);
  return found;
}
