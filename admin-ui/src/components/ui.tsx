/** Small building blocks: buttons with progress, notices, errors, badges, dialogs, links, tabs. */
import { useEffect, useRef, type ReactNode, type MouseEvent, type ButtonHTMLAttributes } from 'react';
import { isApiError, isRouteMissing } from '../api.ts';
import { navigate } from '../hooks.ts';

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return <span className="spinner" role="status" aria-label={label} />;
}

/** A button that shows a spinner and is disabled while `busy`. */
export function Button({ busy = false, kind = 'secondary', children, disabled, ...rest }: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; kind?: 'primary' | 'secondary' | 'danger' | 'ghost' }) {
  return (
    <button type="button" {...rest} className={`btn btn-${kind}${rest.className ? ` ${rest.className}` : ''}`} disabled={disabled === true || busy} aria-busy={busy}>
      {busy && <Spinner label="Working" />}
      {children}
    </button>
  );
}

/** Client-side link: a normal `<a href>` (open in new tab works), navigation without reload on plain click. */
export function Link({ href, children, className, title }: { href: string; children: ReactNode; className?: string; title?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={onClick} className={className} title={title}>{children}</a>;
}

export function Badge({ tone = 'neutral', children, title }: { tone?: 'neutral' | 'ok' | 'warn' | 'error' | 'info' | 'accent'; children: ReactNode; title?: string }) {
  return <span className={`badge badge-${tone}`} title={title}>{children}</span>;
}

export function Notice({ tone = 'info', title, children }: { tone?: 'info' | 'ok' | 'warn' | 'error'; title?: ReactNode; children?: ReactNode }) {
  return (
    <div className={`notice notice-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      {title !== undefined && <div className="notice-title">{title}</div>}
      {children !== undefined && <div className="notice-body">{children}</div>}
    </div>
  );
}

/**
 * Show any error readably: an API error as its code and message (plus hint, code frame and
 * diagnostics when the server sent them); a missing endpoint as "this server does not offer
 * <feature> yet"; anything else by its message. Never raw JSON.
 * @param feature what the failed call was for, used when the endpoint is missing (e.g. "API keys")
 */
export function ErrorNotice({ error, feature, onRetry }: { error: unknown; feature?: string; onRetry?: () => void }) {
  if (error === undefined || error === null) return null;
  if (isRouteMissing(error) && isApiError(error)) {
    return (
      <Notice tone="warn" title={`${feature ?? 'This feature'} is not available on this server`}>
        <p>The platform answered <code>404 E_ROUTE_NOT_FOUND</code>: {error.message}</p>
        <p>Update the platform to a version that offers it; the rest of the console keeps working.</p>
      </Notice>
    );
  }
  if (isApiError(error)) {
    const hint = typeof error.details.hint === 'string' ? error.details.hint : null;
    const frame = typeof error.details.frame === 'string' ? error.details.frame : null;
    const diagnostics = Array.isArray(error.details.diagnostics) ? (error.details.diagnostics as Array<Record<string, unknown>>) : [];
    return (
      <Notice tone="error" title={<><code className="error-code">{error.code}</code>{error.status > 0 && <span className="muted"> HTTP {error.status}</span>}</>}>
        <p className="error-message">{error.message}</p>
        {hint !== null && <p><strong>How to fix:</strong> {hint}</p>}
        {frame !== null && <pre className="frame">{frame}</pre>}
        {diagnostics.length > 0 && (
          <ul className="diag-list">
            {diagnostics.slice(0, 20).map((d, i) => (
              <li key={i}><code>{String(d.line)}:{String(d.column)}</code> <strong>{String(d.rule ?? '')}</strong> {String(d.message ?? '')}</li>
            ))}
          </ul>
        )}
        {onRetry !== undefined && <Button onClick={onRetry}>Try again</Button>}
      </Notice>
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return (
    <Notice tone="error" title={<code className="error-code">E_CLIENT</code>}>
      <p className="error-message">{message}</p>
      {onRetry !== undefined && <Button onClick={onRetry}>Try again</Button>}
    </Notice>
  );
}

/** Centered loading state for a whole section. */
export function Loading({ what }: { what: string }) {
  return <div className="loading"><Spinner /> Loading {what}…</div>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/**
 * A modal confirmation (native `<dialog>`): Escape or Cancel closes it; the confirm button shows
 * progress while `busy`, and an error from the action stays visible inside the dialog.
 */
export function ConfirmDialog({ open, title, children, confirmLabel, danger = false, busy = false, error, onConfirm, onCancel }: {
  open: boolean; title: string; children: ReactNode; confirmLabel: string; danger?: boolean; busy?: boolean; error?: unknown;
  onConfirm: () => void; onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="dialog-title" onCancel={(e) => { e.preventDefault(); if (!busy) onCancel(); }}>
      {open && (
        <div className="dialog-inner">
          <h2 id="dialog-title">{title}</h2>
          <div className="dialog-body">{children}</div>
          <ErrorNotice error={error} />
          <div className="dialog-actions">
            <Button onClick={onCancel} disabled={busy}>Cancel</Button>
            <Button kind={danger ? 'danger' : 'primary'} busy={busy} onClick={onConfirm} autoFocus>{confirmLabel}</Button>
          </div>
        </div>
      )}
    </dialog>
  );
}

/** A row of tabs as links (each tab has its own URL). */
export function Tabs({ tabs, current }: { tabs: Array<{ id: string; label: string; href: string }>; current: string }) {
  return (
    <nav className="tabs" aria-label="Sections">
      {tabs.map((t) => (
        <Link key={t.id} href={t.href} className={`tab${t.id === current ? ' tab-active' : ''}`}>{t.label}</Link>
      ))}
    </nav>
  );
}

/** Copy text to the clipboard with a short confirmation. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const ref = useRef<HTMLButtonElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      if (ref.current !== null) ref.current.textContent = 'Copied';
    } catch {
      if (ref.current !== null) ref.current.textContent = 'Select and copy manually';
    }
  };
  return <button ref={ref} type="button" className="btn btn-ghost btn-small" onClick={() => { void copy(); }}>{label}</button>;
}
