/**
 * Which shell runs a task's command (docs/pipeline-file.md, "Command").
 *
 * A command is run by `bash -eo pipefail -c`, unless it plainly needs nothing of bash: then by
 * `/bin/sh -ec`, which starts in about a third of the time on systems where `/bin/sh` is a small
 * POSIX shell (dash). That matters for thousands of tiny tasks; for anything else the shell's
 * start-up is lost in the noise, so the test is deliberately narrow: a command gets `/bin/sh`
 * only if every character and word in it means the same to both shells. Anything this does not
 * recognise keeps bash.
 */
import { stateModes } from "../util/state-mode.js";

/** The argv of a task's shell, with the command last. */
export type ShellArgv = [file: string, ...args: string[]];

export const BASH = "/bin/bash";
export const SH = "/bin/sh";

/**
 * `bash -c` prologue: record the exit status on the way out, whatever ends the script. The shell
 * makes the status file then, with the state file mode (state-mode.ts) whatever the task's umask:
 * nothing makes it before the task starts.
 */
export function wrapCommand(command: string): string {
  // On one line with the command so the shell's own "line N" messages keep the user's numbering.
  return `trap '__baton_status=$?; umask ${statusUmask()}; echo $__baton_status > "$BATON_STATUS_FILE"' EXIT; ${command}`;
}

/** The umask that gives a new file the state file mode: 177 (0600), or 117 (0660) shared. */
function statusUmask(): string {
  let mode = 0o600;
  try {
    mode = stateModes().file;
  } catch {
    // A BATON_STATE_MODE refused where the task's files are made (start-task.ts): never started.
  }
  return (0o777 & ~mode).toString(8);
}

/**
 * The shell, its flags and the wrapped command that run `command` in an environment `env` (over
 * `inherited`, when given: an environment used for many commands, looked at once);
 * `prelude` (Baton's own, read alike by both shells) runs first.
 */
export function shellArgv(
  command: string,
  env: Record<string, string | undefined>,
  prelude = "",
  inherited?: Readonly<Record<string, string | undefined>>,
): ShellArgv {
  const script = wrapCommand(prelude + command);
  const bash = (inherited !== undefined && inheritedNeedsBash(inherited)) || needsBash(command, env);
  return bash ? [BASH, "-eo", "pipefail", "-c", script] : [SH, "-ec", script];
}

const inheritedBash = new WeakMap<object, boolean>();

/** Whether an environment sets what changes bash (see {@link needsBash}); remembered per object. */
function inheritedNeedsBash(env: Readonly<Record<string, string | undefined>>): boolean {
  let found = inheritedBash.get(env);
  if (found === undefined) {
    found = setsBashEnv(env);
    inheritedBash.set(env, found);
  }
  return found;
}

/**
 * Variables that bash sets (or reads) and a POSIX shell does not: `$RANDOM` means nothing to
 * dash. `$_` and `$0` are told apart by the caller.
 */
const BASH_VARIABLES =
  /^(BASH\w*|RANDOM|SRANDOM|SECONDS|EPOCHSECONDS|EPOCHREALTIME|PIPESTATUS|FUNCNAME|GROUPS|UID|EUID|HOSTNAME|HOSTTYPE|OSTYPE|MACHTYPE|DIRSTACK|SHELLOPTS|SHLVL|REPLY|MAPFILE|COPROC|HIST\w*|TIMEFORMAT|COMP_\w*|COMPREPLY|READLINE_\w*|PROMPT_COMMAND|GLOBIGNORE)$/;

/** Words that are bash keywords or builtins, or builtins whose options differ between the shells. */
const BASH_WORDS = new Set([
  "[[",
  "]]",
  "source",
  ".",
  "declare",
  "typeset",
  "let",
  "local",
  "readonly",
  "shopt",
  "pushd",
  "popd",
  "dirs",
  "mapfile",
  "readarray",
  "select",
  "function",
  "coproc",
  "disown",
  "enable",
  "caller",
  "compgen",
  "complete",
  "compopt",
  "bind",
  "history",
  "fc",
  "help",
  "logout",
  "suspend",
  "time",
  "set",
  "trap",
  "alias",
  "unalias",
  "read",
  "wait",
  "ulimit",
  "printf",
  "eval",
  "getopts",
  "case",
]);

/** Builtins that mean the same in both shells unless given an option (`exec -a`, `export -f`). */
const NO_OPTIONS = new Set(["exec", "export", "type"]);

/** Environment variables that change what bash does before or while it reads the command. */
const BASH_ENV = /^(BASH_ENV|BASHOPTS|SHELLOPTS|GLOBIGNORE|BASH_FUNC_.*)$/;

/** Whether `env` sets a variable that changes what bash does ({@link BASH_ENV}). */
function setsBashEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  return Object.keys(env).some((name) => BASH_ENV.test(name) && env[name] !== undefined);
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** A word of a command (quotes removed, expansions left as written), or what ends a command. */
type Token = { word: string; expands: boolean; redirect: boolean } | "end";

