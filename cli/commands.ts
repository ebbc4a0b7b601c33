/**
 * The developer commands of `faas`. This file registers all of them and holds the function
 * lifecycle (apps, functions, deploy, versions, rollback, invoke, logs); the others live beside it:
 * `login-commands.ts` (login, logout, whoami), `alias-commands.ts` (alias set, clear-canary),
 * `config-commands.ts` (config, secrets), `admin-commands.ts` (keys, audit). `cli/main.ts` builds
 * the program and adds the platform roles (`all`, …).
 *
 * Output contract (see `output.ts`): results go to stdout (tables, or exactly the API's JSON with
 * `--json`); status lines and errors go to stderr. An error is one line `error <CODE>: <message>`
 * (plus a code frame for E_SYNTAX, one block per diagnostic for E_CHECK, a hint where one helps)
 * and exit code 1; usage errors exit 2 with commander's message.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { isFaasApiError } from './client.ts';
import type { AuthMode, FunctionInfo, FunctionLimits, LogLine, VersionInfo } from '../control-plane/core/types.ts';
import { parseJson, parsePositiveInt, parseSince, parseTarget, type Target } from './args.ts';
import { connect, withConnection, type Globals } from './connection.ts';
import { CliError, CliExit, err, formatBytes, json, out, shortId, table, toCliError, truncate } from './output.ts';
import { resolveVersionId } from './version-id.ts';
import { registerLoginCommands } from './login-commands.ts';
import { registerAliasCommands } from './alias-commands.ts';
import { registerConfigCommands } from './config-commands.ts';
import { registerAdminCommands } from './admin-commands.ts';

export { CliError, CliExit, printCliError } from './output.ts';
export { connect, DEFAULT_URL } from './connection.ts';

/** Auth modes a manifest or `--auth` may name (`AuthMode` in control-plane/core/types.ts). */
const AUTH_MODES: readonly AuthMode[] = ['none', 'required'];
/** Fields a `function.json` manifest may have; others are reported as a warning (typos). */
const MANIFEST_FIELDS = new Set(['name', 'limits', 'auth']);

/** What `faas deploy <path>` uploads: source, function name, and the manifest's limits and auth. */
export interface DeploySource {
  /** The file read (for error locations). */
  file: string;
  code: string;
  name: string;
  /** Limits from `function.json`; undefined keeps the function's current limits. */
  limits: Partial<FunctionLimits> | undefined;
  /** Auth mode from `function.json`; undefined keeps the function's current mode (`none` for a new function). */
  auth: AuthMode | undefined;
  /** Problems worth a warning that do not stop the deploy (unknown manifest fields). */
  warnings: string[];
}

/**
 * Read a function from a file (`hello.js` → name `hello`, no manifest) or a directory (`index.js`
 * plus an optional `function.json` manifest `{ name?, limits?, auth? }`; the name defaults to the
 * directory's name). `auth` is `"none"` or `"required"`; `limits` fields are integers (their names
 * and bounds are checked by the platform, which lists the known ones).
 * @throws CliError E_NOT_FOUND, E_NO_INDEX, E_BAD_MANIFEST
 */
