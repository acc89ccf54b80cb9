/**
 * The name a submitted task gets when `-n` does not give one: from its command (pure: no fs,
 * no processes).
 */
import path from "node:path";

const INTERPRETERS = new Set([
  "python",
  "python3",
  "node",
  "bash",
  "sh",
  "zsh",
  "dash",
  "uv",
  "npx",
  "exec",
  "env",
  "nohup",
  "time",
]);
const SHELLS = new Set(["bash", "sh", "zsh", "dash"]);

/**
 * The default task name, from the command: `python train.py --lr 1` -> `train`; a shell's inline
 * script names it by its first command (`bash -c "ls *.csv | xargs ..."` -> `ls`); another
 * interpreter's (`python -c "..."`) by the interpreter.
 */
export function defaultName(command: string): string {
  const words = shellWords(command).filter((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  let i = 0;
  while (i < words.length && (INTERPRETERS.has(path.basename(words[i]!)) || words[i]!.startsWith("-"))) {
    const word = words[i]!;
    const interpreter = path.basename(words[i - 1] ?? "");
    if (word === "-c" || word === "-e" || (SHELLS.has(interpreter) && /^-[a-z]*c$/.test(word))) {
      const script = words[i + 1];
      if (SHELLS.has(interpreter) && script !== undefined && script.trim() !== "") return defaultName(script);
      return nameOf(interpreter || "task");
    }
    i++;
  }
  return nameOf(words[i] ?? words[0] ?? "task");
}

function nameOf(word: string): string {
  const base = path.basename(word).replace(/\.[A-Za-z0-9]+$/, "");
  return base.replace(/[^A-Za-z0-9_.\-]/g, "_").replace(/^_+|_+$/g, "") || "task";
}

/** Words of a shell command as the shell splits them (quotes removed; no expansion). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      word += command.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? command.length : end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < command.length && command[j] !== '"'; j++) {
        if (command[j] === "\\" && j + 1 < command.length) j++;
        word += command[j];
      }
      i = j;
      inWord = true;
    } else if (c === "\\" && i + 1 < command.length) {
      word += command[++i];
      inWord = true;
    } else if (/\s/.test(c) || c === ";" || c === "|" || c === "&") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      if (!/\s/.test(c)) break; // the first command of a list or pipeline names it
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
