/** The audit log, newest first: who changed what and when, filterable by app, paged with "older". */
import { useState } from 'react';
import { Button, Empty, ErrorNotice, Loading } from '../components/ui.tsx';
import { formatAgo, formatTime } from '../format.ts';
import { useAsync } from '../hooks.ts';
import { useSession } from '../session.ts';
import type { AuditEntry } from '../types.ts';

const PAGE = 50;

/** A before/after value as short readable text (`key=value, …`), never a JSON dump. */
export function summarize(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return value.map(summarize).join(', ');
  const parts = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? summarize(v) : String(v)}`);
  const text = parts.join(', ');
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

export function AuditPage() {
  const { api } = useSession();
  const [app, setApp] = useState('');
  const apps = useAsync(() => api.listApps(), [api]);
  const [older, setOlder] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState<{ busy: boolean; error: unknown; exhausted: boolean }>({ busy: false, error: undefined, exhausted: false });
  const first = useAsync(async () => {
    setOlder([]);
    setMore({ busy: false, error: undefined, exhausted: false });
    return api.audit({ app, limit: PAGE });
  }, [api, app]);
  const entries = [...(first.data ?? []), ...older];

  const loadOlder = async () => {
    const last = entries[entries.length - 1];
    if (last === undefined) return;
    setMore((m) => ({ ...m, busy: true, error: undefined }));
    try {
      const page = await api.audit({ app, limit: PAGE, before: last.id });
      setOlder((o) => [...o, ...page]);
      setMore({ busy: false, error: undefined, exhausted: page.length < PAGE });
    } catch (error) {
      setMore({ busy: false, error, exhausted: false });
    }
  };

  return (
    <section className="page">
      <div className="page-head"><h1>Audit log</h1></div>
      <div className="toolbar">
        <label className="field-inline-small">
          App
          <select value={app} onChange={(e) => setApp(e.target.value)} data-testid="audit-app">
            <option value="">all apps</option>
            {apps.data?.map((a) => <option key={a.name} value={a.name}>{a.name}</option>)}
          </select>
        </label>
        <span className="spacer" />
        <Button className="btn-small" onClick={first.reload} busy={first.loading && first.data !== undefined}>Refresh</Button>
      </div>
      {first.data === undefined && first.loading && <Loading what="the audit log" />}
      <ErrorNotice error={first.error} feature="The audit log" onRetry={first.reload} />
      {first.data !== undefined && entries.length === 0 && <Empty>No audit entries{app !== '' ? ` for ${app}` : ''}.</Empty>}
      {entries.length > 0 && (
        <table className="table table-cards" data-testid="audit-table">
          <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Where</th><th>Change</th></tr></thead>
          <tbody>
            {entries.map((e) => (
              <tr key={String(e.id)}>
                <td data-label="When" title={formatTime(e.at)}>{formatAgo(e.at)}</td>
                <td data-label="Who">{e.actor}</td>
                <td data-label="Action"><code>{e.action}</code></td>
                <td data-label="Where">{[e.app, e.function, e.target].filter((x) => x !== null && x !== undefined && x !== '').join(' / ') || '—'}</td>
                <td data-label="Change" className="wrap small">
                  {e.before !== null && e.before !== undefined && <span className="change-before">{summarize(e.before)}</span>}
                  {e.before !== null && e.before !== undefined && e.after !== null && e.after !== undefined && ' → '}
                  {e.after !== null && e.after !== undefined && <span className="change-after">{summarize(e.after)}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorNotice error={more.error} />
      {first.data !== undefined && first.data.length === PAGE && !more.exhausted && (
        <Button busy={more.busy} onClick={() => { void loadOlder(); }}>Load older entries</Button>
      )}
    </section>
  );
}
