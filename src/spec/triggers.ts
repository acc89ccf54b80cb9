/**
 * `triggers:` of a pipeline: a cron schedule, the end of another pipeline's run (`after:`), or a
 * webhook. Checked here (kind, time zone, names, `with:` values); the server's trigger
 * scheduler (src/server/triggers/) fires them.
 */
import { dict } from "../util/dict.js";
import { isTimeZone } from "./cron.js";
import { checkParamValues } from "./declarations.js";
import { type ParamDecls, type ResolveContext, asRecord, locate } from "./drafts.js";
import { NO_SOURCE } from "./locate.js";
import { type Path, checkName, formatPath } from "./problems.js";
import { ProblemList } from "./problems.js";
import { TriggerSchema } from "./schema.js";
import { checkShape } from "./shape.js";
import { TemplateCache } from "./templates.js";
import type { PipelineSpec, TriggerKind, TriggerSpec } from "./types.js";

const KINDS: readonly TriggerKind[] = ["cron", "after", "webhook"];

/** The name a trigger gets when it has none: `PIPELINE-KIND-N`, N its place in the list from 1. */
export function defaultTriggerName(pipeline: string, kind: TriggerKind, index: number): string {
  return `${pipeline}-${kind}-${index + 1}`;
}

/**
 * Reads a pipeline's `triggers:` list. `names` holds the trigger names seen so far in the file
 * (trigger names are unique in a file: the API and the CLI address a trigger by its name).
 */
export function resolveTriggers(
  raw: unknown,
  pipeline: string,
  path: Path,
  decls: ParamDecls,
  ctx: ResolveContext,
  names: Map<string, Path>,
): TriggerSpec[] {
  const triggers: TriggerSpec[] = [];
  (Array.isArray(raw) ? raw : []).forEach((item, i) => {
    const p = [...path, "triggers", i];
    const t = checkShape(TriggerSchema(), item, p, ctx.problems);
    if (!t.data) return;
    const d = t.data;
    // Kinds as written: a kind with a bad value (reported already) still counts.
    const written = asRecord(item) ?? {};
    const kinds = KINDS.filter((k) => written[k] !== undefined && written[k] !== null);
    if (kinds.length !== 1) {
      ctx.problems.value(
        p,
        kinds.length === 0
          ? "a trigger needs one of cron:, after: or webhook:"
          : `a trigger has one of cron:, after: or webhook:, not ${kinds.join(" and ")}`,
      );
      return;
    }
    const kind = kinds[0]!;
    if (d.timezone !== undefined && kind !== "cron") {
      ctx.problems.key([...p, "timezone"], "timezone: applies to cron triggers only");
    } else if (d.timezone !== undefined && !isTimeZone(d.timezone)) {
      ctx.problems.value(
        [...p, "timezone"],
        `unknown time zone "${d.timezone}" (expected an IANA name such as "Europe/Helsinki" or "UTC")`,
      );
    }
    if (d.catchup !== undefined && kind !== "cron") {
      ctx.problems.key([...p, "catchup"], "catchup: applies to cron triggers only");
    }
    // Its kind's value was wrong (reported already): nothing to fire.
    if (d[kind] === undefined) return;
    const name = d.name ?? defaultTriggerName(pipeline, kind, i);
    if (d.name !== undefined) {
      const bad = checkName("trigger", d.name);
      if (bad) ctx.problems.value([...p, "name"], bad);
    }
    const earlier = names.get(name);
    if (earlier) {
      ctx.problems.value(
        d.name !== undefined ? [...p, "name"] : p,
        `duplicate trigger name "${name}" (also at ${formatPath(earlier)}): trigger names are unique in the file`,
      );
    } else {
      names.set(name, p);
    }
    const values = dict(d.with ?? {});
    const paths = dict(Object.fromEntries(Object.keys(values).map((k) => [k, [...p, "with", k]])));
    checkParamValues(values, decls, `pipeline "${pipeline}"`, ctx, { paths, literal: true });
    // A webhook's payload may give the params the trigger leaves out.
    if (kind !== "webhook") {
      for (const [param, spec] of Object.entries(decls.params)) {
        if (spec.default === undefined && !spec.optional && !Object.hasOwn(values, param)) {
          ctx.problems.value(
            p,
            `trigger does not set param "${param}" of pipeline "${pipeline}", which has no default`,
          );
        }
      }
    }
    const spec: TriggerSpec = {
      name,
      kind,
      overlap: d.overlap ?? "skip",
      catchup: d.catchup ?? "latest",
      with: values,
      loc: locate(ctx, p, "value"),
    };
    if (kind === "cron") spec.cron = d.cron!.trim();
    if (d.timezone !== undefined) spec.timezone = d.timezone;
    if (kind === "after") spec.after = { pipeline: d.after!.pipeline, status: d.after!.status ?? "success" };
    if (kind === "webhook") spec.webhook = d.webhook === true ? {} : { secret: d.webhook!.secret };
    triggers.push(spec);
  });
  return triggers;
}

/**
 * A trigger given over the API (`POST /api/v1/triggers`, the file form of one `triggers:` entry)
 * for `pipeline`: its spec, or the problems found, each at its path under `at`.
 */
export function parseTriggerDefinition(
  raw: unknown,
  pipeline: PipelineSpec,
  at: Path,
): { spec?: TriggerSpec; problems: Array<{ path: Path; message: string }> } {
  const ctx: ResolveContext = {
    file: "body",
    cpus: 1,
    source: NO_SOURCE,
    problems: new ProblemList(),
    templates: new TemplateCache(),
  };
  const specs = resolveTriggers(
    [raw],
    pipeline.name,
    [],
    { params: pipeline.params, unknown: new Set() },
    ctx,
    new Map(),
  );
  const problems = ctx.problems.items.map((p) => {
    // Paths start at `triggers[0]`: put them under `at` instead.
    const rest = p.path.slice(2);
    return { path: [...at, ...rest], message: p.message };
  });
  if (problems.length > 0) return { problems };
  const { loc: _loc, ...spec } = specs[0]!;
  return { spec, problems };
}
