/**
 * The developer commands of `faas` (deploy, invoke, versions, rollback, logs, apps): argument
 * parsing with commander, calls through `FaasClient`, and terminal output. `cli/main.ts` builds
 * the program and adds the platform commands (`all`, …).
 *
 * Output contract: results go to stdout (tables, or the API's JSON with `--json`); status lines
 * and errors go to stderr. An error is one line `faas: <code>: <message>` (plus a code frame for
 * E_SYNTAX and one block per diagnostic for E_CHECK) and exit code 1; usage errors exit 2.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { FaasClient, FaasApiError, isFaasApiError } from './client.ts';
import type { FunctionLimits, LogLine, VersionInfo } from '../control-plane/core/types.ts';

/** Default platform URL when neither `--url` nor `FAAS_URL` is given. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** A failure the CLI reports itself: printed as `faas: <code>: <message>` plus `extra` lines. */
export class CliError extends Error {
  readonly code: string;
  /** Process exit code. @default 1 */
  readonly exitCode: number;
  /** Lines printed after the first one (code frames, diagnostics, hints). */
  readonly extra: readonly string[];

  constructor(code: string, message: string, options: { exitCode?: number; extra?: string[] } = {}) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
    this.extra = options.extra ?? [];
  }
}

/** Ends the command with an exit code and nothing more to print (e.g. `invoke` got a 4xx). */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'CliExit';
    this.exitCode = exitCode;
  }
}

/** Where the API key came from, for the hint on E_UNAUTHORIZED. */
type KeySource = 'flag' | 'env' | 'file' | 'none';

interface Connection {
  client: FaasClient;
  url: string;
  keySource: KeySource;
  keyFile: string;
}

/**
 * Resolve URL and API key: `--url` > `FAAS_URL` > http://127.0.0.1:8080;
 * `--api-key` > `FAAS_API_KEY` > the file `$FAAS_DATA_DIR/admin.key` (default `./data/admin.key`).
 * @throws CliError E_BAD_URL (exit 2) when the URL is not http(s)
 */
export async function connect(globals: { url?: string; apiKey?: string }, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const url = globals.url ?? nonEmpty(env.FAAS_URL) ?? DEFAULT_URL;
  const keyFile = resolve(nonEmpty(env.FAAS_DATA_DIR) ?? 'data', 'admin.key');
  let apiKey: string | undefined;
  let keySource: KeySource = 'none';
  if (globals.apiKey !== undefined) {
    apiKey = globals.apiKey;
    keySource = 'flag';
  } else if (nonEmpty(env.FAAS_API_KEY) !== undefined) {
    apiKey = env.FAAS_API_KEY;
    keySource = 'env';
  } else {
    try {
      apiKey = nonEmpty((await readFile(keyFile, 'utf8')).trim());
      if (apiKey !== undefined) keySource = 'file';
    } catch {
      // no key file: requests go without a key and the server says E_UNAUTHORIZED
    }
  }
  try {
    return { client: new FaasClient({ url, apiKey }), url, keySource, keyFile };
  } catch (error) {
    throw new CliError('E_BAD_URL', (error as Error).message, { exitCode: 2 });
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Turn an API error into what the CLI prints; `file` labels code frames of deploy errors. */
export function toCliError(error: FaasApiError, conn: Pick<Connection, 'keySource' | 'keyFile'> | null, file?: string): CliError {
  const where = (line: unknown, column: unknown): string => `${file ?? '<code>'}:${String(line ?? '?')}:${String(column ?? '?')}`;
  if (error.code === 'E_UNREACHABLE') return new CliError(error.code, error.message);
  const extra: string[] = [];
  if (error.code === 'E_SYNTAX') {
    extra.push(`  at ${where(error.details.line, error.details.column)}`);
    if (typeof error.details.frame === 'string') extra.push(indent(error.details.frame, '  '));
    if (typeof error.details.hint === 'string' && error.details.hint !== '') extra.push(indent(`hint: ${error.details.hint}`, '  '));
  } else if (error.code === 'E_CHECK' && Array.isArray(error.details.diagnostics)) {
    for (const item of error.details.diagnostics as Array<Record<string, unknown>>) {
      extra.push(`  ${where(item.line, item.column)} ${String(item.rule ?? 'check')}: ${String(item.message ?? '')}`);
      if (typeof item.hint === 'string' && item.hint !== '') extra.push(indent(`hint: ${item.hint}`, '    '));
      if (typeof item.frame === 'string') extra.push(indent(item.frame, '    '));
    }
  } else if (error.code === 'E_NO_PREVIOUS_VERSION') {
    extra.push('  pick a version with `faas versions <app>/<function>`, then `faas rollback <app>/<function> --to <version>`');
  } else if (error.code === 'E_UNAUTHORIZED' && conn !== null) {
    extra.push(conn.keySource === 'none'
      ? `  no API key was sent: pass --api-key, set FAAS_API_KEY, or point FAAS_DATA_DIR at the platform's data dir (looked for ${conn.keyFile})`
      : `  the API key from ${conn.keySource === 'flag' ? '--api-key' : conn.keySource === 'env' ? 'FAAS_API_KEY' : conn.keyFile} was refused`);
  }
  return new CliError(error.code, error.message, { extra });
}

function indent(text: string, prefix: string): string {
  return text.replace(/\n+$/, '').split('\n').map((line) => prefix + line).join('\n');
}

/** Print a CliError to stderr in the documented format. */
export function printCliError(error: CliError, write: (text: string) => void = (text) => process.stderr.write(text)): void {
  const head = error.code === 'E_UNREACHABLE' ? `faas: ${error.message}` : `faas: ${error.code}: ${error.message}`;
  write([head, ...error.extra].join('\n') + '\n');
}

/** `app/fn` → parts. @throws InvalidArgumentError (commander prints it; exit 2) */
function parseTarget(value: string): { app: string; fn: string } {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(value);
  if (match === null) throw new InvalidArgumentError(`expected <app>/<function>, e.g. demo/live-stream (got "${value}")`);
  return { app: match[1], fn: match[2] };
}

function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer');
  return Number(value);
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`not valid JSON (${(error as Error).message}); quote it for your shell, e.g. --data '{"a":1}'`);
  }
}

