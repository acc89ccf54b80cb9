import fs from "node:fs";
import path from "node:path";
import { BatonError, type Problem } from "../errors.js";
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
 */
export function findEndpoint(dir: string, env: NodeJS.ProcessEnv = process.env): ApiEndpoint | undefined {
  if (env.BATON_URL) return { url: env.BATON_URL.replace(/\/+$/, ""), token: env.BATON_TOKEN ?? "" };
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const found = readServerFile(path.join(d, ".baton"));
    if (found) return found;
    if (path.dirname(d) === d) return undefined;
  }
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

  /** Streams a text response (a followed log) chunk by chunk to `onChunk`. */
  async stream(route: string, onChunk: (text: string) => void): Promise<void> {
    const res = await this.fetch("GET", route);
    if (!res.ok) await this.fail(res, "GET", route);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
      onChunk(decoder.decode(chunk, { stream: true }));
  }

  private async request<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, route, body);
    if (!res.ok) await this.fail(res, method, route);
    return (await res.json()) as T;
  }

  private async fetch(method: string, route: string, body?: unknown): Promise<Response> {
    const url = `${this.endpoint.url}/api/v1${route}`;
    try {
      return await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.endpoint.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new BatonError(
        "STORE_UNAVAILABLE",
        `cannot reach the Baton server at ${this.endpoint.url}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  private async fail(res: Response, method: string, route: string): Promise<never> {
    let body: { error?: { code?: string; message?: string; problems?: Problem[] } } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // Not JSON: the status says enough.
    }
    const message = body.error?.message ?? `${method} ${route}: HTTP ${res.status}`;
    const code =
      res.status === 404
        ? "STORE_NOT_FOUND"
        : res.status === 400 || res.status === 422
          ? "USAGE"
          : res.status === 401
            ? "USAGE"
            : "INTERNAL";
    throw new BatonError(code, res.status === 401 ? `the server refused the token (${message})` : message, {
      problems: body.error?.problems,
      context: { status: res.status },
    });
  }
}
