/**
 * The console: sign-in gate, then the shell (top bar, navigation) around the page the URL names.
 * A 401 from any `/api` call signs out with the reason; other errors stay on their page.
 */
import { Component, useCallback, useEffect, useMemo, useState, type ErrorInfo, type ReactNode } from 'react';
import { AdminApi, isApiError } from './api.ts';
import { Badge, Button, ErrorNotice, Link, Loading, Notice } from './components/ui.tsx';
import { useAsync, usePathname } from './hooks.ts';
import { AppPage } from './pages/app-page.tsx';
import { AppsPage } from './pages/apps.tsx';
import { AuditPage } from './pages/audit.tsx';
import { FunctionPage } from './pages/function-page.tsx';
import { KeysPage } from './pages/keys.tsx';
import { NewFunctionPage } from './pages/new-function.tsx';
import { SignIn } from './pages/sign-in.tsx';
import { hrefOf, parseRoute, type Route } from './routes.ts';
import { identify, isAdmin, SessionContext, storedKey, storeKey, useSession, type Session } from './session.ts';
import type { Actor } from './types.ts';

type Auth =
  | { state: 'signed-out'; reason: string | null }
  | { state: 'checking'; key: string }
  | { state: 'check-failed'; key: string; error: unknown }
  | { state: 'signed-in'; key: string; actor: Actor | null };

export function App() {
  const [auth, setAuth] = useState<Auth>(() => {
    const key = storedKey();
    return key === null ? { state: 'signed-out', reason: null } : { state: 'checking', key };
  });

  const signOut = useCallback((reason?: string) => {
    storeKey(null);
    setAuth({ state: 'signed-out', reason: reason ?? null });
  }, []);

  // A stored key (page reload) is checked again before anything is shown.
  useEffect(() => {
    if (auth.state !== 'checking') return;
    let cancelled = false;
    identify(new AdminApi({ apiKey: auth.key })).then(
      (actor) => { if (!cancelled) setAuth({ state: 'signed-in', key: auth.key, actor }); },
      (error: unknown) => {
        if (cancelled) return;
        if (isApiError(error) && error.status === 401) signOut(`Your saved key was refused: ${error.message}`);
        else setAuth({ state: 'check-failed', key: auth.key, error });
      },
    );
    return () => { cancelled = true; };
  }, [auth, signOut]);

  const session = useMemo<Session | null>(() => {
    if (auth.state !== 'signed-in') return null;
    // Any 401 later (key revoked meanwhile) ends the session with the server's message.
    const fetchWatching: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (res.status === 401 && String(input).includes('/api/')) {
        const body = await res.clone().json().catch(() => null) as { error?: { message?: string } } | null;
        signOut(`The server refused the key: ${body?.error?.message ?? 'unauthorized'}. Sign in again.`);
      }
      return res;
    };
    return { api: new AdminApi({ apiKey: auth.key, fetch: fetchWatching }), actor: auth.actor, signOut };
  }, [auth, signOut]);

  if (auth.state === 'signed-out') {
    return <SignIn reason={auth.reason} onSignedIn={(key, actor) => { storeKey(key); setAuth({ state: 'signed-in', key, actor }); }} />;
  }
  if (auth.state === 'checking') return <main className="signin"><Loading what="your session" /></main>;
  if (auth.state === 'check-failed') {
    return (
      <main className="signin">
        <div className="card signin-card">
          <ErrorNotice error={auth.error} onRetry={() => setAuth({ state: 'checking', key: auth.key })} />
          <Button onClick={() => signOut()}>Sign out</Button>
        </div>
      </main>
    );
  }
  return (
    <SessionContext value={session}>
      <Shell />
    </SessionContext>
  );
}

