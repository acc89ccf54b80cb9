/**
 * Run a copy of a task with other params (ClearML's clone, QA-Board's tuning from the UI):
 * `POST /tasks/:id/clone`. The copy is a new submitted task; its params reach it as
 * BATON_PARAM_<NAME>.
 */
import { type FormEvent, useState } from "react";
import { ApiError, errorMessage, get, post } from "../api/client";
import type { ParamDecl, ParamType, TaskDetail } from "../api/types";
import { ownValue, paramOfProblemPath, paramText, validateParams } from "../lib/params";

/** The declared type a value stands for (the API tells values, not declarations, of a task). */
export function inferType(v: unknown): ParamType {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (Array.isArray(v)) return "list";
  if (v !== null && typeof v === "object") return "json";
  return "string";
}

/** Params that differ from the task's own, ready for the clone body. */
export function changedParams(
  original: Record<string, unknown>,
  values: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(values)) {
    if (JSON.stringify(v) !== JSON.stringify(ownValue(original, k))) out[k] = v;
  }
  return out;
}

export function CloneForm({
  detail,
  onCancel,
  onCloned,
}: {
  detail: TaskDetail;
  onCancel: () => void;
  onCloned: (task: TaskDetail) => void;
}) {
  const decls: ParamDecl[] = Object.entries(detail.params).map(([name, v]) => ({
    name,
    type: inferType(v),
    required: false,
  }));
  const [texts, setTexts] = useState<Record<string, string>>(() =>
    Object.fromEntries(decls.map((d) => [d.name, paramText(d, detail.params[d.name])])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { values, errors: found } = validateParams(decls, texts);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const params = changedParams(detail.params, values);
      const res = await post<{ ids: string[] }>(`/tasks/${detail.id}/clone`, {
        ...(Object.keys(params).length > 0 ? { params } : {}),
      });
      const copy = await get<TaskDetail>(`/tasks/${res.body.ids[0]}`);
      onCloned(copy);
    } catch (err) {
      if (err instanceof ApiError && err.problems.length > 0) {
        const byField: Record<string, string> = Object.create(null);
        for (const p of err.problems) {
          const name = paramOfProblemPath(p.path);
          if (name) byField[name] = p.message;
        }
        setErrors(byField);
      }
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="clone-form" onSubmit={submit} noValidate aria-label="Clone with other params">
      <p className="small muted">
        Runs the same command again as a new task. Changed params reach it as{" "}
        <code>BATON_PARAM_&lt;NAME&gt;</code>.
      </p>
      {decls.length === 0 ? <p className="small">This task has no params: the copy runs as it did.</p> : null}
      {decls.map((d) => (
        <label
          key={d.name}
          className={`clone-field${ownValue(errors, d.name) ? " field-error" : ""}`}
          data-param={d.name}
        >
          <span className="clone-name">
            {d.name} <span className="type-tag">{d.type}</span>
          </span>
          <input
            type="text"
            className="mono"
            value={ownValue(texts, d.name) ?? ""}
            spellCheck={false}
            onChange={(e) => setTexts((t) => ({ ...t, [d.name]: e.target.value }))}
          />
          {ownValue(errors, d.name) ? (
            <span className="field-message">{ownValue(errors, d.name)}</span>
          ) : null}
        </label>
      ))}
      {error ? <div className="alert alert-error">{error}</div> : null}
      <div className="clone-actions">
        <button type="submit" className="btn btn-primary btn-sm" disabled={busy}>
          {busy ? "Starting…" : "Run the copy"}
        </button>
        <button type="button" className="btn btn-sm" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
