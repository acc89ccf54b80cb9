// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ReleaseDetail, ReleaseSummary } from "../api/types";
import { App } from "../app";
import { byText, cleanup, click, flush, render } from "../test/render";
import { ReleasePage, ReleasesPage } from "./releases-page";

const NAME = "Train model (MNIST)";
const RUN1 = "run_01JABCDEFGHJKMNPQRSTVWXYZ0";
const RUN2 = "run_01JBBCDEFGHJKMNPQRSTVWXYZ1";
const TASK1 = "task_01JABCDEFGHJKMNPQRSTVWXYZ2";
const TASK2 = "task_01JBBCDEFGHJKMNPQRSTVWXYZ3";
const SHA1 = "a".repeat(64);
const SHA2 = "0123456789ab".padEnd(64, "f");

const SUMMARY: ReleaseSummary = {
  name: NAME,
  latestVersion: 2,
  versions: 2,
  createdAt: "2026-01-02T00:00:00.000Z",
  run: RUN2,
  task: TASK2,
};

const base = `/api/v1/releases/${encodeURIComponent(NAME)}`;
const DETAIL: ReleaseDetail = {
  name: NAME,
  versions: [
    {
      version: 2,
      createdAt: "2026-01-02T00:00:00.000Z",
      run: RUN2,
      task: TASK2,
      files: [
        { path: "model.pt", size: 2048, sha256: SHA2, url: `${base}/2/files/model.pt` },
        { path: "dir/notes.txt", size: 12, sha256: SHA1, url: `${base}/2/files/dir/notes.txt` },
      ],
    },
    {
      version: 1,
      createdAt: "2026-01-01T00:00:00.000Z",
      run: RUN1,
      task: TASK1,
      files: [{ path: "model.pt", size: 1000, sha256: SHA1, url: `${base}/1/files/model.pt` }],
    },
  ],
};

let releases: ReleaseSummary[];
let asked: string[];

beforeEach(() => {
  releases = [SUMMARY];
  asked = [];
  window.localStorage.setItem("baton.token", "se cret");
  window.history.replaceState(null, "", "/");
  // A server that answers as GET /releases and GET /releases/:name do.
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string) => {
      asked.push(url);
      if (url === "/api/v1/releases") return Response.json({ releases });
      if (url === base) return Response.json(DETAIL);
      if (url.startsWith("/api/v1/releases/")) {
        const name = decodeURIComponent(url.slice("/api/v1/releases/".length));
        return Response.json(
          { error: { code: "NOT_FOUND", message: `no release "${name}"` } },
          { status: 404 },
        );
      }
      return Response.json({ error: { code: "NOT_FOUND", message: "no such route" } }, { status: 404 });
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const cells = (row: Element) => [...row.querySelectorAll("td")].map((c) => c.textContent?.trim());

describe("releases page", () => {
  it("lists each release with its latest version and links to it and to the run and task that made it", async () => {
    const { container } = await render(<ReleasesPage />);
    await flush();
    const row = container.querySelector(`tr[data-release="${NAME}"]`)!;
    expect(row).not.toBeNull();
    const [name, latest] = cells(row);
    expect(name).toBe(NAME);
    expect(latest).toBe("v2 (2 versions)");
    const links = [...row.querySelectorAll("a")].map((a) => [a.textContent, a.getAttribute("href")]);
    expect(links).toEqual([
      [NAME, "/releases/Train%20model%20(MNIST)"],
      ["run_…HJKMNP", `/runs/${RUN2}`],
      ["task_…HJKMNP", `/runs/${RUN2}?task=${TASK2}`],
    ]);

    // The release's link opens its page.
    await click(byText(row, "a", NAME));
    expect(window.location.pathname).toBe("/releases/Train%20model%20(MNIST)");
  });

  it("says when there are no releases yet", async () => {
    releases = [];
    const { container } = await render(<ReleasesPage />);
    await flush();
    expect(container.querySelector(".empty")!.textContent).toContain("No releases yet.");
  });

  it("shows a release's versions newest first, with their files as download links that carry the token", async () => {
    const { container } = await render(<ReleasePage name={NAME} />);
    await flush();
    expect(asked).toContain(base);
    expect(container.querySelector("h1")!.textContent).toBe(NAME);
    const versions = [...container.querySelectorAll("section[data-version]")];
    expect(versions.map((v) => v.querySelector("h2")!.textContent)).toEqual(["Version 2latest", "Version 1"]);

    const rows = [...versions[0]!.querySelectorAll("tr[data-file]")];
    expect(rows.map(cells)).toEqual([
      ["model.pt", "2.0 KB", "0123456789ab"],
      ["dir/notes.txt", "12 B", "aaaaaaaaaaaa"],
    ]);
    expect(rows[0]!.querySelector("td:last-child")!.getAttribute("title")).toBe(SHA2);
    const hrefs = rows.map((r) => r.querySelector("a")!.getAttribute("href"));
    expect(hrefs).toEqual([
      `${base}/2/files/model.pt?token=se%20cret`,
      `${base}/2/files/dir/notes.txt?token=se%20cret`,
    ]);
    const made = [...versions[1]!.querySelectorAll(".release-made-by a")].map((a) => a.getAttribute("href"));
    expect(made).toEqual([`/runs/${RUN1}`, `/runs/${RUN1}?task=${TASK1}`]);
  });

  it("says so for a release that does not exist", async () => {
    const { container } = await render(<ReleasePage name="nope" />);
    await flush();
    expect(container.querySelector(".alert-error")!.textContent).toBe('There is no release "nope".');
  });

  it("is reached from the main navigation", async () => {
    const { container } = await render(<App />);
    await flush();
    const nav = container.querySelector("nav.nav")!;
    await click(byText(nav, "a", "Releases"));
    await flush();
    expect(window.location.pathname).toBe("/releases");
    expect(byText(nav, "a", "Releases")!.className).toBe("nav-on");
    expect(container.querySelector("h1")!.textContent).toBe("Releases");
    expect(container.querySelector(`tr[data-release="${NAME}"]`)).not.toBeNull();
  });
});
