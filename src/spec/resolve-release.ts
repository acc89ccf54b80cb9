/**
 * Releases: a `release: { name, files }` node (a Valohai deployment node). It runs no command:
 * when its needs are met the files its `files:` template selects are kept as a new version of
 * release NAME, and become the node's outputs. Resolved as a task node whose one input, `files`,
 * is bound to the template, so files are selected exactly as any input's are.
 */
import { dict } from "../util/dict.js";
import { type RawNode, type ResolveContext, type Site, site } from "./drafts.js";
import type { NodeFile } from "./schema.js";
import { applySettings } from "./settings.js";
import { hasTemplate } from "./templates.js";
import type { NeedSpec, PoolSpec, SourceLocation, TaskNodeSpec, TaskSettings } from "./types.js";

/** The input a release node's files are bound to. */
export const RELEASE_INPUT = "files";

/** Keys of a node that a release node accepts besides `release:` (the rest mean running a command). */
const RELEASE_KEYS = new Set(["release", "needs", "if", "cache", "name"]);

/** Characters a release name may not hold (it is a folder-like name in URLs and on disk). */
const FORBIDDEN = /[./\\[\]{}$"'`]/;

function hasControl(name: string): boolean {
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** What is wrong with a release name, or undefined. */
export function releaseNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 200)
    return `release name must be 1 to 200 characters long, found ${name.length}`;
  if (name.trim() !== name) return `release name "${name}" starts or ends with whitespace`;
  if (FORBIDDEN.test(name) || hasControl(name))
    return `invalid release name ${JSON.stringify(name)} (no control characters and none of . / \\ [ ] { } $ " ' \`)`;
  return undefined;
}

export interface ReleaseNodeParts {
  name: string;
  needs: NeedSpec[];
  loc: SourceLocation;
  path: string;
  if?: string;
}

/**
 * Resolves a release node; its problems go to `ctx.problems`. Returns the task spec and the
 * template sites of `files:`, or undefined when the node cannot be resolved.
 */
export function resolveReleaseNode(
  raw: RawNode,
  body: NodeFile,
  common: ReleaseNodeParts,
  defaults: TaskSettings,
  pools: Record<string, PoolSpec>,
  ctx: ResolveContext,
): { spec: TaskNodeSpec; sites: Site[] } | undefined {
  const release = body.release!;
  const { keyPath } = raw;
  let ok = true;
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || RELEASE_KEYS.has(key)) continue;
    ctx.problems.key(
      keyPath(key),
      `${key}: cannot be used on a release node (it runs no command; it keeps release:.files as release "${release.name}")`,
    );
    ok = false;
  }
  for (const edge of raw.edgeBindings) {
    ctx.problems.value(
      edge.path,
      `node "${raw.name}" is a release node: it takes its files from release.files`,
    );
    ok = false;
  }
  for (const edge of raw.edgeWith) {
    ctx.problems.value(edge.path, `node "${raw.name}" is a release node: it has no params`);
    ok = false;
  }
  const nameProblem = releaseNameProblem(release.name);
  if (nameProblem) {
    ctx.problems.value([...keyPath("release"), "name"], nameProblem);
    ok = false;
  }
  const filesPath = [...keyPath("release"), "files"];
  const files = typeof release.files === "string" ? release.files : [...release.files];
  if (Array.isArray(files) && files.length === 0) {
    ctx.problems.value(filesPath, "release.files selects nothing: give a template or at least one glob");
    ok = false;
  }
  if (!ok) return undefined;
  const sites: Site[] = [];
  (typeof files === "string" ? [files] : files).forEach((v, i) => {
    if (hasTemplate(v))
      sites.push(site(v, typeof files === "string" ? filesPath : [...filesPath, i], "task", "inputs"));
  });
  const settings = applySettings(defaults, { cache: body.cache }, keyPath, pools, ctx, dict());
  return {
    spec: {
      kind: "task",
      ...common,
      with: {},
      // Shown as the task's command, and part of its cache key; never run.
      run: `release ${release.name}`,
      inputs: { [RELEASE_INPUT]: { optional: false } },
      bindings: { [RELEASE_INPUT]: files },
      params: {},
      outputs: [],
      ...settings,
      env: {},
      retries: { limit: 0, backoffMs: 0 },
      release: { name: release.name },
    },
    sites,
  };
}
