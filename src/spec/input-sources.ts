/**
 * What an input's source string is (pure: no I/O): a path or glob of the working folder, an
 * `http://` / `https://` URL (downloaded by the engine into the content store), or a URL of a
 * scheme Baton cannot fetch (`s3://`, `gs://`, `azure://`, `datum://`, `ftp://`…).
 */
import type { Path, ProblemList } from "./problems.js";
import { hasTemplate } from "./templates.js";

export type InputSource =
  | { kind: "path" }
  | { kind: "url"; url: URL }
  | { kind: "unsupported"; scheme: string };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Classifies one input source string (see the module comment). */
export function classifyInputSource(value: string): InputSource {
  const m = SCHEME.exec(value);
  if (!m) return { kind: "path" };
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== "http" && scheme !== "https") return { kind: "unsupported", scheme };
  try {
    return { kind: "url", url: new URL(value) };
  } catch {
    return { kind: "unsupported", scheme };
  }
}

/** Why `value` cannot be an input source of `input`, or undefined. */
export function inputSourceProblem(input: string, value: string): string | undefined {
  const source = classifyInputSource(value);
  if (source.kind !== "unsupported") return undefined;
  if (source.scheme === "http" || source.scheme === "https")
    return `input "${input}": invalid URL "${value}"`;
  return `input "${input}": ${source.scheme}:// URLs are not supported ("${value}"); use an http:// or https:// URL or a path in the working folder`;
}

/** Reports literal sources (not templates) of `input` that Baton cannot fetch. */
export function checkInputSources(
  input: string,
  values: string | string[] | undefined,
  path: Path,
  problems: ProblemList,
): void {
  if (values === undefined) return;
  const list = typeof values === "string" ? [values] : values;
  list.forEach((value, i) => {
    if (hasTemplate(value)) return;
    const problem = inputSourceProblem(input, value);
    if (problem) problems.value(typeof values === "string" ? path : [...path, i], problem);
  });
}
