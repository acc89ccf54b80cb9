/**
 * Confirmation before destructive actions, and toasts that report what an action did.
 * Both are app-wide: `useConfirm()` answers a promise, `useToast()` shows a message.
 */
import {
  type ReactNode,
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";

export interface ConfirmOptions {
  title: string;
  body: ReactNode;
  confirmLabel: string;
  /** Red button for what cannot be undone (cancel); blue otherwise. */
  danger?: boolean;
}

export type ToastKind = "success" | "error" | "info";
export interface ToastOptions {
  kind: ToastKind;
  title: string;
  body?: ReactNode;
}

interface Feedback {
  confirm(options: ConfirmOptions): Promise<boolean>;
  toast(options: ToastOptions): void;
}

const FeedbackContext = createContext<Feedback>({
  confirm: async () => window.confirm("Are you sure?"),
  toast: () => {},
});

export const useConfirm = () => useContext(FeedbackContext).confirm;
export const useToast = () => useContext(FeedbackContext).toast;

interface Toast extends ToastOptions {
  id: number;
}

export function FeedbackProvider({ children }: { children: ReactNode }) {
  const [dialog, setDialog] = useState<(ConfirmOptions & { resolve: (ok: boolean) => void }) | null>(null);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const value = useMemo<Feedback>(
    () => ({
      confirm: (options) => new Promise((resolve) => setDialog({ ...options, resolve })),
      toast: (options) => {
        const id = next.current++;
        setToasts((ts) => [...ts.slice(-3), { ...options, id }]);
        window.setTimeout(() => dismiss(id), options.kind === "error" ? 12_000 : 7_000);
      },
    }),
    [dismiss],
  );

  const close = (ok: boolean) => {
    dialog?.resolve(ok);
    setDialog(null);
  };

  return (
    <FeedbackContext.Provider value={value}>
      {children}
      {dialog ? <ConfirmDialog options={dialog} onClose={close} /> : null}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`}>
            <div className="toast-text">
              <strong>{t.title}</strong>
              {t.body ? <div className="toast-body">{t.body}</div> : null}
            </div>
            <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </FeedbackContext.Provider>
  );
}

function ConfirmDialog({ options, onClose }: { options: ConfirmOptions; onClose: (ok: boolean) => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div className="modal-backdrop">
      <dialog className="modal" open aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">{options.title}</h2>
        <div className="modal-body">{options.body}</div>
        <div className="modal-actions">
          <button type="button" className="btn" ref={cancelRef} onClick={() => onClose(false)}>
            Keep as is
          </button>
          <button
            type="button"
            className={`btn ${options.danger ? "btn-danger" : "btn-primary"}`}
            onClick={() => onClose(true)}
          >
            {options.confirmLabel}
          </button>
        </div>
      </dialog>
    </div>
  );
}
