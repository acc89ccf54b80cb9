/** Gates: `/tasks/:id/approve|reject`: the decision on a task waiting for approval. */
import { runOwner } from "../../engine/ownership.js";
import { rootRun } from "../../store/store.js";
import type { ServerContext } from "../context.js";
import { conflict } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { ApprovalBodySchema, IdParamsSchema, TaskDetailSchema } from "../schemas.js";
import { findTask, taskDetail } from "../views.js";

export function approvalRoutes(ctx: ServerContext): ApiRoute[] {
  return (["approve", "reject"] as const).map((verb) =>
    defineRoute({
      method: "POST",
      path: `/tasks/:id/${verb}`,
      tag: "tasks",
      summary:
        verb === "approve" ? "Approve a task waiting for approval" : "Reject a task waiting for approval",
      description:
        verb === "approve"
          ? "A task in status `waiting` (its node has `approval:`) is queued and runs. The decision (who, when, comment) is recorded in its `approval` field."
          : 'A task in status `waiting` fails with "rejected by WHO: COMMENT"; nodes that need it to succeed are skipped.',
      params: IdParamsSchema,
      body: ApprovalBodySchema,
      responses: {
        200: { description: "The task, after the decision.", schema: TaskDetailSchema },
        409: {
          description:
            "The task is not waiting for approval, or an engine that takes no messages (`baton run`) drives it.",
        },
        503: { description: "The server driving it did not answer." },
      },
      async handle({ params, body }) {
        const task = await findTask(ctx.store, params.id);
        if (task.status !== "waiting") {
          throw conflict(
            `task ${task.id} is not waiting for approval (it is ${task.status}): nothing to ${verb}`,
          );
        }
        const decision = {
          approved: verb === "approve",
          by: body?.by ?? "api",
          at: Date.now(),
          comment: body?.comment ?? null,
        };
        if (!(await ctx.engine.decideApproval(task.id, decision))) {
          const run = await rootRun(ctx.store, (await ctx.store.getRun(task.runId))!);
          // Another server's engine drives it: asked through the bus (see bus-relay.ts).
          if (await ctx.bus.askOwner(run, { op: "decide", taskId: task.id, decision }))
            return taskDetail(ctx.store, (await ctx.store.getTask(task.id))!);
          const owner = await runOwner(ctx.store, run);
          if (owner.live) {
            throw conflict(
              `task ${task.id} is not driven by this server but by ${owner.label}: ${verb} it there`,
            );
          }
          // No live engine drives it: the decision is recorded, and a resume goes on from it.
          await ctx.store.decideApproval(task.id, decision);
        }
        return taskDetail(ctx.store, (await ctx.store.getTask(task.id))!);
      },
    }),
  );
}