/** Epoch ms, an ISO date, or a relative duration like `10m`, `2h`, `30s`. */
function parseSince(value: string): number {
  const relative = /^(\d+)(ms|s|m|h|d)$/.exec(value);
  if (relative !== null) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(relative[1]) * unit;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError('expected epoch milliseconds, an ISO date, or a duration like 10m');
  return parsed;
}

/** A left-aligned text table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Ids longer than 16 characters (content hashes) are shown by their first 12; `--to` accepts prefixes. */
export function shortId(id: string): string {
  return id.length > 16 ? id.slice(0, 12) : id;
}

function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function out(text: string): void {
  process.stdout.write(text);
}

function err(text: string): void {
  process.stderr.write(text);
}

function json(value: unknown): void {
  out(JSON.stringify(value, null, 2) + '\n');
}

type Globals = { url?: string; apiKey?: string };

/**
 * Wrap an action: build the connection from the global options, run, and turn API errors into
 * CliErrors (which `runCli` prints).
 */
function withConnection<A extends unknown[]>(run: (conn: Connection, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const conn = await connect(command.optsWithGlobals<Globals>());
    try {
      await run(conn, ...args);
    } catch (error) {
      if (isFaasApiError(error)) throw toCliError(error, conn);
      throw error;
    }
  };
}

/** What `faas deploy <path>` uploads: source, function name and manifest limits. */
export interface DeploySource {
  /** The file read (for error locations). */
  file: string;
  code: string;
  name: string;
  limits: Partial<FunctionLimits> | undefined;
}

/**
 * Read a function from a file (`hello.js` → name `hello`) or a directory (`index.js` plus an
 * optional `function.json` manifest `{ name?, limits? }`; name defaults to the directory's name).
 * @throws CliError E_NOT_FOUND, E_NO_INDEX, E_BAD_MANIFEST
 */
export async function readDeploySource(path: string, nameOverride?: string): Promise<DeploySource> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new CliError('E_NOT_FOUND', `${path}: no such file or directory`);
  }
  if (info.isDirectory()) {
    const file = join(path, 'index.js');
    let code: string;
    try {
      code = await readFile(file, 'utf8');
    } catch {
      throw new CliError('E_NO_INDEX', `${path} is a directory without index.js: a function is one ES module named index.js`);
    }
    let manifest: { name?: unknown; limits?: unknown } = {};
    const manifestFile = join(path, 'function.json');
    let manifestText: string | undefined;
    try {
      manifestText = await readFile(manifestFile, 'utf8');
    } catch {
      // the manifest is optional
    }
    if (manifestText !== undefined) {
      try {
        manifest = JSON.parse(manifestText) as { name?: unknown; limits?: unknown };
      } catch (error) {
        throw new CliError('E_BAD_MANIFEST', `${manifestFile} is not valid JSON: ${(error as Error).message}`);
      }
      if (typeof manifest !== 'object' || manifest === null) throw new CliError('E_BAD_MANIFEST', `${manifestFile} must be a JSON object`);
      if (manifest.name !== undefined && typeof manifest.name !== 'string') throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "name" must be a string`);
      if (manifest.limits !== undefined && (typeof manifest.limits !== 'object' || manifest.limits === null || Array.isArray(manifest.limits))) {
        throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "limits" must be an object like { "cpuTimeMs": 200 }`);
      }
    }
    const limits = manifest.limits as Partial<FunctionLimits> | undefined;
    const name = nameOverride ?? (manifest.name as string | undefined) ?? basename(resolve(path));
    return { file, code, name, limits: limits !== undefined && Object.keys(limits).length > 0 ? limits : undefined };
  }
  const code = await readFile(path, 'utf8');
  return { file: path, code, name: nameOverride ?? basename(path, extname(path)), limits: undefined };
}

