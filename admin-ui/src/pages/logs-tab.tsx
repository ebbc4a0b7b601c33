/**
 * Logs: a live tail of the function's `ctx.log` lines (polling `GET …/logs?since=` every 2 s while
 * the tab is visible), a level filter, and a search by request id. The level filter is applied in
 * the browser ("this level and above"), so it works the same whatever the server supports.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { Button, Empty, ErrorNotice, Spinner } from '../components/ui.tsx';
import { useInterval } from '../hooks.ts';
import { filterLevel, mergeTail, type TailState } from '../log-tail.ts';
import { useSession } from '../session.ts';
import type { LogLevel, LogLine } from '../types.ts';
import { LogLines } from './try-tab.tsx';

const POLL_MS = 2000;
const FIRST_LOAD = 200;

export function LogsTab({ app, fn }: { app: string; fn: string }) {
  const { api } = useSession();
  const [tail, setTail] = useState<TailState>({ lines: [], since: null });
  const [live, setLive] = useState(true);
  const [level, setLevel] = useState<LogLevel | 'all'>('all');
  const [search, setSearch] = useState('');
  const [found, setFound] = useState<{ requestId: string; lines: LogLine[] } | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const inFlight = useRef(false);
  const tailRef = useRef(tail);
  tailRef.current = tail;
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);

  const poll = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const since = tailRef.current.since;
      const batch = await api.logs(app, fn, since === null ? { limit: FIRST_LOAD } : { since, limit: 1000 });
      setTail((current) => mergeTail(current, batch));
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      inFlight.current = false;
      setLoading(false);
    }
  }, [api, app, fn]);

  useEffect(() => { void poll(); }, [poll]);
  useInterval(() => { void poll(); }, POLL_MS, live && found === null);

  // Follow the newest line unless the user scrolled up.
  const shown = found !== null ? filterLevel(found.lines, level) : filterLevel(tail.lines, level);
  useLayoutEffect(() => {
    const el = list.current;
    if (el !== null && stick.current) el.scrollTop = el.scrollHeight;
  }, [shown.length]);

  const [searching, setSearching] = useState(false);
  const runSearch = async (requestId: string) => {
    const id = requestId.trim();
    setSearch(id);
    if (id === '') {
      setFound(null);
      return;
    }
    setSearching(true);
    try {
      setFound({ requestId: id, lines: await api.logs(app, fn, { requestId: id }) });
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setSearching(false);
    }
  };

  return (
    <div className="stack">
      <form className="toolbar" onSubmit={(e: FormEvent) => { e.preventDefault(); void runSearch(search); }}>
        <label className="check-label">
          <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} disabled={found !== null} data-testid="logs-live" /> Live
          {live && found === null && <span className="live-dot" title={`Polling every ${POLL_MS / 1000} s`} />}
        </label>
        <label className="field-inline-small">
          Level
          <select value={level} onChange={(e) => setLevel(e.target.value as LogLevel | 'all')} data-testid="logs-level">
            <option value="all">all</option>
            <option value="debug">debug +</option>
            <option value="info">info +</option>
            <option value="warn">warn +</option>
            <option value="error">error</option>
          </select>
        </label>
        <input className="mono grow" type="search" placeholder="request id" value={search} onChange={(e) => setSearch(e.target.value)} aria-label="Request id" data-testid="logs-search" />
        <Button type="submit" busy={searching}>Search</Button>
        {found !== null && <Button kind="ghost" onClick={() => { setSearch(''); setFound(null); }}>Back to live tail</Button>}
      </form>
      <ErrorNotice error={error} feature="Logs" />
      {found !== null && <p className="muted small">Lines of request <code>{found.requestId}</code>{level !== 'all' ? `, ${level} and above` : ''}.</p>}
      <div
        className="log-view" ref={list} data-testid="logs-view"
        onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24; }}
      >
        {loading && tail.lines.length === 0 && <div className="loading"><Spinner /> Loading logs…</div>}
        {!loading && shown.length === 0 && <Empty>{found !== null ? 'No lines for that request id (lines are kept for a limited time).' : level !== 'all' ? 'No lines at this level yet.' : 'No log lines yet. Invoke the function (Try it) and they appear here.'}</Empty>}
        {shown.length > 0 && <LogLines lines={shown} onRequestId={(id) => { void runSearch(id); }} />}
      </div>
    </div>
  );
}
