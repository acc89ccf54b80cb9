/**
 * Untrusted text (task names, labels, params, errors, commands, logs) made safe for a terminal.
 *
 * A terminal acts on control characters: ESC starts sequences that set the window title
 * (`ESC ] 0 ; … BEL`), clear the screen (`ESC [ 2 J`), make hidden links (OSC 8), or worse;
 * C1 characters (U+0080–U+009F) do the same on some terminals. Every such character is shown
 * visibly instead: C0 and DEL in caret notation (ESC as `^[`, BEL as `^G`, DEL as `^?`), C1 as
 * `\u009b`. The rest of a sequence (`]0;title`) is then plain text. Nothing is dropped silently.
 */
import { StringDecoder } from "node:string_decoder";

/** C0 controls but \t \n \r, DEL, C1: what {@link safeText} escapes. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE_MULTILINE = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;
/** The same plus \t \n \r: for a value printed on one line or in a table cell. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE_ONE_LINE = /[\x00-\x1f\x7f-\x9f]/g;

function visible(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return "^?";
  return `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Multi-line text (an error, a command): control characters escaped but tabs and newlines
 * kept; a carriage return too when it ends a line (`\r\n`), or always with `keepCR` (for logs,
 * where progress bars redraw their line with `\r`); otherwise it shows as `^M`, as it could
 * hide the start of a line behind its end.
 */
export function safeText(text: string, keepCR = false): string {
  const out = text.replace(UNSAFE_MULTILINE, visible);
  return keepCR ? out : out.replace(/\r(?!\n)/g, "^M");
}

/** A value shown on one line (a name in a table): every control character escaped, `\n` as `^J`. */
export function safeLine(text: string): string {
  return text.replace(UNSAFE_ONE_LINE, visible);
}

/** Where log bytes go on their way to stdout: escaped on a terminal, unchanged otherwise. */
export interface LogSink {
  write(chunk: Buffer | string): void;
  /** Writes what a multi-byte character cut at the end of the log left pending. */
  end(): void;
}

/**
 * A sink for log bytes to `out`. When `out` is a terminal (and not `raw`), the bytes are decoded
 * as UTF-8 (a character cut between two reads is kept for the next) and escaped with
 * {@link safeText} (carriage returns kept); otherwise (a pipe, a file, `--raw`) they are written unchanged.
 */
export function logSink(out: NodeJS.WriteStream = process.stdout, raw = false): LogSink {
  if (raw || !out.isTTY) {
    return { write: (chunk) => void out.write(chunk), end: () => {} };
  }
  const decoder = new StringDecoder("utf8");
  return {
    write(chunk) {
      const text = typeof chunk === "string" ? chunk : decoder.write(chunk);
      if (text) out.write(safeText(text, true));
    },
    end() {
      const rest = decoder.end();
      if (rest) out.write(safeText(rest, true));
    },
  };
}
