/**
 * Gates: `approval:`, `actions:` and `on-error:` of steps and nodes, resolved with where each
 * part was written (docs/pipeline-file.md, "On error, actions, approval"). Pure.
 */
import { type ResolveContext, type Site, site } from "./drafts.js";
import type { Path } from "./problems.js";
import type { ActionFile } from "./schema.js";
import { hasTemplate } from "./templates.js";
import type { ActionSpec, ActionThen, ActionWhen } from "./types.js";

/** `approval: true | "message"` as a message ("" for true); undefined for none or false. */
export function resolveApproval(value: boolean | string | undefined): string | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? "" : value;
}

/**
 * `actions:` entries, checked: `require-approval` only with `node-starting`; each `if` is a
 * template site of kind `action` (bare expressions are wrapped, as for `if:`).
 */
export function resolveActions(
  raw: ActionFile[] | undefined,
  path: Path,
  ctx: ResolveContext,
  shared: boolean,
): { actions: ActionSpec[] | undefined; sites: Site[] } {
  if (raw === undefined) return { actions: undefined, sites: [] };
  const sites: Site[] = [];
  const actions = raw.map((entry, i): ActionSpec => {
    const at = [...path, i];
    const when: ActionWhen[] = Array.isArray(entry.when) ? [...entry.when] : [entry.when];
    const then: ActionThen[] = Array.isArray(entry.then) ? [...entry.then] : [entry.then];
    if (then.includes("require-approval") && when.some((w) => w !== "node-starting")) {
      const other = when.find((w) => w !== "node-starting");
      ctx.problems.value(
        [...at, "then"],
        `require-approval is only allowed with when: node-starting (this action has when: ${other}): a task can only be held before it starts`,
      );
    }
    const conditions = entry.if === undefined ? [] : Array.isArray(entry.if) ? entry.if : [entry.if];
    const ifs = conditions.map((c, j) => {
      const p = Array.isArray(entry.if) ? [...at, "if", j] : [...at, "if"];
      if (hasTemplate(c)) {
        sites.push(site(c, p, "action", "if", { shared }));
        return c;
      }
      const wrapped = `\${{ ${c} }}`;
      sites.push({ ...site(wrapped, p, "action", "if", { shared }), shift: 4 });
      return wrapped;
    });
    return { when, if: ifs, then };
  });
  return { actions, sites };
}
