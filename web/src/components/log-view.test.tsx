// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { AnsiLog } from "../lib/ansi";
import { cleanup, render } from "../test/render";
import { LogLines } from "./log-view";

afterEach(cleanup);

describe("log lines", () => {
  it("shows HTML in a log as text: a log line can never inject elements", async () => {
    const log = new AnsiLog();
    log.push('<img src=x onerror="window.hacked=1"><script>window.hacked=2</script>\n');
    log.push("\x1b[31m<b>red</b>\x1b[0m\n");
    const { container } = await render(<LogLines log={log} follow={false} />);
    const box = container.querySelector(".log-lines")!;
    expect(box.querySelector("img, script, b")).toBeNull();
    expect(box.textContent).toContain(
      '<img src=x onerror="window.hacked=1"><script>window.hacked=2</script>',
    );
    expect((window as { hacked?: number }).hacked).toBeUndefined();
    const red = [...box.querySelectorAll<HTMLElement>(".log-text span")].find(
      (s) => s.textContent === "<b>red</b>",
    )!;
    expect(red.style.color).toBe("rgb(248, 113, 113)");
  });

  it("numbers lines and renders only those in view", async () => {
    const log = new AnsiLog();
    log.push(Array.from({ length: 100_000 }, (_, i) => `line ${i + 1}`).join("\n"));
    const { container } = await render(<LogLines log={log} follow={false} />);
    const rows = container.querySelectorAll(".log-line");
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(100);
    expect(rows[0]!.querySelector(".log-gutter")!.textContent).toBe("1");
    expect(rows[0]!.querySelector(".log-text")!.textContent).toBe("line 1");
    const spacer = container.querySelector<HTMLElement>(".vlist-spacer")!;
    expect(spacer.style.height).toBe(`${100_000 * 19}px`);
  });
});
