/** Files over HTTP: task logs and output blobs from the content store. */
import type { FastifyReply } from "fastify";
import { isTerminal } from "../../store/store.js";
import type { ServerContext } from "../context.js";
import { notFound } from "../http-errors.js";
import { MAX_LOG_BYTES, followLog, logHeaders, openLog } from "../log-stream.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { ArtifactParamsSchema, ArtifactQuerySchema, IdParamsSchema, LogQuerySchema } from "../schemas.js";
import { findTask } from "../views.js";

export function fileRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/tasks/:id/log",
      tag: "tasks",
      summary: "A task's log",
      description: `The latest attempt's log (or \`attempt\`'s). Without \`follow\`, at most the last ${MAX_LOG_BYTES / 1024 / 1024} MiB, with \`X-Baton-Log-Truncated: <bytes left out>\` when cut. With \`follow=1\`, a chunked stream until the task ends.`,
      params: IdParamsSchema,
      query: LogQuerySchema,
      responses: {
        200: { description: "The log text.", contentType: "text/plain" },
        404: { description: "No such task or attempt." },
      },
      async handle({ params, query, req, reply }) {
        const task = await findTask(ctx.store, params.id);
        const attempts = await ctx.store.listAttempts(task.id);
        const attempt =
          query.attempt === undefined ? attempts.at(-1) : attempts.find((a) => a.number === query.attempt);
        if (query.attempt !== undefined && !attempt) {
          throw notFound(`task ${task.id} has no attempt ${query.attempt} (it has ${attempts.length})`);
        }
        const stillRunning = !isTerminal(task.status) && (attempt === undefined || attempt.endedAt === null);
        if (query.follow && (stillRunning || query.attempt === undefined)) {
          return followLog(ctx, task, attempt, query.attempt !== undefined, req, reply);
        }
        return sendLogTail(reply, attempt);
      },
    }),

    defineRoute({
      method: "GET",
      path: "/artifacts/:sha256",
      tag: "artifacts",
      summary: "Download an output file by its content hash",
      params: ArtifactParamsSchema,
      query: ArtifactQuerySchema,
      responses: {
        200: { description: "The file's bytes.", contentType: "application/octet-stream" },
        400: { description: "Not a sha256." },
        404: { description: "No such file in the content store." },
      },
      async handle({ params, query, req, reply }) {
        // The schema let through 64 lowercase hex characters only: nothing else becomes a path.
        const opened = await openLog(ctx.engine.cas.pathOf(params.sha256));
        if (!opened) throw notFound(`no artifact ${params.sha256}`);
        const etag = `"${params.sha256}"`;
        reply.headers({
          etag,
          "cache-control": "private, max-age=31536000, immutable",
          "x-content-type-options": "nosniff",
          "content-disposition": attachment(query.name ?? params.sha256),
        });
        if (req.headers["if-none-match"] === etag) {
          await opened.handle.close();
          return reply.code(304).send();
        }
        reply.type("application/octet-stream").header("content-length", opened.size);
        if (opened.size === 0) {
          await opened.handle.close();
          return reply.send(Buffer.alloc(0));
        }
        return reply.send(opened.handle.createReadStream({ start: 0, end: opened.size - 1 }));
      },
    }),
  ];
}

/** The end of a log, at most {@link MAX_LOG_BYTES}, saying so in a header when cut. */
async function sendLogTail(
  reply: FastifyReply,
  attempt: { number: number; logPath: string } | undefined,
): Promise<FastifyReply> {
  reply.headers(logHeaders(attempt));
  const opened = attempt ? await openLog(attempt.logPath) : undefined;
  if (!opened || opened.size === 0) {
    await opened?.handle.close();
    return reply.send("");
  }
  const start = Math.max(0, opened.size - MAX_LOG_BYTES);
  reply.header("x-baton-log-size", opened.size);
  if (start > 0) reply.header("x-baton-log-truncated", start);
  reply.header("content-length", opened.size - start);
  return reply.send(opened.handle.createReadStream({ start, end: opened.size - 1 }));
}

/** `Content-Disposition` for a download, the name reduced to a safe base name. */
export function attachment(name: string): string {
  const base = name.split(/[\\/]/).pop() || "download";
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}
