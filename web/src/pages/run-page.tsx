/**
 * One run: its DAG (or task tree), every task, compare, and the task panel. Statuses change
 * live from `/events`; a run of 5,000 tasks opens with fanned-out nodes collapsed and lists
 * virtualised.
 */
import { Suspense, lazy, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, errorMessage, get, post } from "../api/client";
import { useEngineEvents } from "../api/events";
import { useNow, usePipelines, useTitle } from "../api/hooks";
import type { EngineEvent, PipelineSummary, RunDetail, TaskView } from "../api/types";
import { CompareView } from "../components/compare-view";
import { useConfirm, useToast } from "../components/feedback";
import { RunNotifications } from "../components/notifications";
import { CountsBar, CountsText, StatusBadge } from "../components/status";
import { TaskList } from "../components/task-list";
import { TaskPanel } from "../components/task-panel";
import { TaskTreeView } from "../components/task-tree";
import {
  durationBetween,
  formatDuration,
  formatRelative,
  formatShort,
  formatTimestamp,
  shortId,
} from "../lib/format";
import { countStatuses, groupByNode, hasTree, isTerminal, totalOf } from "../lib/tasks";
import { useCoalesced } from "../lib/throttle";
import { Link, navigate, useLocation, withQuery } from "../router";

const GraphView = lazy(() => import("../components/graph-view"));

type Tab = "graph" | "tasks" | "tree" | "compare";
type TaskEvent = Extract<EngineEvent, { type: "task" }>;

/** The pipeline a run was started from, when the server still has it under the same name. */
export function pipelineOfRun(
  detail: RunDetail,
  pipelines: PipelineSummary[] | undefined,
): PipelineSummary | undefined {
  const { run, tasks } = detail;
  if (!pipelines || run.specFile === null) return undefined;
  const byFile = pipelines.find((p) => p.name === run.pipeline && p.file === run.specFile);
  if (byFile) return byFile;
  const byName = pipelines.find((p) => p.name === run.pipeline);
  if (!byName) return undefined;
  // The same name in another file: only trusted when every task's node is one of its nodes.
  const names = new Set(byName.nodes.map((n) => n.name));
  return tasks.every((t) => t.node === null || names.has(t.node)) ? byName : undefined;
}

/** Task events applied to the tasks they name (until the next fetch brings the full truth). */
export function applyTaskEvents(tasks: TaskView[], events: Map<string, TaskEvent>, now: string): TaskView[] {
  if (events.size === 0) return tasks;
  return tasks.map((t) => {
    const e = events.get(t.id);
    if (!e) return t;
    const ended = isTerminal(e.status);
    return {
      ...t,
      status: e.status,
      attempts: e.attempt ?? t.attempts,
      exitCode: e.exitCode !== undefined ? e.exitCode : ended ? t.exitCode : null,
      startedAt: e.status === "running" && (t.startedAt === null || t.endedAt !== null) ? now : t.startedAt,
      endedAt: ended ? (t.endedAt && t.status === e.status ? t.endedAt : now) : null,
    };
  });
}

