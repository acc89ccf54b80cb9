/**
 * The API token (docs/api.md): `.baton/token`, 32 random bytes as hex, readable by its owner only.
 * Whoever holds it can run commands on this machine, so the file is created 0600 and its mode
 * is tightened again if something loosened it.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { BatonError } from "../errors.js";
import { makeStateDir } from "../util/state-mode.js";

/** What a token file may hold: a token we made (64 hex) or one the user chose (no whitespace). */
const TOKEN_TEXT = /^[\x21-\x7e]{16,512}$/;

export interface TokenFile {
  token: string;
  /** Absolute path of the token file. */
  file: string;
}

/**
 * Reads `stateDir/token`, creating it (mode 0600) with a new random token when it is missing
 * or holds no usable token. A file readable by others is made private again.
 *
 * @throws BatonError `STORE_UNAVAILABLE` when the file cannot be read, created or fixed.
 */
export function loadOrCreateToken(stateDir: string): TokenFile {
  const file = path.join(path.resolve(stateDir), "token");
  try {
    makeStateDir(path.dirname(file));
    const existing = readToken(file);
    if (existing !== undefined) return { token: existing, file };
    const token = randomBytes(32).toString("hex");
    // Write under a private temporary name, then put it in place: the token is never readable
    // by others, not even for a moment, and a concurrent reader sees no file or the whole one.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: "wx" });
    try {
      fs.chmodSync(tmp, 0o600);
      if (fs.existsSync(file)) {
        fs.renameSync(tmp, file); // an unusable token file is replaced
      } else {
        // A new file is linked, not renamed: when two processes (two servers of one folder)
        // make it at once, the second finds the first's and uses that token, instead of
        // replacing it under a server already serving with it.
        try {
          fs.linkSync(tmp, file);
        } catch (err) {
          // A file system without hard links: rename, as for a replaced file.
          const theirs = (err as { code?: string }).code === "EEXIST" ? readToken(file) : undefined;
          if (theirs !== undefined) return { token: theirs, file };
          fs.renameSync(tmp, file);
        }
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return { token, file };
  } catch (err) {
    if (err instanceof BatonError) throw err;
    throw new BatonError(
      "STORE_UNAVAILABLE",
      `cannot read or create the API token ${file}: ${describe(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** The token in `file`, or undefined when there is none (missing, empty or not a token). */
function readToken(file: string): string | undefined {
  let fd: number;
  try {
    // O_NOFOLLOW: a symbolic link planted at .baton/token must not make us trust another file.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") {
      throw new BatonError(
        "STORE_UNAVAILABLE",
        `${file} is a symbolic link: remove it, Baton will make a new token`,
      );
    }
    throw err;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) {
      throw new BatonError("STORE_UNAVAILABLE", `${file} is not a regular file: remove it`);
    }
    if ((stat.mode & 0o077) !== 0) fs.fchmodSync(fd, 0o600);
    const text = fs.readFileSync(fd, "utf8").trim();
    return TOKEN_TEXT.test(text) ? text : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
