/**
 * The task panel: what a task ran (command, params, inputs), what it made (outputs to download,
 * metrics), how it went (attempts with exit codes, the cache decision) and its log, live.
 * Actions: cancel, retry, rerun the pipeline from the task's node.
 */
import { useEffect, useState } from "react";
import { errorMessage, get, post, withToken } from "../api/client";
import type { OutputFile, PipelineSummary, RunSummary, TaskDetail, TaskView } from "../api/types";
import {
  durationBetween,
  formatBytes,
  formatDuration,
  formatTimestamp,
  formatValue,
  shortId,
} from "../lib/format";
import { downstreamOf, isTerminal } from "../lib/tasks";
import { navigate } from "../router";
import { CacheInfo } from "./cache-info";
import { CloneForm } from "./clone-form";
import { useConfirm, useToast } from "./feedback";
import { LogView } from "./log-view";
import { MetricCharts } from "./metric-charts";
import { StatusBadge } from "./status";

export interface TaskPanelProps {
  /** The task as the run's list has it: its status changes trigger a refetch. */
  task: TaskView;
  run: RunSummary;
  /** The run's pipeline, when the server can start it again (for "rerun from here"). */
  pipeline: PipelineSummary | undefined;
  tab: "overview" | "log";
  onTabChange: (tab: "overview" | "log") => void;
  onClose: () => void;
  /** Whether the run can be retried in place (runs of submitted tasks cannot: their tasks are cloned). */
  canRetry: boolean;
  /** After an action that changes the run. */
  onChanged: () => void;
  now: number;
}

const RETRYABLE = new Set(["failed", "cancelled", "skipped"]);

