// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, call, getToken, takeTokenFromUrl, withToken } from "./client";

afterEach(() => {
  vi.unstubAllGlobals();
  window.localStorage.clear();
});

describe("the API client", () => {
  it("takes the token from the sign-in URL, keeps it, and clears it from the address bar", () => {
    window.history.replaceState(null, "", "/runs/01ABC?tab=graph&token=s3cret#x");
    expect(takeTokenFromUrl()).toBe(true);
    expect(getToken()).toBe("s3cret");
    expect(window.location.pathname + window.location.search + window.location.hash).toBe(
      "/runs/01ABC?tab=graph#x",
    );
    expect(takeTokenFromUrl()).toBe(false);
    expect(getToken()).toBe("s3cret");
  });

  it("adds the token to URLs that cannot carry a header", () => {
    window.localStorage.setItem("baton.token", "a b");
    expect(withToken("/events")).toBe("/api/v1/events?token=a%20b");
    expect(withToken("/api/v1/artifacts/abc?name=m.bin")).toBe(
      "/api/v1/artifacts/abc?name=m.bin&token=a%20b",
    );
  });

  it("turns error bodies into errors naming the problem, and announces a rejected token", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        Response.json(
          { error: { code: "UNAUTHORIZED", message: "missing or wrong token" } },
          { status: 401, statusText: "Unauthorized" },
        ),
      ),
    );
    const seen = vi.fn();
    window.addEventListener("baton:unauthorized", seen);
    const err = await call("GET", "/runs").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 401, code: "UNAUTHORIZED", message: "missing or wrong token" });
    expect(seen).toHaveBeenCalled();
    window.removeEventListener("baton:unauthorized", seen);
  });
});
