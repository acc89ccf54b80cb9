import { describe, expect, it } from "vitest";
import { defaultName } from "./task-name.js";

describe("the default name of a submitted task", () => {
  it("is the script or program the command runs", () => {
    expect(defaultName("python train.py --lr 0.1")).toBe("train");
    expect(defaultName("CUDA_VISIBLE_DEVICES=0 python -u src/train.py")).toBe("train");
    expect(defaultName("./process_all.sh")).toBe("process_all");
    expect(defaultName("echo -n hello")).toBe("echo");
  });

  it("is a shell's inline script's first command, never the quote-mangled `_ls`", () => {
    expect(defaultName(`bash -c 'ls *.csv | xargs -I {} baton submit --name {} python p.py {}'`)).toBe("ls");
    expect(defaultName(`sh -c "cd data && make"`)).toBe("cd");
    expect(defaultName("bash -euc 'python3 score.py'")).toBe("score");
  });

  it("is the interpreter for another language's inline code", () => {
    expect(defaultName(`python -c 'import sys; print(sys.argv)'`)).toBe("python");
    expect(defaultName(`node -e "console.log(1)"`)).toBe("node");
  });
});
