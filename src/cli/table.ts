import { safeLine } from "./terminal.js";

/** The widest a cell is shown; longer text (a name stored before names had a limit) ends in "…". */
export const MAX_CELL_WIDTH = 60;

/** A cell as shown: control characters escaped (cells are untrusted), at most {@link MAX_CELL_WIDTH} characters. */
export function cell(text: string): string {
  const clean = safeLine(text);
  return clean.length > MAX_CELL_WIDTH ? `${clean.slice(0, MAX_CELL_WIDTH - 1)}…` : clean;
}

/** A plain text table: columns padded to their widest cell, the last column left ragged. */
export function table(header: string[], body: string[][]): string {
  const rows = body.map((r) => r.map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
