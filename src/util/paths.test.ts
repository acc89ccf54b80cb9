import path from "node:path";
import { describe, expect, it } from "vitest";
import { joinUnder, relativeUnder } from "./paths.js";

const dirs = ["/a/b", "/a/b/", "/", "/a//b", "/a/./b", "/a/../b", "/a/b/..", "/a/.b", "/a/..b", "a/b", ""];
const rels = [
  "c",
  "c/d.txt",
  "./c",
  "c/../d",
  "../c",
  "c//d",
  "c/",
  "/c",
  "",
  ".",
  "..",
  ".c",
  "c/.d/e",
  "..c",
  "c..",
];

describe("joinUnder and relativeUnder", () => {
  it.each(dirs)("give what path gives, from %j", (dir) => {
    for (const rel of rels) {
      expect(joinUnder(dir, rel)).toBe(path.join(dir, rel));
      const file = `${dir}/${rel}`;
      expect(relativeUnder(dir, file)).toBe(path.relative(dir, file));
      expect(relativeUnder(dir, `${dir}x/${rel}`)).toBe(path.relative(dir, `${dir}x/${rel}`));
    }
  });
});
