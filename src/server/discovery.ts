/**
 * `.baton/server.json`: how CLI clients find a live server for a folder (docs/cli.md: with no
 * `BATON_URL`, `run` and `submit` use the server recorded in `.baton/` if it is alive).
 */
import fs from "node:fs";
import path from "node:path";
import { isAlive } from "../util/process.js";
import { makeStateDir } from "../util/state-mode.js";

/** What `.baton/server.json` holds. */
export interface ServerRecord {
  /** Base URL, e.g. `http://127.0.0.1:8377` (API under `/api/v1`). */
  url: string;
  /** The server's process id. */
  pid: number;
  /** Its engine's id in the store (whose lease says whether it still drives its runs). */
  engineId?: string;
  /** Absolute path of the token file (`.baton/token`). */
  tokenFile: string;
  /** Folder the server runs tasks in. */
  workdir: string;
  startedAt: string;
}

export function serverFilePath(stateDir: string): string {
  return path.join(stateDir, "server.json");
}

/** Records a live server (private to its owner, like the token it points to). */
export function writeServerFile(stateDir: string, record: ServerRecord): string {
  const file = serverFilePath(stateDir);
  makeStateDir(stateDir);
  // Unique among this process's writes (`wx` refuses a clash); no node:crypto, which every
  // client command importing this module would otherwise load.
  const tmp = `${file}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  fs.renameSync(tmp, file);
  return file;
}

/** The server recorded in `stateDir`, if its process is still alive. */
export function readLiveServer(stateDir: string): ServerRecord | undefined {
  const record = readServerRecord(stateDir);
  return record && isAlive(record.pid) ? record : undefined;
}

/** The server recorded in `stateDir`, alive or not (undefined: no record, or not one). */
export function readServerRecord(stateDir: string): ServerRecord | undefined {
  let record: Partial<ServerRecord>;
  try {
    record = JSON.parse(fs.readFileSync(serverFilePath(stateDir), "utf8")) as Partial<ServerRecord>;
  } catch {
    return undefined;
  }
  if (
    typeof record.url !== "string" ||
    typeof record.pid !== "number" ||
    typeof record.tokenFile !== "string"
  ) {
    return undefined;
  }
  return record as ServerRecord;
}

/** Removes the record on a clean exit, unless another server has replaced it meanwhile. */
export function removeServerFile(stateDir: string, pid = process.pid): void {
  const file = serverFilePath(stateDir);
  try {
    const record = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<ServerRecord>;
    if (record.pid === pid) fs.rmSync(file, { force: true });
  } catch {
    // Already gone or unreadable: nothing of ours to remove.
  }
}
