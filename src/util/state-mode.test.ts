import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeStateDir, makeStateFile, stateModes } from "./state-mode.js";

let dir: string;
let umask: number;
const mode = (p: string) => fs.statSync(p).mode & 0o777;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-state-mode-"));
  umask = process.umask(0o022);
});

afterEach(() => {
  process.umask(umask);
  process.env.BATON_STATE_MODE = "";
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("state modes", () => {
  it("creates folders 0700 and files 0600 under umask 022", () => {
    makeStateDir(path.join(dir, "a", "b"));
    expect(mode(path.join(dir, "a"))).toBe(0o700);
    expect(mode(path.join(dir, "a", "b"))).toBe(0o700);
    makeStateFile(path.join(dir, "a", "f"));
    expect(mode(path.join(dir, "a", "f"))).toBe(0o600);
  });

  it("tightens an existing file without widening a read-only one", () => {
    const open = path.join(dir, "open");
    const readOnly = path.join(dir, "ro");
    fs.writeFileSync(open, "x", { mode: 0o644 });
    fs.writeFileSync(readOnly, "x", { mode: 0o444 });
    makeStateFile(open);
    makeStateFile(readOnly);
    expect(mode(open)).toBe(0o600);
    expect(mode(readOnly)).toBe(0o400);
  });

  it("BATON_STATE_MODE=group gives 0770/0660 even under umask 077", () => {
    process.env.BATON_STATE_MODE = "group";
    process.umask(0o077);
    makeStateDir(path.join(dir, "g", "h"));
    makeStateFile(path.join(dir, "g", "f"));
    expect(mode(path.join(dir, "g"))).toBe(0o770);
    expect(mode(path.join(dir, "g", "h"))).toBe(0o770);
    expect(mode(path.join(dir, "g", "f"))).toBe(0o660);
  });

  it("refuses an unknown BATON_STATE_MODE, naming it", () => {
    expect(() => stateModes({ BATON_STATE_MODE: "public" })).toThrow(
      'BATON_STATE_MODE="public": expected "private"',
    );
  });
});
