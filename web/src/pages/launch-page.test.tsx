// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PipelineSummary } from "../api/types";
import { byText, cleanup, click, flush, render, type } from "../test/render";
import { LaunchPage, nodeLayers } from "./launch-page";

const SWEEP: PipelineSummary = {
  name: "sweep",
  source: "file",
  file: "/p/baton.yaml",
  params: [
    { name: "lrs", type: "list", required: false, default: [0.1, 0.01], description: "Learning rates" },
    { name: "epochs", type: "int", required: true },
    { name: "model", type: "string", required: false, default: "resnet", choices: ["resnet", "vit"] },
    { name: "augment", type: "bool", required: false, default: false },
  ],
  nodes: [
    { name: "prep", kind: "task", needs: [] },
    { name: "train", kind: "task", needs: [{ node: "prep", condition: "success" }], fanout: "foreach" },
  ],
};

// A param named like a member of every JavaScript object.
const PROTO: PipelineSummary = {
  name: "constructor",
  source: "registered",
  file: null,
  params: [{ name: "__proto__", type: "int", required: false, default: 1 }],
  nodes: [{ name: "hasOwnProperty", kind: "task", needs: [] }],
};

let posted: Array<{ url: string; body: unknown }>;

beforeEach(() => {
  posted = [];
  window.localStorage.setItem("baton.token", "secret");
  window.history.replaceState(null, "", "/launch/sweep");
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const headers = init?.headers as Record<string, string>;
      expect(headers.authorization).toBe("Bearer secret");
      if (url === "/api/v1/pipelines") return Response.json({ pipelines: [SWEEP, PROTO] });
      if (url === "/api/v1/runs" && init?.method === "POST") {
        const body = JSON.parse(String(init.body));
        posted.push({ url, body });
        if (Object.hasOwn(body.params, "__proto__")) {
          return Response.json(
            {
              error: {
                code: "PARAM_INVALID",
                message: "bad params",
                problems: [{ path: "body.params.__proto__", message: "at most 50" }],
              },
            },
            { status: 400 },
          );
        }
        if (body.params.epochs === 99) {
          return Response.json(
            {
              error: {
                code: "PARAM_INVALID",
                message: "bad params",
                problems: [{ path: "body.params.epochs", message: "at most 50 epochs" }],
              },
            },
            { status: 400 },
          );
        }
        return Response.json({ run: { id: "01RUN", pipeline: "sweep" } }, { status: 201 });
      }
      return Response.json({ error: { code: "NOT_FOUND", message: "no" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const field = (c: HTMLElement, name: string) => c.querySelector<HTMLElement>(`[data-param="${name}"]`)!;

describe("launch form", () => {
  it("is generated from the pipeline's params: types, defaults, choices, descriptions", async () => {
    const { container } = await render(<LaunchPage name="sweep" />);
    await flush();
    expect(field(container, "lrs").querySelector("textarea")!.value).toBe("[0.1, 0.01]");
    expect(field(container, "lrs").textContent).toContain("Learning rates");
    expect(field(container, "epochs").querySelector("label")!.textContent).toBe("epochs *");
    const options = [...field(container, "model").querySelectorAll("option")].map((o) => o.textContent);
    expect(options).toEqual(["resnet", "vit"]);
    expect(field(container, "augment").querySelector<HTMLInputElement>("input[type=checkbox]")!.checked).toBe(
      false,
    );
  });

  it("checks values before sending, then starts the run and opens it", async () => {
    const { container } = await render(<LaunchPage name="sweep" />);
    await flush();
    const submit = byText(container, "button", "Start run");

    await click(submit);
    expect(field(container, "epochs").textContent).toContain("required");
    await type(field(container, "epochs").querySelector("input"), "3.5");
    await click(submit);
    expect(field(container, "epochs").textContent).toContain("expected a whole number");
    expect(posted).toHaveLength(0);

    await type(field(container, "epochs").querySelector("input"), "5");
    await type(field(container, "lrs").querySelector("textarea"), "0.3, 0.03");
    await click(field(container, "augment").querySelector("input"));
    await click(submit);
    await flush();
    expect(posted).toEqual([
      {
        url: "/api/v1/runs",
        body: { pipeline: "sweep", params: { lrs: [0.3, 0.03], epochs: 5, model: "resnet", augment: true } },
      },
    ]);
    expect(window.location.pathname).toBe("/runs/01RUN");
  });

  it("shows the server's problems next to their fields", async () => {
    const { container } = await render(<LaunchPage name="sweep" />);
    await flush();
    await type(field(container, "epochs").querySelector("input"), "99");
    await click(byText(container, "button", "Start run"));
    await flush();
    expect(field(container, "epochs").querySelector(".field-message")!.textContent).toBe("at most 50 epochs");
    expect(window.location.pathname).toBe("/launch/sweep");
  });

  it("shows the server's problem next to a param named __proto__", async () => {
    window.history.replaceState(null, "", "/launch/constructor");
    const { container } = await render(<LaunchPage name="constructor" />);
    await flush();
    await type(field(container, "__proto__").querySelector("input"), "99");
    await click(byText(container, "button", "Start run"));
    await flush();
    expect(JSON.stringify(posted.map((p) => p.body))).toBe(
      '[{"pipeline":"constructor","params":{"__proto__":99}}]',
    );
    expect(field(container, "__proto__").querySelector(".field-message")?.textContent).toBe("at most 50");
    expect(window.location.pathname).toBe("/launch/constructor");
  });

  it("lays nodes out in layers of their needs", () => {
    expect(nodeLayers(SWEEP.nodes).map((l) => l.map((n) => n.name))).toEqual([["prep"], ["train"]]);
  });
});
