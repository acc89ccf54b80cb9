/**
 * Launch: pick a pipeline, fill a form generated from its declared params (types, defaults,
 * choices, descriptions), checked before it is sent, and start a run.
 */
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { ApiError, errorMessage, get, post } from "../api/client";
import { loadPipelines, usePipelines, useTitle } from "../api/hooks";
import type { ParamDecl, PipelineNode, PipelineSummary, RunDetail, RunSummary } from "../api/types";
import { useToast } from "../components/feedback";
import { formatValue, shortId } from "../lib/format";
import { ownValue, paramOfProblemPath, paramText, validateParams } from "../lib/params";
import { Link, navigate, useLocation } from "../router";

export function LaunchPage({ name }: { name: string | undefined }) {
  const { pipelines, error } = usePipelines(true);
  const loc = useLocation();
  const like = loc.query.get("like");
  useTitle(name ? `Launch ${name}` : "Launch");

  useEffect(() => {
    if (!name && pipelines && pipelines.length > 0) {
      navigate(`/launch/${encodeURIComponent(pipelines[0]!.name)}`, { replace: true });
    }
  }, [name, pipelines]);

  const selected = pipelines?.find((p) => p.name === name);

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Launch a pipeline</h1>
          <p className="subtitle">Pick a pipeline, set its params, and start a run.</p>
        </div>
      </div>
      {error ? <div className="alert alert-error">{errorMessage(error)}</div> : null}
      <div className="launch">
        <nav className="pipeline-list" aria-label="Pipelines">
          {pipelines === undefined ? <div className="muted pad">Loading pipelines…</div> : null}
          {pipelines?.length === 0 ? (
            <div className="empty small">
              <p>This server has no pipelines.</p>
              <p className="muted">
                Start <code>baton server</code> beside a <code>baton.yaml</code>, or register one with{" "}
                <code>POST /api/v1/pipelines</code>.
              </p>
            </div>
          ) : null}
          {pipelines?.map((p) => (
            <Link
              key={p.name}
              to={`/launch/${encodeURIComponent(p.name)}`}
              className={`pipeline-card${p.name === name ? " pipeline-card-on" : ""}`}
              replace
            >
              <span className="pipeline-name">{p.name}</span>
              <span className="muted small">
                {p.nodes.length} node{p.nodes.length === 1 ? "" : "s"} · {p.params.length} param
                {p.params.length === 1 ? "" : "s"}
                {p.source === "registered" ? " · registered" : ""}
              </span>
            </Link>
          ))}
        </nav>
        <div className="launch-form-wrap">
          {selected ? (
            <LaunchForm key={`${selected.name}|${like ?? ""}`} pipeline={selected} likeRun={like} />
          ) : pipelines && pipelines.length > 0 ? (
            <div className="card empty">
              {name ? <p>There is no pipeline “{name}”.</p> : <p>Choose a pipeline on the left.</p>}
            </div>
          ) : null}
        </div>
      </div>
    </div>
  );
}

/** Nodes in layers: each node one layer after the last of its needs. */
export function nodeLayers(nodes: PipelineNode[]): PipelineNode[][] {
  const depth = new Map<string, number>();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const visit = (n: PipelineNode, seen: Set<string>): number => {
    const known = depth.get(n.name);
    if (known !== undefined) return known;
    if (seen.has(n.name)) return 0;
    seen.add(n.name);
    let d = 0;
    for (const need of n.needs) {
      const m = byName.get(need.node);
      if (m) d = Math.max(d, visit(m, seen) + 1);
    }
    depth.set(n.name, d);
    return d;
  };
  for (const n of nodes) visit(n, new Set());
  const layers: PipelineNode[][] = [];
  for (const n of nodes) {
    const d = depth.get(n.name) ?? 0;
    const layer = layers[d] ?? [];
    layer.push(n);
    layers[d] = layer;
  }
  return layers.filter(Boolean);
}

