/**
 * Which platform a command talks to and with which key. Precedence, first found wins:
 *
 * | setting | 1. flag | 2. environment | 3. config file (`faas login`) | 4. fallback |
 * | --- | --- | --- | --- | --- |
 * | URL | `--url` | `FAAS_URL` | `url` | `http://127.0.0.1:8080` |
 * | API key | `--api-key` | `FAAS_API_KEY` | `apiKey` | `$FAAS_DATA_DIR/admin.key` (default `./data/admin.key`) |
 *
 * The last fallback lets a developer who ran `npm start` in the project use the CLI at once.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FaasClient, isFaasApiError } from './client.ts';
import { configFilePath, readConfigFile } from './config-file.ts';
import { CliError, err, toCliError, type KeyOrigin, type KeySource } from './output.ts';

/** Default platform URL when no flag, environment variable or config file gives one. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The global options every command inherits. */
export interface Globals {
  url?: string;
  apiKey?: string;
}

/** A resolved connection: the client plus where its settings came from (for hints). */
export interface Connection extends KeyOrigin {
  client: FaasClient;
  url: string;
  urlSource: 'flag' | 'env' | 'config' | 'default';
}

/**
 * Resolve URL and API key (see the table in the file comment). The config file is read only when
 * a flag or the environment does not already give both.
 * @throws CliError E_BAD_URL (exit 2) when the URL is not http(s); E_BAD_CONFIG when the config file is malformed
 */
export async function connect(globals: Globals, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const configFile = configFilePath(env);
  const keyFile = resolve(nonEmpty(env.FAAS_DATA_DIR) ?? 'data', 'admin.key');
  let url: string | undefined = globals.url;
  let urlSource: Connection['urlSource'] = 'flag';
  if (url === undefined && nonEmpty(env.FAAS_URL) !== undefined) {
    url = env.FAAS_URL;
    urlSource = 'env';
  }
  let apiKey: string | undefined = globals.apiKey;
  let keySource: KeySource = apiKey === undefined ? 'none' : 'flag';
  if (apiKey === undefined && nonEmpty(env.FAAS_API_KEY) !== undefined) {
    apiKey = env.FAAS_API_KEY;
    keySource = 'env';
  }
  if (url === undefined || apiKey === undefined) {
    const { config, looseMode } = await readConfigFile(configFile);
    if (looseMode !== undefined && config.apiKey !== undefined) {
      err(`warning: ${configFile} holds an API key and other users may read it (mode ${looseMode.toString(8).padStart(4, '0')}): run \`chmod 600 ${configFile}\`\n`);
    }
    if (url === undefined && nonEmpty(config.url) !== undefined) {
      url = config.url;
      urlSource = 'config';
    }
    if (apiKey === undefined && nonEmpty(config.apiKey) !== undefined) {
      apiKey = config.apiKey;
      keySource = 'config';
    }
  }
  if (url === undefined) {
    url = DEFAULT_URL;
    urlSource = 'default';
  }
  if (apiKey === undefined) {
    try {
      apiKey = nonEmpty((await readFile(keyFile, 'utf8')).trim());
      if (apiKey !== undefined) keySource = 'data-dir';
    } catch {
      // no key file: requests go without a key and the server answers E_UNAUTHORIZED
    }
  }
  try {
    return { client: new FaasClient({ url, apiKey }), url, urlSource, keySource, keyFile, configFile };
  } catch (error) {
    const from = urlSource === 'env' ? ' (from FAAS_URL)' : urlSource === 'config' ? ` (from ${configFile})` : '';
    throw new CliError('E_BAD_URL', `${(error as Error).message}${from}`, { exitCode: 2 });
  }
}

/** undefined for undefined or ''. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function isTarget(value: unknown): value is { app: string; fn: string } {
  return typeof value === 'object' && value !== null && typeof (value as { app?: unknown }).app === 'string' && typeof (value as { fn?: unknown }).fn === 'string';
}

/**
 * Wrap a commander action: build the connection from the global options, run, and turn API
 * errors into CliErrors with hints (which `runCli` prints). When the first argument is a parsed
 * `app/function` target, hints name it (`faas versions demo/hello`).
 */
export function withConnection<A extends unknown[]>(run: (conn: Connection, ...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command;
    const conn = await connect(command.optsWithGlobals<Globals>());
    try {
      await run(conn, ...args);
    } catch (error) {
      if (isFaasApiError(error)) throw toCliError(error, conn, { target: isTarget(args[0]) ? `${args[0].app}/${args[0].fn}` : undefined });
      throw error;
    }
  };
}
