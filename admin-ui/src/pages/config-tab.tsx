/**
 * Config & secrets of a function. Config values are readable and editable; secrets are
 * write-only: the API returns their names and update times, never their values, and the console
 * never shows what was typed after it is sent.
 */
import { useState, type FormEvent } from 'react';
import { Button, ConfirmDialog, Empty, ErrorNotice, Loading, Notice } from '../components/ui.tsx';
import { formatAgo, formatTime } from '../format.ts';
import { useAction, useAsync } from '../hooks.ts';
import { canWrite, useSession } from '../session.ts';

/** Config and secret names, as the control plane checks them (CONFIG_NAME_PATTERN in control-plane/core/names.ts). */
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const KEY_RULE = 'a letter or _ first, then letters, digits or _ (1–63 characters, e.g. API_URL)';

export function ConfigTab({ app, fn }: { app: string; fn: string }) {
  const { api, actor } = useSession();
  const writable = canWrite(actor, app);
  const config = useAsync(() => api.getConfig(app, fn), [api, app, fn]);
  const save = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [newName, setNewName] = useState('');
  const [newValue, setNewValue] = useState('');
  const [secretName, setSecretName] = useState('');
  const [secretValue, setSecretValue] = useState('');
  const [remove, setRemove] = useState<{ kind: 'config' | 'secret'; name: string } | null>(null);

  if (config.data === undefined) {
    return config.loading ? <Loading what="config" /> : <ErrorNotice error={config.error} feature="Config & secrets" onRetry={config.reload} />;
  }
  const values = config.data.values;
  const secrets = config.data.secrets;

  const afterWrite = (message: string) => {
    setNotice(message);
    config.reload();
  };
  const setValue = async (name: string, value: string) => {
    if (await save.run(() => api.setConfigValue(app, fn, name, value).then(() => true)) === true) {
      setEdits(({ [name]: _dropped, ...rest }) => rest);
      afterWrite(`Saved ${name}.`);
    }
  };
  const addValue = async (event: FormEvent) => {
    event.preventDefault();
    if (!KEY_PATTERN.test(newName)) return;
    if (await save.run(() => api.setConfigValue(app, fn, newName, newValue).then(() => true)) === true) {
      afterWrite(`Added ${newName}.`);
      setNewName('');
      setNewValue('');
    }
  };
  const setSecret = async (event: FormEvent) => {
    event.preventDefault();
    if (!KEY_PATTERN.test(secretName) || secretValue === '') return;
    const name = secretName;
    const ok = await save.run(() => api.setSecret(app, fn, name, secretValue).then(() => true));
    // The typed value is dropped either way once sent.
    setSecretValue('');
    if (ok === true) {
      afterWrite(`Secret ${name} stored. Its value cannot be read back.`);
      setSecretName('');
    }
  };
  const confirmRemove = async () => {
    if (remove === null) return;
    const target = remove;
    const ok = await save.run(() => (target.kind === 'config' ? api.deleteConfigValue(app, fn, target.name) : api.deleteSecret(app, fn, target.name)).then(() => true));
    if (ok === true) {
      setRemove(null);
      afterWrite(`Deleted ${target.kind === 'secret' ? 'secret ' : ''}${target.name}.`);
    }
  };

  return (
    <div className="stack">
      <p className="muted small">Functions read these as <code>ctx.config</code>. Changes apply to the next invocation; no deploy needed.</p>
      {notice !== null && <Notice tone="ok">{notice}</Notice>}
      {remove === null && <ErrorNotice error={save.error} />}
      <div className="card">
        <h2>Values</h2>
        {Object.keys(values).length === 0 && <Empty>No config values.</Empty>}
        {Object.keys(values).length > 0 && (
          <table className="table table-cards" data-testid="config-values">
            <thead><tr><th>Name</th><th>Value</th>{writable && <th>Actions</th>}</tr></thead>
            <tbody>
              {Object.entries(values).sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => (
                <tr key={name}>
                  <td data-label="Name"><code>{name}</code></td>
                  <td data-label="Value" className="grow">
                    {writable
                      ? <input className="mono" value={edits[name] ?? value} onChange={(e) => setEdits((x) => ({ ...x, [name]: e.target.value }))} aria-label={`Value of ${name}`} />
                      : <code className="wrap">{value}</code>}
                  </td>
                  {writable && (
                    <td data-label="Actions" className="actions">
                      <Button className="btn-small" disabled={edits[name] === undefined || edits[name] === value} busy={save.busy} onClick={() => { void setValue(name, edits[name] ?? value); }}>Save</Button>
                      <Button className="btn-small" kind="ghost" onClick={() => { save.clear(); setRemove({ kind: 'config', name }); }}>Delete</Button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {writable && (
          <form className="form-row" onSubmit={(e) => { void addValue(e); }}>
            <label className="field"><span>Name</span><input className="mono" value={newName} onChange={(e) => setNewName(e.target.value.trim())} placeholder="API_URL" data-testid="config-new-name" /></label>
            <label className="field grow"><span>Value</span><input className="mono" value={newValue} onChange={(e) => setNewValue(e.target.value)} data-testid="config-new-value" /></label>
            <Button type="submit" kind="primary" busy={save.busy} disabled={!KEY_PATTERN.test(newName)}>Add value</Button>
          </form>
        )}
        {newName !== '' && !KEY_PATTERN.test(newName) && <p className="field-error">A config name is {KEY_RULE}.</p>}
      </div>
      <div className="card">
        <h2>Secrets <span className="muted small">write-only</span></h2>
        {secrets.length === 0 && <Empty>No secrets.</Empty>}
        {secrets.length > 0 && (
          <table className="table table-cards" data-testid="secrets">
            <thead><tr><th>Name</th><th>Value</th><th>Updated</th>{writable && <th>Actions</th>}</tr></thead>
            <tbody>
              {secrets.map((s) => (
                <tr key={s.name}>
                  <td data-label="Name"><code>{s.name}</code></td>
                  <td data-label="Value"><span className="muted">•••••• hidden</span></td>
                  <td data-label="Updated" title={formatTime(s.updatedAt)}>{formatAgo(s.updatedAt)}</td>
                  {writable && (
                    <td data-label="Actions" className="actions">
                      <Button className="btn-small" onClick={() => setSecretName(s.name)}>Replace…</Button>
                      <Button className="btn-small" kind="ghost" onClick={() => { save.clear(); setRemove({ kind: 'secret', name: s.name }); }}>Delete</Button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {writable && (
          <form className="form-row" onSubmit={(e) => { void setSecret(e); }} autoComplete="off">
            <label className="field"><span>Name</span><input className="mono" value={secretName} onChange={(e) => setSecretName(e.target.value.trim())} placeholder="STRIPE_KEY" data-testid="secret-name" /></label>
            <label className="field grow"><span>Value</span><input className="mono" type="password" autoComplete="new-password" value={secretValue} onChange={(e) => setSecretValue(e.target.value)} data-testid="secret-value" /></label>
            <Button type="submit" kind="primary" busy={save.busy} disabled={!KEY_PATTERN.test(secretName) || secretValue === ''}>{secrets.some((s) => s.name === secretName) ? 'Replace secret' : 'Store secret'}</Button>
          </form>
        )}
        {secretName !== '' && !KEY_PATTERN.test(secretName) && <p className="field-error">A secret name is {KEY_RULE}.</p>}
      </div>
      <ConfirmDialog
        open={remove !== null} title={`Delete ${remove?.kind === 'secret' ? 'secret' : 'value'} ${remove?.name ?? ''}?`} confirmLabel="Delete" danger
        busy={save.busy} error={save.error} onCancel={() => setRemove(null)} onConfirm={() => { void confirmRemove(); }}
      >
        Functions reading <code>{remove?.name}</code> get nothing from the next invocation on.
      </ConfirmDialog>
    </div>
  );
}
