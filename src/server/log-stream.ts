/**
 * Task logs over HTTP: the tail of a finished log (at most {@link MAX_LOG_BYTES}), or a chunked
 * `text/plain` stream that follows the log as the task writes it, polling the file and the
 * store, until the task ends.
 */
import { once } from "node:events";
import fs from "node:fs";
import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type AttemptRow, type TaskRow, isTerminal } from "../store/store.js";
import type { ServerContext } from "./context.js";
import { sleep } from "./routes/util.js";

/** A log read without `follow` is cut to its last 10 MiB. */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;

const CHUNK = 64 * 1024;

/** Headers of every log response. */
export function logHeaders(attempt: Pick<AttemptRow, "number"> | undefined): Record<string, string> {
  return {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-baton-log-attempt": attempt ? String(attempt.number) : "none",
  };
}

/**
 * Opens a log file for reading, or returns undefined when there is none yet. Only regular files
 * are read: a FIFO or device planted in a task folder must not hang or leak anything.
 */
export async function openLog(
  file: string,
): Promise<{ handle: fs.promises.FileHandle; size: number } | undefined> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(
      file,
      fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
    );
  } catch {
    return undefined;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    return undefined;
  }
  return { handle, size: stat.size };
}

/**
 * Streams a task's log until the task ends: the latest attempt, switching to the next one when
 * the task is retried (with a `--- attempt N ---` line), or only `pinned` when an attempt was asked for.
 */
export async function followLog(
  ctx: ServerContext,
  task: TaskRow,
  first: AttemptRow | undefined,
  pinned: boolean,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, logHeaders(first));
  res.flushHeaders();
  let closed = false;
  const stream = {
    end: () => {
      closed = true;
      if (!res.writableEnded) res.end();
    },
  };
  ctx.streams.add(stream);
  res.on("close", () => {
    closed = true;
  });
  req.raw.on("close", () => {
    if (req.raw.destroyed && !res.writableEnded) closed = true;
  });
  let attempt = first;
  let offset = 0;
  try {
    while (!closed) {
      if (attempt) offset = await copyFrom(attempt.logPath, offset, res, () => closed);
      const current = await ctx.store.getTask(task.id);
      const attempts = await ctx.store.listAttempts(task.id);
      if (pinned) {
        const row = attempts.find((a) => a.number === attempt?.number);
        if (!current || !row || row.endedAt !== null) {
          if (attempt) await copyFrom(attempt.logPath, offset, res, () => closed);
          break;
        }
      } else {
        const latest = attempts.at(-1);
        if (latest && latest.number !== attempt?.number) {
          if (attempt) {
            await copyFrom(attempt.logPath, offset, res, () => closed);
            res.write(`--- attempt ${latest.number} ---\n`);
          }
          attempt = latest;
          offset = 0;
          continue;
        }
        if (!current || isTerminal(current.status)) {
          if (attempt) await copyFrom(attempt.logPath, offset, res, () => closed);
          break;
        }
      }
      await sleep(ctx.timings.pollMs);
    }
  } finally {
    ctx.streams.delete(stream);
    if (!res.writableEnded) res.end();
  }
  return reply;
}

/** Writes what the file holds past `offset`, minding backpressure; returns the new offset. */
async function copyFrom(
  file: string,
  offset: number,
  res: ServerResponse,
  closed: () => boolean,
): Promise<number> {
  const opened = await openLog(file);
  if (!opened) return offset;
  const { handle } = opened;
  try {
    const buf = Buffer.alloc(CHUNK);
    while (!closed()) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      if (bytesRead <= 0) break;
      offset += bytesRead;
      if (!res.write(Buffer.from(buf.subarray(0, bytesRead)))) {
        await Promise.race([once(res, "drain"), once(res, "close")]);
      }
    }
    return offset;
  } finally {
    await handle.close();
  }
}
