/**
 * Write or change a function: the editor with the platform's diagnostics inline as you type
 * (`POST /api/check`, debounced), upload of a `.js` file or a function folder (`index.js` plus an
 * optional `function.json` with `limits` / `auth`), and deploy with a message to an alias.
 * Unsaved text survives switching tabs (kept per function for the life of the page).
 */
import { useEffect, useRef, useState, type ChangeEvent } from 'react';
import { isApiError, isRouteMissing } from '../api.ts';
import { CodeEditor, type CodeEditorHandle } from '../components/code-editor.tsx';
import { Button, ErrorNotice, Notice, Spinner } from '../components/ui.tsx';
import { diagnosticsFromDeployError } from '../diagnostics.ts';
import type { CheckStatus } from '../editor/setup.ts';
import { NAME_PATTERN, NAME_RULE, shortId } from '../format.ts';
import { useAction } from '../hooks.ts';
import { canWrite, useSession } from '../session.ts';
import type { AuthMode, DeployResult, FunctionInfo, FunctionLimits } from '../types.ts';

/** Largest module the platform accepts (runtime/check `maxCodeBytes`), in bytes. */
const MAX_CODE_BYTES = 1024 * 1024;

export const TEMPLATE = `// A function receives the request and ctx, and returns the response body.
// ctx: { app, function, version, requestId, user, log, redis, sql, auth, rpc, fetch, config }
export default async function handler(req, ctx) {
  ctx.log.info('hello from', ctx.function, 'path', req.path);
  return { hello: req.query.name ?? 'world' };
}
`;

interface Draft {
  code: string;
  /** The version the draft started from (null: template or upload). */
  baseVersion: string | null;
}
const drafts = new Map<string, Draft>();
/** A deploy result to show once on the next page (the new-function page navigates away on success). */
const flashes = new Map<string, DeployResult>();

/** Manifest fields taken from an uploaded folder's function.json. */
interface Manifest {
  limits?: Partial<FunctionLimits>;
  auth?: AuthMode;
}

