/**
 * The web UI end to end, as a person uses it: a real `baton server`, Debian's Chromium, and
 * clicks. Sign in with the printed URL, launch a pipeline from its form, watch statuses change,
 * read a task's log, cancel a running task, retry a failed one, compare the trained models, and
 * open a run of 5,000 tasks. Screenshots of each page go to test-output/screenshots/.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (scripts/install-test-deps.sh installs it).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from "vitest";
import {
  type Browser,
  ROOT,
  type Server,
  assertBuilt,
  missingPrerequisite,
  openBrowser,
  recordResult,
  screenshot,
  startServer,
  waitFor,
} from "./harness.js";

const BIG = 5000;

// Browser globals used inside page.evaluate(): the tests compile without the DOM library.
declare const localStorage: { getItem(key: string): string | null; removeItem(key: string): void };
declare function getComputedStyle(e: unknown): { color: string };
declare function requestAnimationFrame(cb: (t: number) => void): number;

const PROJECT = `version: 1
pools:
  local: { slots: 4 }
pipelines:
  sweep:
    params:
      lrs: { type: list, default: [0.1, 0.01, 0.001], description: "Learning rates: one training task each" }
      epochs: { type: int, default: 2, description: "Epochs per training task" }
      model: { type: string, default: small, choices: [small, large] }
    nodes:
      prep:
        run: |
          printf '\\033[36m[prep]\\033[0m reading data\\n'
          sleep 2
          echo "rows,1000" > "$BATON_OUTPUT_DIR/data.csv"
      train:
        needs: [prep]
        foreach: \${{ params.lrs }}
        with: { lr: "\${{ item }}" }
        params: { lr: { type: float, default: 0.1 } }
        run: |
          for e in $(seq 1 \${{ params.epochs }}); do printf '\\033[1;32mepoch %s\\033[0m lr=%s <b>not bold</b>\\n' $e "\${{ params.lr }}"; done
          node -e 'const lr = +process.argv[1]; const acc = 0.95 - Math.abs(Math.log10(lr) + 2) * 0.07; require("fs").appendFileSync(process.env.BATON_METRICS, JSON.stringify({ accuracy: +acc.toFixed(4), loss: +(1 - acc).toFixed(4) }) + "\\n")' "\${{ params.lr }}"
          echo "weights for \${{ params.lr }}" > "$BATON_OUTPUT_DIR/model.txt"
      evaluate:
        needs: [train]
        run: echo "evaluating \${{ needs.train.outputs['*.txt'] }}"
  nap:
    nodes:
      long:
        run: for i in $(seq 1 600); do echo "tick $i"; sleep 0.2; done
  flaky:
    nodes:
      check:
        run: |
          if [ -f .flaky-ok ]; then echo "second try: fine"; else echo "first try: the service is down" >&2; touch .flaky-ok; exit 7; fi
  big:
    params:
      items: { type: list, default: [${Array.from({ length: BIG }, (_, i) => i).join(", ")}] }
    nodes:
      setup:
        run: "true"
      fan:
        needs: [setup]
        foreach: \${{ params.items }}
        run: "true"
      gather:
        needs: [fan]
        run: "true"
`;

const skip = missingPrerequisite();
if (skip) console.warn(`web UI e2e tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)(`web UI in Chromium${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let server: Server;
  let browser: Browser;
  let page: Page;
  let sweepRun = "";

  beforeAll(async () => {
    assertBuilt();
    server = await startServer({ "baton.yaml": PROJECT });
    browser = await openBrowser();
    page = browser.page;
    page.setDefaultTimeout(20_000);
  }, 90_000);

  // A failing step says what the server said, and what the page showed.
  beforeEach(() => {
    onTestFailed(async () => {
      const exited = server.child.exitCode !== null || server.child.signalCode !== null;
      console.error(
        `baton server ${exited ? `EXITED (${server.child.exitCode ?? server.child.signalCode})` : "still running"}; its stderr ends:\n${server.stderr().slice(-4000)}`,
      );
      await screenshot(page, "failure").catch(() => undefined);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  }, 60_000);

  const runStatus = () => page.locator(".title-row [data-status]").first().getAttribute("data-status");
  const nodeStatus = (node: string) =>
    page.locator(`.stage[data-node="${node}"]`).getAttribute("data-status");

  it("signs in with the URL the server printed, and forgets it from the address bar", async () => {
    await page.goto(server.signInUrl);
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    expect(new URL(page.url()).search).toBe("");
    expect(await page.evaluate(() => localStorage.getItem("baton.token"))).toBe(server.token);
    await page.locator(".live-live").waitFor();
    expect(await page.locator(".empty").textContent()).toContain("No runs yet");
    await screenshot(page, "01-runs-empty");

    // Without the token, the UI asks for it instead of failing.
    await page.evaluate(() => localStorage.removeItem("baton.token"));
    await page.reload();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await screenshot(page, "01b-sign-in");
    await page.getByLabel("Token").fill(server.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
  });

  it("launches a pipeline from its form and shows statuses change live", async () => {
    await page.getByRole("link", { name: "Launch a pipeline" }).click();
    await page.waitForURL(/\/launch\/sweep$/);
    const epochs = page.locator('[data-param="epochs"] input');
    expect(await epochs.inputValue()).toBe("2");
    expect(await page.locator('[data-param="lrs"]').textContent()).toContain("one training task each");

    // Checked before it is sent.
    await epochs.fill("two");
    await page.getByRole("button", { name: "Start run" }).click();
    await page.locator('[data-param="epochs"] .field-message').waitFor();
    expect(await page.locator('[data-param="epochs"] .field-message').textContent()).toContain(
      "whole number",
    );
    await screenshot(page, "02-launch-form-invalid");
    await epochs.fill("3");
    await page.locator('[data-param="model"] select').selectOption("large");
    await screenshot(page, "02-launch-form");
    await page.getByRole("button", { name: "Start run" }).click();

    await page.waitForURL(/\/runs\/run_[0-9A-Z]+/);
    sweepRun = new URL(page.url()).pathname.split("/").pop()!;
    const seen = new Set<string>();
    await waitFor("prep to run", async () => {
      seen.add((await nodeStatus("prep")) ?? "");
      return seen.has("running");
    });
    await screenshot(page, "03-run-live");
    await waitFor("the run to succeed", async () => {
      const s = await nodeStatus("prep");
      if (s) seen.add(s);
      return (await runStatus()) === "succeeded";
    });
    seen.add((await nodeStatus("prep")) ?? "");
    expect([...seen]).toEqual(expect.arrayContaining(["running", "succeeded"]));
    expect(await nodeStatus("train")).toBe("succeeded");
    expect(await page.locator('.stage[data-node="train"]').textContent()).toContain("3 succeeded");
    expect(await page.locator(".run-meta").textContent()).toContain("model=large");
    await screenshot(page, "04-run-succeeded");

    const { body } = await server.api<{ run: { params: Record<string, unknown> } }>(
      `/api/v1/runs/${sweepRun}`,
    );
    expect(body.run.params).toMatchObject({ epochs: 3, model: "large", lrs: [0.1, 0.01, 0.001] });
  });

  it("opens a task's log, coloured and escaped, and its outputs", async () => {
    await page
      .locator('.stage[data-node="train"]')
      .getByRole("button", { name: /Show 3 tasks/ })
      .click();
    await page.locator('.stage-row[data-task="train[1]"]').click();
    const panel = page.getByTestId("task-panel");
    await panel.waitFor();
    await panel.getByRole("tab", { name: "Log" }).click();
    const log = page.getByTestId("log");
    await waitFor("the log", async () => (await log.textContent())?.includes("epoch 3"));
    const text = (await log.textContent()) ?? "";
    expect(text).toContain("epoch 1 lr=0.01 <b>not bold</b>");
    expect(await log.locator("b").count()).toBe(0);
    const colour = await log
      .locator(".log-text span", { hasText: "epoch 1" })
      .evaluate((e) => getComputedStyle(e).color);
    expect(colour).toBe("rgb(74, 222, 128)");
    await screenshot(page, "05-task-log");

    await panel.getByRole("tab", { name: "Details" }).click();
    await panel.getByRole("rowheader", { name: "accuracy" }).waitFor();
    expect(await panel.textContent()).toContain("0.95");
    const href = await panel.getByRole("link", { name: "Download" }).getAttribute("href");
    expect(href).toMatch(/^\/api\/v1\/artifacts\/[0-9a-f]{64}\?name=model\.txt&token=/);
    const downloaded = await page.evaluate(async (u) => (await fetch(u)).text(), href!);
    expect(downloaded.trim()).toBe("weights for 0.01");
    await screenshot(page, "06-task-details");
  });

  it("compares the trained models: sortable table, best highlighted, metric against param", async () => {
    await page.getByRole("button", { name: "Compare" }).first().click();
    const table = page.getByTestId("compare-table");
    await table.waitFor();
    await waitFor("params", async () =>
      (await table.locator("th").allTextContents()).some((t) => t.includes("lr")),
    );
    const order = () =>
      table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-task")));
    expect(await order()).toEqual(["train[1]", "train[0]", "train[2]"]);
    expect(await table.locator(".cell-best").allTextContents()).toEqual(["★ 0.95", "★ 0.05"]);
    expect(await page.locator("circle.chart-point").count()).toBe(3);
    expect(await page.locator(".chart").textContent()).toContain("lr (log scale)");
    await table.getByRole("button", { name: "lr", exact: true }).click();
    expect(await order()).toEqual(["train[2]", "train[1]", "train[0]"]);
    await screenshot(page, "07-compare");
  });

  it("reruns the pipeline from a node, after saying what will run again", async () => {
    await page.getByTestId("task-panel").getByRole("button", { name: "Rerun from here" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.textContent()).toContain("train, evaluate run again");
    await screenshot(page, "07b-confirm-rerun");
    await dialog.getByRole("button", { name: "Start the new run" }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/runs/") && !u.pathname.endsWith(sweepRun));
    await waitFor("the rerun to succeed", async () => (await runStatus()) === "succeeded");
    const id = new URL(page.url()).pathname.split("/").pop()!;
    const { body } = await server.api<{ tasks: Array<{ name: string; status: string }> }>(
      `/api/v1/runs/${id}`,
    );
    expect(body.tasks.filter((t) => t.name.startsWith("train[")).map((t) => t.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  });

  it("follows a running task's log, and cancels it after asking", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Launch" }).click();
    await page.getByRole("link", { name: /^nap/ }).click();
    await page.waitForURL(/\/launch\/nap$/);
    await page.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL(/\/runs\/run_[0-9A-Z]+/);
    await waitFor("the task to run", async () => (await nodeStatus("long")) === "running");
    await page.locator('.stage[data-node="long"] .stage-head').click();
    const log = page.getByTestId("log");
    // The log of a running task opens first, and follows.
    await waitFor("live output", async () => (await log.textContent())?.includes("tick 5"));
    await page.locator(".live-pill").waitFor();
    const before = (await log.textContent())!.length;
    await waitFor("more output", async () => ((await log.textContent()) ?? "").length > before);
    await screenshot(page, "08-live-log");

    await page.getByRole("button", { name: "Cancel task" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("The rest of the run goes on");
    await screenshot(page, "09-confirm-cancel");
    await dialog.getByRole("button", { name: "Cancel the task" }).click();
    await page.locator(".toast").first().waitFor();
    await waitFor("the run to be cancelled", async () => (await runStatus()) === "cancelled");
    expect(await nodeStatus("long")).toBe("cancelled");
    await screenshot(page, "10-cancelled");
  });

  it("retries a failed task and shows both attempts", async () => {
    const { body } = await server.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "flaky" });
    await page.goto(`${server.url}/runs/${body.run.id}`);
    await waitFor("the run to fail", async () => (await runStatus()) === "failed");
    await page.locator('.stage[data-node="check"] .stage-head').click();
    const panel = page.getByTestId("task-panel");
    await waitFor("the failed log", async () =>
      (await page.getByTestId("log").textContent())?.includes("the service is down"),
    );
    await screenshot(page, "11-failed-task");
    await panel.getByRole("button", { name: "Retry" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Retry" }).click();
    await page.locator(".toast-success").first().waitFor();
    await waitFor("the run to succeed", async () => (await runStatus()) === "succeeded", {
      timeoutMs: 30_000,
    });
    await panel.getByRole("tab", { name: "Details" }).click();
    const attempts = panel.locator(".section", { hasText: "Attempts" }).locator("tbody tr");
    await waitFor("two attempts", async () => (await attempts.count()) === 2);
    expect(await attempts.nth(0).textContent()).toContain("7");
    expect(await attempts.nth(1).textContent()).toContain("Succeeded");
    await screenshot(page, "12-retried");
  });

  it("lists runs newest first, filtered by status and pipeline", async () => {
    await page.getByRole("navigation").getByRole("link", { name: "Runs" }).click();
    const rows = page.locator("tr[data-run]");
    await waitFor("four runs", async () => (await rows.count()) === 4);
    expect(await rows.locator("td:nth-child(2)").allTextContents()).toEqual([
      "flaky",
      "nap",
      "sweep",
      "sweep",
    ]);
    await screenshot(page, "13-runs");
    await page
      .getByRole("group", { name: "Filter by status" })
      .getByRole("button", { name: "Cancelled" })
      .click();
    await waitFor("the filter", async () => (await rows.count()) === 1);
    expect(await rows.locator("td:nth-child(2)").textContent()).toBe("nap");
    await page.getByLabel("Filter by pipeline").selectOption("sweep");
    await waitFor("no match", async () =>
      (await page.locator(".empty").textContent())?.includes("No runs match"),
    );
    expect(new URL(page.url()).search).toBe("?status=cancelled&pipeline=sweep");
  });

  it("says why a task ran again (its param changed) and whose result a cached task reused", async () => {
    const { body } = await server.api<{ run: { id: string } }>("/api/v1/runs", {
      pipeline: "sweep",
      params: { lrs: [0.1, 0.02, 0.001], epochs: 3, model: "large" },
    });
    await page.goto(`${server.url}/runs/${body.run.id}`);
    await waitFor("the run to succeed", async () => (await runStatus()) === "succeeded", {
      timeoutMs: 60_000,
    });
    await page
      .locator('.stage[data-node="train"]')
      .getByRole("button", { name: /Show 3 tasks/ })
      .click();
    await page.locator('.stage-row[data-task="train[1]"]').click();
    const panel = page.getByTestId("task-panel");
    await panel.getByRole("tab", { name: "Details" }).click();
    const cache = panel.locator(".section", { hasText: "Why it ran" });
    await cache.waitFor();
    const param = cache.locator('.cache-change[data-part="param"]');
    expect((await param.textContent())?.replace(/\s+/g, " ").trim()).toBe("param lr 0.01 → 0.02");
    await cache.scrollIntoViewIfNeeded();
    await screenshot(page, "13b-why-it-ran");
    // The command's lines that changed with it, folded until asked for.
    await cache.locator('.cache-change[data-part="command"] summary').click();
    expect(await cache.locator(".change-after mark").first().textContent()).toBe("2");
    await cache.locator(".cache-changes").scrollIntoViewIfNeeded();
    await screenshot(page, "13b-why-it-ran-command");

    // prep did not change: reused from the first sweep run's prep, which the link opens.
    await page.locator('.stage[data-node="prep"] .stage-head').click();
    await panel.getByRole("tab", { name: "Details" }).click();
    const reused = panel.locator(".cache-verdict");
    await reused.waitFor();
    expect(await reused.textContent()).toContain("No process ran");
    await reused.scrollIntoViewIfNeeded();
    await screenshot(page, "13c-cached-reused-from");
    await reused.getByRole("link").click();
    await page.waitForURL((u) => u.pathname === `/runs/${sweepRun}`);
    await waitFor("the first run's prep", async () => (await panel.locator("h2").textContent()) === "prep");
    expect(await panel.locator(".cache-why").textContent()).toContain("First run of this node");
    expect(browser.errors).toEqual([]);
  });

  it("shows a tree of submitted tasks (Velda style) with children counted by status", async () => {
    const script = [
      'B="node $BATON_BIN"',
      'for s in a b c; do $B submit -n "shard-$s" -- bash -c "$B submit -n post-$s -- echo post; echo shard $s"; done',
      "$B submit -n report -- false",
      "echo submitted",
    ].join("\n");
    const { body } = await server.api<{ ids: string[] }>("/api/v1/tasks", {
      name: "fan-out.sh",
      command: script,
      cwd: server.dir,
      env: { BATON_BIN: path.join(ROOT, "bin", "baton.js") },
    });
    const task = await server.api<{ run: string }>(`/api/v1/tasks/${body.ids[0]}`);
    const run = task.body.run;
    await waitFor("the tree to end", async () => {
      const r = await server.api<{ run: { status: string } }>(`/api/v1/runs/${run}`);
      return r.body.run.status !== "running";
    });
    await page.goto(`${server.url}/runs/${run}`);
    await page.getByRole("tab", { name: "Tree" }).waitFor();
    expect(await page.getByRole("tab", { name: "Tree" }).getAttribute("aria-selected")).toBe("true");
    const root = page.locator('.tree-row[data-task="fan-out.sh"]');
    await root.waitFor();
    expect(await root.textContent()).toContain("4 children, 7 below");
    const rows = () =>
      page.locator(".tree-row").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-task")));
    expect(await rows()).toEqual(["fan-out.sh", "shard-a", "shard-b", "shard-c", "report"]);
    await page.getByRole("button", { name: "Expand shard-b" }).click();
    expect(await rows()).toEqual(["fan-out.sh", "shard-a", "shard-b", "post-b", "shard-c", "report"]);
    await page.locator('.tree-row[data-task="report"] .tree-main').click();
    await page.getByTestId("task-panel").waitFor();
    // Submitted runs are not retried in place: their tasks are cloned.
    expect(await page.getByTestId("task-panel").getByRole("button", { name: "Retry" }).count()).toBe(0);
    await page.getByTestId("task-panel").getByRole("button", { name: "Clone…" }).waitFor();
    await screenshot(page, "14-task-tree");
  });

  it(`opens a run of ${BIG.toLocaleString("en")} tasks while it runs, and stays responsive`, async () => {
    const { body } = await server.api<{ run: { id: string } }>("/api/v1/runs", {
      pipeline: "big",
      noCache: true,
    });
    const id = body.run.id;
    await waitFor("tasks to start", async () => {
      const r = await server.api<{ run: { counts: Record<string, number> } }>(`/api/v1/runs/${id}`);
      return (r.body.run.counts.succeeded ?? 0) > 1;
    });

    // The sign-in URL's ?token= works on any page.
    await page.goto(`${server.url}/runs/${id}?token=${server.token}`);
    await page.locator('.stage[data-node="fan"]').waitFor({ timeout: 30_000 });
    const marks = await page.evaluate(() => {
      const get = (n: string) => performance.getEntriesByName(n)[0]?.startTime ?? Number.NaN;
      return { run: get("baton:run-rendered"), graph: get("baton:graph-rendered") };
    });
    expect(marks.graph).toBeLessThan(10_000);
    expect(await page.locator('.stage[data-node="fan"] .tag').textContent()).toBe(`foreach × ${BIG}`);

    // While thousands of task events stream in: the longest gap between frames.
    const longestFrame = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let last = performance.now();
          let worst = 0;
          const end = last + 3000;
          const tick = (t: number) => {
            worst = Math.max(worst, t - last);
            last = t;
            if (t < end) requestAnimationFrame(tick);
            else resolve(worst);
          };
          requestAnimationFrame(tick);
        }),
    );
    await screenshot(page, "15-big-run-live");

    // The whole list: virtualised, so switching to it and scrolling to the end is quick.
    const t0 = Date.now();
    await page.getByRole("tab", { name: /^Tasks/ }).click();
    await page.locator(".grid-body .grid-row").first().waitFor();
    const tasksTabMs = Date.now() - t0;
    expect(await page.locator(".grid-body .grid-row").count()).toBeLessThan(100);
    await page.locator(".grid-body").evaluate((e) => {
      e.scrollTop = e.scrollHeight;
    });
    await page.locator('.grid-body .grid-row[data-task="gather"]').waitFor();

    await waitFor("the big run to end", async () => (await runStatus()) !== "running", {
      timeoutMs: 180_000,
    });
    expect(await runStatus()).toBe("succeeded");
    await page.getByRole("tab", { name: "Graph" }).click();
    await page
      .locator('.stage[data-node="fan"]')
      .getByRole("button", { name: /Show 5000 tasks/ })
      .click();
    await page.locator('.stage-row[data-task="fan[0]"]').waitFor();
    await screenshot(page, "16-big-run-done");

    // Opened again once finished: the first render of a settled run of this size.
    await page.goto(`${server.url}/runs/${id}`);
    await page.locator('.stage[data-node="fan"]').waitFor();
    const settled = await page.evaluate(
      () => performance.getEntriesByName("baton:graph-rendered")[0]?.startTime ?? 0,
    );

    const ms = (n: number) => `${Math.round(n)} ms`;
    const line = `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC: ${BIG + 2} tasks, opened while running: first render ${ms(marks.run)}, graph ${ms(marks.graph)}; longest frame while live ${ms(longestFrame)}; tasks tab ${ms(tasksTabMs)}; finished run reopened: graph ${ms(settled)} (${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)})`;
    console.log(`web UI scale: ${line}`);
    recordResult(line);
    expect(browser.errors).toEqual([]);
  }, 300_000);
});

// Names that are members of every JavaScript object, used as pipeline, param and node names: the
// UI must list, launch and show them like any other name (issue: they answered 500 and broke the
// Launch page).
const HOSTILE_PROJECT = `version: 1
pipelines:
  toString:
    nodes:
      valueOf:
        run: echo "from baton.yaml"
      __proto__:
        needs: [valueOf]
        run: echo "after valueOf"
`;

describe.skipIf(skip !== undefined)(
  `web UI in Chromium: hostile names${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let server: Server;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      assertBuilt();
      server = await startServer({ "baton.yaml": HOSTILE_PROJECT });
      browser = await openBrowser();
      page = browser.page;
      page.setDefaultTimeout(20_000);
    }, 90_000);

    beforeEach(() => {
      onTestFailed(async () => {
        console.error(`page errors: ${browser.errors.join("\n") || "none"}`);
        console.error(`baton server stderr ends:\n${server.stderr().slice(-4000)}`);
        await screenshot(page, "hostile-failure").catch(() => undefined);
      });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    }, 60_000);

    it("launches a pipeline named constructor, with a param valueOf and a node hasOwnProperty", async () => {
      // Registered through the API, as in the issue: stored under .baton/pipelines/constructor.json.
      // (A JSON body cannot hold a `__proto__` key: that name is a node of baton.yaml's toString.)
      const registered = await server.api<{ pipeline: { name: string } }>("/api/v1/pipelines", {
        name: "constructor",
        definition: {
          version: 1,
          pipelines: {
            constructor: {
              params: {
                valueOf: { type: "string", default: "plain", description: "Written by hasOwnProperty" },
              },
              nodes: {
                hasOwnProperty: {
                  run: 'echo "valueOf=${{ params.valueOf }}" | tee "$BATON_OUTPUT_DIR/out.txt"',
                },
                __defineGetter__: { needs: ["hasOwnProperty"], run: "echo after" },
              },
            },
          },
        },
      });
      expect(registered.status, JSON.stringify(registered.body)).toBe(201);

      await page.goto(`${server.url}/launch?token=${server.token}`);
      const cards = page.getByRole("navigation", { name: "Pipelines" }).locator(".pipeline-name");
      await waitFor("both pipelines", async () => (await cards.count()) === 2);
      expect((await cards.allTextContents()).sort()).toEqual(["constructor", "toString"]);
      await page.getByRole("link", { name: /^toString/ }).click();
      await page.waitForURL(/\/launch\/toString$/);
      const yamlForm = page.getByRole("form", { name: "Launch toString" });
      await yamlForm.waitFor();
      expect(await yamlForm.locator(".node-chip").allTextContents()).toEqual(["valueOf", "__proto__"]);

      await page.getByRole("link", { name: /^constructor/ }).click();
      await page.waitForURL(/\/launch\/constructor$/);
      const form = page.getByRole("form", { name: "Launch constructor" });
      await form.waitFor();
      expect(await form.locator(".node-chip").allTextContents()).toEqual([
        "hasOwnProperty",
        "__defineGetter__",
      ]);
      const field = form.locator('[data-param="valueOf"] input');
      expect(await field.inputValue()).toBe("plain");
      expect(await form.locator('[data-param="valueOf"]').textContent()).toContain(
        "Written by hasOwnProperty",
      );
      await field.fill("typed <by> hand");
      await screenshot(page, "20-hostile-launch");
      await form.getByRole("button", { name: "Start run" }).click();

      await page.waitForURL(/\/runs\/run_[0-9A-Z]+/);
      const id = new URL(page.url()).pathname.split("/").pop()!;
      const runStatus = () => page.locator(".title-row [data-status]").first().getAttribute("data-status");
      await waitFor("the run to succeed", async () => (await runStatus()) === "succeeded");
      const stage = page.locator('.stage[data-node="hasOwnProperty"]');
      expect(await stage.getAttribute("data-status")).toBe("succeeded");
      expect(await page.locator('.stage[data-node="__defineGetter__"]').getAttribute("data-status")).toBe(
        "succeeded",
      );
      expect(await page.locator(".run-meta").textContent()).toContain("valueOf=typed <by> hand");

      await stage.locator(".stage-head").click();
      const panel = page.getByTestId("task-panel");
      await panel.waitFor();
      expect(await panel.locator("h2").textContent()).toBe("hasOwnProperty");
      await panel.getByRole("tab", { name: "Details" }).click();
      const params = panel.locator(".section", { hasText: "Params" }).locator("table.kv");
      await params.waitFor();
      expect(await params.getByRole("rowheader").allTextContents()).toEqual(["valueOf"]);
      expect(await params.locator("td").textContent()).toContain("typed <by> hand");
      await screenshot(page, "21-hostile-run");

      const { body } = await server.api<{ run: { pipeline: string; params: Record<string, unknown> } }>(
        `/api/v1/runs/${id}`,
      );
      expect(body.run.pipeline).toBe("constructor");
      expect(Object.hasOwn(body.run.params, "valueOf")).toBe(true);
      expect(body.run.params.valueOf).toBe("typed <by> hand");

      // baton.yaml's toString, whose second node is __proto__: its graph is drawn too.
      const other = await server.api<{ run: { id: string } }>("/api/v1/runs", {
        pipeline: "toString",
      });
      expect(other.status, JSON.stringify(other.body)).toBe(201);
      await page.goto(`${server.url}/runs/${other.body.run.id}`);
      await waitFor("the toString run to succeed", async () => (await runStatus()) === "succeeded");
      expect(await page.locator('.stage[data-node="__proto__"]').getAttribute("data-status")).toBe(
        "succeeded",
      );
      expect(await page.locator('.stage[data-node="valueOf"]').getAttribute("data-status")).toBe("succeeded");
      await screenshot(page, "22-hostile-proto-node");
      expect(browser.errors).toEqual([]);
    }, 120_000);
  },
);

// Release nodes (Valohai's deployment nodes): each run of `ship` keeps train's model as the next
// version of release "mnist model" (a name with a space, as Valohai users write them).
const RELEASE_PROJECT = `version: 1
pipelines:
  ship:
    params:
      v: { type: string, default: one }
    nodes:
      train:
        run: printf 'weights %s\\000\\377\\n' "\${{ params.v }}" > "$BATON_OUTPUT_DIR/model.bin"
      deploy:
        needs: train
        release:
          name: mnist model
          files: \${{ needs.train.outputs['model*'] }}
`;

describe.skipIf(skip !== undefined)(
  `web UI in Chromium: releases${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let server: Server;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      assertBuilt();
      server = await startServer({ "baton.yaml": RELEASE_PROJECT });
      browser = await openBrowser();
      page = browser.page;
      page.setDefaultTimeout(20_000);
    }, 90_000);

    beforeEach(() => {
      onTestFailed(async () => {
        console.error(`page errors: ${browser.errors.join("\n") || "none"}`);
        console.error(`baton server stderr ends:\n${server.stderr().slice(-4000)}`);
        await screenshot(page, "releases-failure").catch(() => undefined);
      });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    }, 60_000);

    const bytesOf = (v: string) => [...Buffer.from(`weights ${v}`), 0, 255, 10];

    it("lists what a release node kept, its versions newest first, and downloads a file's bytes", async () => {
      await page.goto(`${server.url}/releases?token=${server.token}`);
      await page.getByRole("heading", { name: "Releases" }).waitFor();
      await page.locator(".empty", { hasText: "No releases yet" }).waitFor();

      // Two runs: the second's model differs, so it is version 2.
      const runs: string[] = [];
      for (const v of ["one", "two"]) {
        const started = await server.api<{ run: { id: string } }>("/api/v1/runs", {
          pipeline: "ship",
          params: { v },
        });
        expect(started.status, JSON.stringify(started.body)).toBe(201);
        const id = started.body.run.id;
        runs.push(id);
        await waitFor(
          `run ${v} to succeed`,
          async () => {
            const r = await server.api<{ run: { status: string } }>(`/api/v1/runs/${id}`);
            if (r.body.run.status === "failed")
              throw new Error(`run ${v} failed: ${server.stderr().slice(-2000)}`);
            return r.body.run.status === "succeeded";
          },
          { timeoutMs: 30_000 },
        );
      }

      // The list updates live: the release appears without a reload.
      const row = page.locator('tr[data-release="mnist model"]');
      await waitFor("the release at version 2", async () =>
        (await row.count()) === 1 ? (await row.locator("td").nth(1).textContent())?.includes("v2") : false,
      );
      expect(await row.locator("td").nth(1).textContent()).toBe("v2 (2 versions)");
      const made = row.locator(".release-made-by a");
      expect(await made.nth(0).getAttribute("href")).toBe(`/runs/${runs[1]}`);
      await screenshot(page, "30-releases");

      // The task that made it opens in its run's view.
      await made.nth(1).click();
      await page.waitForURL((u) => u.pathname === `/runs/${runs[1]}` && u.searchParams.has("task"));
      await waitFor(
        "the deploy task's panel",
        async () => (await page.getByTestId("task-panel").locator("h2").textContent()) === "deploy",
      );

      // Back through the main navigation, then into the release.
      await page.getByRole("navigation").getByRole("link", { name: "Releases" }).click();
      await row.getByRole("link", { name: "mnist model" }).click();
      await page.waitForURL((u) => u.pathname === "/releases/mnist%20model");
      const versions = page.locator("section[data-version]");
      await waitFor("two versions", async () => (await versions.count()) === 2);
      expect(await versions.evaluateAll((s) => s.map((e) => e.getAttribute("data-version")))).toEqual([
        "2",
        "1",
      ]);
      const file = versions.nth(0).locator('tr[data-file="model.bin"]');
      expect(await file.locator("td").nth(1).textContent()).toBe(`${bytesOf("two").length} B`);
      await screenshot(page, "31-release-versions");

      // The link works in the browser: it carries the token, and the server answers the bytes.
      const link = file.getByRole("link", { name: "model.bin" });
      const href = (await link.getAttribute("href"))!;
      expect(href).toMatch(/^\/api\/v1\/releases\/mnist%20model\/2\/files\/model\.bin\?token=/);
      const fetched = await page.evaluate(
        async (u) => [...new Uint8Array(await (await fetch(u)).arrayBuffer())],
        href,
      );
      expect(fetched).toEqual(bytesOf("two"));
      const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
      expect(download.suggestedFilename()).toBe("model.bin");
      expect([...fs.readFileSync((await download.path())!)]).toEqual(bytesOf("two"));
      const older = await versions.nth(1).getByRole("link", { name: "model.bin" }).getAttribute("href");
      const olderBytes = await page.evaluate(
        async (u) => [...new Uint8Array(await (await fetch(u)).arrayBuffer())],
        older!,
      );
      expect(olderBytes).toEqual(bytesOf("one"));
      expect(browser.errors).toEqual([]);
    }, 120_000);
  },
);

// Metric series: each task of a small sweep appends {"step": i, "loss": …} lines to
// $BATON_METRICS, as a training loop logs its loss; the UI draws them as curves.
const CURVE_STEPS = 10;
const CURVES_PROJECT = `version: 1
pipelines:
  curves:
    params:
      lrs: { type: list, default: [0.1, 0.3] }
    nodes:
      train:
        foreach: \${{ params.lrs }}
        with: { lr: "\${{ item }}" }
        params: { lr: { type: float, default: 0.1 } }
        run: |
          node -e 'const lr = +process.argv[1]; const fs = require("fs"); for (let i = 0; i < ${CURVE_STEPS}; i++) fs.appendFileSync(process.env.BATON_METRICS, JSON.stringify({ step: i, loss: +(2.3 * Math.exp(-lr * i)).toFixed(4) }) + "\\n"); fs.appendFileSync(process.env.BATON_METRICS, JSON.stringify({ accuracy: 0.5 + lr }) + "\\n")' "\${{ params.lr }}"
`;

describe.skipIf(skip !== undefined)(
  `web UI in Chromium: metric curves${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let server: Server;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      assertBuilt();
      server = await startServer({ "baton.yaml": CURVES_PROJECT });
      browser = await openBrowser();
      page = browser.page;
      page.setDefaultTimeout(20_000);
    }, 90_000);

    beforeEach(() => {
      onTestFailed(async () => {
        console.error(`page errors: ${browser.errors.join("\n") || "none"}`);
        console.error(`baton server stderr ends:\n${server.stderr().slice(-4000)}`);
        await screenshot(page, "curves-failure").catch(() => undefined);
      });
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
    }, 60_000);

    it("draws a task's loss curve in its panel, and the sweep's curves overlaid in Compare", async () => {
      const started = await server.api<{ run: { id: string } }>("/api/v1/runs", { pipeline: "curves" });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      await page.goto(`${server.url}/runs/${started.body.run.id}?token=${server.token}`);
      const runStatus = () => page.locator(".title-row [data-status]").first().getAttribute("data-status");
      await waitFor("the run to succeed", async () => (await runStatus()) === "succeeded");

      await page
        .locator('.stage[data-node="train"]')
        .getByRole("button", { name: /Show 2 tasks/ })
        .click();
      await page.locator('.stage-row[data-task="train[1]"]').click();
      const panel = page.getByTestId("task-panel");
      await panel.waitFor();
      await panel.getByRole("tab", { name: "Details" }).click();
      const chart = panel.locator('.metric-chart[data-metric="loss"]');
      await chart.waitFor();
      // One chart: accuracy was written once (its value is in the table), step is the x axis.
      expect(await panel.locator(".metric-chart").count()).toBe(1);
      expect(await chart.locator("circle.series-point").count()).toBe(CURVE_STEPS);
      expect(await chart.locator("svg").getAttribute("aria-label")).toBe("loss by step");
      expect(await chart.textContent()).toContain(`${CURVE_STEPS} points`);

      // Hovering over the fourth point shows its step and value.
      await chart.scrollIntoViewIfNeeded();
      const fourth = await chart.locator("circle.series-point").nth(3).boundingBox();
      await page.mouse.move(fourth!.x + fourth!.width / 2, fourth!.y + fourth!.height / 2);
      const hover = chart.getByTestId("chart-hover");
      await hover.waitFor();
      expect(await hover.textContent()).toContain("step 3");
      expect(await hover.textContent()).toContain(`loss = ${+(2.3 * Math.exp(-0.3 * 3)).toFixed(4)}`);
      await screenshot(page, "30-task-loss-curve");

      await page.getByRole("button", { name: "Compare" }).first().click();
      const curves = page.getByTestId("compare-curves");
      await curves.waitFor();
      expect(await curves.getByLabel("Metric (curves)").inputValue()).toBe("loss");
      const lines = curves.locator("g.series");
      await waitFor("two lines", async () => (await lines.count()) === 2);
      expect(await lines.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-line")))).toEqual([
        "train[0]",
        "train[1]",
      ]);
      expect(
        await lines
          .locator("path.series-line")
          .evaluateAll((ps) => ps.map((p) => p.getAttribute("data-points"))),
      ).toEqual([String(CURVE_STEPS), String(CURVE_STEPS)]);
      expect(await curves.locator(".series-legend .legend-item").allTextContents()).toEqual([
        "train[0]",
        "train[1]",
      ]);
      await curves.scrollIntoViewIfNeeded();
      const box = await curves.locator("svg").boundingBox();
      await page.mouse.move(box!.x + box!.width * 0.5, box!.y + box!.height * 0.5);
      await curves.getByTestId("chart-hover").waitFor();
      expect(await curves.getByTestId("chart-hover").textContent()).toMatch(/train\[0\] = .*train\[1\] = /);
      await screenshot(page, "31-compare-curves");
      expect(browser.errors).toEqual([]);
    }, 120_000);
  },
);
