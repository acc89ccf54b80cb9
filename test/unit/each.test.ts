import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { eachCommand, eachItems, eachName, eachRef } from "../../src/spec/each.js";

/** What bash prints for `printf '<%s>' ARGS` with ARGS as `command` passes them. */
function argsOf(command: string): string {
  return execFileSync("bash", ["-c", `printf '<%s>' ${command.replace(/^printf\s+/, "")}`], {
    encoding: "utf8",
  });
}

describe("submit --each", () => {
  it("takes each non-blank line whole, without its line end", () => {
    expect(eachItems("a\r\n\n b c \n\t\nlast")).toEqual(["a", " b c ", "last"]);
    expect(eachItems("")).toEqual([]);
  });

  it("makes the line one argument, whatever it holds", () => {
    const hostile = `it's; $(touch x) \`id\` "q" *`;
    expect(argsOf(eachCommand(["printf", "--in={}", "{}"], hostile))).toBe(`<--in=${hostile}><${hostile}>`);
    expect(argsOf(eachCommand(["printf {} {}"], hostile))).toBe(`<${hostile}><${hostile}>`);
    // No {}: the line is the last argument.
    expect(argsOf(eachCommand(["printf", "x"], hostile))).toBe(`<x><${hostile}>`);
    expect(argsOf(eachCommand(["printf x"], hostile))).toBe(`<x><${hostile}>`);
  });

  it("names tasks from the line, or numbers them", () => {
    expect(eachName("count-{}", "data/a b.csv", 4)).toBe("count-data_a b.csv");
    expect(eachName("{}", `it's$"x"`, 0)).toBe("it_s__x_");
    expect(eachName("work", "anything", 7)).toBe("work[7]");
    expect(eachRef("prep-{}", "d/x")).toBe("prep-d_x");
  });
});
