import { ulid } from "./ulid.js";

/**
 * Run and task ids: the kind, an underscore, then a ULID (`run_01J9ZK3F9Q...`,
 * `task_01J9ZK3F9R...`). Databases written before ids carried their kind hold bare ULIDs;
 * those stay valid ids, and a bare ULID also names the kinded id it belongs to.
 */
export type IdKind = "run" | "task";

export const ID_KINDS: readonly IdKind[] = ["run", "task"];

/** Fewest characters of a ULID (after the kind, if given) that a prefix must have. */
export const MIN_PREFIX = 4;

export const newRunId = (): string => `run_${ulid()}`;
export const newTaskId = (): string => `task_${ulid()}`;
/** An engine's id (`eng_<ULID>`): who drives a run, and holds its pool slots (see engine/ownership.ts). */
export const newEngineId = (): string => `eng_${ulid()}`;

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]*$/;

/** What an "id or prefix" typed by a user asks for. */
export type IdQuery =
  /** Kinds it may name, and the ULID part (upper case), whole or a prefix of it. */
  | { ok: true; kinds: readonly IdKind[]; ulid: string }
  /** Why it can name nothing: too short (`short`), or characters no id has (`invalid`). */
  | { ok: false; reason: "short" | "invalid"; message: string };

/**
 * Parses an id or id prefix: `run_01J9ZK`, `task_01J9`, or a bare `01J9ZK3F` (any kind, and
 * the plain ULIDs of older databases). Case does not matter. Pure: the store does the lookup.
 */
export function parseIdQuery(text: string): IdQuery {
  const m = /^([a-z]+)_(.*)$/i.exec(text);
  let kinds: readonly IdKind[] = ID_KINDS;
  let rest = text;
  if (m) {
    const kind = m[1]!.toLowerCase();
    if (kind !== "run" && kind !== "task") {
      return {
        ok: false,
        reason: "invalid",
        message: `"${text}" is not an id: ids start with run_ or task_`,
      };
    }
    kinds = [kind];
    rest = m[2]!;
  } else if (text.length > 0 && ID_KINDS.some((k) => `${k}_`.startsWith(text.toLowerCase()))) {
    return { ok: false, reason: "short", message: tooShort(text, "") };
  }
  const upper = rest.toUpperCase();
  if (!CROCKFORD.test(upper) || upper.length > 26) {
    return {
      ok: false,
      reason: "invalid",
      message: `"${text}" is not an id: an id is run_ or task_ and 26 letters and digits (a ULID)`,
    };
  }
  if (upper.length < MIN_PREFIX)
    return { ok: false, reason: "short", message: tooShort(text, m ? `${kinds[0]}_` : "") };
  return { ok: true, kinds, ulid: upper };
}

function tooShort(text: string, kind: string): string {
  return `"${text}" is too short to name a run or task: give at least ${MIN_PREFIX} characters${
    kind ? ` after "${kind}"` : ""
  } (e.g. ${kind || "run_"}01J9ZK)`;
}
