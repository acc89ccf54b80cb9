import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandFiles, commandWords, workdirNames } from "./command-files.js";

describe("commandWords", () => {
  it("splits like a shell, keeps --name=value values, leaves out variables, globs and written files", () => {
    expect(commandWords("python3 step.py --lr 0.1")).toEqual(["python3", "step.py", "--lr", "0.1"]);
    expect(commandWords(`bash 'my script.sh' "b c.txt" x\\ y.py`)).toEqual([
      "bash",
      "my script.sh",
      "b c.txt",
      "x y.py",
    ]);
    expect(commandWords("node x.js --config=cfg.yaml")).toEqual([
      "node",
      "x.js",
      "--config=cfg.yaml",
      "cfg.yaml",
    ]);
    expect(commandWords('cat $HOME/a "$B" `pwd` *.csv data/[ab].txt ok.txt')).toEqual(["cat", "ok.txt"]);
    expect(commandWords("./tool < in.txt > out.txt 2>err.log; Rscript a.R >> log.txt 2>&1 | tee t")).toEqual([
      "./tool",
      "in.txt",
      "Rscript",
      "a.R",
      "tee",
      "t",
    ]);
    expect(commandWords("echo prep >> ran.log\ncat x")).toEqual(["echo", "prep", "cat", "x"]);
  });
});

describe("commandFiles", () => {
  it("keeps existing regular files inside the project only", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "baton-cmdfiles-"));
    const dir = path.join(root, "project");
    fs.mkdirSync(path.join(dir, "lib"), { recursive: true });
    fs.mkdirSync(path.join(dir, ".baton"));
    fs.writeFileSync(path.join(dir, "step.py"), "print(1)\n");
    fs.writeFileSync(path.join(dir, "lib", "util.sh"), "true\n");
    fs.writeFileSync(path.join(dir, ".baton", "state.txt"), "x\n");
    fs.writeFileSync(path.join(root, "outside.py"), "print(2)\n");
    fs.symlinkSync(path.join(root, "outside.py"), path.join(dir, "link.py"));
    const files = await commandFiles(
      `python3 step.py lib/util.sh lib missing.py ../outside.py ${path.join(root, "outside.py")} /etc/hostname link.py .baton/state.txt step.py`,
      dir,
      [path.join(dir, ".baton")],
    );
    expect(files).toEqual([path.join(dir, "step.py"), path.join(dir, "lib", "util.sh")]);
  });

  it("with the project folder listed once, finds the same files and skips names not in it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-cmdfiles-"));
    fs.mkdirSync(path.join(dir, "lib"));
    fs.writeFileSync(path.join(dir, "step.py"), "print(1)\n");
    fs.writeFileSync(path.join(dir, "lib", "util.sh"), "true\n");
    const names = workdirNames(dir);
    const command = "python3 step.py lib/util.sh 42 later.py lib/missing.sh";
    const found = [path.join(dir, "step.py"), path.join(dir, "lib", "util.sh")];
    expect(await commandFiles(command, dir, [], names)).toEqual(found);
    // Listed at first use: a file made afterwards is not seen by the tasks sharing the listing.
    fs.writeFileSync(path.join(dir, "later.py"), "print(2)\n");
    expect(await commandFiles(command, dir, [], names)).toEqual(found);
    expect(await commandFiles(command, dir, [], workdirNames(dir))).toEqual([
      ...found,
      path.join(dir, "later.py"),
    ]);
    // A folder that cannot be listed filters nothing.
    expect(workdirNames(path.join(dir, "absent"))()).toBeUndefined();
  });
});
