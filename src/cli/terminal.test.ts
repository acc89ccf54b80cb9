import { describe, expect, it } from "vitest";
import { logSink, safeLine, safeText } from "./terminal.js";

/** A stand-in for stdout that records what is written. */
function fakeOut(isTTY: boolean) {
  const written: Array<string | Buffer> = [];
  const out = { isTTY, write: (c: string | Buffer) => written.push(c) } as unknown as NodeJS.WriteStream;
  return { out, written };
}

describe("safeText / safeLine", () => {
  it("shows escape sequences, C0 and C1 controls visibly", () => {
    expect(
      safeText("\x1b]0;title\x07 \x1b[2J \x1b]8;;http://x\x1b\\a\x1b]8;;\x1b\\ \u009b31m \x00\x7f"),
    ).toBe("^[]0;title^G ^[[2J ^[]8;;http://x^[\\a^[]8;;^[\\ \\u009b31m ^@^?");
  });

  it("keeps newlines and tabs in text, a carriage return only before a newline (or in logs)", () => {
    expect(safeText("a\tb\r\nc\rd\n")).toBe("a\tb\r\nc^Md\n");
    expect(safeText("50%\r100%\n", true)).toBe("50%\r100%\n");
  });

  it("escapes every control character of a one-line value", () => {
    expect(safeLine("a\nb\tc\rd")).toBe("a^Jb^Ic^Md");
  });

  it("leaves other text, non-ASCII included, alone", () => {
    expect(safeText("héllo ✓ 日本 \u00a0")).toBe("héllo ✓ 日本 \u00a0");
  });
});

describe("logSink", () => {
  it("escapes on a terminal, keeping a UTF-8 character cut between two reads", () => {
    const { out, written } = fakeOut(true);
    const sink = logSink(out);
    const bytes = Buffer.from("é\x1b[2J\u009b", "utf8");
    sink.write(bytes.subarray(0, 1));
    sink.write(bytes.subarray(1, 6));
    sink.write(bytes.subarray(6));
    sink.end();
    expect(written.join("")).toBe("é^[[2J\\u009b");
  });

  it("writes the bytes unchanged to a pipe or file, and with raw", () => {
    const bytes = Buffer.from("\x1b]0;t\x07\xff", "latin1");
    for (const [tty, raw] of [
      [false, false],
      [true, true],
    ] as const) {
      const { out, written } = fakeOut(tty);
      logSink(out, raw).write(bytes);
      expect(Buffer.concat(written as Buffer[])).toEqual(bytes);
    }
  });
});
