/**
 * API keys (admin): create one (its secret is shown once, right after creation), list them, and
 * revoke one after a confirmation. Revoked keys stay listed, greyed out.
 */
import { useState, type FormEvent } from 'react';
import { Badge, Button, ConfirmDialog, CopyButton, Empty, ErrorNotice, Loading, Notice } from '../components/ui.tsx';
import { formatAgo, formatTime } from '../format.ts';
import { useAction, useAsync } from '../hooks.ts';
import { useSession } from '../session.ts';
import type { ApiKeyInfo, Role } from '../types.ts';

const ROLE_HELP: Record<Role, string> = {
  admin: 'everything, on every app, including keys and the audit log',
  developer: 'deploy, roll back, config and secrets of the listed apps',
  viewer: 'read the listed apps (never secret values)',
};

export function KeysPage() {
  const { api, actor } = useSession();
  const keys = useAsync(() => api.listKeys(), [api]);
  const apps = useAsync(() => api.listApps(), [api]);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('developer');
  const [allApps, setAllApps] = useState(false);
  const [picked, setPicked] = useState<string[]>([]);
  const create = useAction();
  const [created, setCreated] = useState<{ key: ApiKeyInfo; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKeyInfo | null>(null);
  const revoke = useAction();

  const appsProblem = role !== 'admin' && !allApps && picked.length === 0 ? 'Pick at least one app, or "all apps".' : null;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (name.trim() === '' || appsProblem !== null) return;
    const result = await create.run(() => api.createKey({ name: name.trim(), role, ...(role === 'admin' ? {} : { apps: allApps ? '*' : picked }) }));
    if (result !== undefined) {
      setCreated(result);
      setName('');
      setPicked([]);
      keys.reload();
    }
  };

  return (
    <section className="page">
      <div className="page-head"><h1>API keys</h1></div>
      {keys.data === undefined && keys.loading && <Loading what="keys" />}
      <ErrorNotice error={keys.error} feature="API key management" onRetry={keys.reload} />
      {created !== null && (
        <Notice tone="ok" title={`Key “${created.key.name}” created — copy the secret now`}>
          <p>This is the only time the secret is shown. Store it in your secret manager; it cannot be recovered, only revoked.</p>
          <div className="secret-once">
            <code data-testid="new-key-secret">{created.secret}</code>
            <CopyButton text={created.secret} />
          </div>
          <Button kind="ghost" className="btn-small" onClick={() => setCreated(null)}>I have stored it</Button>
        </Notice>
      )}
      {keys.data !== undefined && (
        keys.data.length === 0 ? <Empty>No keys.</Empty> : (
          <table className="table table-cards" data-testid="keys-table">
            <thead><tr><th>Name</th><th>Role</th><th>Apps</th><th>Created</th><th>Status</th><th>Actions</th></tr></thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id} className={k.revokedAt !== null ? 'row-muted' : ''} data-key={k.name}>
                  <td data-label="Name"><strong>{k.name}</strong> <span className="muted small mono" title="Key id">{k.id}</span>{actor?.keyId === k.id && <Badge tone="info">this session</Badge>}</td>
                  <td data-label="Role"><Badge tone={k.role === 'admin' ? 'accent' : 'neutral'}>{k.role}</Badge></td>
                  <td data-label="Apps">{k.apps === '*' ? 'all apps' : k.apps.length === 0 ? <span className="muted">—</span> : k.apps.join(', ')}</td>
                  <td data-label="Created" title={formatTime(k.createdAt)}>{formatAgo(k.createdAt)}</td>
                  <td data-label="Status">{k.revokedAt !== null ? <Badge tone="error" title={formatTime(k.revokedAt)}>revoked</Badge> : <Badge tone="ok">active</Badge>}</td>
                  <td data-label="Actions" className="actions">
                    {k.revokedAt === null && <Button className="btn-small" kind="danger" onClick={() => { revoke.clear(); setRevoking(k); }}>Revoke…</Button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
      {keys.data !== undefined && (
        <form className="card" onSubmit={(e) => { void submit(e); }}>
          <h2>Create a key</h2>
          <div className="form-row">
            <label className="field grow"><span>Name</span><input value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-deploy" maxLength={200} data-testid="key-name" /></label>
            <label className="field field-narrow">
              <span>Role</span>
              <select value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="key-role">
                <option value="developer">developer</option>
                <option value="viewer">viewer</option>
                <option value="admin">admin</option>
              </select>
            </label>
          </div>
          <p className="muted small">{role}: {ROLE_HELP[role]}.</p>
          {role !== 'admin' && (
            <fieldset className="app-picker">
              <legend>Apps</legend>
              <label className="check-label"><input type="checkbox" checked={allApps} onChange={(e) => setAllApps(e.target.checked)} /> all apps (also future ones)</label>
              {!allApps && apps.data?.map((a) => (
                <label key={a.name} className="check-label">
                  <input type="checkbox" checked={picked.includes(a.name)} onChange={(e) => setPicked((p) => e.target.checked ? [...p, a.name] : p.filter((x) => x !== a.name))} /> {a.name}
                </label>
              ))}
              <ErrorNotice error={apps.error} />
            </fieldset>
          )}
          {appsProblem !== null && name !== '' && <p className="field-error">{appsProblem}</p>}
          <Button type="submit" kind="primary" busy={create.busy} disabled={name.trim() === '' || appsProblem !== null} data-testid="key-create">Create key</Button>
          <ErrorNotice error={create.error} />
        </form>
      )}
      <ConfirmDialog
        open={revoking !== null} title={`Revoke “${revoking?.name ?? ''}”?`} confirmLabel="Revoke" danger busy={revoke.busy} error={revoke.error}
        onCancel={() => setRevoking(null)}
        onConfirm={() => {
          const target = revoking;
          if (target === null) return;
          void revoke.run(() => api.revokeKey(target.id)).then((k) => {
            if (k === undefined) return;
            setRevoking(null);
            keys.reload();
          });
        }}
      >
        Every request with this key is refused from now on (401). {actor?.keyId === revoking?.id ? 'This is the key of your own session: you will be signed out.' : ''}
      </ConfirmDialog>
    </section>
  );
}