export function CodeWorkbench({ app, fn, info, onDeployed }: {
  app: string;
  /** null on the new-function page (the name is typed in). */
  fn: string | null;
  info: FunctionInfo | null;
  onDeployed: (result: DeployResult, fn: string) => void;
}) {
  const { api, actor } = useSession();
  const writable = canWrite(actor, app);
  const editor = useRef<CodeEditorHandle>(null);
  const draftKey = fn === null ? `${app}/<new>` : `${app}/${fn}`;
  const prodVersion = info?.aliases.prod ?? null;
  const [initial] = useState(() => drafts.get(draftKey)?.code ?? (fn === null ? TEMPLATE : ''));
  const [loadState, setLoadState] = useState<{ state: 'idle' | 'loading' | 'done' } | { state: 'failed'; error: unknown }>({ state: 'idle' });
  const [check, setCheck] = useState<CheckStatus | null>(null);
  const [name, setName] = useState('');
  const [message, setMessage] = useState('');
  const [alias, setAlias] = useState('prod');
  const [manifest, setManifest] = useState<Manifest | null>(null);
  const [uploadNote, setUploadNote] = useState<string | null>(null);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const deploy = useAction();
  const [deployed, setDeployed] = useState<DeployResult | null>(() => {
    const flash = flashes.get(draftKey) ?? null;
    flashes.delete(draftKey);
    return flash;
  });
  const folderInput = useRef<HTMLInputElement>(null);

  // The folder picker needs the non-standard `webkitdirectory` attribute (Chromium, Firefox, Safari).
  useEffect(() => { folderInput.current?.setAttribute('webkitdirectory', ''); }, []);

  // Start from the deployed prod code unless a draft exists.
  useEffect(() => {
    if (fn === null || drafts.has(draftKey)) return;
    if (prodVersion === null) {
      editor.current?.load(TEMPLATE);
      drafts.set(draftKey, { code: TEMPLATE, baseVersion: null });
      return;
    }
    const controller = new AbortController();
    setLoadState({ state: 'loading' });
    api.getVersion(app, fn, prodVersion).then(
      (version) => {
        if (controller.signal.aborted) return;
        editor.current?.load(version.code);
        drafts.set(draftKey, { code: version.code, baseVersion: version.id });
        setLoadState({ state: 'done' });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        editor.current?.load(TEMPLATE);
        setLoadState({ state: 'failed', error });
      },
    );
    return () => controller.abort();
  }, [api, app, fn, draftKey, prodVersion]);

  const loadText = (code: string, note: string) => {
    editor.current?.load(code);
    drafts.set(draftKey, { code, baseVersion: null });
    setUploadNote(note);
  };

  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    setUploadError(null);
    const file = event.target.files?.[0];
    event.target.value = '';
    if (file === undefined) return;
    if (file.size > MAX_CODE_BYTES) {
      setUploadError(`${file.name} is ${file.size.toLocaleString()} bytes; a function module may be at most ${MAX_CODE_BYTES.toLocaleString()} bytes (1 MiB). Minify it or move data out of the code.`);
      return;
    }
    setManifest(null);
    loadText(await file.text(), `Loaded ${file.name} (${file.size.toLocaleString()} bytes). Review it, then deploy.`);
  };

  const onFolder = async (event: ChangeEvent<HTMLInputElement>) => {
    setUploadError(null);
    const files = Array.from(event.target.files ?? []);
    event.target.value = '';
    if (files.length === 0) return;
    // The shallowest index.js (a folder "live-stream/" holds live-stream/index.js).
    const depth = (f: File) => f.webkitRelativePath.split('/').length;
    const index = files.filter((f) => /(^|\/)index\.m?js$/.test(f.webkitRelativePath || f.name)).sort((a, b) => depth(a) - depth(b))[0];
    if (index === undefined) {
      setUploadError('That folder has no index.js. A function folder holds index.js (the module) and optionally function.json (limits, auth).');
      return;
    }
    if (index.size > MAX_CODE_BYTES) {
      setUploadError(`${index.webkitRelativePath} is ${index.size.toLocaleString()} bytes; the limit is 1 MiB.`);
      return;
    }
    const dir = index.webkitRelativePath.slice(0, index.webkitRelativePath.lastIndexOf('/') + 1);
    const manifestFile = files.find((f) => f.webkitRelativePath === `${dir}function.json`);
    let found: Manifest | null = null;
    if (manifestFile !== undefined) {
      try {
        const parsed = JSON.parse(await manifestFile.text()) as { limits?: unknown; auth?: unknown; name?: unknown };
        found = {};
        if (parsed.limits !== undefined && typeof parsed.limits === 'object' && parsed.limits !== null && Object.keys(parsed.limits).length > 0) found.limits = parsed.limits as Partial<FunctionLimits>;
        if (parsed.auth === 'none' || parsed.auth === 'required') found.auth = parsed.auth;
        if (fn === null && typeof parsed.name === 'string' && name === '') setName(parsed.name);
      } catch (error) {
        setUploadError(`${manifestFile.webkitRelativePath} is not valid JSON (${error instanceof Error ? error.message : String(error)}); fix it or upload index.js alone.`);
        return;
      }
    }
    setManifest(found);
    loadText(await index.text(), `Loaded ${index.webkitRelativePath}${manifestFile !== undefined ? ` with ${manifestFile.webkitRelativePath}` : ''}. Review it, then deploy.`);
  };

  const target = fn ?? name;
  const nameProblem = fn === null && name !== '' && !NAME_PATTERN.test(name) ? `A function name is ${NAME_RULE}.` : null;
  const aliasProblem = !NAME_PATTERN.test(alias) ? `An alias is ${NAME_RULE}.` : null;

  const submit = async () => {
    setDeployed(null);
    const code = editor.current?.value() ?? '';
    const result = await deploy.run(() => api.deploy(app, target, {
      code,
      ...(message.trim() !== '' ? { message: message.trim() } : {}),
      ...(alias !== 'prod' ? { alias } : {}),
      ...(manifest?.limits !== undefined ? { limits: manifest.limits } : {}),
      ...(manifest?.auth !== undefined ? { auth: manifest.auth } : {}),
    }));
    if (result === undefined) return;
    setDeployed(result);
    setMessage('');
    drafts.set(`${app}/${target}`, { code, baseVersion: result.version.id });
    if (fn === null) {
      drafts.delete(draftKey);
      flashes.set(`${app}/${target}`, result);
    }
    onDeployed(result, target);
  };

  // A refused deploy puts its findings into the editor too.
  useEffect(() => {
    if (!isApiError(deploy.error)) return;
    const diagnostics = diagnosticsFromDeployError(deploy.error.code, deploy.error.message, deploy.error.details);
    if (diagnostics.length > 0) editor.current?.showDiagnostics(diagnostics);
  }, [deploy.error]);

  const problems = check?.state === 'done' ? check.diagnostics : [];
  const baseVersion = drafts.get(draftKey)?.baseVersion ?? null;
  return (
    <div className="workbench">
      {fn === null && (
        <label className="field field-inline">
          <span>Function name</span>
          <input value={name} onChange={(e) => setName(e.target.value.trim())} placeholder="leaderboard" aria-invalid={nameProblem !== null} data-testid="function-name" />
          {nameProblem !== null && <span className="field-error">{nameProblem}</span>}
        </label>
      )}
      <div className="toolbar">
        <span className="muted small">
          {fn === null ? 'New function'
            : prodVersion === null ? 'No prod version yet'
            : baseVersion === prodVersion ? <>Editing from prod <code>{shortId(prodVersion)}</code></>
            : baseVersion !== null ? <>Editing from <code>{shortId(baseVersion)}</code> (prod is <code>{shortId(prodVersion)}</code>)</>
            : <>Editing unsaved code (prod is <code>{shortId(prodVersion)}</code>)</>}
        </span>
        {loadState.state === 'loading' && <span className="small"><Spinner /> loading code…</span>}
        <span className="spacer" />
        <CheckBadge status={check} />
        <label className="btn btn-secondary btn-small file-button">
          Upload .js
          <input type="file" accept=".js,.mjs,text/javascript" onChange={(e) => { void onFile(e); }} data-testid="upload-file" />
        </label>
        <label className="btn btn-secondary btn-small file-button">
          Upload folder
          <input ref={folderInput} type="file" multiple onChange={(e) => { void onFolder(e); }} data-testid="upload-folder" />
        </label>
      </div>
      {loadState.state === 'failed' && (isRouteMissing(loadState.error)
        ? <Notice tone="warn" title="Cannot load the deployed code">This server does not offer <code>GET …/versions/:id</code> yet, so the editor starts from a template. Upload your file or paste the code.</Notice>
        : <ErrorNotice error={loadState.error} />)}
      {uploadNote !== null && <Notice tone="info">{uploadNote}{manifest?.limits !== undefined || manifest?.auth !== undefined ? ' The manifest’s limits/auth will be deployed with it.' : ''}</Notice>}
      {uploadError !== null && <Notice tone="error" title="Upload refused">{uploadError}</Notice>}
      <CodeEditor
        ref={editor}
        initial={initial}
        label={`Code of ${target || 'the new function'}`}
        readOnly={!writable}
        check={(code) => api.check(code)}
        onCheckStatus={setCheck}
        onChange={(code) => { drafts.set(draftKey, { code, baseVersion: drafts.get(draftKey)?.baseVersion ?? null }); }}
      />
      {problems.length > 0 && (
        <ul className="problems" data-testid="problems" aria-label="Problems">
          {problems.map((p, i) => (
            <li key={i}>
              <button type="button" className={`problem problem-${p.severity}`} onClick={() => editor.current?.focusAt(p.from)}>
                <code className="problem-pos" title={p.editorLine !== p.diagnostic.line ? `The checker counts line ${p.diagnostic.line}: JavaScript also ends lines at U+2028/U+2029, which the editor shows inline` : undefined}>{p.editorLine}:{p.editorColumn}</code>
                <span className="problem-rule">{p.diagnostic.rule}</span>
                <span className="problem-message">{p.diagnostic.message}</span>
                {p.diagnostic.hint !== undefined && p.diagnostic.hint !== '' && <span className="problem-hint">{p.diagnostic.hint}</span>}
              </button>
            </li>
          ))}
          {check?.state === 'done' && check.truncated && <li className="muted small">More problems exist; fix these first.</li>}
        </ul>
      )}
      {writable ? (
        <div className="deploy-bar card">
          <label className="field grow">
            <span>Deploy message</span>
            <input value={message} onChange={(e) => setMessage(e.target.value)} maxLength={1000} placeholder="What changed?" data-testid="deploy-message" />
          </label>
          <label className="field field-narrow">
            <span>Alias</span>
            <input value={alias} onChange={(e) => setAlias(e.target.value.trim())} list="alias-names" aria-invalid={aliasProblem !== null} />
            <datalist id="alias-names">{Object.keys(info?.aliases ?? { prod: '' }).map((a) => <option key={a} value={a} />)}</datalist>
          </label>
          <Button kind="primary" busy={deploy.busy} disabled={target === '' || nameProblem !== null || aliasProblem !== null} onClick={() => { void submit(); }} data-testid="deploy">
            {deploy.busy ? 'Deploying…' : `Deploy to ${alias || '…'}`}
          </Button>
        </div>
      ) : <Notice tone="info">Your key can read this function but not deploy it.</Notice>}
      {aliasProblem !== null && <p className="field-error">{aliasProblem}</p>}
      <ErrorNotice error={deploy.error} />
      {deployed !== null && (
        <Notice tone="ok" title={`Deployed ${deployed.created ? 'new version' : 'existing version'} ${shortId(deployed.version.id)}`}>
          <span data-testid="deploy-result">{deployed.alias.name} → <code>{deployed.version.id}</code>{deployed.alias.previousVersionId !== null && <> (was <code>{shortId(deployed.alias.previousVersionId)}</code>)</>}</span>
        </Notice>
      )}
    </div>
  );
}

function CheckBadge({ status }: { status: CheckStatus | null }) {
  if (status === null) return null;
  if (status.state === 'checking') return <span className="check check-busy small" data-testid="check-status"><Spinner label="Checking" /> checking…</span>;
  if (status.state === 'failed') {
    const text = isApiError(status.error) ? `${status.error.code}: ${status.error.message}` : String(status.error);
    return <span className="check check-failed small" title={text} data-testid="check-status">checker unavailable</span>;
  }
  const errors = status.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = status.diagnostics.length - errors;
  if (status.diagnostics.length === 0) return <span className="check check-ok small" data-testid="check-status">✓ no problems</span>;
  return <span className={`check ${errors > 0 ? 'check-error' : 'check-warn'} small`} data-testid="check-status">{errors > 0 ? `${errors} error${errors > 1 ? 's' : ''}` : ''}{errors > 0 && warnings > 0 ? ', ' : ''}{warnings > 0 ? `${warnings} warning${warnings > 1 ? 's' : ''}` : ''}</span>;
}