export function RunPage({ id }: { id: string }) {
  const loc = useLocation();
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<{ message: string; status: number } | null>(null);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  // Fetched again once when the run's pipeline is not among them (registered since the page loaded).
  const [freshPipelines, setFreshPipelines] = useState(false);
  const { pipelines } = usePipelines(freshPipelines);
  const confirm = useConfirm();
  const toast = useToast();
  const rendered = useRef(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      const d = await get<RunDetail>(`/runs/${encodeURIComponent(id)}`);
      setDetail(d);
      setError(null);
    } catch (err) {
      setError({ message: errorMessage(err), status: err instanceof ApiError ? err.status : 0 });
    }
  }, [id]);

  useEffect(() => {
    setDetail(null);
    setExpanded(new Set());
    rendered.current = false;
    void load();
  }, [load]);

  // Live: task events are applied in batches; anything structural refetches.
  const pending = useRef(new Map<string, TaskEvent>());
  const structural = useRef(false);
  const known = useRef(new Set<string>());
  known.current = useMemo(() => new Set(detail?.tasks.map((t) => t.id)), [detail?.tasks]);
  const childRunIds = useMemo(() => new Set(detail?.childRuns.map((c) => c.id)), [detail?.childRuns]);
  const big = (detail?.tasks.length ?? 0) > 1000;
  const refetchSlow = useCoalesced(() => void load(), big ? 8000 : 1500);
  const flush = useCoalesced(() => {
    if (structural.current) {
      structural.current = false;
      pending.current.clear();
      void load();
      return;
    }
    const events = pending.current;
    pending.current = new Map();
    const now = new Date().toISOString();
    setDetail((d) => (d ? { ...d, tasks: applyTaskEvents(d.tasks, events, now) } : d));
    // Metrics, outputs and exact times come with the next fetch.
    if ([...events.values()].some((e) => isTerminal(e.status))) refetchSlow();
  }, 250);

  useEngineEvents((m) => {
    if (m.type === "reconnected") {
      structural.current = true;
      flush();
      return;
    }
    const ours = m.runId === id || childRunIds.has(m.runId);
    if (m.type === "run-started") {
      if (m.parentTaskId !== null && known.current.has(m.parentTaskId)) {
        structural.current = true;
        flush();
      }
      return;
    }
    if (!ours) return;
    if (m.type === "task" && known.current.has(m.taskId)) pending.current.set(m.taskId, m);
    else structural.current = true;
    flush();
  });

  const tasks = detail?.tasks ?? [];
  const run = detail?.run;
  const pipeline = detail ? pipelineOfRun(detail, pipelines) : undefined;
  const declared = detail?.nodes ?? pipeline?.nodes;
  const groups = useMemo(() => groupByNode(tasks, declared), [tasks, declared]);
  const tree = useMemo(() => hasTree(tasks), [tasks]);
  const running = run?.status === "running";
  const now = useNow(running || tasks.some((t) => t.status === "running"));
  // From the tasks, so that live events move the counts too.
  const counts = useMemo(() => countStatuses(tasks), [tasks]);

  const defaultTab: Tab = groups.length > 0 ? "graph" : tree ? "tree" : "tasks";
  const askedTab = loc.query.get("tab") as Tab | null;
  const tab: Tab =
    askedTab && ["graph", "tasks", "tree", "compare"].includes(askedTab)
      ? askedTab === "graph" && groups.length === 0
        ? defaultTab
        : askedTab
      : defaultTab;
  const selectedId = loc.query.get("task");
  const selected = selectedId ? tasks.find((t) => t.id === selectedId) : undefined;
  const panelTab =
    loc.query.get("panel") === "log" ? "log" : loc.query.get("panel") === "overview" ? "overview" : null;
  const compareNode = loc.query.get("node") ?? groups.find((g) => g.tasks.length > 1)?.node ?? "";

  useEffect(() => {
    if (
      detail &&
      pipelines &&
      detail.run.specFile !== null &&
      !pipelines.some((p) => p.name === detail.run.pipeline)
    ) {
      setFreshPipelines(true);
    }
  }, [detail, pipelines]);
  useTitle(run ? `${run.pipeline} ${run.status}` : `Run ${shortId(id)}`);

  useEffect(() => {
    if (!detail || rendered.current) return;
    rendered.current = true;
    requestAnimationFrame(() => performance.mark("baton:run-rendered"));
  }, [detail]);

  const selectTask = useCallback(
    (taskId: string) => navigate(withQueryNow({ task: taskId, panel: undefined }), { replace: true }),
    [],
  );
  const toggle = useCallback(
    (node: string) =>
      setExpanded((s) => {
        const next = new Set(s);
        if (next.has(node)) next.delete(node);
        else next.add(node);
        return next;
      }),
    [],
  );
  const openCompare = useCallback(
    (node: string) => navigate(withQueryNow({ tab: "compare", node }), { replace: false }),
    [],
  );

  if (error && !detail) {
    return (
      <div className="page">
        <div className="crumbs">
          <Link to="/">Runs</Link> / {shortId(id)}
        </div>
        <div className="alert alert-error">
          {error.status === 404 ? `There is no run ${id}.` : error.message}
        </div>
      </div>
    );
  }
  if (!detail || !run) {
    return (
      <div className="page">
        <div className="crumbs">
          <Link to="/">Runs</Link> / {shortId(id)}
        </div>
        <div className="loading">Loading run…</div>
      </div>
    );
  }

  const failedish = counts.failed + counts.cancelled + counts.skipped;
  // Runs of submitted tasks (Velda style) are not retried in place: their tasks are cloned.
  const canRetry = !(run.specFile === null && tasks.every((t) => t.node === null));

  const cancelRun = async () => {
    const ok = await confirm({
      title: `Cancel run ${run.pipeline}?`,
      body: (
        <>
          <p>
            Running tasks are stopped (SIGTERM, then SIGKILL) and the {counts.pending + counts.queued} tasks
            that have not started are marked cancelled.
          </p>
          <p className="muted">You can retry the cancelled tasks afterwards.</p>
        </>
      ),
      confirmLabel: "Cancel the run",
      danger: true,
    });
    if (!ok) return;
    setBusy(true);
    try {
      const res = await post<{ note?: string }>(`/runs/${run.id}/cancel`);
      toast({
        kind: res.status === 202 ? "info" : "success",
        title: res.status === 202 ? "Cancelling — tasks are still stopping" : "Run cancelled",
        body: res.body.note,
      });
      void load();
    } catch (err) {
      toast({ kind: "error", title: "Could not cancel the run", body: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const retryRun = async () => {
    const ok = await confirm({
      title: "Retry the failed tasks?",
      body: (
        <p>
          The {failedish} failed, cancelled or skipped task{failedish === 1 ? "" : "s"} of this run get a new
          attempt, in this run. The {counts.succeeded + counts.cached} tasks that succeeded keep their
          results.
        </p>
      ),
      confirmLabel: "Retry failed tasks",
    });
    if (!ok) return;
    setBusy(true);
    try {
      await post(`/runs/${run.id}/retry`, { failedOnly: true });
      toast({
        kind: "success",
        title: "Retrying",
        body: `${failedish} task${failedish === 1 ? "" : "s"} get a new attempt.`,
      });
      void load();
    } catch (err) {
      toast({ kind: "error", title: "Could not retry", body: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const params = Object.entries(run.params);

  return (
    <div className={`run-page${selected ? " with-panel" : ""}`}>
      <div className="run-main">
        <div className="run-head">
          <div className="crumbs">
            <Link to="/">Runs</Link> /{" "}
            <Link to={`/?pipeline=${encodeURIComponent(run.pipeline)}`}>{run.pipeline}</Link>
            {run.parentRun ? (
              <>
                {" "}
                · part of <Link to={`/runs/${run.parentRun}`}>run {shortId(run.parentRun)}</Link>
              </>
            ) : null}
          </div>
          <div className="title-row">
            <h1>{run.pipeline}</h1>
            <StatusBadge status={run.status} />
            <span className="spacer" />
            {running ? (
              <button
                type="button"
                className="btn btn-danger-outline"
                disabled={busy || !run.driven}
                title={run.driven ? undefined : "Another engine drives this run: cancel it there"}
                onClick={cancelRun}
              >
                Cancel run
              </button>
            ) : null}
            {!running && canRetry && failedish > 0 ? (
              <button type="button" className="btn" disabled={busy} onClick={retryRun}>
                Retry failed
              </button>
            ) : null}
            {pipeline ? (
              <Link className="btn" to={`/launch/${encodeURIComponent(pipeline.name)}?like=${run.id}`}>
                Run again…
              </Link>
            ) : null}
          </div>
          <div className="run-meta">
            <span>
              <span className="muted">Run</span>{" "}
              <span className="mono" title={run.id}>
                {shortId(run.id)}
              </span>
            </span>
            <span title={formatTimestamp(run.createdAt)}>
              <span className="muted">Started</span> {formatRelative(run.createdAt, now)}
            </span>
            <span>
              <span className="muted">Duration</span>{" "}
              {formatDuration(durationBetween(run.createdAt, run.endedAt, now))}
            </span>
            <span>
              <span className="muted">Tasks</span> {totalOf(counts)}
            </span>
            {run.trigger ? (
              <span data-trigger={run.trigger}>
                <span className="muted">Trigger</span> <Link to="/triggers">{run.trigger}</Link>
              </span>
            ) : null}
            {params.length > 0 ? (
              <span
                className="params-inline"
                title={params.map(([k, v]) => `${k}=${formatShort(v, 200)}`).join("\n")}
              >
                <span className="muted">Params</span>{" "}
                {params.slice(0, 4).map(([k, v]) => (
                  <code key={k} className="param-chip">
                    {k}={formatShort(v)}
                  </code>
                ))}
                {params.length > 4 ? <span className="muted"> +{params.length - 4}</span> : null}
              </span>
            ) : null}
          </div>
          {run.error ? (
            <div className="alert alert-error run-error" role="alert">
              <strong>{run.status === "failed" ? "Why the run failed:" : "Why the run stopped:"}</strong>{" "}
              {run.error}
            </div>
          ) : null}
          <div className="run-progress">
            <CountsBar counts={counts} height={8} />
            <CountsText counts={counts} />
          </div>
          <RunNotifications runId={run.id} status={run.status} />
          <div className="tabs" role="tablist">
            {groups.length > 0 ? <TabButton tab="graph" current={tab} label="Graph" /> : null}
            <TabButton tab="tasks" current={tab} label={`Tasks ${totalOf(counts).toLocaleString()}`} />
            {tree ? <TabButton tab="tree" current={tab} label="Tree" /> : null}
            <TabButton tab="compare" current={tab} label="Compare" />
          </div>
        </div>

        <div className={`run-body run-body-${tab}`}>
          {tab === "graph" ? (
            <>
              {!declared && groups.length > 0 ? (
                <div className="note">
                  The definition of this run's pipeline is not available here, so its nodes are shown without
                  edges.
                </div>
              ) : null}
              <Suspense fallback={<div className="loading">Drawing the graph…</div>}>
                <GraphView
                  groups={groups}
                  hasEdges={declared !== undefined}
                  childRuns={detail.childRuns}
                  expanded={expanded}
                  onToggle={toggle}
                  selectedTaskId={selectedId}
                  onSelectTask={selectTask}
                  onCompare={openCompare}
                  now={now}
                  fitKey={selected ? "panel" : "full"}
                />
              </Suspense>
            </>
          ) : tab === "tasks" ? (
            <TaskList tasks={tasks} selectedId={selectedId} onSelect={selectTask} now={now} />
          ) : tab === "tree" ? (
            <TaskTreeView tasks={tasks} selectedId={selectedId} onSelect={selectTask} now={now} />
          ) : (
            <CompareView
              tasks={tasks}
              groups={groups}
              node={compareNode}
              onNodeChange={(node) => navigate(withQueryNow({ node: node || "" }), { replace: true })}
              onSelectTask={selectTask}
              selectedId={selectedId}
            />
          )}
        </div>
      </div>
      {selected ? (
        <TaskPanel
          key={selected.id}
          task={selected}
          canRetry={canRetry}
          run={run}
          pipeline={pipeline}
          tab={
            panelTab ?? (selected.status === "failed" || selected.status === "running" ? "log" : "overview")
          }
          onTabChange={(t) => navigate(withQueryNow({ panel: t }), { replace: true })}
          onClose={() => navigate(withQueryNow({ task: undefined, panel: undefined }), { replace: true })}
          onChanged={() => void load()}
          now={now}
        />
      ) : null}
    </div>
  );
}

/** The current URL with some query values changed (read at call time, for stable callbacks). */
function withQueryNow(changes: Record<string, string | undefined>): string {
  const q = new URLSearchParams(window.location.search);
  return withQuery({ path: window.location.pathname, query: q }, changes);
}

function TabButton({ tab, current, label }: { tab: Tab; current: Tab; label: string }) {
  return (
    <button
      type="button"
      role="tab"
      aria-selected={tab === current}
      className={`tab ${tab === current ? "tab-on" : ""}`}
      onClick={() => navigate(withQueryNow({ tab }), { replace: true })}
    >
      {label}
    </button>
  );
}
