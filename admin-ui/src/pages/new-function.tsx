/** Create a function: name it, write or upload its code, deploy the first version. */
import { Notice } from '../components/ui.tsx';
import { navigate } from '../hooks.ts';
import { hrefOf } from '../routes.ts';
import { canWrite, useSession } from '../session.ts';
import { CodeWorkbench } from './code-workbench.tsx';

export function NewFunctionPage({ app }: { app: string }) {
  const { actor } = useSession();
  return (
    <section className="page">
      <div className="page-head"><h1>New function in {app}</h1></div>
      {canWrite(actor, app)
        ? <CodeWorkbench app={app} fn={null} info={null} onDeployed={(_result, fn) => navigate(hrefOf({ page: 'function', app, fn, tab: 'code' }))} />
        : <Notice tone="warn" title="Read-only key">Your key cannot create functions in {app}.</Notice>}
    </section>
  );
}
