import { describe, expect, it } from "vitest";
import { MAX_ARG_STRLEN, commandSizeProblem } from "./arg-limit.js";

describe("commandSizeProblem", () => {
  it("says the same of a task's variables over an inherited environment as of the two merged", () => {
    const inherited = { PATH: "/usr/bin", HOME: "/home/me", BIG: "x".repeat(60_000), LANG: "C.UTF-8" };
    const cases: Array<Record<string, string>> = [
      {},
      { BATON_TASK_ID: "task_1" },
      // Replaces an inherited variable: counted once, at its new size.
      { BIG: "small" },
      { MORE: "y".repeat(70_000) },
      { BIG: "z".repeat(65_000), MORE: "y".repeat(3_000) },
    ];
    for (const env of cases) {
      for (const command of ["true", "c".repeat(20_000)]) {
        expect(commandSizeProblem(command, env, inherited)).toBe(
          commandSizeProblem(command, { ...inherited, ...env }),
        );
      }
    }
    // Over the system's limit (ARG_MAX): the same words either way.
    const many: Record<string, string> = {};
    for (let i = 0; i < 40; i++) many[`V${i}`] = "v".repeat(100_000);
    const over = commandSizeProblem("true", { V0: "short" }, many);
    expect(over).toMatch(/^the command and its environment take \d+ bytes; the system takes at most/);
    expect(over).toBe(commandSizeProblem("true", { ...many, V0: "short" }));
  });

  it("names a variable too long on its own, inherited or not, unless the task replaces it", () => {
    const inherited = { HUGE: "h".repeat(MAX_ARG_STRLEN) };
    expect(commandSizeProblem("true", {}, inherited)).toMatch(/^environment variable HUGE is 131077 bytes/);
    expect(commandSizeProblem("true", { HUGE: "ok" }, inherited)).toBeUndefined();
    expect(commandSizeProblem("true", { OWN: "o".repeat(MAX_ARG_STRLEN) }, {})).toMatch(
      /^environment variable OWN is 131076 bytes/,
    );
  });
});
