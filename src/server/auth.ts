/**
 * Bearer-token checks. Every API route but `/healthz` needs the token, sent as
 * `Authorization: Bearer <token>` (or `Token <token>`, as Valohai's API takes it) or, where a browser cannot set headers (EventSource, download
 * links), as `?token=<token>`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";

/** The token a request carries, if any. */
export function requestToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === "string") {
    // `Token <token>` too: the scheme Valohai's API uses, so its scripts work unchanged.
    const match = /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  const query = req.query as Record<string, unknown> | undefined;
  const fromQuery = query?.token;
  if (typeof fromQuery === "string" && fromQuery !== "") return fromQuery;
  return undefined;
}

/**
 * Whether `given` is the token, in time independent of where they differ. Both sides are
 * hashed first so that the comparison also does not reveal the token's length.
 */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}