/**
 * True unless `command` is made only of what `/bin/sh -e` and `bash -eo pipefail` read alike:
 * words, plain quotes, `$NAME`/`${NAME}`/`$1`/`$?`-style expansions, `;`, `&&`, `||`, `&`,
 * redirections (`>`, `>>`, `<`, `2>&1`), `!`, globs `*` and `?`, and no pipe (`pipefail` exists
 * only in bash). Backslashes, `$(...)`, backquotes, brackets, braces, parentheses, here-documents,
 * bash-only builtins and variables, `echo` with an option or an expansion (dash's `echo` reads
 * backslashes in its arguments), and an environment that sets `BASH_ENV` or exports functions
 * all keep bash.
 */
export function needsBash(command: string, env: Record<string, string | undefined> = {}): boolean {
  if (setsBashEnv(env)) return true;
  const tokens = shellTokens(command);
  if (tokens === undefined) return true;
  for (const [n, t] of tokens.entries()) {
    if (t === "end" || t.redirect) continue;
    if (BASH_WORDS.has(t.word)) return true;
    if (t.word !== "echo" && !NO_OPTIONS.has(t.word)) continue;
    // The words after it in the same command, but for redirections' targets.
    const args: Array<{ word: string; expands: boolean }> = [];
    for (let k = n + 1; k < tokens.length; k++) {
      const a = tokens[k]!;
      if (a === "end") break;
      if (!a.redirect) args.push(a);
    }
    if (t.word === "echo") {
      if (args.some((a) => a.expands || (a.word.startsWith("-") && a.word !== "-n"))) return true;
    } else if (args[0]?.word.startsWith("-")) return true;
  }
  return false;
}

/** The words of `command` as {@link needsBash} reads them; undefined at the first thing only bash reads. */
function shellTokens(command: string): Token[] | undefined {
  const tokens: Token[] = [];
  let word = "";
  let inWord = false;
  let expands = false;
  let redirect = false;
  const endWord = () => {
    if (inWord) {
      tokens.push({ word, expands, redirect });
      redirect = false;
    }
    word = "";
    inWord = false;
    expands = false;
  };
  const endCommand = () => {
    endWord();
    tokens.push("end");
  };
  /** The index after the expansion at `$` (index i), or -1 when only bash reads it. */
  const expansion = (i: number): number => {
    const next = command[i + 1];
    if (next === undefined || /[\s"]/.test(next)) return i + 1; // a lone `$`: literal in both
    expands = true;
    if ("?$#@*!".includes(next) || /[1-9]/.test(next)) return i + 2;
    const braced = next === "{";
    const start = braced ? i + 2 : i + 1;
    if (!NAME_START.test(command[start] ?? "")) return -1; // $( $' $0 $- ${#x} ${!x}...
    let end = start + 1;
    while (end < command.length && NAME_CHAR.test(command[end]!)) end++;
    const name = command.slice(start, end);
    if (name === "_" || BASH_VARIABLES.test(name)) return -1;
    if (!braced) return end;
    return command[end] === "}" ? end + 1 : -1; // ${x:-y}, ${x//a/b}...: only ${NAME}
  };
  let i = 0;
  while (i < command.length) {
    const c = command[i]!;
    const two = command.slice(i, i + 2);
    if (c === "'") {
      const close = command.indexOf("'", i + 1);
      if (close < 0) return undefined;
      word += command.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      inWord = true;
      for (i++; command[i] !== '"'; ) {
        const d = command[i];
        if (d === undefined || d === "\\" || d === "`") return undefined;
        if (d === "$") {
          const after = expansion(i);
          if (after < 0) return undefined;
          word += command.slice(i, after);
          i = after;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === "$") {
      const after = expansion(i);
      if (after < 0) return undefined;
      word += command.slice(i, after);
      inWord = true;
      i = after;
    } else if (c === "\n") {
      endCommand();
      i++;
    } else if (/\s/.test(c)) {
      endWord();
      i++;
    } else if (two === "&&" || two === "||") {
      endCommand();
      i += 2;
    } else if (["==", "+=", "&>", "<<", ";;", ";&", ":~"].includes(two)) {
      // `[ a == b ]`, `x+=1`, `&> log`, here-documents, `case` arms, and the second tilde of
      // `PATH=~/a:~/b` (only bash expands it).
      return undefined;
    } else if (
      two === ">>" ||
      two === ">|" ||
      two === "<>" ||
      (two === ">&" && /[0-9-]/.test(command[i + 2] ?? ""))
    ) {
      // `>&2`, `2>&1`, `>&-` name a descriptor (`>& file` is bash's "both to a file").
      endWord();
      redirect = two !== ">&";
      i += two === ">&" ? 3 : 2;
    } else if (two === ">&") {
      return undefined;
    } else if (c === ">" || c === "<") {
      endWord();
      redirect = true;
      i++;
    } else if (c === ";" || c === "&") {
      endCommand();
      i++;
    } else if ("\\`|(){}".includes(c)) {
      return undefined;
    } else if (c === "[" || c === "]") {
      // Only the test command `[ ... ]` itself, as a whole word: globs and `[[` keep bash.
      if (inWord || !/^(\s|;|$)/.test(command[i + 1] ?? "")) return undefined;
      word = c;
      inWord = true;
      i++;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endCommand();
  return tokens;
}