export async function readDeploySource(path: string, nameOverride?: string): Promise<DeploySource> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new CliError('E_NOT_FOUND', `${path}: no such file or directory`);
  }
  if (!info.isDirectory()) {
    const code = await readFile(path, 'utf8');
    return { file: path, code, name: nameOverride ?? basename(path, extname(path)), limits: undefined, auth: undefined, warnings: [] };
  }
  const file = join(path, 'index.js');
  let code: string;
  try {
    code = await readFile(file, 'utf8');
  } catch {
    throw new CliError('E_NO_INDEX', `${path} is a directory without index.js: a function is one ES module named index.js`);
  }
  const manifestFile = join(path, 'function.json');
  let manifestText: string | undefined;
  try {
    manifestText = await readFile(manifestFile, 'utf8');
  } catch {
    // the manifest is optional
  }
  const defaultName = basename(resolve(path));
  if (manifestText === undefined) return { file, code, name: nameOverride ?? defaultName, limits: undefined, auth: undefined, warnings: [] };

  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(manifestText) as Record<string, unknown>;
  } catch (error) {
    throw new CliError('E_BAD_MANIFEST', `${manifestFile} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new CliError('E_BAD_MANIFEST', `${manifestFile} must be a JSON object like { "name": "hello", "auth": "none", "limits": { "cpuTimeMs": 200 } }`);
  if (manifest.name !== undefined && typeof manifest.name !== 'string') throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "name" must be a string`);
  const limits = manifest.limits;
  if (limits !== undefined && (typeof limits !== 'object' || limits === null || Array.isArray(limits))) {
    throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "limits" must be an object like { "cpuTimeMs": 200 }`);
  }
  for (const [field, value] of Object.entries((limits ?? {}) as Record<string, unknown>)) {
    if (!Number.isInteger(value)) throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "limits.${field}" must be an integer, got ${JSON.stringify(value)}`);
  }
  if (manifest.auth !== undefined && !AUTH_MODES.includes(manifest.auth as AuthMode)) {
    throw new CliError('E_BAD_MANIFEST', `${manifestFile}: "auth" must be "none" (players may call it anonymously) or "required" (a valid player token is needed), got ${JSON.stringify(manifest.auth)}`);
  }
  const unknown = Object.keys(manifest).filter((field) => !MANIFEST_FIELDS.has(field));
  const warnings = unknown.length === 0 ? [] : [`${manifestFile}: ignoring unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')} (known: name, limits, auth)`];
  const typedLimits = limits as Partial<FunctionLimits> | undefined;
  return {
    file,
    code,
    name: nameOverride ?? (manifest.name as string | undefined) ?? defaultName,
    limits: typedLimits !== undefined && Object.keys(typedLimits).length > 0 ? typedLimits : undefined,
    auth: manifest.auth as AuthMode | undefined,
    warnings,
  };
}

/** Lines per poll of `logs --follow`; a full page is followed at once by the next one. */
const FOLLOW_PAGE_LINES = 1000;

/** `prod=3f2a9c1b7d0e (canary 91c04ee2a7b3 10%)`, aliases sorted by name. */
export function describeAliases(fn: Pick<FunctionInfo, 'aliases' | 'canaries'>): string {
  return Object.keys(fn.aliases).sort().map((name) => {
    const canary = fn.canaries?.[name];
    return `${name}=${shortId(fn.aliases[name])}${canary === undefined ? '' : ` (canary ${shortId(canary.versionId)} ${canary.weight}%)`}`;
  }).join('; ');
}

/**
 * Register every developer command on `program`: login, logout, whoami, apps, functions, deploy,
 * versions, alias, rollback, invoke, logs, config, secrets, keys, audit.
 */
export function registerDeveloperCommands(program: Command): void {
  registerLoginCommands(program);
  registerFunctionCommands(program);
  registerAliasCommands(program);
  registerRollbackInvokeLogs(program);
  registerConfigCommands(program);
  registerAdminCommands(program);
}

