import { describe, expect, it } from "vitest";
import { AnsiLog, BASIC_COLOURS, applySgr, colour256, lineText, parseAnsi } from "./ansi";

describe("ANSI logs", () => {
  it("turns colour codes into styled spans and drops the codes", () => {
    const [line] = parseAnsi("\x1b[32mok\x1b[0m done\n");
    expect(line).toEqual([
      { text: "ok", style: { fg: BASIC_COLOURS[2] } },
      { text: " done", style: null },
    ]);
  });

  it("keeps styles across lines and chunks, as a terminal does", () => {
    const log = new AnsiLog();
    log.push("\x1b[1;3");
    log.push("1mred\nstill red");
    log.push("\x1b[0m plain\n");
    const lines = log.snapshot();
    expect(lines.map(lineText)).toEqual(["red", "still red plain"]);
    expect(lines[1]![0]!.style).toEqual({ bold: true, fg: BASIC_COLOURS[1] });
    expect(lines[1]![1]!.style).toBeNull();
  });

  it("reads 256-colour and true-colour codes, and ignores bad numbers", () => {
    expect(applySgr({}, "38;5;196")).toEqual({ fg: colour256(196) });
    expect(applySgr({}, "48;2;10;20;30")).toEqual({ bg: "rgb(10,20,30)" });
    expect(applySgr({}, "38;2;999;0;0")).toEqual({});
    expect(colour256(232)).toBe("rgb(8,8,8)");
  });

  it("drops cursor movement, OSC titles and control characters", () => {
    const [line] = parseAnsi("a\x1b[2Kb\x1b]0;title\x07c\x07d\x00e\n");
    expect(lineText(line!)).toBe("abcde");
  });

  it("starts a line over at a carriage return (progress bars) but not at CRLF", () => {
    expect(parseAnsi("10%\r50%\r100%\nnext\r\nend").map(lineText)).toEqual(["100%", "next", "end"]);
    const log = new AnsiLog();
    log.push("a\r");
    log.push("\nb");
    expect(log.snapshot().map(lineText)).toEqual(["a", "b"]);
  });

  it("keeps HTML as plain text", () => {
    const [line] = parseAnsi('<img src=x onerror="alert(1)"><script>alert(2)</script>');
    expect(line).toEqual([{ text: '<img src=x onerror="alert(1)"><script>alert(2)</script>', style: null }]);
  });

  it("counts lines without copying them", () => {
    const log = new AnsiLog();
    log.push("one\ntwo\nthr");
    expect(log.lineCount).toBe(3);
    expect(lineText(log.line(2)!)).toBe("thr");
    expect(log.line(3)).toBeUndefined();
  });
});
