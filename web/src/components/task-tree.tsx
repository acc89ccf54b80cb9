/**
 * Submitted task trees (Velda style): tasks submitted inside a task are its children. Each row
 * shows its children counted by status and opens on demand; only visible rows are rendered.
 */
import { useMemo, useState } from "react";
import type { TaskView } from "../api/types";
import { durationBetween, formatDuration } from "../lib/format";
import { buildTree, flattenTree, totalOf } from "../lib/tasks";
import { CountsText, StatusBadge } from "./status";
import { VirtualList } from "./virtual-list";

const ROW = 36;

export function TaskTreeView({
  tasks,
  selectedId,
  onSelect,
  now,
}: {
  tasks: TaskView[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  now: number;
}) {
  const tree = useMemo(() => buildTree(tasks), [tasks]);
  const [expanded, setExpanded] = useState<Set<string>>(() =>
    // Small trees open at their first level; big ones start collapsed.
    tasks.length <= 500 ? new Set(tree.roots.map((t) => t.id)) : new Set(),
  );
  const rows = useMemo(() => flattenTree(tree, expanded), [tree, expanded]);
  const toggle = (id: string) =>
    setExpanded((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <div className="task-tree">
      <div className="toolbar toolbar-tight">
        <span className="muted">
          {tree.roots.length} top-level task{tree.roots.length === 1 ? "" : "s"}, {tasks.length} in all
        </span>
        <span className="spacer" />
        <button
          type="button"
          className="btn btn-sm"
          onClick={() => setExpanded(new Set(tree.children.keys()))}
        >
          Expand all
        </button>
        <button type="button" className="btn btn-sm" onClick={() => setExpanded(new Set())}>
          Collapse all
        </button>
      </div>
      <div className="card grid-table">
        <VirtualList
          className="grid-body tree-body"
          count={rows.length}
          rowHeight={ROW}
          label="Task tree"
          renderRow={(i) => {
            const r = rows[i]!;
            const t = r.task;
            return (
              <div
                key={t.id}
                className={`tree-row${t.id === selectedId ? " row-selected" : ""}`}
                style={{ height: ROW, paddingLeft: 12 + r.depth * 22 }}
                data-task={t.name}
              >
                {r.childCount > 0 ? (
                  <button
                    type="button"
                    className="twisty"
                    aria-expanded={r.expanded}
                    aria-label={`${r.expanded ? "Collapse" : "Expand"} ${t.name}`}
                    onClick={() => toggle(t.id)}
                  >
                    {r.expanded ? "▾" : "▸"}
                  </button>
                ) : (
                  <span className="twisty-space" />
                )}
                <button type="button" className="tree-main" onClick={() => onSelect(t.id)}>
                  <StatusBadge small status={t.status} />
                  <span className="cell-name">{t.name}</span>
                  {r.childCount > 0 ? (
                    <span className="tree-children">
                      {r.childCount} child{r.childCount === 1 ? "" : "ren"}
                      {totalOf(r.descendants) > r.childCount ? `, ${totalOf(r.descendants)} below` : ""}
                      <CountsText counts={r.descendants} compact />
                    </span>
                  ) : null}
                  <span className="spacer" />
                  <span className="muted num">
                    {formatDuration(durationBetween(t.startedAt, t.endedAt, now))}
                  </span>
                </button>
              </div>
            );
          }}
        />
      </div>
    </div>
  );
}
