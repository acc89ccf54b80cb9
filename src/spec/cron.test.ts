import { describe, expect, it } from "vitest";
import { checkCron, isTimeZone } from "./cron.js";

describe("checkCron", () => {
  it.each([
    "0 9 * * MON",
    "*/15 * * * *",
    "0 0 1 1 *",
    "0 9-17/2 * * mon-fri",
    "5,35 0 ? JAN,JUL SUN",
    "0 0 * * 7",
    "* * * * * *",
    "*/10 0 9 * * MON",
  ])("accepts %j", (expr) => {
    expect(checkCron(expr)).toBeUndefined();
  });

  it("counts fields", () => {
    expect(checkCron("0 9 * *")).toBe(
      'expected five cron fields (minute hour day-of-month month day-of-week), or six with seconds first, found 4 in "0 9 * *"',
    );
    expect(checkCron("0 0 9 * * MON *")).toMatch(/found 7/);
  });

  it("names the field that is wrong and what it accepts", () => {
    expect(checkCron("60 * * * *")).toBe(
      'minute field "60" is not valid (expected 0-59, *, a range a-b, a step */n, or a comma list)',
    );
    expect(checkCron("0 9 * * MOM")).toBe('day-of-week field "MOM" is not valid (did you mean "MON"?)');
    expect(checkCron("0 9 * JNU *")).toBe('month field "JNU" is not valid (did you mean "JUN"?)');
    expect(checkCron("0 17-9 * * *")).toMatch(/^hour field "17-9"/);
    expect(checkCron("*/0 * * * *")).toMatch(/^minute field/);
    expect(checkCron("0 0 0 * *")).toMatch(/^day-of-month field "0"/);
  });

  it("checks the seconds field of six-field expressions", () => {
    expect(checkCron("60 * * * * *")).toBe(
      'second field "60" is not valid (expected 0-59, *, a range a-b, a step */n, or a comma list)',
    );
    expect(checkCron("0 60 * * * *")).toMatch(/^minute field "60"/);
  });

  it("knows IANA time zones", () => {
    expect(isTimeZone("Europe/Helsinki")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Europe/Helsinky")).toBe(false);
  });

  it("points macros at their five-field form", () => {
    expect(checkCron("@daily")).toBe('expected five cron fields, found "@daily" (write "0 0 * * *" instead)');
  });
});
