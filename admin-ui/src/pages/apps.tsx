/** Apps the key may see; admins can create one. */
import { useState, type FormEvent } from 'react';
import { Button, Empty, ErrorNotice, Link, Loading } from '../components/ui.tsx';
import { formatAgo, formatTime, NAME_PATTERN, NAME_RULE } from '../format.ts';
import { navigate, useAction, useAsync } from '../hooks.ts';
import { hrefOf } from '../routes.ts';
import { isAdmin, useSession } from '../session.ts';

export function AppsPage({ onAppsChanged }: { onAppsChanged: () => void }) {
  const { api, actor } = useSession();
  const apps = useAsync(() => api.listApps(), [api]);
  const [name, setName] = useState('');
  const create = useAction();
  const nameProblem = name !== '' && !NAME_PATTERN.test(name) ? `An app name is ${NAME_RULE}.` : null;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (nameProblem !== null || name === '') return;
    const created = await create.run(() => api.createApp(name));
    if (created !== undefined) {
      onAppsChanged();
      navigate(hrefOf({ page: 'app', app: created.name, tab: 'functions' }));
    }
  };
  return (
    <section className="page">
      <div className="page-head">
        <h1>Apps</h1>
      </div>
      {apps.data === undefined && apps.loading && <Loading what="apps" />}
      <ErrorNotice error={apps.error} onRetry={apps.reload} />
      {apps.data !== undefined && apps.data.length === 0 && <Empty>No apps are visible to this key yet.{isAdmin(actor) ? ' Create one below, or deploy a function with the CLI.' : ''}</Empty>}
      {apps.data !== undefined && apps.data.length > 0 && (
        <div className="grid-cards">
          {apps.data.map((a) => (
            <Link key={a.name} href={hrefOf({ page: 'app', app: a.name, tab: 'functions' })} className="card card-link">
              <div className="card-title">{a.name}</div>
              <div className="muted small" title={formatTime(a.createdAt)}>created {formatAgo(a.createdAt)}</div>
            </Link>
          ))}
        </div>
      )}
      {isAdmin(actor) && (
        <form className="card form-inline" onSubmit={(e) => { void submit(e); }}>
          <h2>Create an app</h2>
          <label className="field">
            <span>Name</span>
            <input value={name} onChange={(e) => setName(e.target.value.trim())} placeholder="my-game" aria-invalid={nameProblem !== null} />
          </label>
          <Button type="submit" kind="primary" busy={create.busy} disabled={name === '' || nameProblem !== null}>Create app</Button>
          {nameProblem !== null && <p className="field-error">{nameProblem}</p>}
          <ErrorNotice error={create.error} />
        </form>
      )}
    </section>
  );
}