function registerFunctionCommands(program: Command): void {
  const apps = program
    .command('apps')
    .description('list the apps your key may see (`faas apps create <name>` creates one)')
    .option('--json', 'print the API\'s JSON: { apps: [{ name, createdAt }] }')
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
    .description('create an app (admin)')
    .argument('<name>', 'app name: a lowercase letter, then letters, digits or - (at most 63)')
    .action(withConnection(async (conn, name: string) => {
      const app = await conn.client.createApp(name);
      out(`created app ${app.name}\n`);
    }));

  program
    .command('functions')
    .description('list the functions of an app with their aliases and canary splits')
    .argument('<app>', 'app name')
    .option('--json', 'print the API\'s JSON: { functions: [{ app, name, createdAt, limits, aliases, canaries }] }')
    .action(withConnection(async (conn, app: string, opts: { json?: boolean }) => {
      const list = await conn.client.listFunctions(app);
      if (opts.json === true) {
        json({ functions: list });
        return;
      }
      if (list.length === 0) {
        err(`app ${app} has no functions yet: deploy one with \`faas deploy <path> --app ${app}\`\n`);
        return;
      }
      out(table(['NAME', 'ALIASES', 'CREATED'], list.map((fn) => [fn.name, describeAliases(fn), fn.createdAt])));
    }));

  program
    .command('deploy')
    .description('upload a function (a .js file, or a directory with index.js and an optional function.json) and point an alias at it; the app is created if needed')
    .argument('<path>', 'file or directory to deploy')
    .requiredOption('--app <app>', 'app to deploy into')
    .option('--name <function>', 'function name (default: function.json "name", else the file or directory name)')
    .option('--message <message>', 'deploy message, shown by `faas versions`')
    .option('--alias <alias>', 'alias to move to the new version', 'prod')
    .addOption(new Option('--auth <mode>', 'player sign-in: none or required (default: function.json "auth", else the function\'s current mode)').choices(AUTH_MODES))
    .action(async (path: string, opts: { app: string; name?: string; message?: string; alias: string; auth?: AuthMode }, command: Command) => {
      const conn = await connect(command.optsWithGlobals<Globals>());
      const source = await readDeploySource(path, opts.name);
      for (const warning of source.warnings) err(`warning: ${warning}\n`);
      const input = { code: source.code, message: opts.message, alias: opts.alias, limits: source.limits, auth: opts.auth ?? source.auth };
      try {
        const result = await conn.client.deploy(opts.app, source.name, input);
        const { version, alias } = result;
        const was = alias.previousVersionId === null ? 'new' : alias.previousVersionId === alias.versionId ? 'unchanged' : `was ${shortId(alias.previousVersionId)}`;
        const auth = version.auth === 'required' ? ', auth required' : '';
        out(`${result.created ? 'deployed' : 'already stored'} ${opts.app}/${source.name} version ${shortId(version.id)} (${formatBytes(version.size)}${auth}) → ${alias.name} (${was})\n`);
      } catch (error) {
        if (isFaasApiError(error)) throw toCliError(error, conn, { file: source.file, target: `${opts.app}/${source.name}` });
        throw error;
      }
    });

  program
    .command('versions')
    .description('list the versions of a function, newest first, with the aliases (and canaries) pointing at them')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('--json', 'print the API\'s JSON: { versions: [{ app, function, id, size, message, author, createdAt, limits, auth }] }')
    .action(withConnection(async (conn, target: Target, opts: { json?: boolean }) => {
      const versions = await conn.client.listVersions(target.app, target.fn);
      if (opts.json === true) {
        json({ versions });
        return;
      }
      if (versions.length === 0) {
        err(`${target.app}/${target.fn} has no versions\n`);
        return;
      }
      const fn = await conn.client.getFunction(target.app, target.fn);
      const marks = (id: string): string => [
        ...Object.entries(fn.aliases).filter(([, versionId]) => versionId === id).map(([name]) => `*${name}`),
        ...Object.entries(fn.canaries ?? {}).filter(([, split]) => split.versionId === id).map(([name, split]) => `~${name}(${split.weight}%)`),
      ].sort().join(',');
      out(table(
        ['ID', 'ALIAS', 'SIZE', 'AUTH', 'AUTHOR', 'MESSAGE', 'CREATED'],
        versions.map((version: VersionInfo) => [
          shortId(version.id),
          marks(version.id),
          formatBytes(version.size),
          version.auth,
          version.author,
          truncate(version.message ?? '', 48),
          version.createdAt,
        ]),
      ));
    }));
}

