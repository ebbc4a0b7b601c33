/**
 * One app: its functions with status, prod version, canary and last-hour numbers (invocations,
 * error rate, p95 from `GET /api/apps/:app/stats`), and the app's settings tab.
 */
import { isRouteMissing } from '../api.ts';
import { Badge, Empty, ErrorNotice, Link, Loading, Notice, Tabs } from '../components/ui.tsx';
import { formatMs, formatRate, shortId } from '../format.ts';
import { useAsync, useInterval } from '../hooks.ts';
import { hrefOf } from '../routes.ts';
import { canWrite, useSession } from '../session.ts';
import type { FunctionInfo, FunctionStats } from '../types.ts';
import { AppSettingsPanel } from './app-settings.tsx';

export function AppPage({ app, tab }: { app: string; tab: 'functions' | 'settings' }) {
  return (
    <section className="page">
      <div className="page-head">
        <h1>{app}</h1>
      </div>
      <Tabs
        current={tab}
        tabs={[
          { id: 'functions', label: 'Functions', href: hrefOf({ page: 'app', app, tab: 'functions' }) },
          { id: 'settings', label: 'Settings', href: hrefOf({ page: 'app', app, tab: 'settings' }) },
        ]}
      />
      {tab === 'functions' ? <FunctionList app={app} /> : <AppSettingsPanel app={app} />}
    </section>
  );
}

/** Health of a function from its aliases and last-hour numbers. */
function statusOf(fn: FunctionInfo, stats: FunctionStats | undefined): { label: string; tone: 'ok' | 'warn' | 'error' | 'neutral'; title: string } {
  if (fn.aliases.prod === undefined) return { label: 'not deployed', tone: 'neutral', title: 'No prod alias: invocations without x-faas-alias get 404' };
  if (stats !== undefined && stats.invocations > 0) {
    const rate = stats.errors / stats.invocations;
    if (rate >= 0.25) return { label: 'failing', tone: 'error', title: `${stats.errors} of ${stats.invocations} invocations failed in the last hour` };
    if (rate >= 0.02) return { label: 'errors', tone: 'warn', title: `${stats.errors} of ${stats.invocations} invocations failed in the last hour` };
  }
  return { label: 'live', tone: 'ok', title: 'prod alias is set' };
}

function FunctionList({ app }: { app: string }) {
  const { api, actor } = useSession();
  const functions = useAsync(() => api.listFunctions(app), [api, app]);
  const stats = useAsync(() => api.appStats(app), [api, app]);
  useInterval(() => { stats.reload(); }, 15_000, stats.error === undefined);
  const statsMissing = isRouteMissing(stats.error);
  return (
    <>
      <div className="toolbar">
        <span className="muted small">Invocations, error rate and p95 latency cover the last hour.</span>
        <span className="spacer" />
        {canWrite(actor, app) && <Link href={hrefOf({ page: 'new-function', app })} className="btn btn-primary">New function</Link>}
      </div>
      {functions.data === undefined && functions.loading && <Loading what="functions" />}
      <ErrorNotice error={functions.error} onRetry={functions.reload} />
      {statsMissing && (
        <Notice tone="info" title="Metrics are not available on this server">
          <code>GET /api/apps/{app}/stats</code> answered 404 E_ROUTE_NOT_FOUND, so invocation counts, error rates and p95 show as —.
        </Notice>
      )}
      {!statsMissing && <ErrorNotice error={stats.error} feature="Function metrics" />}
      {stats.data?.source === 'none' && (
        <Notice tone="info" title="No metrics from this process">The control plane answering here runs no gateway, so it has no invocation counts.</Notice>
      )}
      {functions.data !== undefined && functions.data.length === 0 && (
        <Empty>No functions in {app} yet. {canWrite(actor, app) && <Link href={hrefOf({ page: 'new-function', app })}>Write the first one</Link>}</Empty>
      )}
      {functions.data !== undefined && functions.data.length > 0 && (
        <table className="table table-cards" data-testid="functions-table">
          <thead>
            <tr><th>Function</th><th>Status</th><th>prod</th><th>Canary</th><th className="num">Invocations</th><th className="num">Error rate</th><th className="num">p95</th></tr>
          </thead>
          <tbody>
            {functions.data.map((fn) => {
              // With stats available, a function missing from them had no invocations in the window.
              const s = stats.data === undefined ? undefined : stats.data.functions[fn.name] ?? { invocations: 0, errors: 0, p95Ms: null };
              const status = statusOf(fn, s);
              const canary = fn.canaries?.prod;
              return (
                <tr key={fn.name}>
                  <td data-label="Function"><Link href={hrefOf({ page: 'function', app, fn: fn.name, tab: 'code' })} className="strong">{fn.name}</Link></td>
                  <td data-label="Status"><Badge tone={status.tone} title={status.title}>{status.label}</Badge></td>
                  <td data-label="prod"><code title={fn.aliases.prod}>{shortId(fn.aliases.prod)}</code></td>
                  <td data-label="Canary">{canary !== undefined ? <span title={canary.versionId}><code>{shortId(canary.versionId)}</code> {canary.weight}%</span> : <span className="muted">—</span>}</td>
                  <td data-label="Invocations" className="num">{s !== undefined ? s.invocations.toLocaleString() : '—'}</td>
                  <td data-label="Error rate" className="num">{s !== undefined ? formatRate(s.errors, s.invocations) : '—'}</td>
                  <td data-label="p95" className="num">{s !== undefined ? formatMs(s.p95Ms) : '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}
