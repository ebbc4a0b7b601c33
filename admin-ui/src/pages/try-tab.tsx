/**
 * Try it: send one request to the function through the real gateway (`/fn/:app/:fn/…`) — method,
 * path, query, headers, JSON body; to an alias or a pinned version — and see status, headers,
 * body, round-trip duration, CPU time (`server-timing: cpu;dur=`) and the invocation's own log
 * lines (`GET …/logs?requestId=`). The API key is never sent to the function.
 */
import { useEffect, useRef, useState } from 'react';
import { Badge, Button, ErrorNotice, Notice, Spinner } from '../components/ui.tsx';
import { formatClock, formatMs, shortId } from '../format.ts';
import { useAction } from '../hooks.ts';
import type { InvokeResult } from '../api.ts';
import { useSession } from '../session.ts';
import type { FunctionInfo, LogLine } from '../types.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
type Pair = [string, string];

/** Form state kept per function while the page lives, so switching tabs keeps the request. */
interface TryForm {
  method: string;
  path: string;
  query: Pair[];
  headers: Pair[];
  body: string;
  targetKind: 'alias' | 'version';
  alias: string;
  version: string;
}
const forms = new Map<string, TryForm>();

/** How long to look for an invocation's log lines (they are stored just after the answer), in ms. */
const LOG_WAIT_MS = 3000;