function Shell() {
  const { api, actor, signOut } = useSession();
  const route = parseRoute(usePathname());
  const apps = useAsync(() => api.listApps(), [api]);
  const currentApp = 'app' in route ? route.app : null;
  return (
    <div className="shell">
      <header className="topbar">
        <Link href={hrefOf({ page: 'apps' })} className="brand"><span className="brand-mark">λ</span> FaaS console</Link>
        <Breadcrumbs route={route} />
        <div className="topbar-right">
          {actor !== null
            ? <span className="whoami" data-testid="whoami">{actor.name} <Badge tone={actor.role === 'admin' ? 'accent' : 'neutral'}>{actor.role}</Badge></span>
            : <span className="whoami muted" title="This server has no /api/whoami: the role is unknown, the server decides what is allowed">role unknown</span>}
          <Button kind="ghost" className="btn-small" onClick={() => signOut()}>Sign out</Button>
        </div>
      </header>
      <nav className="sidebar" aria-label="Main">
        <div className="nav-heading">Apps</div>
        {apps.loading && apps.data === undefined && <div className="nav-note">Loading…</div>}
        {apps.error !== undefined && <div className="nav-note">Apps unavailable</div>}
        {apps.data?.map((a) => (
          <Link key={a.name} href={hrefOf({ page: 'app', app: a.name, tab: 'functions' })} className={`nav-item${currentApp === a.name ? ' nav-active' : ''}`}>{a.name}</Link>
        ))}
        {apps.data?.length === 0 && <div className="nav-note">No apps yet</div>}
        {isAdmin(actor) && (
          <>
            <div className="nav-heading">Admin</div>
            <Link href={hrefOf({ page: 'keys' })} className={`nav-item${route.page === 'keys' ? ' nav-active' : ''}`}>API keys</Link>
            <Link href={hrefOf({ page: 'audit' })} className={`nav-item${route.page === 'audit' ? ' nav-active' : ''}`}>Audit log</Link>
          </>
        )}
        <div className="nav-heading">Reference</div>
        <a className="nav-item" href="/api/docs" target="_blank" rel="noreferrer">API docs ↗</a>
      </nav>
      <main className="content">
        <ErrorBoundary key={hrefOf(route)}>
          <Page route={route} onAppsChanged={apps.reload} />
        </ErrorBoundary>
      </main>
    </div>
  );
}

function Page({ route, onAppsChanged }: { route: Route; onAppsChanged: () => void }) {
  switch (route.page) {
    case 'apps': return <AppsPage onAppsChanged={onAppsChanged} />;
    case 'app': return <AppPage app={route.app} tab={route.tab} />;
    case 'new-function': return <NewFunctionPage app={route.app} />;
    case 'function': return <FunctionPage app={route.app} fn={route.fn} tab={route.tab} />;
    case 'keys': return <KeysPage />;
    case 'audit': return <AuditPage />;
    case 'not-found':
      return (
        <Notice tone="warn" title="No such page">
          <p>Nothing lives at <code>{route.path}</code>. <Link href={hrefOf({ page: 'apps' })}>Go to your apps</Link>.</p>
        </Notice>
      );
  }
}

function Breadcrumbs({ route }: { route: Route }) {
  const crumbs: Array<{ label: string; href: string }> = [];
  if ('app' in route) crumbs.push({ label: route.app, href: hrefOf({ page: 'app', app: route.app, tab: 'functions' }) });
  if (route.page === 'function') crumbs.push({ label: route.fn, href: hrefOf({ page: 'function', app: route.app, fn: route.fn, tab: 'code' }) });
  if (route.page === 'new-function') crumbs.push({ label: 'new function', href: hrefOf(route) });
  if (route.page === 'keys') crumbs.push({ label: 'API keys', href: hrefOf(route) });
  if (route.page === 'audit') crumbs.push({ label: 'Audit log', href: hrefOf(route) });
  return (
    <nav className="crumbs" aria-label="Breadcrumbs">
      {crumbs.map((c) => <span key={c.href} className="crumb"><span className="crumb-sep">/</span><Link href={c.href}>{c.label}</Link></span>)}
    </nav>
  );
}

/** A rendering bug shows a message and a way out instead of a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('console page failed', error, info.componentStack);
  }
  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <Notice tone="error" title="This page failed to render">
        <p className="error-message">{this.state.error.message}</p>
        <p><Button onClick={() => this.setState({ error: null })}>Try again</Button> <Button kind="ghost" onClick={() => window.location.reload()}>Reload the console</Button></p>
      </Notice>
    );
  }
}
