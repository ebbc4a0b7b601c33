/**
 * The CLI's own config file, written by `faas login` and read by every command: the platform URL
 * and the API key of the user. (Not to be confused with `faas config`, which sets a function's
 * configuration on the platform.)
 *
 * Location (XDG Base Directory spec): `$XDG_CONFIG_HOME/faas/config.json` when XDG_CONFIG_HOME is
 * an absolute path, else `~/.config/faas/config.json`. The directory is created with mode 0700
 * and the file with mode 0600, since it holds a credential; the file is replaced atomically.
 */
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { CliError } from './output.ts';

/** What the file holds. Unknown fields are kept when the file is rewritten. */
export interface CliConfig {
  /** Platform URL, e.g. `https://faas.example.com`. */
  url?: string;
  /** API key sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  [field: string]: unknown;
}

/** Mode of the config directory (owner only). */
export const CONFIG_DIR_MODE = 0o700;
/** Mode of the config file (owner read/write only). */
export const CONFIG_FILE_MODE = 0o600;

/**
 * Path of the config file for an environment.
 * @param env reads XDG_CONFIG_HOME (ignored unless absolute, as the XDG spec says) and HOME (through `os.homedir()` when `env` is `process.env`)
 */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir(), '.config');
  return join(base, 'faas', 'config.json');
}

/** Result of `readConfigFile`. */
export interface ReadConfig {
  config: CliConfig;
  /** True when the file exists. */
  exists: boolean;
  /** Set when other users may read the file (its mode has group/other bits). */
  looseMode?: number;
}

/**
 * Read the config file; a missing file is an empty config.
 * @throws CliError E_BAD_CONFIG when the file is not a JSON object or `url`/`apiKey` are not strings
 */
export async function readConfigFile(file: string): Promise<ReadConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { config: {}, exists: false };
    throw new CliError('E_BAD_CONFIG', `cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError('E_BAD_CONFIG', `${file} is not valid JSON (${(error as Error).message}): fix it, delete it, or run \`faas login\` to write it again`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError('E_BAD_CONFIG', `${file} must hold a JSON object like { "url": "http://127.0.0.1:8080", "apiKey": "…" }: run \`faas login\` to write it again`);
  }
  const config = parsed as CliConfig;
  for (const field of ['url', 'apiKey'] as const) {
    if (config[field] !== undefined && typeof config[field] !== 'string') {
      throw new CliError('E_BAD_CONFIG', `${file}: "${field}" must be a string: run \`faas login\` to write it again`);
    }
  }
  const mode = (await stat(file)).mode & 0o777;
  return process.platform !== 'win32' && (mode & 0o077) !== 0 ? { config, exists: true, looseMode: mode } : { config, exists: true };
}

/**
 * Write the config file: creates the directory (mode 0700), writes a temporary file with mode
 * 0600 and renames it over the old one, so a crash never leaves half a file and the key is never
 * readable by others, even for a moment.
 * @throws CliError E_CONFIG_NOT_WRITABLE naming the file and the system's reason
 */
export async function writeConfigFile(file: string, config: CliConfig): Promise<void> {
  try {
    await writeAtomically(file, config);
  } catch (error) {
    throw new CliError('E_CONFIG_NOT_WRITABLE', `cannot write ${file}: ${(error as Error).message}; check the permissions of ${dirname(file)}, or point XDG_CONFIG_HOME elsewhere`);
  }
}

async function writeAtomically(file: string, config: CliConfig): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: CONFIG_DIR_MODE });
  await chmod(dir, CONFIG_DIR_MODE);
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', CONFIG_FILE_MODE);
  try {
    await handle.chmod(CONFIG_FILE_MODE); // in case a stale temp file existed with another mode
    await handle.writeFile(`${JSON.stringify(config, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Delete the config file (no error when it does not exist). */
export async function removeConfigFile(file: string): Promise<void> {
  await rm(file, { force: true });
}
