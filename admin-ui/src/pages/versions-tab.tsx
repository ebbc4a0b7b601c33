/**
 * Versions of a function, newest first: pick two to diff them side by side; move an alias to a
 * version; set or clear a canary split; roll back (to the previous version or a chosen one) after
 * a confirmation.
 */
import { useMemo, useState } from 'react';
import { isRouteMissing } from '../api.ts';
import { DiffView } from '../components/diff-view.tsx';
import { Badge, Button, ConfirmDialog, ErrorNotice, Loading, Notice } from '../components/ui.tsx';
import { formatAgo, formatBytes, formatTime, NAME_PATTERN, shortId } from '../format.ts';
import { useAction, useAsync } from '../hooks.ts';
import { canWrite, useSession } from '../session.ts';
import type { FunctionInfo, VersionInfo } from '../types.ts';

type Pending =
  | { kind: 'rollback'; alias: string; to: VersionInfo | null }
  | { kind: 'alias'; alias: string; version: VersionInfo }
  | { kind: 'canary'; alias: string; version: VersionInfo; weight: number }
  | { kind: 'clear-canary'; alias: string };

export function VersionsTab({ app, fn, info, onChanged }: { app: string; fn: string; info: FunctionInfo; onChanged: () => void }) {
  const { api, actor } = useSession();
  const writable = canWrite(actor, app);
  const versions = useAsync(() => api.listVersions(app, fn), [api, app, fn, info]);
  const [selected, setSelected] = useState<string[]>([]);
  const [compare, setCompare] = useState<[string, string] | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const action = useAction();
  const [done, setDone] = useState<string | null>(null);
  const [aliasName, setAliasName] = useState('prod');
  const [canaryVersion, setCanaryVersion] = useState('');
  const [weight, setWeight] = useState(10);

  const byId = useMemo(() => new Map((versions.data ?? []).map((v) => [v.id, v])), [versions.data]);
  const aliasesOf = (id: string) => Object.entries(info.aliases).filter(([, v]) => v === id).map(([a]) => a);
  const canariesOf = (id: string) => Object.entries(info.canaries ?? {}).filter(([, c]) => c.versionId === id);
  const prod = info.aliases.prod;

  const toggle = (id: string) => {
    setSelected((current) => current.includes(id) ? current.filter((x) => x !== id) : [...current, id].slice(-2));
  };

  const startCompare = () => {
    if (selected.length !== 2 || versions.data === undefined) return;
    // Older on the left, newer on the right (the list is newest first).
    const order = versions.data.map((v) => v.id);
    const [a, b] = [...selected].sort((x, y) => order.indexOf(y) - order.indexOf(x)) as [string, string];
    setCompare([a, b]);
  };

  const confirm = async () => {
    if (pending === null) return;
    const result = await action.run(async () => {
      switch (pending.kind) {
        case 'rollback': return api.rollback(app, fn, { ...(pending.alias !== 'prod' ? { alias: pending.alias } : {}), ...(pending.to !== null ? { to: pending.to.id } : {}) });
        case 'alias': return api.setAlias(app, fn, pending.alias, { versionId: pending.version.id });
        case 'canary': {
          const stable = info.aliases[pending.alias];
          if (stable === undefined) throw new Error(`alias ${pending.alias} does not exist yet: point it at a version first`);
          return api.setAlias(app, fn, pending.alias, { versionId: stable, canary: { versionId: pending.version.id, weight: pending.weight } });
        }
        case 'clear-canary': {
          const stable = info.aliases[pending.alias] as string;
          return api.setAlias(app, fn, pending.alias, { versionId: stable, canary: null });
        }
      }
    });
    if (result === undefined) return;
    setDone(pending.kind === 'canary' || pending.kind === 'clear-canary'
      ? `${result.name} → ${shortId(result.versionId)}${result.canary ? `, canary ${result.canary.weight}% → ${shortId(result.canary.versionId)}` : ', no canary'}`
      : `${result.name} now points at ${result.versionId}${result.previousVersionId !== null ? ` (was ${shortId(result.previousVersionId)})` : ''}`);
    setPending(null);
    onChanged();
  };

  if (versions.data === undefined) {
    return versions.loading ? <Loading what="versions" /> : <ErrorNotice error={versions.error} onRetry={versions.reload} />;
  }
  const list = versions.data;
  return (
    <div className="stack">
      <div className="toolbar">
        <Button kind="primary" disabled={selected.length !== 2} onClick={startCompare} data-testid="compare">Compare selected ({selected.length}/2)</Button>
        {writable && prod !== undefined && (
          <Button kind="danger" onClick={() => { action.clear(); setPending({ kind: 'rollback', alias: 'prod', to: null }); }} data-testid="rollback">Roll back prod…</Button>
        )}
        <span className="spacer" />
        <span className="muted small">{list.length} version{list.length === 1 ? '' : 's'}</span>
      </div>
      {done !== null && <Notice tone="ok"><span data-testid="versions-result">{done}</span></Notice>}
      <table className="table table-cards" data-testid="versions-table">
        <thead>
          <tr><th aria-label="Select" /><th>Version</th><th>Aliases</th><th>Message</th><th>Author</th><th>Deployed</th><th className="num">Size</th>{writable && <th>Actions</th>}</tr>
        </thead>
        <tbody>
          {list.map((v) => (
            <tr key={v.id} className={selected.includes(v.id) ? 'row-selected' : ''} data-version={v.id}>
              <td data-label="Select"><input type="checkbox" aria-label={`Select version ${v.id}`} checked={selected.includes(v.id)} onChange={() => toggle(v.id)} /></td>
              <td data-label="Version"><code title={v.id}>{shortId(v.id)}</code></td>
              <td data-label="Aliases">
                {aliasesOf(v.id).map((a) => <Badge key={a} tone={a === 'prod' ? 'ok' : 'info'}>{a}</Badge>)}
                {canariesOf(v.id).map(([a, c]) => <Badge key={`c-${a}`} tone="warn">{a} canary {c.weight}%</Badge>)}
              </td>
              <td data-label="Message" className="wrap">{v.message || <span className="muted">—</span>}</td>
              <td data-label="Author">{v.author}</td>
              <td data-label="Deployed" title={formatTime(v.createdAt)}>{formatAgo(v.createdAt)}</td>
              <td data-label="Size" className="num">{formatBytes(v.size)}</td>
              {writable && (
                <td data-label="Actions" className="actions">
                  {v.id !== prod && prod !== undefined && (
                    <Button className="btn-small" onClick={() => { action.clear(); setPending({ kind: 'rollback', alias: 'prod', to: v }); }}>Roll back to this</Button>
                  )}
                  <Button className="btn-small" kind="ghost" onClick={() => { setCanaryVersion(v.id); document.getElementById('alias-panel')?.scrollIntoView({ behavior: 'smooth' }); }}>Route…</Button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>

      {compare !== null && <VersionDiff app={app} fn={fn} left={byId.get(compare[0]) ?? null} right={byId.get(compare[1]) ?? null} ids={compare} onClose={() => setCompare(null)} />}

      {writable && (
        <div className="card" id="alias-panel">
          <h2>Aliases and canary</h2>
          <p className="muted small">Point an alias at a version, or send a share of its traffic to a canary version.</p>
          <div className="form-row">
            <label className="field field-narrow">
              <span>Alias</span>
              <input value={aliasName} onChange={(e) => setAliasName(e.target.value.trim())} list="version-aliases" />
              <datalist id="version-aliases">{Object.keys(info.aliases).map((a) => <option key={a} value={a} />)}</datalist>
            </label>
            <label className="field grow">
              <span>Version</span>
              <select value={canaryVersion} onChange={(e) => setCanaryVersion(e.target.value)} data-testid="route-version">
                <option value="">Choose a version…</option>
                {list.map((v) => <option key={v.id} value={v.id}>{shortId(v.id)} — {v.message || 'no message'} ({formatAgo(v.createdAt)})</option>)}
              </select>
            </label>
            <label className="field field-narrow">
              <span>Canary weight %</span>
              <input type="number" min={1} max={99} value={weight} onChange={(e) => setWeight(Math.round(Number(e.target.value)))} />
            </label>
          </div>
          {!NAME_PATTERN.test(aliasName) && <p className="field-error">An alias is lower-case letters, digits and dashes, starting with a letter.</p>}
          {!(weight >= 1 && weight <= 99) && <p className="field-error">The canary weight is a whole percentage from 1 to 99.</p>}
          <div className="form-row">
            <Button disabled={canaryVersion === '' || !NAME_PATTERN.test(aliasName)} onClick={() => { action.clear(); setPending({ kind: 'alias', alias: aliasName, version: byId.get(canaryVersion) as VersionInfo }); }}>Point {aliasName || 'alias'} here</Button>
            <Button disabled={canaryVersion === '' || info.aliases[aliasName] === undefined || !(weight >= 1 && weight <= 99)} onClick={() => { action.clear(); setPending({ kind: 'canary', alias: aliasName, version: byId.get(canaryVersion) as VersionInfo, weight }); }}>Set as canary</Button>
            {info.canaries?.[aliasName] !== undefined && <Button kind="ghost" onClick={() => { action.clear(); setPending({ kind: 'clear-canary', alias: aliasName }); }}>Clear canary</Button>}
          </div>
          {info.canaries === undefined && <p className="muted small">This server does not report canaries yet; setting one may be refused.</p>}
        </div>
      )}

      <ConfirmDialog
        open={pending !== null}
        title={pending === null ? '' : pending.kind === 'rollback' ? `Roll back ${pending.alias}?` : pending.kind === 'alias' ? `Move ${pending.alias}?` : pending.kind === 'canary' ? 'Start a canary?' : 'Clear the canary?'}
        confirmLabel={pending?.kind === 'rollback' ? 'Roll back' : 'Confirm'}
        danger={pending?.kind === 'rollback'}
        busy={action.busy}
        error={action.error}
        onCancel={() => setPending(null)}
        onConfirm={() => { void confirm(); }}
      >
        {pending?.kind === 'rollback' && (
          <p data-testid="rollback-summary">
            <strong>{pending.alias}</strong> serves <code>{shortId(info.aliases[pending.alias])}</code> now.{' '}
            {pending.to !== null
              ? <>It will serve <code>{shortId(pending.to.id)}</code> ({pending.to.message || 'no message'}) from the next request.</>
              : <>It will go back to the version it served before, from the next request.</>}
            {' '}Any canary on {pending.alias} is cleared.
          </p>
        )}
        {pending?.kind === 'alias' && <p><strong>{pending.alias}</strong> will serve <code>{shortId(pending.version.id)}</code> ({pending.version.message || 'no message'}) from the next request.</p>}
        {pending?.kind === 'canary' && <p><strong>{pending.weight}%</strong> of <strong>{pending.alias}</strong> traffic will go to <code>{shortId(pending.version.id)}</code>; the rest stays on <code>{shortId(info.aliases[pending.alias])}</code>.</p>}
        {pending?.kind === 'clear-canary' && <p>All <strong>{pending.alias}</strong> traffic goes back to <code>{shortId(info.aliases[pending.alias])}</code>.</p>}
      </ConfirmDialog>
    </div>
  );
}

function VersionDiff({ app, fn, left, right, ids, onClose }: { app: string; fn: string; left: VersionInfo | null; right: VersionInfo | null; ids: [string, string]; onClose: () => void }) {
  const { api } = useSession();
  const code = useAsync(async () => {
    const [a, b] = await Promise.all([api.getVersion(app, fn, ids[0]), api.getVersion(app, fn, ids[1])]);
    return { a: a.code, b: b.code };
  }, [api, app, fn, ids[0], ids[1]]);
  const label = (v: VersionInfo | null, id: string) => `${shortId(id)}${v !== null ? ` · ${v.message || 'no message'} · ${formatAgo(v.createdAt)}` : ''}`;
  return (
    <div className="card">
      <div className="toolbar">
        <h2>Diff</h2>
        <span className="spacer" />
        <Button kind="ghost" className="btn-small" onClick={onClose}>Close diff</Button>
      </div>
      {code.loading && code.data === undefined && <Loading what="both versions" />}
      {isRouteMissing(code.error)
        ? <ErrorNotice error={code.error} feature="Reading a version's code (for diffs)" />
        : <ErrorNotice error={code.error} onRetry={code.reload} />}
      {code.data !== undefined && (code.data.a === code.data.b
        ? <Notice tone="info">The two versions have the same code (they differ in limits or settings).</Notice>
        : <DiffView left={code.data.a} right={code.data.b} leftLabel={label(left, ids[0])} rightLabel={label(right, ids[1])} />)}
    </div>
  );
}
