import { useEffect, useRef } from "react";

/**
 * A function that runs `fn` at most once per `ms`: calls in between are folded into one
 * trailing call. Live events arrive in bursts (thousands of task updates); pages refetch or
 * re-render once per burst instead.
 */
export function useCoalesced(fn: () => void, ms: number): () => void {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const schedule = useRef(() => {
    if (timer.current !== undefined) return;
    timer.current = window.setTimeout(() => {
      timer.current = undefined;
      fnRef.current();
    }, ms);
  });
  return schedule.current;
}
