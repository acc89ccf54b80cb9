/**
 * One shared connection to `GET /events` (Server-Sent Events) for the whole page. Pages
 * subscribe; the connection opens with the first subscriber and closes with the last. Each time
 * it opens, the first time too, subscribers get a `reconnected` notice: events sent while it was
 * down, or before it first opened (a run that ended while the page was fetching it), are lost,
 * so they fetch afresh.
 */
import { useEffect, useRef, useSyncExternalStore } from "react";
import { withToken } from "./client";
import type { EngineEvent } from "./types";

export type LiveState = "connecting" | "live" | "offline";
export type HubMessage = EngineEvent | { type: "reconnected" };

const EVENT_TYPES = ["run-started", "task", "tasks-added", "run-ended"] as const;

class EventHub {
  private source: EventSource | null = null;
  private readonly listeners = new Set<(m: HubMessage) => void>();
  private readonly stateListeners = new Set<() => void>();
  state: LiveState = "offline";

  subscribe(listener: (m: HubMessage) => void): () => void {
    this.listeners.add(listener);
    if (!this.source) this.open();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  onState(listener: () => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Drops the connection and opens a new one (after the token changed). */
  restart(): void {
    if (!this.source) return;
    this.close();
    this.open();
  }

  private setState(state: LiveState) {
    if (state === this.state) return;
    this.state = state;
    for (const l of this.stateListeners) l();
  }

  private open() {
    if (typeof EventSource === "undefined") return;
    this.setState("connecting");
    const source = new EventSource(withToken("/events"));
    this.source = source;
    source.onopen = () => {
      this.setState("live");
      this.dispatch({ type: "reconnected" });
    };
    source.onerror = () => {
      // EventSource retries by itself (the server asks for 3 s).
      this.setState(source.readyState === EventSource.CLOSED ? "offline" : "connecting");
    };
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (e) => {
        try {
          this.dispatch(JSON.parse((e as MessageEvent<string>).data) as EngineEvent);
        } catch {
          // A malformed event is skipped; the next fetch corrects the page.
        }
      });
    }
  }

  private close() {
    this.source?.close();
    this.source = null;
    this.setState("offline");
  }

  private dispatch(m: HubMessage) {
    for (const l of [...this.listeners]) l(m);
  }
}

export const eventHub = new EventHub();

/** Calls `listener` (the latest one given) with every live event while mounted. */
export function useEngineEvents(listener: (m: HubMessage) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => eventHub.subscribe((m) => ref.current(m)), []);
}

export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (cb) => eventHub.onState(cb),
    () => eventHub.state,
  );
}