function LaunchForm({ pipeline, likeRun }: { pipeline: PipelineSummary; likeRun: string | null }) {
  const [texts, setTexts] = useState<Record<string, string>>(() =>
    Object.fromEntries(pipeline.params.map((p) => [p.name, paramText(p, p.default)])),
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [targets, setTargets] = useState<string[]>([]);
  const [noCache, setNoCache] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [likeNote, setLikeNote] = useState<string | null>(null);
  const toast = useToast();
  const layers = useMemo(() => nodeLayers(pipeline.nodes), [pipeline.nodes]);

  // "Run again": start from the params of an earlier run.
  useEffect(() => {
    if (!likeRun) return;
    let active = true;
    get<RunDetail>(`/runs/${encodeURIComponent(likeRun)}`).then(
      (d) => {
        if (!active) return;
        setTexts((t) => {
          const next = { ...t };
          for (const p of pipeline.params)
            if (Object.hasOwn(d.run.params, p.name)) next[p.name] = paramText(p, d.run.params[p.name]);
          return next;
        });
        setLikeNote(`Params of run ${shortId(d.run.id)}.`);
      },
      () => {},
    );
    return () => {
      active = false;
    };
  }, [likeRun, pipeline.params]);

  const setText = (name: string, value: string) => {
    setTexts((t) => ({ ...t, [name]: value }));
    if (ownValue(errors, name)) setErrors((e) => ({ ...e, [name]: "" }));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    const { values, errors: found } = validateParams(pipeline.params, texts);
    setErrors(found);
    if (Object.values(found).some(Boolean)) {
      setFormError("Some params are not right: see the highlighted fields.");
      return;
    }
    setSubmitting(true);
    try {
      const res = await post<{ run: RunSummary }>("/runs", {
        pipeline: pipeline.name,
        params: values,
        ...(targets.length > 0 ? { targets } : {}),
        ...(noCache ? { noCache: true } : {}),
      });
      void loadPipelines(true);
      toast({
        kind: "success",
        title: "Run started",
        body: `${pipeline.name} · ${shortId(res.body.run.id)}`,
      });
      navigate(`/runs/${res.body.run.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.problems.length > 0) {
        const byField: Record<string, string> = Object.create(null);
        const other: string[] = [];
        for (const p of err.problems) {
          const name = paramOfProblemPath(p.path);
          if (name && pipeline.params.some((d) => d.name === name)) byField[name] = p.message;
          else other.push(p.message);
        }
        setErrors(byField);
        setFormError(other.length > 0 ? other.join("; ") : err.message);
      } else setFormError(errorMessage(err));
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <form className="card launch-form" onSubmit={submit} noValidate aria-label={`Launch ${pipeline.name}`}>
      <div className="form-head">
        <h2>{pipeline.name}</h2>
        {pipeline.file ? (
          <span className="muted small mono ellipsis" title={pipeline.file}>
            {pipeline.file}
          </span>
        ) : null}
      </div>
      <div className="node-flow" aria-label="Nodes">
        {layers.map((layer, i) => (
          <div key={layer.map((n) => n.name).join()} className="node-layer">
            {i > 0 ? <span className="node-arrow">→</span> : null}
            <div className="node-stack">
              {layer.map((n) => (
                <span
                  key={n.name}
                  className="node-chip"
                  title={n.needs.map((x) => `needs ${x.node} (${x.condition})`).join("\n")}
                >
                  {n.name}
                  {n.fanout ? <span className="node-fan">{n.fanout}</span> : null}
                  {n.kind === "pipeline" ? <span className="node-fan">pipeline</span> : null}
                </span>
              ))}
            </div>
          </div>
        ))}
      </div>

      <h3 className="form-section">Params</h3>
      {likeNote ? <p className="muted small">{likeNote}</p> : null}
      {pipeline.params.length === 0 ? <p className="muted">This pipeline takes no params.</p> : null}
      <div className="fields">
        {pipeline.params.map((p) => (
          <ParamField
            key={p.name}
            decl={p}
            text={ownValue(texts, p.name) ?? ""}
            error={ownValue(errors, p.name)}
            onChange={(v) => setText(p.name, v)}
          />
        ))}
      </div>

      <details className="advanced">
        <summary>Options</summary>
        <fieldset className="targets">
          <legend>Run only these nodes and what they need</legend>
          <div className="checks">
            {pipeline.nodes.map((n) => (
              <label key={n.name} className="check">
                <input
                  type="checkbox"
                  checked={targets.includes(n.name)}
                  onChange={(e) =>
                    setTargets((t) => (e.target.checked ? [...t, n.name] : t.filter((x) => x !== n.name)))
                  }
                />
                {n.name}
              </label>
            ))}
          </div>
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={noCache} onChange={(e) => setNoCache(e.target.checked)} />
          Don’t reuse cached results (run every task)
        </label>
      </details>

      {formError ? (
        <div className="alert alert-error" role="alert">
          {formError}
        </div>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={submitting}>
          {submitting ? "Starting…" : "Start run"}
        </button>
        <Link className="btn" to="/">
          Cancel
        </Link>
      </div>
    </form>
  );
}

function ParamField({
  decl,
  text,
  error,
  onChange,
}: {
  decl: ParamDecl;
  text: string;
  error: string | undefined;
  onChange: (v: string) => void;
}) {
  // Names may hold spaces (`learning rate`), which an HTML id may not.
  const id = `param-${encodeURIComponent(decl.name)}`;
  const isDefault = decl.default !== undefined && text === paramText(decl, decl.default);
  let input: React.ReactNode;
  if (decl.choices && decl.choices.length > 0) {
    input = (
      <select
        id={id}
        name={decl.name}
        value={text}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={!!error}
      >
        {decl.required && text === "" ? <option value="">Choose…</option> : null}
        {decl.choices.map((c) => (
          <option key={JSON.stringify(c)} value={paramText(decl, c)}>
            {formatValue(c)}
          </option>
        ))}
      </select>
    );
  } else if (decl.type === "bool") {
    input = (
      <label className="switch">
        <input
          id={id}
          name={decl.name}
          type="checkbox"
          checked={text === "true"}
          onChange={(e) => onChange(e.target.checked ? "true" : "false")}
        />
        <span>{text === "true" ? "true" : "false"}</span>
      </label>
    );
  } else if (decl.type === "list" || decl.type === "json") {
    input = (
      <textarea
        id={id}
        name={decl.name}
        className="mono"
        rows={Math.min(6, Math.max(2, Math.ceil(text.length / 60)))}
        value={text}
        spellCheck={false}
        aria-invalid={!!error}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  } else {
    input = (
      <input
        id={id}
        name={decl.name}
        type="text"
        inputMode={decl.type === "int" ? "numeric" : decl.type === "float" ? "decimal" : undefined}
        className={decl.type === "string" ? "" : "mono"}
        value={text}
        spellCheck={false}
        aria-invalid={!!error}
        onChange={(e) => onChange(e.target.value)}
      />
    );
  }
  const hint =
    decl.type === "list"
      ? "A JSON list like [0.1, 0.01], or values separated by commas."
      : decl.type === "json"
        ? "Any JSON value."
        : null;
  return (
    <div className={`field${error ? " field-error" : ""}`} data-param={decl.name}>
      <div className="field-label">
        <label htmlFor={id}>
          {decl.name}
          {decl.required ? (
            <span className="required" title="required">
              {" "}
              *
            </span>
          ) : null}
        </label>
        <span className="type-tag">{decl.type}</span>
        {decl.default !== undefined && !isDefault ? (
          <button
            type="button"
            className="link-button small"
            onClick={() => onChange(paramText(decl, decl.default))}
          >
            Reset to {formatValue(decl.default)}
          </button>
        ) : null}
      </div>
      {input}
      {decl.description ? <div className="field-help">{decl.description}</div> : null}
      {hint && !error ? <div className="field-hint">{hint}</div> : null}
      {error ? (
        <div className="field-message" role="alert">
          {error}
        </div>
      ) : null}
    </div>
  );
}
