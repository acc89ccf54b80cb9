/**
 * The task panel's cache section: the task's cache key and, as `baton show` says it, whose
 * result a cached task reused, or why a task ran (what changed since the previous run of its
 * node, one change a line).
 */
import type { CacheChange, CacheExplanation, TaskDetail } from "../api/types";
import { shortId } from "../lib/format";
import { isTerminal } from "../lib/tasks";
import { Link } from "../router";

export function CacheInfo({ detail: d }: { detail: TaskDetail }) {
  const cache = d.cache;
  if (!cache) {
    return (
      <div className="cache-info">
        <p className="muted">
          {isTerminal(d.status)
            ? "No cache key: caching is off for this task, or it never got to run."
            : "The cache key is computed when the task is ready to run."}
        </p>
      </div>
    );
  }
  return (
    <div className="cache-info" data-verdict={cache.verdict}>
      {cache.hit ? <Reused cache={cache} /> : <WhyItRan cache={cache} status={d.status} />}
      <KeyLine cache={cache} />
    </div>
  );
}

/** A link that opens a task of a run in the task panel, on its details. */
function TaskLink({ task, run }: { task: string; run: string | null }) {
  const to = `/runs/${run ?? ""}?task=${task}&panel=overview`;
  if (!run) return <span className="mono">{shortId(task)}</span>;
  return (
    <Link to={to} className="mono" title={`Task ${task} of run ${run}`}>
      {shortId(task)}
    </Link>
  );
}

function Reused({ cache }: { cache: CacheExplanation }) {
  return (
    <div className="cache-verdict">
      <span className="badge badge-cached badge-sm">
        <span className="badge-dot" />
        Reused
      </span>
      <p>
        No process ran: outputs and metrics were reused from{" "}
        {cache.reusedFrom ? (
          <>
            task <TaskLink task={cache.reusedFrom} run={cache.reusedFromRun} />
            {cache.reusedFromRun ? (
              <>
                {" "}
                of run <span className="mono">{shortId(cache.reusedFromRun)}</span>
              </>
            ) : null}
            , which ran with the same cache key.
          </>
        ) : (
          "an earlier task with the same cache key."
        )}
      </p>
    </div>
  );
}

function WhyItRan({ cache, status }: { cache: CacheExplanation; status: TaskDetail["status"] }) {
  const previous = cache.previousTaskId ? (
    <TaskLink task={cache.previousTaskId} run={cache.previousRunId} />
  ) : null;
  const failedNote = status === "failed" ? " Failed tasks are never cached." : "";
  switch (cache.verdict) {
    case "changed":
      return (
        <div className="cache-why">
          <h4>Why it ran</h4>
          <p className="small muted">
            Its cache key changed since task {previous}
            {cache.previousRunId ? (
              <>
                {" "}
                of run <span className="mono">{shortId(cache.previousRunId)}</span>
              </>
            ) : null}
            :
          </p>
          <ul className="cache-changes">
            {cache.changes.map((c, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: changes are a fixed list, in key order
              <ChangeLine key={i} change={c} alone={cache.changes.length === 1} />
            ))}
          </ul>
          {failedNote ? <p className="small muted">{failedNote.trim()}</p> : null}
        </div>
      );
    case "same-key":
      return (
        <div className="cache-why">
          <h4>Why it ran</h4>
          <p className="small">
            Same cache key as task {previous}, but caching was off for it (<code>--no-cache</code>,{" "}
            <code>cache: false</code> or a rerun <code>--from</code> this node) or that result could not be
            reused.{failedNote}
          </p>
        </div>
      );
    case "first-run":
      return (
        <div className="cache-why">
          <h4>Why it ran</h4>
          <p className="small">
            First run of this node: no earlier run of the pipeline has a task of this name to reuse.
            {failedNote}
          </p>
        </div>
      );
    default:
      return (
        <p className="small">
          Ran; a later task with the same command, params, input files and dependencies will reuse its
          results.{failedNote}
        </p>
      );
  }
}

const PART_LABEL: Record<CacheChange["part"], string> = {
  command: "command",
  upstream: "upstream",
  param: "param",
  env: "env",
  input: "input",
  dep: "dep",
  file: "file",
  resource: "resource",
  outputs: "outputs",
};

/** One change: its part, what of it, and the value before and after. */
function ChangeLine({ change: c, alone }: { change: CacheChange; alone: boolean }) {
  return (
    <li className="cache-change" data-part={c.part} title={c.text}>
      <span className="change-part">{PART_LABEL[c.part]}</span>{" "}
      <span className="change-body">
        {c.name !== null ? <span className="mono change-name">{c.name}</span> : null}{" "}
        <ChangeValues change={c} alone={alone} />
      </span>
    </li>
  );
}

