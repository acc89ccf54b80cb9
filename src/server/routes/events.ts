/** `GET /events`: every engine event as Server-Sent Events, written by hand on the raw response. */
import type { EngineEvent } from "../../engine/engine.js";
import type { ServerContext } from "../context.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { EventsQuerySchema } from "../schemas.js";

/** A client that does not read its events is dropped rather than buffered without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function eventRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/events",
      tag: "events",
      summary: "Engine events, as Server-Sent Events",
      description:
        "Each engine event as `event: <type>` (run-started, task, tasks-added, run-ended) with its JSON as `data:`, from this server's engine and every other server sharing its database; a comment line every 15 s keeps the connection open. Browsers pass the token as `?token=`.",
      query: EventsQuerySchema,
      responses: { 200: { description: "An endless event stream.", contentType: "text/event-stream" } },
      async handle({ query, reply }) {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          connection: "keep-alive",
          "x-accel-buffering": "no",
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
        });
        res.write(": baton events\nretry: 3000\n\n");
        let sequence = 0;
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          clearInterval(heartbeat);
          ctx.streams.delete(stream);
          if (!res.writableEnded) res.end();
        };
        const stream = { end };
        const send = (event: EngineEvent) => {
          if (ended || (query.run !== undefined && event.runId !== query.run)) return;
          if (res.writableLength > MAX_BUFFERED_BYTES) {
            end();
            return;
          }
          sequence++;
          res.write(`id: ${sequence}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        };
        const unsubscribe = ctx.bus.on(send);
        const heartbeat = setInterval(() => {
          if (!ended) res.write(": heartbeat\n\n");
        }, ctx.timings.heartbeatMs);
        ctx.streams.add(stream);
        res.on("close", end);
        return reply;
      },
    }),
  ];
}