export function TryTab({ app, fn, info }: { app: string; fn: string; info: FunctionInfo }) {
  const { api } = useSession();
  const key = `${app}/${fn}`;
  const [form, setForm] = useState<TryForm>(() => forms.get(key) ?? {
    method: 'GET', path: '/', query: [['', '']], headers: [['', '']], body: '', targetKind: 'alias', alias: info.aliases.prod !== undefined ? 'prod' : Object.keys(info.aliases)[0] ?? 'prod', version: '',
  });
  useEffect(() => { forms.set(key, form); }, [key, form]);
  const update = (patch: Partial<TryForm>) => setForm((f) => ({ ...f, ...patch }));
  const send = useAction();
  const [bodyProblem, setBodyProblem] = useState<string | null>(null);
  const [result, setResult] = useState<InvokeResult | null>(null);
  const [logs, setLogs] = useState<{ state: 'waiting' } | { state: 'done'; lines: LogLine[] } | { state: 'failed'; error: unknown } | null>(null);
  const logsAbort = useRef<AbortController | null>(null);
  useEffect(() => () => logsAbort.current?.abort(), []);

  const hasBody = form.method !== 'GET' && form.body.trim() !== '';
  const jsonBody = hasBody && !form.headers.some(([n, v]) => n.trim().toLowerCase() === 'content-type' && !/json/i.test(v));

  const submit = async () => {
    setBodyProblem(null);
    if (jsonBody) {
      try {
        JSON.parse(form.body);
      } catch (error) {
        setBodyProblem(`The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}. Fix it, or set a Content-Type header other than JSON to send it as text.`);
        return;
      }
    }
    logsAbort.current?.abort();
    const headers: Pair[] = form.headers.filter(([n]) => n.trim() !== '');
    if (jsonBody && !headers.some(([n]) => n.trim().toLowerCase() === 'content-type')) headers.push(['content-type', 'application/json']);
    const answer = await send.run(() => api.invoke(app, fn, {
      method: form.method,
      path: form.path,
      query: form.query.filter(([n]) => n.trim() !== ''),
      headers,
      body: hasBody ? form.body : undefined,
      target: form.targetKind === 'version' && form.version !== '' ? { version: form.version } : { alias: form.alias || 'prod' },
    }));
    if (answer === undefined) return;
    setResult(answer);
    if (answer.requestId !== null) void fetchLogs(answer.requestId);
    else setLogs(null);
  };

  const fetchLogs = async (requestId: string) => {
    const controller = new AbortController();
    logsAbort.current = controller;
    setLogs({ state: 'waiting' });
    const deadline = Date.now() + LOG_WAIT_MS;
    try {
      for (;;) {
        const lines = await api.logs(app, fn, { requestId }, controller.signal);
        if (controller.signal.aborted) return;
        if (lines.length > 0 || Date.now() >= deadline) {
          setLogs({ state: 'done', lines });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    } catch (error) {
      if (!controller.signal.aborted) setLogs({ state: 'failed', error });
    }
  };

  const formatBody = () => {
    try {
      update({ body: JSON.stringify(JSON.parse(form.body), null, 2) });
      setBodyProblem(null);
    } catch (error) {
      setBodyProblem(`The body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  return (
    <div className="try">
      <div className="card try-request">
        <div className="form-row">
          <label className="field field-narrow">
            <span>Method</span>
            <select value={form.method} onChange={(e) => update({ method: e.target.value })} data-testid="try-method">
              {METHODS.map((m) => <option key={m}>{m}</option>)}
            </select>
          </label>
          <label className="field grow">
            <span>Path after /fn/{app}/{fn}</span>
            <input value={form.path} onChange={(e) => update({ path: e.target.value })} className="mono" data-testid="try-path" />
          </label>
        </div>
        <div className="form-row">
          <label className="field field-narrow">
            <span>Target</span>
            <select value={form.targetKind} onChange={(e) => update({ targetKind: e.target.value as 'alias' | 'version' })} data-testid="try-target-kind">
              <option value="alias">Alias</option>
              <option value="version">Version</option>
            </select>
          </label>
          {form.targetKind === 'alias' ? (
            <label className="field grow">
              <span>Alias</span>
              <select value={form.alias} onChange={(e) => update({ alias: e.target.value })} data-testid="try-alias">
                {Object.entries(info.aliases).map(([a, v]) => <option key={a} value={a}>{a} → {shortId(v)}</option>)}
                {Object.keys(info.aliases).length === 0 && <option value="prod">prod (not set)</option>}
              </select>
            </label>
          ) : (
            <VersionPicker app={app} fn={fn} value={form.version} onChange={(version) => update({ version })} />
          )}
        </div>
        <PairsEditor label="Query parameters" pairs={form.query} onChange={(query) => update({ query })} testId="try-query" />
        <PairsEditor label="Headers" pairs={form.headers} onChange={(headers) => update({ headers })} testId="try-headers" />
        {form.method !== 'GET' && (
          <label className="field">
            <span>Body {jsonBody ? '(JSON)' : ''} <button type="button" className="link-button" onClick={formatBody}>format</button></span>
            <textarea className="mono" rows={6} value={form.body} onChange={(e) => update({ body: e.target.value })} placeholder='{ "roomId": "42" }' spellCheck={false} data-testid="try-body" />
          </label>
        )}
        {bodyProblem !== null && <p className="field-error">{bodyProblem}</p>}
        <Button kind="primary" busy={send.busy} onClick={() => { void submit(); }} data-testid="try-send">{send.busy ? 'Sending…' : 'Send request'}</Button>
        <ErrorNotice error={send.error} />
      </div>
      {result !== null && <InvokeResultView result={result} logs={logs} />}
    </div>
  );
}

function VersionPicker({ app, fn, value, onChange }: { app: string; fn: string; value: string; onChange: (v: string) => void }) {
  const { api } = useSession();
  const [versions, setVersions] = useState<Array<{ id: string; message: string }> | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    let live = true;
    api.listVersions(app, fn).then((list) => {
      if (!live) return;
      setVersions(list);
      if (value === '' && list[0] !== undefined) onChange(list[0].id);
    }, (err: unknown) => { if (live) setError(err); });
    return () => { live = false; };
    // Loaded once per function; `value`/`onChange` only seed the first choice.
  }, [api, app, fn]);
  return (
    <label className="field grow">
      <span>Version</span>
      {error !== undefined ? <ErrorNotice error={error} /> : (
        <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="try-version">
          {versions === null && <option>Loading…</option>}
          {versions?.map((v) => <option key={v.id} value={v.id}>{shortId(v.id)} — {v.message || 'no message'}</option>)}
        </select>
      )}
    </label>
  );
}

function PairsEditor({ label, pairs, onChange, testId }: { label: string; pairs: Pair[]; onChange: (pairs: Pair[]) => void; testId: string }) {
  const set = (index: number, which: 0 | 1, value: string) => {
    const next = pairs.map((p) => [...p] as Pair);
    (next[index] as Pair)[which] = value;
    // Keep one empty row at the end to type into.
    const last = next[next.length - 1];
    if (last !== undefined && (last[0] !== '' || last[1] !== '')) next.push(['', '']);
    onChange(next);
  };
  const remove = (index: number) => {
    const next = pairs.filter((_, i) => i !== index);
    onChange(next.length === 0 ? [['', '']] : next);
  };
  return (
    <fieldset className="pairs" data-testid={testId}>
      <legend>{label}</legend>
      {pairs.map(([name, value], i) => (
        <div className="pair" key={i}>
          <input aria-label={`${label} name ${i + 1}`} placeholder="name" value={name} onChange={(e) => set(i, 0, e.target.value)} className="mono" />
          <input aria-label={`${label} value ${i + 1}`} placeholder="value" value={value} onChange={(e) => set(i, 1, e.target.value)} className="mono" />
          <button type="button" className="btn btn-ghost btn-small" aria-label={`Remove ${label} row ${i + 1}`} onClick={() => remove(i)} disabled={pairs.length === 1 && name === '' && value === ''}>✕</button>
        </div>
      ))}
    </fieldset>
  );
}

function InvokeResultView({ result, logs }: { result: InvokeResult; logs: { state: 'waiting' } | { state: 'done'; lines: LogLine[] } | { state: 'failed'; error: unknown } | null }) {
  const tone = result.status < 300 ? 'ok' : result.status < 500 ? 'warn' : 'error';
  const body = result.json !== undefined ? JSON.stringify(result.json, null, 2) : result.text;
  return (
    <div className="card try-result" data-testid="try-result">
      <div className="metrics">
        <div className="metric"><span className="metric-label">Status</span><Badge tone={tone}><span data-testid="try-status">{result.status}</span> {result.statusText}</Badge></div>
        <div className="metric"><span className="metric-label">Duration</span><span data-testid="try-duration">{formatMs(result.durationMs)}</span></div>
        <div className="metric"><span className="metric-label">CPU time</span><span data-testid="try-cpu">{formatMs(result.cpuMs)}</span></div>
        <div className="metric"><span className="metric-label">Version</span><code title={result.versionId ?? ''} data-testid="try-version-ran">{shortId(result.versionId)}</code>{result.coldStart && <Badge tone="info">{result.coldStartMs === null ? 'cold start' : `cold start ${formatMs(result.coldStartMs)}`}</Badge>}</div>
        <div className="metric"><span className="metric-label">Request id</span><code className="small" data-testid="try-request-id">{result.requestId ?? '—'}</code></div>
      </div>
      <h3>Body</h3>
      {body === '' ? <p className="muted">(empty body)</p> : <pre className="code-block" data-testid="try-body-out">{body}</pre>}
      <details>
        <summary>Headers ({result.headers.length})</summary>
        <table className="table table-compact">
          <tbody>{result.headers.map(([n, v], i) => <tr key={i}><th className="mono">{n}</th><td className="mono wrap">{v}</td></tr>)}</tbody>
        </table>
      </details>
      <h3>Log lines of this invocation</h3>
      {logs === null && <p className="muted">No request id in the answer, so no log lines can be matched.</p>}
      {logs?.state === 'waiting' && <p className="muted"><Spinner /> looking for log lines…</p>}
      {logs?.state === 'failed' && <ErrorNotice error={logs.error} />}
      {logs?.state === 'done' && (logs.lines.length === 0
        ? <p className="muted">This invocation logged nothing.</p>
        : <LogLines lines={logs.lines} />)}
    </div>
  );
}

/** Log lines as a monospace list (shared with the Logs tab). */
export function LogLines({ lines, onRequestId }: { lines: LogLine[]; onRequestId?: (id: string) => void }) {
  return (
    <ol className="log-lines" data-testid="log-lines">
      {lines.map((l, i) => (
        <li key={`${l.time}-${i}`} className={`log-line log-${l.level}`}>
          <time className="log-time" dateTime={new Date(l.time).toISOString()}>{formatClock(l.time)}</time>
          <span className={`log-level lvl-${l.level}`}>{l.level}</span>
          {onRequestId !== undefined
            ? <button type="button" className="log-req link-button" title={`Show only request ${l.requestId}`} onClick={() => onRequestId(l.requestId)}>{l.requestId.slice(0, 8)}</button>
            : <span className="log-req" title={l.requestId}>{l.requestId.slice(0, 8)}</span>}
          <code className="log-version" title={l.versionId}>{shortId(l.versionId)}</code>
          <span className="log-message">{l.message}</span>
        </li>
      ))}
    </ol>
  );
}
