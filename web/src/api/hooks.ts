/** Small data hooks shared by the pages. */
import { useEffect, useState } from "react";
import { get } from "./client";
import type { PipelineSummary } from "./types";

/** The current time, ticking every `ms` while `active`. */
export function useNow(active: boolean, ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const id = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(id);
  }, [active, ms]);
  return now;
}

/** Sets the window title while mounted. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Baton` : "Baton";
  }, [title]);
}

let pipelinesCache: Promise<PipelineSummary[]> | null = null;

/** `GET /pipelines`, fetched once per page load unless `fresh`. */
export function loadPipelines(fresh = false): Promise<PipelineSummary[]> {
  if (!pipelinesCache || fresh) {
    const p = get<{ pipelines: PipelineSummary[] }>("/pipelines").then((b) => b.pipelines);
    pipelinesCache = p;
    p.catch(() => {
      if (pipelinesCache === p) pipelinesCache = null;
    });
  }
  return pipelinesCache;
}

export function usePipelines(fresh = false): {
  pipelines: PipelineSummary[] | undefined;
  error: unknown;
} {
  const [state, setState] = useState<{ pipelines: PipelineSummary[] | undefined; error: unknown }>({
    pipelines: undefined,
    error: undefined,
  });
  useEffect(() => {
    let live = true;
    loadPipelines(fresh).then(
      (pipelines) => live && setState({ pipelines, error: undefined }),
      (error) => live && setState({ pipelines: [], error }),
    );
    return () => {
      live = false;
    };
  }, [fresh]);
  return state;
}
