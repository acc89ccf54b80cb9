/**
 * Where user code called the builder: the first stack frame outside the SDK, so that a problem
 * in a `.step(...)` is reported at that call (`sweep.ts:14:4`), as the YAML parser reports a
 * problem at its line in `baton.yaml`.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";

/** A place in a source file. Lines and columns count from 1. */
export interface CallSite {
  /** The file as users see it: relative to the working directory when inside it. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** `at fn (file:///a/b.ts:3:14)`, `at /a/b.ts:3:14`, `at async fn (node:internal/...)`. */
const FRAME = /^\s*at (?:.*? \()?(.+?):(\d+):(\d+)\)?\s*$/;

/**
 * Where `api` (an SDK function) was called from, or undefined when the stack says nothing
 * usable. The stack is cut at `api` by V8 rather than by file names, because source maps
 * (tsx, vitest, `--enable-source-maps`) may show SDK frames under `src/` or `dist/` alike; the
 * text of the stack is what carries those mapped positions. Node's own frames are skipped.
 */
// biome-ignore lint/complexity/noBannedTypes: any function can be where the stack is cut.
export function captureCallSite(api: Function): CallSite | undefined {
  const holder: { stack?: string } = {};
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 10;
  Error.captureStackTrace(holder, api);
  Error.stackTraceLimit = saved;
  for (const line of (holder.stack ?? "").split("\n").slice(1)) {
    const m = FRAME.exec(line);
    const file = m ? toPath(m[1]!) : undefined;
    if (file === undefined) continue;
    return { file: displayPath(file), line: Number(m![2]), column: Number(m![3]) };
  }
  return undefined;
}

function toPath(location: string): string | undefined {
  if (location.startsWith("node:") || location.startsWith("internal/")) return undefined;
  if (location.startsWith("file://")) {
    try {
      return fileURLToPath(location);
    } catch {
      return undefined;
    }
  }
  return path.isAbsolute(location) ? location : undefined;
}

function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

/** `sweep.ts:14:4`. */
export function formatCallSite(site: CallSite): string {
  return `${site.file}:${site.line}:${site.column}`;
}
