/**
 * `notify:` entries (pipeline level and `defaults:`): shape, events, and the templates they may
 * hold (`secret:` and `webhook:` may read `env.*`, the sending engine's environment). Pure.
 */
import { dict } from "../util/dict.js";
import { type ResolveContext, locate } from "./drafts.js";
import { ExpressionError, collectReferences, parseTemplate } from "./expressions.js";
import type { Path } from "./problems.js";
import { NotifyEventSchema, NotifySchema } from "./schema.js";
import { checkShape } from "./shape.js";
import type { NotifyEvent, NotifySpec } from "./types.js";

/** What `on:` means when left out: every event. */
export const ALL_NOTIFY_EVENTS: readonly NotifyEvent[] = ["success", "failure", "cancelled", "approval"];

/** Resolves a `notify:` list at `path`; problems go to the context's list. */
export function resolveNotify(raw: unknown, path: Path, ctx: ResolveContext): NotifySpec[] {
  const notify: NotifySpec[] = [];
  (Array.isArray(raw) ? raw : []).forEach((entry, i) => {
    const p = [...path, i];
    const n = checkShape(NotifySchema(), entry, p, ctx.problems);
    if (!n.data) return;
    const on: NotifyEvent[] = [];
    if (n.data.on === undefined) on.push(...ALL_NOTIFY_EVENTS);
    const single = typeof n.data.on === "string";
    const given = n.data.on === undefined ? [] : typeof n.data.on === "string" ? [n.data.on] : n.data.on;
    given.forEach((event, j) => {
      const ok = NotifyEventSchema().safeParse(event);
      if (!ok.success) {
        const where = single ? [...p, "on"] : [...p, "on", j];
        ctx.problems.value(
          where,
          `unknown event "${event}" (expected success, failure, cancelled or approval)`,
        );
      } else if (!on.includes(ok.data)) on.push(ok.data);
    });
    for (const key of ["webhook", "secret"] as const) {
      const value = n.data[key];
      if (value !== undefined) checkEnvOnly(value, [...p, key], ctx);
    }
    const spec: NotifySpec = { on };
    if (n.data.webhook !== undefined) spec.webhook = n.data.webhook;
    if (n.data.secret !== undefined) spec.secret = n.data.secret;
    if (n.data.format !== undefined) spec.format = n.data.format;
    if (n.data.email !== undefined) spec.email = [...new Set(n.data.email)];
    spec.loc = locate(ctx, p, "value");
    notify.push(spec);
  });
  return notify;
}

/** A template in a notify entry may only read `env.NAME` (nothing of a run is known there). */
function checkEnvOnly(value: string, path: Path, ctx: ResolveContext): void {
  if (!value.includes("${{")) return;
  try {
    for (const ref of collectReferences(parseTemplate(value))) {
      if (ref.root !== "env") {
        ctx.problems.value(path, `notify templates may only read env.NAME, not "${ref.root}"`, ref.offset);
        return;
      }
    }
  } catch (err) {
    if (err instanceof ExpressionError) ctx.problems.value(path, err.message);
    else throw err;
  }
}

/** The environment a notify template is evaluated with. */
export function notifyContext(env: NodeJS.ProcessEnv): Record<string, unknown> {
  return { env: dict(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined))) };
}