function registerRollbackInvokeLogs(program: Command): void {
  program
    .command('rollback')
    .description('roll an alias back: drop its canary if it has one, else move it to the version it pointed at before; or move it to --to <version>')
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('--to <version>', 'version id (or a unique prefix, as shown by `faas versions`)')
    .option('--alias <alias>', 'alias to move', 'prod')
    .action(withConnection(async (conn, target: Target, opts: { to?: string; alias: string }) => {
      const to = opts.to === undefined ? undefined : await resolveVersionId(conn.client, target, opts.to);
      const moved = await conn.client.rollback(target.app, target.fn, { alias: opts.alias, to });
      out(`${target.app}/${target.fn} ${moved.name} → ${shortId(moved.versionId)}${moved.previousVersionId === null ? '' : ` (was ${shortId(moved.previousVersionId)})`}\n`);
    }));

  program
    .command('invoke')
    .description('call a function through the gateway; status line on stderr, body on stdout, exit 1 on HTTP >= 400')
    .argument('<app/function>', 'function to call, e.g. demo/live-stream', parseTarget)
    .option('-d, --data <json>', 'JSON request body (implies --method POST)', parseJson)
    .option('-p, --path <path>', 'path after /fn/<app>/<function>, may include ?query', '/')
    .option('-X, --method <method>', 'HTTP method (default: POST with --data, else GET)')
    .option('--alias <alias>', 'alias to call (sent as the x-faas-alias header; default prod)')
    .option('--version <version>', 'call this exact version, bypassing aliases and canaries (id or unique prefix; sent as x-faas-version)')
    .action(withConnection(async (conn, target: Target, opts: { data?: unknown; path: string; method?: string; alias?: string; version?: string }) => {
      const versionId = opts.version === undefined ? undefined : await resolveVersionId(conn.client, target, opts.version);
      const result = await conn.client.invoke(target.app, target.fn, { method: opts.method, path: opts.path, body: opts.data, alias: opts.alias, versionId });
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
    .command('logs')
    .description("print a function's captured ctx.log lines, oldest first")
    .argument('<app/function>', 'e.g. demo/live-stream', parseTarget)
    .option('-n, --limit <n>', 'at most the N most recent lines', parsePositiveInt)
    .option('--request-id <id>', 'only the lines of one invocation (see x-faas-request-id)')
    .addOption(new Option('--level <level>', 'only lines of this level and above').choices(['debug', 'info', 'warn', 'error']))
    .option('--since <time>', 'only lines since epoch ms, an ISO date, or a duration ago (30s, 10m, 2h)', (value: string) => parseSince(value))
    .option('--json', 'print the API\'s JSON: { lines: [{ id, app, function, versionId, requestId, level, message, time, traceId? }] } (with --follow: one JSON object per line)')
    .option('-f, --follow', 'keep printing new lines as they arrive (polls every second; Ctrl-C to stop)')
    .action(withConnection(async (conn, target: Target, opts: { limit?: number; requestId?: string; level?: LogLine['level']; since?: number; json?: boolean; follow?: boolean }) => {
      const print = (line: LogLine) => out(opts.json === true
        ? `${JSON.stringify(line)}\n`
        : `${new Date(line.time).toISOString()} ${line.level.padEnd(5)} ${line.requestId} ${shortId(line.versionId)} ${line.message}\n`);
      const filter = { requestId: opts.requestId, level: opts.level };
      // Taken before the first request: a line logged while it is in flight must not fall between polls.
      const requestedAt = Date.now();
      const lines = await conn.client.logs(target.app, target.fn, { ...filter, limit: opts.limit, sinceMs: opts.since });
      if (opts.follow !== true) {
        if (opts.json === true) json({ lines });
        else for (const line of lines) print(line);
        return;
      }
      for (const line of lines) print(line);
      // Follow by store id: each poll asks for the lines appended after the newest id seen, so a
      // line logged in the same millisecond as the last one printed is neither lost nor repeated,
      // whatever the clocks say. Until a first line is seen, `since` (--since, or when this command
      // started) keeps older lines out.
      let after = lines.reduce((max, line) => Math.max(max, line.id ?? 0), 0);
      let since: number | undefined = after > 0 ? undefined : opts.since ?? requestedAt;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        for (;;) {
          const page = await conn.client.logs(target.app, target.fn, { ...filter, afterId: after, sinceMs: since, limit: FOLLOW_PAGE_LINES });
          for (const line of page) {
            print(line);
            after = Math.max(after, line.id ?? after);
          }
          if (after > 0) since = undefined;
          if (page.length < FOLLOW_PAGE_LINES) break;
        }
      }
    }));
}
