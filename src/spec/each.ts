/**
 * `baton submit --each`: one task per line of standard input, `{}` in the command, name, `-e`,
 * `-l` and `--after*` values replaced by the line (the `xargs -I {}` form in one request).
 * Pure: the CLI reads standard input and passes the text in.
 */
import { shellQuote } from "./expressions.js";

/** The most tasks one batch (`POST /tasks/batch`) holds; `--each` sends more as several. */
export const MAX_BATCH_TASKS = 10_000;

/** What `{}` stands for. */
export const EACH_MARK = "{}";

/** The items of `--each`: the lines of `text`, without their end (`\n` or `\r\n`); blank lines are skipped. */
export function eachItems(text: string): string[] {
  const items: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() !== "") items.push(line);
  }
  return items;
}

/**
 * The command for one item. Several words (`-- python p.py {}`) are the command's arguments:
 * `{}` is replaced inside each word, which is then quoted for the shell, so an item is always
 * one argument whatever it holds (spaces, quotes, `;`, `$(...)`). One word is a whole shell
 * command (`-- 'wc -l {} > {}.n'`): each `{}` becomes the item quoted for the shell, so it must
 * not be written inside quotes there. Without any `{}`, the item is added as the last argument
 * (as `xargs -n 1` does).
 */
export function eachCommand(words: string[], item: string): string {
  const marked = words.some((w) => w.includes(EACH_MARK));
  if (words.length === 1) {
    const script = words[0]!;
    return marked ? script.replaceAll(EACH_MARK, shellQuote(item)) : `${script} ${shellQuote(item)}`;
  }
  const filled = marked ? words.map((w) => w.replaceAll(EACH_MARK, item)) : [...words, item];
  return filled.map(shellQuote).join(" ");
}

/** Characters a task name cannot hold (besides control characters), which `{}` in a name turns into `_`. */
const NOT_IN_NAME = /[{}$"'`\\/\p{Cc}]/gu;

/**
 * The name of item `index`: `template` with `{}` replaced by the item made a valid name (each
 * character a name cannot hold becomes `_`, e.g. `data/a.csv` -> `data_a.csv`); a template
 * without `{}` gets `[index]` appended, as the copies of `-N` do.
 */
export function eachName(template: string, item: string, index: number): string {
  if (!template.includes(EACH_MARK)) return `${template}[${index}]`;
  return eachRef(template, item);
}

/** A task name or reference (`--after-success 'prep-{}'`) with `{}` replaced as {@link eachName} does. */
export function eachRef(template: string, item: string): string {
  return template.replaceAll(EACH_MARK, item.replace(NOT_IN_NAME, "_").trim() || "_");
}

/** A value (`-e K=V`, `-l K=V`) with `{}` replaced by the item as is. */
export function eachValue(value: string, item: string): string {
  return value.replaceAll(EACH_MARK, item);
}
