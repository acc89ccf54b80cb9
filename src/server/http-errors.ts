/**
 * How the API says "no": one JSON body shape for every error, and the one place where
 * {@link BatonError} codes become HTTP statuses (docs/api.md; statuses are mapped only in
 * `server/`).
 */
import { BatonError, type ErrorCode, type Problem } from "../errors.js";

/** Codes of errors the HTTP layer raises itself (they are not Baton domain errors). */
export type HttpErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  // Triggers: a webhook fired with a wrong secret.
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  // The engine driving a run did not answer a message from this server (it stopped or hangs).
  | "ENGINE_UNRESPONSIVE"
  | "INTERNAL";

/** A problem as the API shows it: where (`body.params.lr`) and what is wrong. */
export interface ApiProblem {
  path?: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

/** The body of every error response: `{"error": {"code", "message", "problems"?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; problems?: ApiProblem[] };
}

/** An error answered with its own status: bad input, unknown ids, conflicts, auth. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode | ErrorCode,
    message: string,
    readonly problems: ApiProblem[] = [],
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export const notFound = (message: string) => new HttpError(404, "NOT_FOUND", message);
export const conflict = (message: string) => new HttpError(409, "CONFLICT", message);

/** A 400 about one field of the request: `body.params: expected a map, found "x"`. */
export function badField(path: string, message: string): HttpError {
  return new HttpError(400, "BAD_REQUEST", `${path}: ${message}`, [{ path, message }]);
}

/** The HTTP status for a Baton error code. */
export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case "SPEC_INVALID":
    case "PARAM_INVALID":
    case "TOO_MANY_TASKS":
    case "USAGE":
    case "EXPR_SYNTAX":
      return 400;
    case "STORE_NOT_FOUND":
    case "SPEC_UNKNOWN_PIPELINE":
      return 404;
    case "STORE_AMBIGUOUS":
    case "STATE_CONFLICT":
      return 409;
    case "STORE_UNAVAILABLE":
    case "STORE_CONNECT":
      return 503;
    default:
      return 500;
  }
}

/** Fastify's own errors (bad JSON, body too large, wrong content type) keep their 4xx status. */
function codeForStatus(status: number): HttpErrorCode {
  switch (status) {
    case 401:
      return "UNAUTHORIZED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "CONFLICT";
    case 413:
      return "PAYLOAD_TOO_LARGE";
    case 415:
      return "UNSUPPORTED_MEDIA_TYPE";
    default:
      return status >= 500 ? "INTERNAL" : "BAD_REQUEST";
  }
}

/** Turns anything thrown by a route into a status and an {@link ErrorBody}. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) {
    return { status: err.status, body: errorBody(err.code, err.message, err.problems) };
  }
  if (err instanceof BatonError) {
    return {
      status: statusForCode(err.code),
      body: errorBody(
        err.code,
        err.message,
        err.problems.map((p) => apiProblem(p)),
      ),
    };
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { status, body: errorBody(codeForStatus(status), friendlier(status, message)) };
  }
  return { status: 500, body: errorBody("INTERNAL", `internal error: ${message}`) };
}

export function errorBody(code: string, message: string, problems: ApiProblem[] = []): ErrorBody {
  return { error: problems.length > 0 ? { code, message, problems } : { code, message } };
}

/** A Baton problem as the API shows it, optionally moved under a request field (`body.definition`). */
export function apiProblem(p: Problem, prefix?: string): ApiProblem {
  const path = prefix === undefined ? p.path : p.path ? `${prefix}.${p.path}` : prefix;
  const out: ApiProblem = { message: p.message };
  if (path !== undefined) out.path = path;
  if (p.file !== undefined) out.file = p.file;
  if (p.line !== undefined && p.line > 0) out.line = p.line;
  if (p.column !== undefined && p.column > 0) out.column = p.column;
  return out;
}

/**
 * A Baton error whose problems are about one request field: the same error, with each problem's
 * path placed under `prefix` (`lr` -> `body.params.lr`) so that clients can point at the field.
 */
export function underField(err: unknown, prefix: string): unknown {
  if (!(err instanceof BatonError) || err.problems.length === 0) return err;
  const problems = err.problems.map((p) => apiProblem(p, prefix));
  const message = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("\n");
  return new HttpError(statusForCode(err.code), err.code, message, problems);
}

/** Fastify's messages name its internals; say what the client should do instead. */
function friendlier(status: number, message: string): string {
  if (status === 413) return "request body is larger than 1 MiB";
  if (status === 415) return `${message} (send JSON with Content-Type: application/json)`;
  return message;
}

/**
 * Valohai-compatible endpoints (`/api/v0/...`): an error in Valohai's shape, field -> list of
 * messages for bad input (`{"nodes[0].template.step": ["unknown step ..."]}`), else
 * `{"detail": message}`.
 */
export function toValohaiErrorResponse(err: unknown): { status: number; body: Record<string, unknown> } {
  const { status, body } = toErrorResponse(err);
  const problems = body.error.problems ?? [];
  if (status === 400 && problems.length > 0) {
    const fields: Record<string, string[]> = {};
    for (const p of problems) {
      const key = (p.path ?? "non_field_errors").replace(/^body\./, "");
      fields[key] = [...(fields[key] ?? []), p.message];
    }
    return { status, body: fields };
  }
  return { status, body: { detail: body.error.message } };
}
