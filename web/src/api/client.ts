/**
 * Calls to `/api/v1` with the bearer token. The token arrives once in the sign-in URL
 * (`/?token=...`, printed by `baton server`), is kept in localStorage and removed from the
 * address bar; every call sends it as `Authorization: Bearer`. EventSource and download links
 * cannot set headers, so they carry it as `?token=` (see {@link withToken}).
 */
import type { Problem } from "./types";

const TOKEN_KEY = "baton.token";
export const API = "/api/v1";

/** Moves `?token=` from the address bar into storage. Returns whether there was one. */
export function takeTokenFromUrl(): boolean {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (!token) return false;
  setToken(token);
  url.searchParams.delete("token");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  return true;
}

export function getToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  window.localStorage.setItem(TOKEN_KEY, token.trim());
  window.dispatchEvent(new Event("baton:auth"));
}

export function clearToken(): void {
  window.localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("baton:auth"));
}

/** An API answer that was not 2xx, with the server's error code, message and field problems. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** `path` under `/api/v1` (`/runs?limit=5`), with the token. */
export function withToken(path: string): string {
  const url = path.startsWith("/api/") ? path : API + path;
  const token = getToken();
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Calls the API; answers the status with the parsed JSON body. @throws ApiError */
export async function call<T>(
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<ApiResponse<T>> {
  let res: Response;
  try {
    res = await fetch(API + path, {
      method,
      headers: {
        ...authHeaders(),
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(0, "NETWORK", "The Baton server cannot be reached. Is `baton server` still running?");
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; problems?: Problem[] } } | undefined)
      ?.error;
    if (res.status === 401) window.dispatchEvent(new Event("baton:unauthorized"));
    throw new ApiError(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? `${method} ${path}: ${res.status} ${res.statusText}`,
      error?.problems ?? [],
    );
  }
  return { status: res.status, body: json as T };
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await call<T>("GET", path, undefined, signal)).body;
}

export function post<T>(path: string, body?: unknown): Promise<ApiResponse<T>> {
  return call<T>("POST", path, body ?? {});
}

/** A message for any error, for toasts and banners. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
