import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BatonError, exitCodeFor } from "../errors.js";
import { errorCodeFor, findEndpoint } from "./api-client.js";

describe("errorCodeFor", () => {
  it("keeps a Baton code the server sent, so the CLI exits as it would without a server", () => {
    expect(errorCodeFor(409, "STORE_AMBIGUOUS")).toBe("STORE_AMBIGUOUS");
    expect(errorCodeFor(400, "SPEC_INVALID")).toBe("SPEC_INVALID");
    expect(exitCodeFor(new BatonError(errorCodeFor(409, "STORE_AMBIGUOUS"), "x"))).toBe(2);
  });

  it("maps the API's own codes and statuses: 409 is a conflict (exit 2), not an internal error", () => {
    expect(errorCodeFor(409, "CONFLICT")).toBe("STATE_CONFLICT");
    expect(exitCodeFor(new BatonError(errorCodeFor(409, "CONFLICT"), "x"))).toBe(2);
    expect(errorCodeFor(404, "NOT_FOUND")).toBe("STORE_NOT_FOUND");
    expect(errorCodeFor(413, "PAYLOAD_TOO_LARGE")).toBe("USAGE");
    expect(errorCodeFor(503, undefined)).toBe("STORE_UNAVAILABLE");
    expect(errorCodeFor(500, "INTERNAL")).toBe("INTERNAL");
    expect(errorCodeFor(502, undefined)).toBe("INTERNAL");
  });

  it("never takes a prototype property for a code", () => {
    expect(errorCodeFor(400, "constructor")).toBe("USAGE");
    expect(errorCodeFor(500, "__proto__")).toBe("INTERNAL");
  });
});

describe("findEndpoint with BATON_URL", () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "baton-endpoint-"));
  fs.mkdirSync(path.join(project, ".baton"));
  fs.writeFileSync(path.join(project, ".baton", "token"), "folder-token\n");
  const inside = path.join(project, "sub");
  fs.mkdirSync(inside);

  it("signs in to a loopback server of the folder with the folder's token when BATON_TOKEN is not set", () => {
    expect(findEndpoint(inside, { BATON_URL: "http://127.0.0.1:8378/" })).toEqual({
      url: "http://127.0.0.1:8378",
      token: "folder-token",
    });
  });

  it("uses BATON_TOKEN when it is set, and never sends the folder's token off this machine", () => {
    expect(findEndpoint(inside, { BATON_URL: "http://127.0.0.1:8378", BATON_TOKEN: "t" })?.token).toBe("t");
    expect(findEndpoint(inside, { BATON_URL: "http://baton.example.com:8377" })?.token).toBe("");
  });
});
