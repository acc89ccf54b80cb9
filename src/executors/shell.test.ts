import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BASH, SH, needsBash, shellArgv } from "./shell.js";

describe("needsBash", () => {
  it.each([
    'echo 5 > "$BATON_OUTPUT_DIR/w5.txt"',
    'cat /p/inputs/prev/t0.txt > "$BATON_OUTPUT_DIR/t1.txt"; echo 1 >> "$BATON_OUTPUT_DIR/t1.txt"',
    'python3 train.py --lr 0.1 --out "$BATON_OUTPUT_DIR" 2>&1',
    "test -f x && cp x y || true",
    "[ -f data.csv ] && wc -l data.csv",
    "mkdir -p out\ncp a.txt out/\n",
    "exec python3 serve.py",
    "echo -n hi",
    "export A=1; echo hi >&2",
    "echo 'a | b $(c) `d`' > ${BATON_OUTPUT_DIR}/q.txt",
    "sleep 1 & wait_for=$!; cd sub && ls *.csv ? > list.txt",
    "! grep -q error log.txt",
    "cd ~/data && make",
    'echo "$" done',
    'echo "it\'s" > "$BATON_OUTPUT_DIR/q.txt"',
  ])("leaves %j to /bin/sh", (command) => {
    expect(needsBash(command)).toBe(false);
  });

  it.each([
    "a | b",
    "echo $(date)",
    "echo `date`",
    "[[ -f x ]]",
    'echo -e "a\\tb"',
    "echo -n -e x",
    'echo "$MSG"',
    "echo $HOME",
    "printf '%s' x",
    "source env.sh",
    ". ./env.sh",
    "echo ${X:-y}",
    "echo $RANDOM > r",
    "touch a{1,2}",
    "diff <(sort a) b",
    "cat <<EOF\nx\nEOF",
    "x+=1",
    "[ a == b ]",
    "make &> log",
    "make >& log",
    "f() { :; }; f",
    "echo a\\ b",
    "ls *.[ch]",
    "set -x; ls",
    "trap 'echo x' ERR; false",
    "echo $0",
    "echo $_",
    "exec -a name sleep 1",
    "echo 'unterminated",
    "time make",
    "export -f f",
    "echo $'a'",
    "(cd sub && make)",
    "case $x in a) echo;; esac",
    "PATH=~/bin:~/tools make",
  ])("keeps bash for %j", (command) => {
    expect(needsBash(command)).toBe(true);
  });

  it("keeps bash when the environment sets BASH_ENV or exports a function", () => {
    expect(needsBash("make", { BASH_ENV: "/home/me/.env.sh" })).toBe(true);
    expect(needsBash("make", { "BASH_FUNC_build%%": "() { make; }" })).toBe(true);
    expect(needsBash("make", { PATH: "/usr/bin", BASH_ENV: undefined })).toBe(false);
  });
});

describe("shellArgv", () => {
  it("runs a plain command with sh -e and anything else with bash -eo pipefail, both recording the exit status", () => {
    expect(shellArgv("true", {}).slice(0, 2)).toEqual([SH, "-ec"]);
    expect(shellArgv("a | b", {}).slice(0, 4)).toEqual([BASH, "-eo", "pipefail", "-c"]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "baton-shell-"));
    const status = path.join(dir, "attempt-1.status");
    for (const command of ["exit 3", "false; exit 0", "false | true"]) {
      const [file, ...args] = shellArgv(command, {});
      let code = 0;
      try {
        execFileSync(file, args, { env: { ...process.env, BATON_STATUS_FILE: status }, stdio: "ignore" });
      } catch (err) {
        code = (err as { status: number }).status;
      }
      const expected = command === "exit 3" ? 3 : 1;
      expect({ command, code }).toEqual({ command, code: expected });
      expect(fs.readFileSync(status, "utf8").trim()).toBe(String(expected));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps bash when the inherited environment (looked at once) sets BASH_ENV", () => {
    const inherited = { PATH: "/usr/bin", BASH_ENV: "/home/me/.env.sh" };
    expect(shellArgv("true", {}, "", inherited)[0]).toBe(BASH);
    expect(shellArgv("true", {}, "", { PATH: "/usr/bin" })[0]).toBe(SH);
    expect(shellArgv("true", { BASH_ENV: "x" }, "", { PATH: "/usr/bin" })[0]).toBe(BASH);
  });
});
