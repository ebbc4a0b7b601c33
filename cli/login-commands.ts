/**
 * `faas login`, `faas logout` and `faas whoami`: store the platform URL and API key in the CLI's
 * config file (see `config-file.ts` for where and with which modes), remove the key again, and
 * show which key is in use.
 */
import type { Command } from 'commander';
import type { Actor } from '../control-plane/core/types.ts';
import { FaasClient, isFaasApiError } from './client.ts';
import { configFilePath, readConfigFile, removeConfigFile, writeConfigFile, type CliConfig } from './config-file.ts';
import { DEFAULT_URL, nonEmpty, withConnection, type Globals } from './connection.ts';
import { CliError, err, json, out, toCliError } from './output.ts';
import { canPrompt, prompt, promptHidden, readStdin } from './prompt.ts';

/** `role admin, apps: all` / `role developer, apps: demo, shop`. */
export function describeActor(actor: Pick<Actor, 'role' | 'apps'>): string {
  const apps = actor.apps === '*' ? 'all' : actor.apps.length === 0 ? 'none' : actor.apps.join(', ');
  return `role ${actor.role}, apps: ${apps}`;
}

/** Read the config file, treating a malformed one as empty (login and logout replace it). */
async function readTolerant(file: string): Promise<CliConfig> {
  try {
    return (await readConfigFile(file)).config;
  } catch {
    return {};
  }
}

const SOURCE_LABEL = { flag: '--api-key', env: 'FAAS_API_KEY', config: 'the config file', 'data-dir': 'the data dir', none: 'nowhere' } as const;

/** Register login, logout and whoami on `program`. */
export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('check a platform URL and API key (GET /api/whoami) and save them in the CLI config file; asks for what is not given (the key without echo, or read from a pipe)')
    .option('--key <key>', 'API key (also --api-key; default: $FAAS_API_KEY, else asked, or read from stdin when it is a pipe)')
    .addHelpText('after', '\nThe URL comes from the global --url, else $FAAS_URL, else it is asked (default: the saved one, else http://127.0.0.1:8080).\nExample: faas --url https://faas.example.com login   (then paste the key)\n         printf %s "$KEY" | faas login --url http://127.0.0.1:8080')
    .action(async (opts: { key?: string }, command: Command) => {
      const globals = command.optsWithGlobals<Globals>();
      const env = process.env;
      const file = configFilePath(env);
      const saved = await readTolerant(file);
      const interactive = canPrompt();

      let url = globals.url ?? nonEmpty(env.FAAS_URL);
      if (url === undefined) url = interactive ? await prompt('Platform URL', saved.url ?? DEFAULT_URL) : saved.url ?? DEFAULT_URL;
      let key = opts.key ?? globals.apiKey ?? nonEmpty(env.FAAS_API_KEY);
      if (key === undefined) key = interactive ? await promptHidden(`API key for ${url}`) : await readStdin(64 * 1024);
      key = key.trim();
      if (key === '') {
        throw new CliError('E_NO_KEY', 'no API key given: pass --key <key>, set FAAS_API_KEY, or pipe it on stdin (an admin creates keys with `faas keys create`)', { exitCode: 2 });
      }

      let client: FaasClient;
      try {
        client = new FaasClient({ url, apiKey: key });
      } catch (error) {
        throw new CliError('E_BAD_URL', (error as Error).message, { exitCode: 2 });
      }
      let actor: Actor;
      try {
        actor = await client.whoami();
      } catch (error) {
        if (!isFaasApiError(error)) throw error;
        const failure = toCliError(error, null);
        throw new CliError(failure.code, `${failure.message} (nothing was saved)`, { extra: error.code === 'E_UNAUTHORIZED' ? [`  hint: ${url} does not know this key or it was revoked; ask an admin for one (\`faas keys create\`)`] : [...failure.extra] });
      }
      await writeConfigFile(file, { ...saved, url: client.url, apiKey: key });
      out(`logged in to ${client.url} as "${actor.name}" (${describeActor(actor)}); saved to ${file}\n`);
      // The environment outranks the file: say so when it would hide what was just saved.
      for (const [name, value, savedValue] of [['FAAS_URL', env.FAAS_URL, client.url], ['FAAS_API_KEY', env.FAAS_API_KEY, key]] as const) {
        if (nonEmpty(value) !== undefined && value !== savedValue) err(`note: ${name} is set in your environment and takes precedence over the saved setting\n`);
      }
    });

  program
    .command('logout')
    .description('remove the API key saved by `faas login` (the URL stays as the default for the next login)')
    .action(async () => {
      const file = configFilePath(process.env);
      const saved = await readTolerant(file);
      if (saved.apiKey === undefined) {
        out(`not logged in: ${file} holds no API key\n`);
      } else {
        const { apiKey: _removed, ...rest } = saved;
        if (Object.keys(rest).length === 0) await removeConfigFile(file);
        else await writeConfigFile(file, rest);
        out(`logged out: removed the API key from ${file}\n`);
      }
      if (nonEmpty(process.env.FAAS_API_KEY) !== undefined) err('note: FAAS_API_KEY is still set in your environment, and commands keep using it\n');
    });

  program
    .command('whoami')
    .description('show the key in use: its name, role and apps, the platform URL, and where each came from')
    .option('--json', 'print the API\'s JSON: { actor: { keyId, name, role, apps } }')
    .action(withConnection(async (conn, opts: { json?: boolean }) => {
      const actor = await conn.client.whoami();
      if (opts.json === true) {
        json({ actor });
        return;
      }
      const keyFrom = conn.keySource === 'config' ? conn.configFile : conn.keySource === 'data-dir' ? conn.keyFile : SOURCE_LABEL[conn.keySource];
      const urlFrom = conn.urlSource === 'config' ? conn.configFile : conn.urlSource === 'env' ? 'FAAS_URL' : conn.urlSource === 'flag' ? '--url' : 'default';
      out(`${actor.name} (${describeActor(actor)}) key ${actor.keyId}\n`);
      err(`platform ${conn.url} (from ${urlFrom}), key from ${keyFrom}\n`);
    }));
}
