import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root (with a trailing slash). */
export const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** Every .yml / .yaml file under `dir`, at any depth. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

/** The ```yaml blocks of the docs, each as [`docs/FILE.md#i`, text]. */
export function docBlocks(): Array<[string, string]> {
  const dir = join(REPO, "docs");
  return readdirSync(dir)
    .filter((n) => n.endsWith(".md"))
    .flatMap((n) => {
      const md = readFileSync(join(dir, n), "utf8");
      return [...md.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map((m, i): [string, string] => [
        `docs/${n}#${i}`,
        m[1] as string,
      ]);
    });
}
