/** Notifications: the deliveries of a run's `notify:` entries (webhooks, e-mail). */
import * as z from "zod";
import { notificationView } from "../../engine/notify/view.js";
import type { ServerContext } from "../context.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { IdParamsSchema } from "../schemas.js";
import { findRun } from "../views.js";

export const NotificationSchema = z.object({
  id: z.string().describe("Also the X-Baton-Delivery header of a webhook."),
  event: z.enum(["success", "failure", "cancelled", "approval"]),
  kind: z.enum(["webhook", "email"]),
  target: z.string().describe("The URL or addresses as the pipeline file gives them."),
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number().int(),
  lastStatusCode: z
    .number()
    .int()
    .nullable()
    .describe("HTTP status (webhook) or SMTP reply code of the last attempt."),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  nextAttemptAt: z.string().nullable().describe("When a pending delivery is tried again."),
});

export function notificationRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/runs/:id/notifications",
      tag: "runs",
      summary: "The notifications of a run (its notify: entries) and how their delivery went",
      params: IdParamsSchema,
      responses: {
        200: {
          description: "Deliveries, oldest first.",
          schema: z.object({ notifications: z.array(NotificationSchema) }),
        },
        404: { description: "No such run." },
      },
      async handle({ params }) {
        const run = await findRun(ctx.store, params.id);
        const rows = await ctx.store.listNotifications(run.id);
        return { notifications: rows.map(notificationView) };
      },
    }),
  ];
}
