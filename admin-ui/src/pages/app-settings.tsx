/**
 * App settings: the hosts `ctx.fetch` may reach, the gRPC services `ctx.rpc.grpc` may call, and
 * rotation of the player-token signing key (`/api/apps/:app/settings`, `/auth/rotate`).
 */
import { useEffect, useState } from 'react';
import { Button, ConfirmDialog, ErrorNotice, Loading, Notice } from '../components/ui.tsx';
import { useAction, useAsync } from '../hooks.ts';
import { canWrite, useSession } from '../session.ts';
import type { GrpcServiceConfig } from '../types.ts';

export function AppSettingsPanel({ app }: { app: string }) {
  const { api, actor } = useSession();
  const settings = useAsync(() => api.getSettings(app), [api, app]);
  const writable = canWrite(actor, app);
  const [allowlist, setAllowlist] = useState('');
  const [grpc, setGrpc] = useState('');
  const [grpcProblem, setGrpcProblem] = useState<string | null>(null);
  const save = useAction();
  const [saved, setSaved] = useState(false);
  const rotate = useAction();
  const [confirmRotate, setConfirmRotate] = useState(false);
  const [rotated, setRotated] = useState<string | null>(null);

  useEffect(() => {
    if (settings.data === undefined) return;
    setAllowlist(settings.data.fetchAllowlist.join('\n'));
    setGrpc(JSON.stringify(settings.data.grpcServices, null, 2));
  }, [settings.data]);

  if (settings.data === undefined) {
    return settings.loading ? <Loading what="settings" /> : <ErrorNotice error={settings.error} feature="App settings" onRetry={settings.reload} />;
  }

  const submit = async () => {
    setSaved(false);
    let services: GrpcServiceConfig[];
    try {
      const parsed: unknown = JSON.parse(grpc.trim() === '' ? '[]' : grpc);
      if (!Array.isArray(parsed)) throw new Error('expected a JSON array of services');
      services = parsed as GrpcServiceConfig[];
      setGrpcProblem(null);
    } catch (error) {
      setGrpcProblem(`gRPC services: ${error instanceof Error ? error.message : String(error)}. Write a JSON array like [{"name":"inventory","target":"host:50051","proto":"…","service":"game.Inventory","idempotentMethods":[]}].`);
      return;
    }
    const fetchAllowlist = allowlist.split('\n').map((h) => h.trim()).filter((h) => h !== '');
    const result = await save.run(() => api.putSettings(app, { fetchAllowlist, grpcServices: services }));
    if (result !== undefined) {
      setSaved(true);
      if (result !== null) settings.setData(result);
    }
  };

  return (
    <div className="stack">
      <div className="card">
        <h2>Outgoing fetch allowlist</h2>
        <p className="muted small">Hosts <code>ctx.fetch</code> may reach, one per line: exact names or <code>*.example.com</code>. Loopback and link-local addresses are always refused.</p>
        <textarea className="mono" rows={5} value={allowlist} onChange={(e) => setAllowlist(e.target.value)} readOnly={!writable} aria-label="Fetch allowlist" />
        <h2>gRPC services</h2>
        <p className="muted small">Services <code>ctx.rpc.grpc(name, method, message)</code> may call, as JSON.</p>
        <textarea className="mono" rows={8} value={grpc} onChange={(e) => setGrpc(e.target.value)} readOnly={!writable} aria-label="gRPC services" />
        {grpcProblem !== null && <p className="field-error">{grpcProblem}</p>}
        {writable && <Button kind="primary" busy={save.busy} onClick={() => { void submit(); }}>Save settings</Button>}
        {saved && <Notice tone="ok">Settings saved; running functions see them on their next invocation.</Notice>}
        <ErrorNotice error={save.error} />
      </div>
      <div className="card">
        <h2>Player-token signing key</h2>
        <p className="muted small">Rotate when a key may have leaked. Tokens signed with the previous key stay valid until it is retired.</p>
        {writable && <Button kind="danger" onClick={() => { rotate.clear(); setConfirmRotate(true); }}>Rotate signing key…</Button>}
        {rotated !== null && <Notice tone="ok">New signing key <code>{rotated}</code> is active.</Notice>}
      </div>
      <ConfirmDialog
        open={confirmRotate} title="Rotate the signing key?" confirmLabel="Rotate" danger busy={rotate.busy} error={rotate.error}
        onCancel={() => setConfirmRotate(false)}
        onConfirm={() => {
          void rotate.run(() => api.rotateAuthKey(app)).then((kid) => {
            if (kid !== undefined) {
              setRotated(kid);
              setConfirmRotate(false);
            }
          });
        }}
      >
        New player tokens of <strong>{app}</strong> will be signed with a new key.
      </ConfirmDialog>
    </div>
  );
}
