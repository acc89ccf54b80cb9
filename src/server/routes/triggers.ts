/**
 * `/triggers`: the triggers the server fires (docs/api.md): list, create, pause, resume, delete,
 * and fire now. `POST /triggers/NAME/fire` is also the webhook of `webhook:` triggers: it takes
 * the API token, or the trigger's own secret in `X-Baton-Secret`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import * as z from "zod";
import { iso } from "../../engine/task-view.js";
import { formatPath } from "../../spec/problems.js";
import { parseTriggerDefinition } from "../../spec/triggers.js";
import type { TriggerStateRow } from "../../store/store.js";
import { requestToken, tokenMatches } from "../auth.js";
import type { ServerContext } from "../context.js";
import { HttpError, conflict, notFound, underField } from "../http-errors.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { RunSummarySchema } from "../schemas.js";
import type { ServedTrigger, TriggerScheduler } from "../triggers/scheduler.js";
import { runSummary } from "../views.js";

const TriggerViewSchema = z.object({
  name: z.string(),
  pipeline: z.string(),
  kind: z.enum(["cron", "after", "webhook"]),
  schedule: z.string().describe('The cron expression, "after PIPELINE: STATUS", or "webhook".'),
  timezone: z.string().nullable().describe("The cron expression's zone; null: the server's."),
  overlap: z.enum(["skip", "queue", "allow"]),
  catchup: z.enum(["latest", "none"]),
  with: z.record(z.string(), z.unknown()),
  paused: z.boolean(),
  source: z.enum(["file", "registered", "api"]),
  where: z.string().describe("file:line:column of a file trigger, the registered definition, or `api`."),
  secret: z.boolean().describe("Whether the webhook takes a secret of its own (never shown)."),
  nextFireAt: z.string().nullable(),
  lastFireAt: z.string().nullable(),
  lastRun: z.object({ id: z.string(), status: z.string() }).nullable(),
  lastOutcome: z
    .object({ outcome: z.string(), message: z.string().nullable(), at: z.string().nullable() })
    .nullable()
    .describe("The latest fire: started, skipped (why), queued or failed."),
});

const NameParamsSchema = z.object({ name: z.string() });

const CreateTriggerBodySchema = z.object({
  pipeline: z.string().describe("A pipeline of the server's baton.yaml, or a registered one."),
  trigger: z
    .record(z.string(), z.unknown())
    .describe(
      "One `triggers:` entry as in a pipeline file: {name, cron|after|webhook, with, timezone, overlap, catchup}.",
    ),
});

export function triggerRoutes(ctx: ServerContext, scheduler: TriggerScheduler, token: string): ApiRoute[] {
  const view = async (t: ServedTrigger, state: TriggerStateRow | undefined) => {
    const [last] = state ? await ctx.store.listTriggerFires(t.spec.name, 1) : [];
    const run = state?.lastRunId ? await ctx.store.getRun(state.lastRunId) : undefined;
    const s = t.spec;
    const from = Math.max(Date.now(), state?.lastSlotAt ?? 0);
    return {
      name: s.name,
      pipeline: t.pipeline,
      kind: s.kind,
      schedule:
        s.kind === "cron"
          ? s.cron!
          : s.kind === "after"
            ? `after ${s.after!.pipeline}: ${s.after!.status}`
            : "webhook",
      timezone: s.timezone ?? null,
      overlap: s.overlap,
      catchup: s.catchup,
      with: s.with,
      paused: state?.paused ?? false,
      source: t.source,
      where: t.where,
      secret: s.webhook?.secret !== undefined,
      nextFireAt: state?.paused ? null : iso(scheduler.nextFire(s, from)),
      lastFireAt: iso(last?.at ?? null),
      lastRun: run ? { id: run.id, status: run.status } : null,
      lastOutcome: last ? { outcome: last.outcome, message: last.message, at: iso(last.at) } : null,
    };
  };
  const findWithState = async (name: string) => {
    const t = await scheduler.find(name).catch((err) => {
      throw notFound(err instanceof Error ? err.message : String(err));
    });
    const state = await ctx.store.ensureTrigger(name, Date.now());
    return { t, state };
  };

  return [
    defineRoute({
      method: "GET",
      path: "/triggers",
      tag: "triggers",
      summary: "Triggers the server fires, with their next fire time and last run",
      responses: {
        200: {
          description: "The triggers, by name.",
          schema: z.object({ triggers: z.array(TriggerViewSchema) }),
        },
      },
      async handle() {
        const states = await ctx.store.listTriggerStates();
        const byName = new Map(states.map((s) => [s.name, s]));
        const list = await scheduler.list(states);
        list.sort((a, b) => a.spec.name.localeCompare(b.spec.name));
        return { triggers: await Promise.all(list.map((t) => view(t, byName.get(t.spec.name)))) };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/triggers",
      tag: "triggers",
      summary: "Create (or replace) a trigger of a pipeline",
      description:
        "The trigger is kept in the database (every server sharing it fires it, once). Its name may not be that of a trigger of a pipeline file or registered pipeline.",
      body: CreateTriggerBodySchema,
      responses: {
        201: { description: "Created.", schema: z.object({ trigger: TriggerViewSchema }) },
        400: { description: "A bad trigger (problems at `body.trigger...`)." },
        404: { description: "No pipeline of that name." },
        409: { description: "A trigger of that name comes from a pipeline file." },
      },
      async handle({ body, reply }) {
        let target: ReturnType<typeof ctx.catalog.byName>;
        try {
          target = ctx.catalog.byName(body.pipeline);
        } catch (err) {
          throw underField(err, "body");
        }
        const parsed = parseTriggerDefinition(body.trigger, target.pipeline, ["body", "trigger"]);
        if (!parsed.spec) {
          const problems = parsed.problems.map((p) => ({ path: formatPath(p.path), message: p.message }));
          throw new HttpError(
            400,
            "BAD_REQUEST",
            problems.map((p) => `${p.path}: ${p.message}`).join("\n"),
            problems,
          );
        }
        const spec = parsed.spec;
        if (body.trigger.name === undefined) spec.name = `${body.pipeline}-${spec.kind}`;
        const existing = (await scheduler.list()).find((t) => t.spec.name === spec.name);
        if (existing && existing.source !== "api") {
          throw conflict(`trigger "${spec.name}" is defined in ${existing.where}: pick another name`);
        }
        await ctx.store.putTriggerDefinition(
          spec.name,
          { pipeline: target.pipeline.name, trigger: spec },
          Date.now(),
        );
        const { t, state } = await findWithState(spec.name);
        reply.code(201);
        return { trigger: await view(t, state) };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/triggers/:name/pause",
      tag: "triggers",
      summary: "Pause a trigger (it does not fire until resumed)",
      params: NameParamsSchema,
      responses: {
        200: { description: "Paused.", schema: z.object({ trigger: TriggerViewSchema }) },
        404: { description: "No such trigger." },
      },
      async handle({ params }) {
        await findWithState(params.name);
        await ctx.store.setTriggerPaused(params.name, true, Date.now());
        const { t, state } = await findWithState(params.name);
        return { trigger: await view(t, state) };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/triggers/:name/resume",
      tag: "triggers",
      summary: "Resume a paused trigger (fires missed while paused are not caught up)",
      params: NameParamsSchema,
      responses: {
        200: { description: "Resumed.", schema: z.object({ trigger: TriggerViewSchema }) },
        404: { description: "No such trigger." },
      },
      async handle({ params }) {
        await findWithState(params.name);
        await ctx.store.setTriggerPaused(params.name, false, Date.now());
        const { t, state } = await findWithState(params.name);
        return { trigger: await view(t, state) };
      },
    }),

    defineRoute({
      method: "DELETE",
      path: "/triggers/:name",
      tag: "triggers",
      summary: "Delete a trigger created with POST /triggers",
      params: NameParamsSchema,
      responses: {
        200: { description: "Deleted.", schema: z.object({ deleted: z.string() }) },
        404: { description: "No such trigger." },
        409: { description: "The trigger comes from a pipeline file: remove it there." },
      },
      async handle({ params }) {
        const { t } = await findWithState(params.name);
        if (t.source !== "api") {
          throw conflict(
            `trigger "${params.name}" is defined in ${t.where}: remove it from there (or pause it)`,
          );
        }
        await ctx.store.deleteTrigger(params.name);
        return { deleted: params.name };
      },
    }),

    defineRoute({
      method: "POST",
      path: "/triggers/:name/fire",
      tag: "triggers",
      auth: false,
      summary: "Fire a trigger now (and the webhook of `webhook:` triggers)",
      description:
        "Starts a run of the trigger's pipeline at once, whatever its `overlap:` says, with the JSON body's fields over the trigger's `with:` as params (checked like -p values). Takes the API token, or for a webhook trigger with a secret, that secret in `X-Baton-Secret`. Fires even when the trigger is paused.",
      params: NameParamsSchema,
      body: z.record(z.string(), z.unknown()).optional(),
      responses: {
        201: { description: "The run, started.", schema: z.object({ run: RunSummarySchema }) },
        400: { description: "A payload field that is not a param of the pipeline, or a bad value (named)." },
        401: { description: "No secret, and no (or a wrong) token." },
        403: { description: "A wrong secret (X-Baton-Secret)." },
        404: { description: "No such trigger." },
      },
      async handle({ params, body, req, reply }) {
        const known = await scheduler.find(params.name).catch(() => undefined);
        try {
          checkFireAuth(req, token, known);
        } catch (err) {
          if (err instanceof HttpError && err.status === 401)
            reply.header("www-authenticate", 'Bearer realm="baton"');
          throw err;
        }
        const { t } = await findWithState(params.name);
        let run: Awaited<ReturnType<typeof scheduler.fireNow>>;
        try {
          run = await scheduler.fireNow(t, body ?? {});
        } catch (err) {
          throw underField(err, "body");
        }
        reply.code(201).header("location", `/api/v1/runs/${run.id}`);
        return { run: await runSummary(ctx, run) };
      },
    }),
  ];
}

/**
 * Who may fire: the API token, or a webhook trigger's own secret (`X-Baton-Secret`), compared
 * in constant time. No (or a wrong) token and no secret is 401, like every route; a wrong
 * secret is 403.
 */
function checkFireAuth(req: FastifyRequest, token: string, t: ServedTrigger | undefined): void {
  if (tokenMatches(requestToken(req), token)) return;
  const header = req.headers["x-baton-secret"];
  const secret = typeof header === "string" ? header : undefined;
  if (secret === undefined) {
    throw new HttpError(
      401,
      "UNAUTHORIZED",
      "missing or wrong token: send Authorization: Bearer <token>, or the webhook trigger's secret in X-Baton-Secret",
    );
  }
  const own = t?.spec.webhook?.secret;
  if (own !== undefined && sameSecret(secret, own)) return;
  throw new HttpError(403, "FORBIDDEN", "wrong secret for this trigger (X-Baton-Secret)");
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