export function TaskPanel({
  task,
  run,
  pipeline,
  tab,
  onTabChange,
  onClose,
  canRetry,
  onChanged,
  now,
}: TaskPanelProps) {
  const [detail, setDetail] = useState<TaskDetail | null>(null);
  const [outputs, setOutputs] = useState<OutputFile[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [cloning, setCloning] = useState(false);
  const confirm = useConfirm();
  const toast = useToast();
  const live = !isTerminal(task.status);

  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch when the task's status or attempts change
  useEffect(() => {
    let active = true;
    get<TaskDetail>(`/tasks/${task.id}`).then(
      (d) => {
        if (!active) return;
        setDetail(d);
        setError(null);
      },
      (err) => active && setError(errorMessage(err)),
    );
    if (isTerminal(task.status)) {
      get<{ outputs: OutputFile[] }>(`/tasks/${task.id}/outputs`).then(
        (b) => active && setOutputs(b.outputs),
        () => active && setOutputs([]),
      );
    }
    return () => {
      active = false;
    };
  }, [task.id, task.status, task.attempts]);

  const d = detail && detail.id === task.id ? detail : null;
  const canRerun =
    task.node !== null && pipeline !== undefined && pipeline.nodes.some((n) => n.name === task.node);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    try {
      await what();
    } catch (err) {
      toast({ kind: "error", title: "That did not work", body: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    const ok = await confirm({
      title: `Cancel ${task.name}?`,
      body: (
        <>
          <p>
            The task and any tasks it submitted are stopped (SIGTERM, then SIGKILL) and marked cancelled.
            {task.node !== null
              ? " The rest of the run goes on; tasks that need this one may be skipped."
              : ""}
          </p>
          <p className="muted">You can retry it once the run has ended.</p>
        </>
      ),
      confirmLabel: "Cancel the task",
      danger: true,
    });
    if (!ok) return;
    await act(async () => {
      const res = await post<{ cancelled: string; note?: string; status?: string }>(
        `/tasks/${task.id}/cancel`,
      );
      toast({
        kind: res.status === 202 ? "info" : "success",
        title: res.status === 202 ? "Cancelling — tasks are still stopping" : "Cancelled",
        body: res.body.note ?? `Task ${task.name} is ${res.body.status ?? "cancelled"}.`,
      });
      onChanged();
    });
  };

  // Gates: approve or reject a task waiting for approval.
  const decide = async (verb: "approve" | "reject") => {
    const comment = window.prompt(
      verb === "approve"
        ? `Approve ${task.name}? Comment (optional):`
        : `Reject ${task.name}? Why (optional):`,
      "",
    );
    if (comment === null) return;
    await act(async () => {
      await post(`/tasks/${task.id}/${verb}`, { by: "web", ...(comment ? { comment } : {}) });
      toast({
        kind: "success",
        title: verb === "approve" ? "Approved" : "Rejected",
        body:
          verb === "approve"
            ? `Task ${task.name} is queued.`
            : `Task ${task.name} failed; its dependents are skipped.`,
      });
      onChanged();
    });
  };

  const retry = async () => {
    const ok = await confirm({
      title: `Retry ${task.name}?`,
      body: (
        <p>
          The failed, cancelled and skipped tasks of this run get a new attempt, in the same run. Tasks that
          succeeded keep their results. Earlier attempts and their logs are kept.
        </p>
      ),
      confirmLabel: "Retry",
    });
    if (!ok) return;
    await act(async () => {
      await post(`/tasks/${task.id}/retry`);
      toast({ kind: "success", title: "Retrying", body: `Run ${shortId(run.id)} is running again.` });
      onChanged();
    });
  };

  const rerunNodes = canRerun && task.node ? [...downstreamOf(task.node, pipeline!.nodes)] : [];
  const rerun = async () => {
    const ok = await confirm({
      title: `Rerun from ${task.node}?`,
      body: (
        <p>
          Starts a <strong>new run</strong> of <code>{run.pipeline}</code> with this run's params, in which{" "}
          {rerunNodes.map((n, i) => (
            <span key={n}>
              {i > 0 ? ", " : ""}
              <code>{n}</code>
            </span>
          ))}{" "}
          run again; earlier nodes reuse their results.
        </p>
      ),
      confirmLabel: "Start the new run",
    });
    if (!ok) return;
    await act(async () => {
      const res = await post<{ run: RunSummary }>("/runs", {
        pipeline: run.pipeline,
        params: run.params,
        from: [task.node],
      });
      toast({
        kind: "success",
        title: "New run started",
        body: `From ${task.node}: run ${shortId(res.body.run.id)}.`,
      });
      navigate(`/runs/${res.body.run.id}`);
    });
  };

  const duration = durationBetween(task.startedAt, task.endedAt, now);

  return (
    <aside className="panel" aria-label={`Task ${task.name}`} data-testid="task-panel">
      <div className="panel-head">
        <div className="panel-title">
          <h2 title={task.name}>{task.name}</h2>
          <StatusBadge status={task.status} />
        </div>
        <button type="button" className="icon-button" aria-label="Close task" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="panel-meta">
        <span>
          <span className="muted">id</span>{" "}
          <span className="mono" title={task.id}>
            {shortId(task.id)}
          </span>
        </span>
        {task.node ? (
          <span>
            <span className="muted">node</span> {task.node}
          </span>
        ) : null}
        <span>
          <span className="muted">exit</span>{" "}
          <span className={task.exitCode ? "text-failed" : ""}>{task.exitCode ?? "—"}</span>
        </span>
        <span>
          <span className="muted">attempts</span> {task.attempts}
        </span>
        <span>
          <span className="muted">took</span> {formatDuration(duration)}
        </span>
        {d ? (
          <span>
            <span className="muted">pool</span> {d.pool}
          </span>
        ) : null}
        {task.queueReason ? (
          <span data-testid="queue-reason" title="Started, and waiting where its executor runs it">
            <span className="muted">waiting</span> {task.queueReason}
          </span>
        ) : null}
        {task.image ? (
          <span title="Container image the task is meant for (the local executor runs on the host)">
            <span className="muted">image</span> {task.image}
          </span>
        ) : null}
      </div>
      {task.approval ? (
        <div className="panel-meta" data-testid="approval">
          {task.approval.state === "waiting" ? (
            <span>
              <span className="muted">approval</span> waiting for approval
              {task.approval.message ? `: ${task.approval.message}` : ""}
            </span>
          ) : (
            <span>
              <span className="muted">approval</span> {task.approval.state} by {task.approval.by ?? "?"} at{" "}
              {task.approval.at ?? "?"}
              {task.approval.comment ? `: ${task.approval.comment}` : ""}
            </span>
          )}
        </div>
      ) : null}
      <div className="panel-actions">
        {task.status === "waiting" ? (
          <>
            <button type="button" className="btn btn-sm" disabled={busy} onClick={() => decide("approve")}>
              Approve
            </button>
            <button
              type="button"
              className="btn btn-danger-outline btn-sm"
              disabled={busy}
              onClick={() => decide("reject")}
            >
              Reject
            </button>
          </>
        ) : null}
        {live ? (
          <button type="button" className="btn btn-danger-outline btn-sm" disabled={busy} onClick={cancel}>
            Cancel task
          </button>
        ) : null}
        {!live && canRetry && RETRYABLE.has(task.status) ? (
          <button
            type="button"
            className="btn btn-sm"
            disabled={busy || run.status === "running"}
            title={run.status === "running" ? "The run is still running: retry once it has ended" : undefined}
            onClick={retry}
          >
            Retry
          </button>
        ) : null}
        {canRerun ? (
          <button type="button" className="btn btn-sm" disabled={busy} onClick={rerun}>
            Rerun from here
          </button>
        ) : null}
        {d?.command ? (
          <button
            type="button"
            className={`btn btn-sm${cloning ? " btn-on" : ""}`}
            aria-expanded={cloning}
            onClick={() => setCloning((c) => !c)}
          >
            Clone…
          </button>
        ) : null}
      </div>
      {cloning && d ? (
        <CloneForm
          detail={d}
          onCancel={() => setCloning(false)}
          onCloned={(copy) => {
            setCloning(false);
            toast({
              kind: "success",
              title: "Copy started",
              body: `${copy.name} · task ${shortId(copy.id)}`,
            });
            navigate(`/runs/${copy.run}?task=${copy.id}`);
          }}
        />
      ) : null}
      <div className="tabs tabs-small" role="tablist">
        <button
          type="button"
          role="tab"
          aria-selected={tab === "log"}
          className={`tab ${tab === "log" ? "tab-on" : ""}`}
          onClick={() => onTabChange("log")}
        >
          Log
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={tab === "overview"}
          className={`tab ${tab === "overview" ? "tab-on" : ""}`}
          onClick={() => onTabChange("overview")}
        >
          Details
        </button>
      </div>
      {error ? <div className="alert alert-error">{error}</div> : null}
      <div className="panel-body">
        {tab === "log" ? (
          <LogView
            key={task.id}
            taskId={task.id}
            attempts={d?.attemptsDetail ?? []}
            live={live}
            attemptCount={task.attempts}
            attempt={attempt}
            onAttemptChange={setAttempt}
          />
        ) : d ? (
          <TaskDetails
            detail={d}
            outputs={outputs}
            now={now}
            onShowLog={(n) => {
              setAttempt(n);
              onTabChange("log");
            }}
          />
        ) : (
          <div className="muted pad">Loading…</div>
        )}
      </div>
    </aside>
  );
}

function Section({
  title,
  children,
  right,
}: { title: string; children: React.ReactNode; right?: React.ReactNode }) {
  return (
    <section className="section">
      <div className="section-head">
        <h3>{title}</h3>
        {right}
      </div>
      {children}
    </section>
  );
}

function KeyValues({ values, empty }: { values: Record<string, unknown>; empty: string }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p className="muted small">{empty}</p>;
  return (
    <table className="kv">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td className="mono">{formatValue(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="link-button small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setDone(true);
          window.setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

function TaskDetails({
  detail: d,
  outputs,
  now,
  onShowLog,
}: {
  detail: TaskDetail;
  outputs: OutputFile[] | null;
  now: number;
  onShowLog: (attempt: number) => void;
}) {
  const params: Record<string, unknown> = { ...d.params };
  if (d.item !== null && d.item !== undefined && Object.keys(params).length === 0) params.item = d.item;
  return (
    <div className="details">
      {d.error ? (
        <div className="alert alert-error">
          <strong>Error</strong>
          <div className="mono pre-wrap">{d.error}</div>
        </div>
      ) : null}

      <Section title="Command" right={d.command ? <CopyButton text={d.command} /> : null}>
        {d.command ? (
          <pre className="code">{d.command}</pre>
        ) : (
          <p className="muted small">
            {d.status === "pending"
              ? "Resolved when the task is ready to run."
              : "This task runs a child pipeline."}
          </p>
        )}
      </Section>

      <Section title="Params">
        <KeyValues values={params} empty="No params." />
      </Section>

      {d.inputs && Object.keys(d.inputs).length > 0 ? (
        <Section title="Inputs">
          <table className="files">
            <tbody>
              {Object.entries(d.inputs).flatMap(([name, files]) =>
                files.map((f) => (
                  <tr key={`${name}/${f.path}`}>
                    <td className="muted">{name}</td>
                    <td className="mono ellipsis" title={f.path}>
                      {f.path}
                    </td>
                    <td className="num muted">{f.size !== undefined ? formatBytes(f.size) : ""}</td>
                    <td>
                      <a
                        className="link"
                        href={withToken(
                          `${f.url ?? `/api/v1/artifacts/${f.sha256}`}?name=${encodeURIComponent(f.path)}`,
                        )}
                        download
                      >
                        Download
                      </a>
                    </td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </Section>
      ) : null}

      <Section title="Outputs">
        {outputs === null ? (
          <p className="muted small">
            {isTerminal(d.status) ? "Loading…" : "Listed when the task has ended."}
          </p>
        ) : outputs.length === 0 ? (
          <p className="muted small">No output files.</p>
        ) : (
          <table className="files">
            <tbody>
              {outputs.map((o) => (
                <tr key={o.path}>
                  <td className="mono ellipsis" title={o.path}>
                    {o.path}
                  </td>
                  <td className="num muted">{formatBytes(o.size)}</td>
                  <td>
                    <a
                      className="link"
                      href={withToken(`${o.url}?name=${encodeURIComponent(o.path)}`)}
                      download={o.path}
                    >
                      Download
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted small mono ellipsis" title={d.outputDir}>
          {d.outputDir}
        </p>
      </Section>

      <Section title="Metrics">
        <KeyValues values={d.metrics} empty="No metrics recorded." />
        <MetricCharts taskId={d.id} refreshKey={`${d.status}/${d.attempts}`} />
      </Section>

      <Section title="Attempts">
        {d.attemptsDetail.length === 0 ? (
          <p className="muted small">
            {d.cached
              ? "None: no process ran, the result was reused (see Cache)."
              : isTerminal(d.status)
                ? "None: no process was started."
                : "Not started yet."}
          </p>
        ) : (
          <table className="table table-compact">
            <thead>
              <tr>
                <th>#</th>
                <th>Status</th>
                <th className="num">Exit</th>
                <th>How it ended</th>
                <th>Where</th>
                <th className="num">Took</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {d.attemptsDetail.map((a) => (
                <tr key={a.number}>
                  <td>{a.number}</td>
                  <td>
                    <StatusBadge small status={a.status} />
                  </td>
                  <td className={`num ${a.exitCode ? "text-failed" : ""}`}>{a.exitCode ?? "—"}</td>
                  <td className="small" title={formatTimestamp(a.startedAt)}>
                    {[a.signal, a.reason, a.message].filter(Boolean).join(": ") || "—"}
                  </td>
                  <td
                    className="small mono"
                    title="The executor and its id for this attempt (a pid, a Slurm job)"
                  >
                    {a.executor ? `${a.executor.kind} ${a.executor.id}` : "—"}
                  </td>
                  <td className="num">{formatDuration(durationBetween(a.startedAt, a.endedAt, now))}</td>
                  <td>
                    <button type="button" className="link-button small" onClick={() => onShowLog(a.number)}>
                      Log
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>

      <Section title="Cache">
        <CacheInfo detail={d} />
      </Section>
    </div>
  );
}
