/**
 * Files of the project a task's command names join its cache key by content
 * (docs/pipeline-file.md, "What the cache key covers"): `python3 step.py` reruns when step.py
 * changed. The words are taken from the rendered command with a simple shell-word split; the
 * caller keeps those naming an existing regular file inside the project folder.
 */
import fs from "node:fs";
import path from "node:path";

const [BACKSLASH, SINGLE_QUOTE, DOUBLE_QUOTE, DOLLAR, BACKQUOTE, GREATER, STAR, QUESTION, BRACKET] = [
  ..."\\'\"$`>*?[",
].map((c) => c.charCodeAt(0));
/** Characters that end a word outside quotes: ASCII blanks (as `\s`), `;`, `&`, `|`, `<`, `(`, `)`. */
const SEPARATORS = new Set([..." \t\n\v\f\r;&|<()"].map((c) => c.charCodeAt(0)));

/**
 * The words of a command that may name a file: a simple shell-word split (blanks, `;`, `&`,
 * `|`, `<`, `>`, `(`, `)` separate words; single and double quotes group; a backslash escapes the
 * next character), and for `--name=value` words the value too. Left out: the word after `>` or
 * `>>` (a file the command writes), words with `$` or a backquote (variables, substitutions) or
 * glob characters, empty words.
 */
export function commandWords(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote = 0; // the quote character's code while inside quotes
  let dynamic = false;
  /** After `>`, `>>`, `&>`: the next word is what the command writes, not what it reads. */
  let written = false;
  // Plain characters are added to `word` a run at a time (from `run` to the current index),
  // not one by one: this runs for every task of a fan-out.
  let run = -1;
  const take = (i: number) => {
    if (run >= 0) word += command.slice(run, i);
    run = -1;
  };
  const end = (i: number) => {
    take(i);
    if (inWord) {
      if (!dynamic && !written && word !== "") words.push(word);
      written = false;
    }
    word = "";
    inWord = false;
    dynamic = false;
  };
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if (quote) {
      if (c === quote) {
        take(i);
        quote = 0;
      } else if (c === BACKSLASH && quote === DOUBLE_QUOTE && i + 1 < command.length) {
        take(i);
        word += command[++i];
      } else {
        if (quote === DOUBLE_QUOTE && (c === DOLLAR || c === BACKQUOTE)) dynamic = true;
        if (run < 0) run = i;
      }
      continue;
    }
    if (c === SINGLE_QUOTE || c === DOUBLE_QUOTE) {
      take(i);
      quote = c;
      inWord = true;
    } else if (c === BACKSLASH && i + 1 < command.length) {
      take(i);
      word += command[++i];
      inWord = true;
    } else if (c === GREATER) {
      take(i);
      if (inWord && /^\d+$/.test(word)) dynamic = true; // `2>`: a file descriptor
      end(i);
      written = true;
    } else if (SEPARATORS.has(c) || (c > 127 && /\s/.test(command[i]!))) end(i);
    else {
      if (c === DOLLAR || c === BACKQUOTE || c === STAR || c === QUESTION || c === BRACKET) dynamic = true;
      if (run < 0) run = i;
      inWord = true;
    }
  }
  end(command.length);
  const out = new Set<string>();
  for (const w of words) {
    out.add(w);
    const eq = w.indexOf("=");
    if (w.startsWith("-") && eq > 0 && eq < w.length - 1) out.add(w.slice(eq + 1));
  }
  return [...out];
}

/**
 * The files of the project `command` names: existing regular files (a symlink counts when its
 * target is one inside the project) inside `workdir`, outside `exclude` (Baton's own state
 * folder), as absolute paths, each once, in the order named. Never throws for a word that names
 * nothing, a folder or a path outside the project: those are left out. `topNames`, when given,
 * lists the entries of `workdir` (see {@link workdirNames}): a word whose first name is not among
 * them names nothing, and is left out without a look at the disk (undefined: look at each).
 */
export async function commandFiles(
  command: string,
  workdir: string,
  exclude: string[],
  topNames?: () => ReadonlySet<string> | undefined,
): Promise<string[]> {
  const { root, excluded } = resolvedFolders(workdir, exclude);
  const below = root.endsWith(path.sep) ? root.length : root.length + 1;
  // Both sides are resolved paths (normalised, absolute): a prefix test says whether one is inside.
  const inside = (p: string, dir: string) =>
    p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
  const files: string[] = [];
  for (const word of commandWords(command)) {
    if (word.includes("\0")) continue;
    // The first name below the project folder must be there: most words (`echo`, `42`) are not.
    // A plain relative word (no `.` or `..` first) is looked up before it is even resolved.
    const names = topNames?.();
    if (names && !path.isAbsolute(word)) {
      const first = word.split(path.sep, 1)[0]!;
      if (first !== "." && first !== ".." && !names.has(first)) continue;
    }
    const abs = path.resolve(root, word);
    if (abs === root || !inside(abs, root) || excluded.some((d) => inside(abs, d))) continue;
    if (files.includes(abs)) continue;
    if (names && !names.has(abs.slice(below).split(path.sep, 1)[0]!)) continue;
    // One lstat per word, made here: most words name nothing (`cat`, `1`), and a thread-pool
    // round trip each would stand between a task's inputs being ready and its start.
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(abs, { throwIfNoEntry: false });
      if (st?.isSymbolicLink()) {
        const real = await fs.promises.realpath(abs);
        if (!inside(real, await fs.promises.realpath(root))) continue;
        st = await fs.promises.stat(real);
      }
    } catch {
      continue; // names no file it may read
    }
    if (st?.isFile()) files.push(abs);
  }
  return files;
}

/** The folders of the last call, resolved: the tasks of a fan-out all ask with the same ones. */
let lastFolders: { workdir: string; exclude: string; root: string; excluded: string[] } | undefined;

function resolvedFolders(workdir: string, exclude: string[]): { root: string; excluded: string[] } {
  const key = exclude.join("\0");
  if (lastFolders?.workdir === workdir && lastFolders.exclude === key) return lastFolders;
  const resolved = { root: path.resolve(workdir), excluded: exclude.map((d) => path.resolve(d)) };
  // Kept only for absolute folders, whose resolved form does not depend on the current folder.
  if (path.isAbsolute(workdir) && exclude.every((d) => path.isAbsolute(d)))
    lastFolders = { workdir, exclude: key, ...resolved };
  return resolved;
}

/**
 * The entries of `workdir`, read once on first use: shared by the many tasks of one node
 * prepared together, whose commands then cost no `lstat` for the words that name nothing.
 * A file made after that first use is not seen by the tasks that share it.
 */
export function workdirNames(workdir: string): () => ReadonlySet<string> | undefined {
  let names: ReadonlySet<string> | undefined | null = null;
  return () => {
    if (names === null) {
      try {
        names = new Set(fs.readdirSync(workdir));
      } catch {
        names = undefined; // a folder that cannot be listed: each word is looked at
      }
    }
    return names;
  };
}
