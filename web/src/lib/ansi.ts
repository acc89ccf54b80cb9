/**
 * Task logs with ANSI colours, turned into lines of styled text spans. Only SGR sequences
 * (`ESC[...m`: colours, bold, italic, underline) are kept, as styles; every other escape or
 * control character is dropped. The output is plain text plus style values: the UI renders it
 * as React text nodes, so a log line can never inject HTML.
 */

export interface AnsiStyle {
  fg?: string;
  bg?: string;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
  strike?: boolean;
}

export interface Span {
  text: string;
  /** Null for default text. Treat as immutable: spans share style objects. */
  style: AnsiStyle | null;
}

export type Line = Span[];

/** The 16 basic colours, tuned for the log view's dark background. */
export const BASIC_COLOURS = [
  "#4b5563",
  "#f87171",
  "#4ade80",
  "#facc15",
  "#60a5fa",
  "#e879f9",
  "#22d3ee",
  "#e5e7eb",
  "#9ca3af",
  "#fca5a5",
  "#86efac",
  "#fde047",
  "#93c5fd",
  "#f0abfc",
  "#67e8f9",
  "#ffffff",
] as const;

/** Colour `n` of the 256-colour palette, as CSS. */
export function colour256(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return BASIC_COLOURS[n];
  if (n >= 232) {
    const v = 8 + (n - 232) * 10;
    return `rgb(${v},${v},${v})`;
  }
  const levels = [0, 95, 135, 175, 215, 255];
  const i = n - 16;
  return `rgb(${levels[Math.floor(i / 36)]},${levels[Math.floor(i / 6) % 6]},${levels[i % 6]})`;
}

function byte(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,3}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 255 ? n : undefined;
}

/** The style after applying SGR parameters `params` (`"1;31"`) to `style`. */
export function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  const codes = params === "" ? ["0"] : params.split(/[;:]/);
  let next: AnsiStyle = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] === "" ? 0 : Number(codes[i]);
    if (code === 0) next = {};
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 9) next.strike = true;
    else if (code === 22) {
      next.bold = undefined;
      next.dim = undefined;
    } else if (code === 23) next.italic = undefined;
    else if (code === 24) next.underline = undefined;
    else if (code === 27) next.inverse = undefined;
    else if (code === 29) next.strike = undefined;
    else if (code >= 30 && code <= 37) next.fg = BASIC_COLOURS[code - 30];
    else if (code === 39) next.fg = undefined;
    else if (code >= 40 && code <= 47) next.bg = BASIC_COLOURS[code - 40];
    else if (code === 49) next.bg = undefined;
    else if (code >= 90 && code <= 97) next.fg = BASIC_COLOURS[code - 90 + 8];
    else if (code >= 100 && code <= 107) next.bg = BASIC_COLOURS[code - 100 + 8];
    else if (code === 38 || code === 48) {
      const mode = codes[i + 1];
      let colour: string | undefined;
      if (mode === "5") {
        const n = byte(codes[i + 2]);
        colour = n === undefined ? undefined : colour256(n);
        i += 2;
      } else if (mode === "2") {
        const [r, g, b] = [byte(codes[i + 2]), byte(codes[i + 3]), byte(codes[i + 4])];
        colour = r === undefined || g === undefined || b === undefined ? undefined : `rgb(${r},${g},${b})`;
        i += 4;
      }
      if (colour !== undefined) {
        if (code === 38) next.fg = colour;
        else next.bg = colour;
      }
    }
  }
  for (const key of Object.keys(next) as (keyof AnsiStyle)[]) if (next[key] === undefined) delete next[key];
  return next;
}

// CSI (ESC [ params final), OSC (ESC ] ... BEL or ESC \), or a two-character escape.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this matches
const ESCAPE = /\x1b(?:\[([0-9;:?<=>]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
// An escape cut off at the end of a chunk: kept until the next chunk completes it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what this matches
const PARTIAL_ESCAPE = /\x1b(?:\[[0-9;:?<=>]*[ -/]*|\][^\x07\x1b]*\x1b?)?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;

/**
 * A log being read, chunk by chunk: complete lines in `lines`, the line being written in
 * `current`. Styles carry over from line to line and chunk to chunk, as in a terminal.
 */
export class AnsiLog {
  readonly lines: Line[] = [];
  current: Line = [];
  private style: AnsiStyle | null = null;
  private pending = "";

  /** Adds text as the log's writer wrote it. */
  push(chunk: string): void {
    let text = this.pending + chunk;
    this.pending = "";
    const partial = PARTIAL_ESCAPE.exec(text);
    if (partial && partial[0].length > 0 && partial[0].length < 64) {
      this.pending = partial[0];
      text = text.slice(0, partial.index);
    }
    if (text.endsWith("\r")) {
      this.pending = `\r${this.pending}`;
      text = text.slice(0, -1);
    }
    ESCAPE.lastIndex = 0;
    let at = 0;
    for (let m = ESCAPE.exec(text); m !== null; m = ESCAPE.exec(text)) {
      this.addText(text.slice(at, m.index));
      at = m.index + m[0].length;
      if (m[2] === "m" && !(m[1] ?? "").startsWith("?")) {
        const next = applySgr(this.style ?? {}, m[1] ?? "");
        this.style = Object.keys(next).length === 0 ? null : next;
      }
    }
    this.addText(text.slice(at));
  }

  /** Every line, the unfinished one included when it has text. */
  snapshot(): Line[] {
    return this.current.length > 0 ? [...this.lines, this.current] : this.lines;
  }

  /** How many lines {@link snapshot} would return. */
  get lineCount(): number {
    return this.lines.length + (this.current.length > 0 ? 1 : 0);
  }

  /** Line `i` of {@link snapshot}, without copying the array. */
  line(i: number): Line | undefined {
    return i < this.lines.length ? this.lines[i] : i === this.lines.length ? this.current : undefined;
  }

  private addText(text: string) {
    if (text === "") return;
    const parts = text.replace(/\r\n/g, "\n").split("\n");
    parts.forEach((part, i) => {
      if (i > 0) {
        this.lines.push(this.current);
        this.current = [];
      }
      const cr = part.lastIndexOf("\r");
      if (cr >= 0) {
        // A carriage return starts the line over (progress bars).
        this.current = [];
        part = part.slice(cr + 1);
      }
      const clean = part.replace(CONTROL, "");
      if (clean === "") return;
      const last = this.current.at(-1);
      if (last && last.style === this.style) last.text += clean;
      else this.current.push({ text: clean, style: this.style });
    });
  }
}

/** Parses a whole log at once. */
export function parseAnsi(text: string): Line[] {
  const log = new AnsiLog();
  log.push(text);
  return log.snapshot();
}

/** Plain text of a line. */
export function lineText(line: Line): string {
  return line.map((s) => s.text).join("");
}
