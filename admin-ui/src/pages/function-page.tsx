/** One function: header with its aliases, and the Code / Versions / Try it / Logs / Config tabs. */
import { isApiError } from '../api.ts';
import { Badge, ErrorNotice, Link, Loading, Notice, Tabs } from '../components/ui.tsx';
import { shortId } from '../format.ts';
import { useAsync } from '../hooks.ts';
import { hrefOf, type FunctionTab } from '../routes.ts';
import { canWrite, useSession } from '../session.ts';
import { CodeWorkbench } from './code-workbench.tsx';
import { ConfigTab } from './config-tab.tsx';
import { LogsTab } from './logs-tab.tsx';
import { TryTab } from './try-tab.tsx';
import { VersionsTab } from './versions-tab.tsx';

const TAB_LABELS: Record<FunctionTab, string> = { code: 'Code', versions: 'Versions', try: 'Try it', logs: 'Logs', config: 'Config & secrets' };

export function FunctionPage({ app, fn, tab }: { app: string; fn: string; tab: FunctionTab }) {
  const { api, actor } = useSession();
  const info = useAsync(() => api.getFunction(app, fn), [api, app, fn]);
  const notFound = isApiError(info.error) && (info.error.code === 'E_FUNCTION_NOT_FOUND' || info.error.code === 'E_APP_NOT_FOUND');
  return (
    <section className="page">
      <div className="page-head">
        <h1>{fn}</h1>
        {info.data !== undefined && (
          <div className="alias-badges" data-testid="alias-badges">
            {Object.entries(info.data.aliases).sort(([a], [b]) => (a === 'prod' ? -1 : b === 'prod' ? 1 : a.localeCompare(b))).map(([alias, version]) => (
              <Badge key={alias} tone={alias === 'prod' ? 'ok' : 'info'} title={version}>{alias} → {shortId(version)}</Badge>
            ))}
            {Object.entries(info.data.canaries ?? {}).map(([alias, canary]) => (
              <Badge key={`canary-${alias}`} tone="warn" title={canary.versionId}>{alias} canary {canary.weight}% → {shortId(canary.versionId)}</Badge>
            ))}
          </div>
        )}
      </div>
      <Tabs current={tab} tabs={(Object.keys(TAB_LABELS) as FunctionTab[]).map((t) => ({ id: t, label: TAB_LABELS[t], href: hrefOf({ page: 'function', app, fn, tab: t }) }))} />
      {info.data === undefined && info.loading && <Loading what="the function" />}
      {notFound ? (
        <Notice tone="warn" title={`No function ${app}/${fn}`}>
          <p>{(info.error as Error).message}</p>
          {canWrite(actor, app) && <p><Link href={hrefOf({ page: 'new-function', app })}>Create a function in {app}</Link></p>}
        </Notice>
      ) : <ErrorNotice error={info.error} onRetry={info.reload} />}
      {info.data !== undefined && (
        <div className="tab-panel">
          {tab === 'code' && <CodeWorkbench key={`${app}/${fn}`} app={app} fn={fn} info={info.data} onDeployed={() => info.reload()} />}
          {tab === 'versions' && <VersionsTab app={app} fn={fn} info={info.data} onChanged={() => info.reload()} />}
          {tab === 'try' && <TryTab app={app} fn={fn} info={info.data} />}
          {tab === 'logs' && <LogsTab app={app} fn={fn} />}
          {tab === 'config' && <ConfigTab app={app} fn={fn} />}
        </div>
      )}
    </section>
  );
}
