/** Sign in with an API key: checked against the server before it is kept in sessionStorage. */
import { useState, type FormEvent } from 'react';
import { AdminApi } from '../api.ts';
import { Button, ErrorNotice, Notice } from '../components/ui.tsx';
import { useAction } from '../hooks.ts';
import { identify } from '../session.ts';
import type { Actor } from '../types.ts';

export function SignIn({ onSignedIn, reason }: { onSignedIn: (key: string, actor: Actor | null) => void; reason: string | null }) {
  const [key, setKey] = useState('');
  const action = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (trimmed === '') return;
    await action.run(async () => {
      const actor = await identify(new AdminApi({ apiKey: trimmed }));
      onSignedIn(trimmed, actor);
    });
  };
  return (
    <main className="signin">
      <form className="card signin-card" onSubmit={(e) => { void submit(e); }}>
        <div className="brand brand-large"><span className="brand-mark">λ</span> FaaS console</div>
        <p className="muted">Deploy, try and roll back your game functions.</p>
        {reason !== null && <Notice tone="warn">{reason}</Notice>}
        <label className="field">
          <span>API key</span>
          <input
            type="password" name="apiKey" autoComplete="off" spellCheck={false} placeholder="faas_…" value={key}
            onChange={(e) => setKey(e.target.value)} autoFocus required
          />
        </label>
        <Button kind="primary" type="submit" busy={action.busy} disabled={key.trim() === ''}>Sign in</Button>
        <ErrorNotice error={action.error} />
        <p className="muted small">
          The key stays in this tab only (sessionStorage) and is sent as <code>Authorization: Bearer</code>.
          The first admin key is written to <code>$FAAS_DATA_DIR/admin.key</code> when the platform starts.
        </p>
      </form>
    </main>
  );
}
