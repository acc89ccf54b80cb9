import fs from "node:fs";
import http, { type IncomingMessage } from "node:http";
import path from "node:path";
import { BatonError, ERROR_CODES, type ErrorCode, type Problem } from "../errors.js";
import { readLiveServer } from "../server/discovery.js";

/** Where a Baton API is and how to sign in to it. */
export interface ApiEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:8377` (the API is under `/api/v1`). */
  url: string;
  token: string;
}

/**
 * Finds the API a client should talk to: `BATON_URL` (+ `BATON_TOKEN`) if set — inside a task
 * they point at the engine running it — else a live server recorded in a `.baton/server.json`
 * of `dir` or a folder above it. Undefined when there is none: the caller runs embedded.
 * `BATON_URL` on loopback without `BATON_TOKEN` (picking one of several servers of a folder)
 * signs in with the folder's token, which its servers share.
 */
export function findEndpoint(dir: string, env: NodeJS.ProcessEnv = process.env): ApiEndpoint | undefined {
  if (env.BATON_URL) {
    const url = env.BATON_URL.replace(/\/+$/, "");
    return { url, token: env.BATON_TOKEN ?? (isLoopback(url) ? folderToken(dir, env) : undefined) ?? "" };
  }
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const found = readServerFile(path.join(d, ".baton"));
    if (found) return found;
    if (path.dirname(d) === d) return undefined;
  }
}

/** Whether a base URL names this machine (a folder's token is never sent elsewhere). */
function isLoopback(url: string): boolean {
  try {
    return /^(127(\.\d{1,3}){3}|localhost|\[::1\])$/i.test(new URL(url).hostname);
  } catch {
    return false;
  }
}

/** The token of the state folder (`BATON_DATA`, else `.baton/` of `dir` or a folder above it). */
function folderToken(dir: string, env: NodeJS.ProcessEnv): string | undefined {
  const files: string[] = env.BATON_DATA ? [path.resolve(env.BATON_DATA, "token")] : [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    files.push(path.join(d, ".baton", "token"));
    if (path.dirname(d) === d) break;
  }
  for (const file of files) {
    try {
      return fs.readFileSync(file, "utf8").trim();
    } catch {
      // not here (or not ours to read): the next one up
    }
  }
  return undefined;
}

/** The live server of this very folder (its `.baton/server.json`), if any: the one that runs its baton.yaml. */
export function findFolderServer(workdir: string): ApiEndpoint | undefined {
  return readServerFile(path.join(path.resolve(workdir), ".baton"));
}

function readServerFile(stateDir: string): ApiEndpoint | undefined {
  const record = readLiveServer(stateDir);
  if (!record) return undefined;
  try {
    return { url: record.url, token: fs.readFileSync(record.tokenFile, "utf8").trim() };
  } catch {
    return undefined; // the token is not ours to read
  }
}

/** A thin JSON client of `/api/v1`. Errors from the server become BatonErrors with its message. */
export class ApiClient {
  constructor(readonly endpoint: ApiEndpoint) {}

  get<T>(route: string): Promise<T> {
    return this.request<T>("GET", route);
  }

  post<T>(route: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", route, body);
  }

  delete<T>(route: string): Promise<T> {
    return this.request<T>("DELETE", route);
  }

  /** Streams a text response (a followed log) chunk by chunk to `onChunk`. */
  async stream(route: string, onChunk: (text: string) => void): Promise<void> {
    const res = await this.send("GET", route);
    if (!ok(res)) await this.fail(res, "GET", route);
    res.setEncoding("utf8");
    for await (const chunk of res) onChunk(chunk as string);
  }

  private async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await this.send(method, route, body);
    if (!ok(res)) await this.fail(res, method, route);
    return JSON.parse(await readText(res)) as T;
  }

  /**
   * One request on its own connection (`node:http`, not `fetch`: loading fetch's client costs a
   * short-lived command such as `baton submit` tens of milliseconds, and its pooled connection
   * kept the process alive after the answer). The connection closes with the response.
   */
  private async send(method: string, route: string, body?: unknown): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    try {
      const url = new URL(`${this.endpoint.url}/api/v1${route}`);
      const transport = url.protocol === "https:" ? await import("node:https") : http;
      return await new Promise<IncomingMessage>((resolve, reject) => {
        const req = transport.request(url, {
          method,
          agent: false,
          headers: {
            authorization: `Bearer ${this.endpoint.token}`,
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": payload.length }),
          },
        });
        req.on("response", resolve);
        req.on("error", reject);
        req.end(payload);
      });
    } catch (err) {
      throw new BatonError(
        "STORE_UNAVAILABLE",
        `cannot reach the Baton server at ${this.endpoint.url}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  private async fail(res: IncomingMessage, method: string, route: string): Promise<never> {
    let body: { error?: { code?: string; message?: string; problems?: Problem[] } } = {};
    try {
      body = JSON.parse(await readText(res)) as typeof body;
    } catch {
      // Not JSON: the status says enough.
    }
    const status = res.statusCode ?? 0;
    const message = body.error?.message ?? `${method} ${route}: HTTP ${status}`;
    const code = errorCodeFor(status, body.error?.code);
    throw new BatonError(code, status === 401 ? `the server refused the token (${message})` : message, {
      problems: body.error?.problems,
      context: { status },
    });
  }
}

function ok(res: IncomingMessage): boolean {
  const status = res.statusCode ?? 0;
  return status >= 200 && status < 300;
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The Baton error code for an API error: the server's own code when it is one of Baton's
 * (`STORE_AMBIGUOUS`, `SPEC_INVALID`...), else one derived from the HTTP-level code or status,
 * so that the CLI exits as it would on the embedded engine (2 for a refused request, 1 for a fault).
 */
export function errorCodeFor(status: number, serverCode: string | undefined): ErrorCode {
  if (serverCode !== undefined && Object.hasOwn(ERROR_CODES, serverCode)) return serverCode as ErrorCode;
  if (status === 404 || serverCode === "NOT_FOUND") return "STORE_NOT_FOUND";
  if (status === 409 || serverCode === "CONFLICT") return "STATE_CONFLICT";
  if (status === 503) return "STORE_UNAVAILABLE";
  if (status >= 400 && status < 500) return "USAGE";
  return "INTERNAL";
}
