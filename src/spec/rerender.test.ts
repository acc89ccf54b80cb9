import { describe, expect, it } from "vitest";
import { rerenderCommand } from "./rerender.js";

const decls = { lr: { type: "float" as const }, name: { type: "string" as const } };

describe("rerenderCommand", () => {
  it("renders params again and keeps what the other expressions rendered to", () => {
    const r = rerenderCommand({
      template: "train --lr ${{ params.lr }} --data ${{ needs.prep.output_dir }} --tag ${{ params.name }}",
      resolved: "train --lr 0.1 --data /runs/r1/prep --tag a b",
      decls,
      before: { lr: 0.1, name: "a b" },
      after: { lr: 0.5, name: "a b" },
    });
    expect(r).toEqual({ ok: true, command: "train --lr 0.5 --data /runs/r1/prep --tag a b" });
  });

  it("keeps the command when no param it renders changes", () => {
    const resolved = "train --data /x";
    const r = rerenderCommand({
      template: "train --data ${{ needs.prep.output_dir }}",
      resolved,
      decls,
      before: { lr: 0.1 },
      after: { lr: 0.5 },
    });
    expect(r).toEqual({ ok: true, command: resolved });
  });

  it("says why when the command no longer matches the template", () => {
    const r = rerenderCommand({
      template: "train --lr ${{ params.lr }} --x ${{ item }}",
      resolved: "fit --lr 0.1 --x 3",
      decls,
      before: { lr: 0.1 },
      after: { lr: 0.5 },
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toContain("no longer matches");
  });

  it("refuses an expression mixing a changed param with values of the original run", () => {
    const r = rerenderCommand({
      template: "train ${{ format('{0}/{1}', needs.prep.output_dir, params.lr) }}",
      resolved: "train /x/0.1",
      decls,
      before: { lr: 0.1 },
      after: { lr: 0.5 },
    });
    expect(r.ok ? "" : r.reason).toContain("mixes params");
  });
});