function ChangeValues({ change: c, alone }: { change: CacheChange; alone: boolean }) {
  if (c.part === "upstream") {
    return <span className="change-note">{c.text.replace(/^upstream output: /, "")}</span>;
  }
  if (c.part === "input" || c.part === "dep" || c.part === "file") {
    const what = c.before === null ? "new file" : c.after === null ? "no longer there" : "content changed";
    return <span className="change-note">{what}</span>;
  }
  if (c.part === "command")
    return <CommandChange before={c.before ?? ""} after={c.after ?? ""} open={alone} />;
  if (c.before === null) {
    return (
      <span className="change-values">
        <span className="change-note">added</span> <span className="mono change-after-value">{c.after}</span>
      </span>
    );
  }
  if (c.after === null) {
    return (
      <span className="change-values">
        <span className="change-note">removed, was</span>{" "}
        <span className="mono change-before-value">{c.before}</span>
      </span>
    );
  }
  return (
    <span className="change-values">
      <span className="mono change-before-value">{c.before}</span>{" "}
      <span className="change-arrow" aria-label="changed to">
        →
      </span>{" "}
      <span className="mono change-after-value">{c.after}</span>
    </span>
  );
}

/**
 * A changed command, folded (a param or input that changed usually explains it): the lines
 * that differ, before and after, with the differing part of paired lines marked.
 */
function CommandChange({ before, after, open }: { before: string; after: string; open: boolean }) {
  const a = before.trimEnd().split("\n");
  const b = after.trimEnd().split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  ) {
    tail++;
  }
  const removed = a.slice(head, a.length - tail);
  const added = b.slice(head, b.length - tail);
  const paired = removed.length === added.length;
  const changed = Math.max(removed.length, added.length);
  const same = (n: number) => (
    <span className="change-same">
      ⋯ {n} unchanged line{n === 1 ? "" : "s"}
    </span>
  );
  return (
    <details className="change-details" open={open || undefined}>
      <summary>
        text changed{" "}
        <span className="muted">
          ({changed} line{changed === 1 ? "" : "s"})
        </span>
      </summary>
      <span className="change-diff mono">
        {head > 0 ? same(head) : null}
        {removed.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: lines of a fixed text
          <span key={`-${i}`} className="change-before">
            {paired ? marked(line, added[i]!) : line}
          </span>
        ))}
        {added.map((line, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: lines of a fixed text
          <span key={`+${i}`} className="change-after">
            {paired ? marked(line, removed[i]!) : line}
          </span>
        ))}
        {tail > 0 ? same(tail) : null}
      </span>
    </details>
  );
}

/** `line` with what differs from `other` (between their common start and end) marked. */
function marked(line: string, other: string) {
  let start = 0;
  while (start < line.length && start < other.length && line[start] === other[start]) start++;
  let end = 0;
  while (
    end < line.length - start &&
    end < other.length - start &&
    line[line.length - 1 - end] === other[other.length - 1 - end]
  ) {
    end++;
  }
  if (start + end >= line.length) return line;
  return (
    <>
      {line.slice(0, start)}
      <mark>{line.slice(start, line.length - end)}</mark>
      {line.slice(line.length - end)}
    </>
  );
}

/** The key and, when recorded, what it was computed from. */
function KeyLine({ cache }: { cache: CacheExplanation }) {
  const p = cache.parts;
  const from: string[] = [];
  if (p) {
    from.push("the command");
    const params = Object.keys(p.params);
    if (params.length) from.push(`param${params.length === 1 ? "" : "s"} ${params.join(", ")}`);
    const env = Object.keys(p.env);
    if (env.length) from.push(`env ${env.join(", ")}`);
    const files = Object.values(p.inputs).reduce((a, b) => a + b, 0);
    if (files) from.push(`${files} input file${files === 1 ? "" : "s"}`);
    if (p.deps.length) from.push(`${p.deps.length} dep${p.deps.length === 1 ? "" : "s"}`);
    if (p.files?.length) from.push(`file${p.files.length === 1 ? "" : "s"} ${p.files.join(", ")}`);
  }
  return (
    <p className="cache-key small muted">
      Cache key{" "}
      <span className="mono" title={cache.key}>
        {cache.key.slice(0, 16)}
      </span>
      {from.length ? <> · from {from.join(", ")}</> : null}
    </p>
  );
}