/** Identity of a log line for de-duplication across polls. */
function logKey(line: LogLine): string {
  return `${line.time}|${line.requestId}|${line.level}|${line.message}`;
}

/** Register deploy, invoke, versions, rollback, logs and apps on `program`. */
export function registerDeveloperCommands(program: Command): void {
  program
    .command('deploy')
    .description('upload a function (a .js file, or a directory with index.js and function.json) and point an alias at it; the app is created if needed')
    .argument('<path>', 'file or directory to deploy')
    .requiredOption('--app <app>', 'app to deploy into')
    .option('--name <function>', 'function name (default: function.json "name", else the file or directory name)')
    .option('--message <message>', 'deploy message, shown by `faas versions`')
    .option('--alias <alias>', 'alias to move to the new version', 'prod')
    .action(async (path: string, opts: { app: string; name?: string; message?: string; alias: string }, command: Command) => {
      const conn = await connect(command.optsWithGlobals<Globals>());
      const source = await readDeploySource(path, opts.name);
      const input = { code: source.code, message: opts.message, alias: opts.alias, limits: source.limits };
      try {
        const result = await conn.client.deploy(opts.app, source.name, input);
        const { version, alias } = result;
        const was = alias.previousVersionId === null ? 'new' : alias.previousVersionId === alias.versionId ? 'unchanged' : `was ${shortId(alias.previousVersionId)}`;
        out(`${result.created ? 'deployed' : 'already stored'} ${opts.app}/${source.name} version ${shortId(version.id)} (${formatBytes(version.size)}) → ${alias.name} (${was})\n`);
      } catch (error) {
        if (isFaasApiError(error)) throw toCliError(error, conn, source.file);
        throw error;
      }
    });

  program
    .command('invoke')
    .description('call a function through the gateway; status line on stderr, body on stdout, exit 1 on HTTP >= 400')
    .argument('<app/function>', 'function to call, e.g. demo/live-stream', parseTarget)
    .option('-d, --data <json>', 'JSON request body (implies --method POST)', parseJson)
    .option('-p, --path <path>', 'path after /fn/<app>/<function>, may include ?query', '/')
    .option('-X, --method <method>', 'HTTP method (default: POST with --data, else GET)')
    .option('--alias <alias>', 'alias to call (sent as the x-faas-alias header; default prod)')
    .action(withConnection(async (conn, target: { app: string; fn: string }, opts: { data?: unknown; path: string; method?: string; alias?: string }) => {
      const result = await conn.client.invoke(target.app, target.fn, { method: opts.method, path: opts.path, body: opts.data, alias: opts.alias });
      const meta = [
        result.requestId !== undefined ? `request ${result.requestId}` : undefined,
        result.version !== undefined ? `version ${shortId(result.version)}` : undefined,
        `${Math.round(result.durationMs)} ms`,
      ].filter((part) => part !== undefined);
      err(`HTTP ${result.status} ${result.statusText}  (${meta.join(', ')})\n`);
      if (result.json !== undefined) json(result.json);
      else if (result.text !== '') out(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
      if (result.status >= 400) throw new CliExit(1);
    }));

  program
    .command('versions')
    .description('list the versions of a function, newest first, with the aliases pointing at them')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('--json', 'print JSON: { versions: [{ ...version, aliases: [names] }] }')
    .action(withConnection(async (conn, target: { app: string; fn: string }, opts: { json?: boolean }) => {
      const versions = await conn.client.listVersions(target.app, target.fn);
      const functions = await conn.client.listFunctions(target.app);
      const aliases = functions.find((fn) => fn.name === target.fn)?.aliases ?? {};
      const aliasesOf = (id: string): string[] => Object.entries(aliases).filter(([, versionId]) => versionId === id).map(([name]) => name).sort();
      if (opts.json === true) {
        json({ versions: versions.map((version) => ({ ...version, aliases: aliasesOf(version.id) })) });
        return;
      }
      if (versions.length === 0) {
        err(`${target.app}/${target.fn} has no versions\n`);
        return;
      }
      out(table(
        ['ID', 'ALIAS', 'SIZE', 'AUTHOR', 'MESSAGE', 'CREATED'],
        versions.map((version: VersionInfo) => [
          shortId(version.id),
          aliasesOf(version.id).map((name) => `*${name}`).join(','),
          formatBytes(version.size),
          version.author,
          truncate(version.message ?? '', 48),
          version.createdAt,
        ]),
      ));
    }));

  program
    .command('rollback')
    .description('move an alias back to the version it pointed at before, or to --to <version>')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('--to <version>', 'version id (or a unique prefix, as shown by `faas versions`)')
    .option('--alias <alias>', 'alias to move', 'prod')
    .action(withConnection(async (conn, target: { app: string; fn: string }, opts: { to?: string; alias: string }) => {
      let to = opts.to;
      if (to !== undefined) {
        const versions = await conn.client.listVersions(target.app, target.fn);
        if (!versions.some((version) => version.id === to)) {
          const matches = versions.filter((version) => version.id.startsWith(to as string));
          if (matches.length > 1) {
            throw new CliError('E_AMBIGUOUS_VERSION', `"${to}" matches ${matches.length} versions of ${target.app}/${target.fn}; give more characters`, {
              extra: matches.map((version) => `  ${version.id}`),
            });
          }
          if (matches.length === 1) to = matches[0].id;
        }
      }
      const moved = await conn.client.rollback(target.app, target.fn, { alias: opts.alias, to });
      out(`${target.app}/${target.fn} ${moved.name} → ${shortId(moved.versionId)}${moved.previousVersionId === null ? '' : ` (was ${shortId(moved.previousVersionId)})`}\n`);
    }));

  program
    .command('logs')
    .description("print a function's captured ctx.log lines, oldest first")
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('-n, --limit <n>', 'at most the N most recent lines', parsePositiveInt)
    .option('--request-id <id>', 'only the lines of one invocation (see x-faas-request-id)')
    .option('--since <time>', 'only lines since epoch ms, an ISO date, or a duration ago (30s, 10m, 2h)', parseSince)
    .option('--json', 'print JSON: { lines: [{ requestId, level, message, time, versionId, ... }] } (with --follow: one JSON line per log line)')
    .option('-f, --follow', 'keep printing new lines as they arrive (polls every second; Ctrl-C to stop)')
    .action(withConnection(async (conn, target: { app: string; fn: string }, opts: { limit?: number; requestId?: string; since?: number; json?: boolean; follow?: boolean }) => {
      const print = (line: LogLine) => out(opts.json === true
        ? `${JSON.stringify(line)}\n`
        : `${new Date(line.time).toISOString()} ${line.level.padEnd(5)} ${line.requestId} ${shortId(line.versionId)} ${line.message}\n`);
      // Taken before the first request: a line logged while it is in flight must not fall between polls.
      const requestedAt = Date.now();
      const lines = await conn.client.logs(target.app, target.fn, { limit: opts.limit, requestId: opts.requestId, sinceMs: opts.since });
      if (opts.follow !== true) {
        if (opts.json === true) json({ lines });
        else for (const line of lines) print(line);
        return;
      }
      for (const line of lines) print(line);
      // Lines at the newest timestamp seen may still be joined by others with the same ms: keep
      // their keys so the next poll (since that ms, inclusive) prints each line once.
      let since = lines.at(-1)?.time ?? opts.since ?? requestedAt;
      let seen = new Set(lines.filter((l) => l.time === since).map(logKey));
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const fresh = await conn.client.logs(target.app, target.fn, { requestId: opts.requestId, sinceMs: since });
        for (const line of fresh) {
          if (line.time === since && seen.has(logKey(line))) continue;
          print(line);
          if (line.time > since) {
            since = line.time;
            seen = new Set();
          }
          seen.add(logKey(line));
        }
      }
    }));

  const apps = program
    .command('apps')
    .description('list apps (`faas apps create <name>` creates one)')
    .option('--json', 'print JSON: { apps: [{ name, createdAt }] }')
    .action(withConnection(async (conn, opts: { json?: boolean }) => {
      const list = await conn.client.listApps();
      if (opts.json === true) {
        json({ apps: list });
        return;
      }
      out(table(['NAME', 'CREATED'], list.map((app) => [app.name, app.createdAt])));
    }));

  apps
    .command('create')
    .description('create an app')
    .argument('<name>', 'app name')
    .action(withConnection(async (conn, name: string) => {
      const app = await conn.client.createApp(name);
      out(`created app ${app.name}\n`);
    }));
}
