import { dict, setOwn } from "../util/dict.js";
/**
 * Task settings (`pool`, `retries`, `timeout`, `cache`, `priority`, `env`) folded from
 * `defaults:` to a step to a node: keys given win, `env` merges by variable.
 */
import type { ResolveContext } from "./drafts.js";
import { parseDuration } from "./duration.js";
import { type Path, quoteList, suggest } from "./problems.js";
import { reservedTaskEnvProblem } from "./reserved-env.js";
import type { SettingsFile } from "./schema.js";
import type { DefaultsSpec, PoolSpec, TaskSettings } from "./types.js";

/** Settings when the file says nothing: local pool, no retry, no timeout, cache on. */
export const BUILTIN_DEFAULTS: DefaultsSpec = {
  pool: "local",
  retries: { limit: 0, backoffMs: 0 },
  cache: { enabled: true, deps: [] },
  priority: 0,
  env: {},
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Settings of `raw` over `base` (keys given win; `env` merges by variable). Pools must exist.
 * `keyPath` says where each key was written; `envOrigin` records where each variable came from.
 */
export function applySettings(
  base: TaskSettings,
  raw: SettingsFile,
  keyPath: (key: string) => Path,
  pools: Record<string, PoolSpec>,
  ctx: ResolveContext,
  envOrigin: Record<string, Path>,
): TaskSettings {
  const out: TaskSettings = {
    pool: base.pool,
    retries: { ...base.retries },
    cache: { enabled: base.cache.enabled, deps: [...base.cache.deps] },
    priority: base.priority,
    env: dict(base.env),
  };
  let timeoutMs = base.timeoutMs;
  if (raw.pool !== undefined) {
    out.pool = raw.pool;
    if (!Object.hasOwn(pools, raw.pool)) {
      const known = Object.keys(pools);
      const hint = suggest(raw.pool, known) || ` (pools: ${quoteList(known, "and")})`;
      ctx.problems.value(keyPath("pool"), `unknown pool "${raw.pool}"${hint}`);
    }
  }
  if (typeof raw.retries === "number") out.retries.limit = raw.retries;
  else if (raw.retries) {
    if (raw.retries.limit !== undefined) out.retries.limit = raw.retries.limit;
    if (raw.retries.backoff !== undefined) out.retries.backoffMs = parseDuration(raw.retries.backoff) ?? 0;
  }
  if (raw.timeout === null) timeoutMs = undefined;
  else if (raw.timeout !== undefined) {
    const ms = parseDuration(raw.timeout);
    if (ms === 0)
      ctx.problems.value(keyPath("timeout"), "timeout must be longer than 0 (leave it out for no limit)");
    else if (ms !== undefined) timeoutMs = ms;
  }
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  applyTaskIoSettings(out, base, raw, keyPath, ctx);
  if (typeof raw.cache === "boolean") out.cache.enabled = raw.cache;
  else if (raw.cache) {
    if (raw.cache.enabled !== undefined) out.cache.enabled = raw.cache.enabled;
    if (raw.cache.deps !== undefined) out.cache.deps = [...raw.cache.deps];
  }
  if (raw.priority !== undefined) out.priority = raw.priority;
  // Gates: `on-error:` is not inherited here (a pipeline's comes between defaults and steps).
  if (raw["on-error"] !== undefined) out.onError = raw["on-error"];
  for (const [name, value] of Object.entries(raw.env ?? {})) {
    const path = [...keyPath("env"), name];
    if (!ENV_NAME.test(name)) {
      ctx.problems.key(path, `invalid environment variable name "${name}" (use letters, digits and "_")`);
    }
    const reserved = reservedTaskEnvProblem(name);
    if (reserved) ctx.problems.key(path, reserved);
    out.env[name] = String(value);
    setOwn(envOrigin, name, path);
  }
  return out;
}

/** Task I/O settings (`no-output-timeout`, `image`, `compat`) of `raw` over `base`. */
function applyTaskIoSettings(
  out: TaskSettings,
  base: TaskSettings,
  raw: SettingsFile,
  keyPath: (key: string) => Path,
  ctx: ResolveContext,
): void {
  let silence = base.noOutputTimeout;
  const given = raw["no-output-timeout"];
  if (given === null) silence = undefined;
  else if (given !== undefined) {
    const ms = parseDuration(given);
    if (ms === 0)
      ctx.problems.value(
        keyPath("no-output-timeout"),
        "no-output-timeout must be longer than 0 (leave it out for no limit)",
      );
    else if (ms !== undefined) silence = { ms, text: typeof given === "number" ? `${given}s` : given.trim() };
  }
  if (silence !== undefined) out.noOutputTimeout = { ...silence };
  const image = raw.image ?? base.image;
  if (image !== undefined) out.image = image;
  const compat = raw.compat ?? base.compat;
  if (compat !== undefined) out.compat = compat;
}
