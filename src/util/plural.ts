/** `1 child`, `3 children`: a count with the word that agrees with it. */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Why a parent failed through its children, with the count agreeing. */
export function childrenFailedText(n: number): string {
  return `${plural(n, "child task", "child tasks")} failed or ${n === 1 ? "was" : "were"} cancelled`;
}
