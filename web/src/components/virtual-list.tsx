/**
 * A list that renders only the rows in view (plus a few), so that 5,000 tasks scroll as
 * smoothly as 50. Rows have one fixed height.
 */
import { type ReactNode, useEffect, useLayoutEffect, useRef, useState } from "react";

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  renderRow: (index: number) => ReactNode;
  /** Extra rows rendered above and below the visible ones. */
  overscan?: number;
  className?: string;
  /** Keep the view at the bottom while new rows arrive (log follow). */
  stickToBottom?: boolean;
  /** Called when the user scrolls away from (false) or back to (true) the bottom. */
  onAtBottomChange?: (atBottom: boolean) => void;
  /** Used when the container has not been measured yet (tests, first paint). */
  initialHeight?: number;
  label?: string;
}

export function VirtualList({
  count,
  rowHeight,
  renderRow,
  overscan = 8,
  className,
  stickToBottom,
  onAtBottomChange,
  initialHeight = 600,
  label,
}: VirtualListProps) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(initialHeight);
  const atBottom = useRef(true);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (el.clientHeight > 0) setHeight(el.clientHeight);
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (el.clientHeight > 0) setHeight(el.clientHeight);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: new rows (count) are what moves the view down
  useEffect(() => {
    const el = ref.current;
    if (!el || !stickToBottom) return;
    el.scrollTop = el.scrollHeight;
    setScrollTop(el.scrollTop);
  }, [count, stickToBottom]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++) rows.push(renderRow(i));

  return (
    <div
      ref={ref}
      className={`vlist ${className ?? ""}`}
      aria-label={label}
      onScroll={(e) => {
        const el = e.currentTarget;
        setScrollTop(el.scrollTop);
        const bottom = el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight;
        if (bottom !== atBottom.current) {
          atBottom.current = bottom;
          onAtBottomChange?.(bottom);
        }
      }}
    >
      <div className="vlist-spacer" style={{ height: count * rowHeight }}>
        <div className="vlist-window" style={{ transform: `translateY(${first * rowHeight}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  );
}
