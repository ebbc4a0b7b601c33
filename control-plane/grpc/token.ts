/**
 * The shared token that authenticates runtimes to the control plane's gRPC server.
 *
 * Control plane: `FAAS_GRPC_TOKEN` when set; otherwise `$FAAS_DATA_DIR/grpc.token`, generated
 * (32 random bytes, base64url) and written with mode 0600 at the first start, read back later.
 * Runtime: `FAAS_GRPC_TOKEN`, or the file named by `FAAS_GRPC_TOKEN_FILE` (e.g. a mounted secret).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Shortest token accepted, in characters (a generated one has 43). */
export const MIN_TOKEN_LENGTH = 16;
/** File name of the generated token inside the data directory. */
export const TOKEN_FILE_NAME = 'grpc.token';

/** Errors of configuration (what to set, where): `code` ERR_FAAS_CONFIG, which the CLI prints as E_BAD_CONFIG without a stack. */
export function configError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_FAAS_CONFIG' });
}

function check(token: string, source: string): string {
  const t = token.trim();
  if (t.length < MIN_TOKEN_LENGTH || /\s/.test(t)) {
    throw configError(`${source} must hold a token of at least ${MIN_TOKEN_LENGTH} characters without whitespace; generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`);
  }
  return t;
}

/**
 * The control plane's token: `given` (FAAS_GRPC_TOKEN) when set, else the one in
 * `<dataDir>/grpc.token`, else a new one written there (mode 0600, directory 0700).
 * @returns the token and where it came from (`created` is true only when this call wrote the file)
 * @throws Error naming the variable or file when the token is too short or the file cannot be written
 */
export async function controlPlaneToken(given: string | undefined, dataDir: string): Promise<{ token: string; source: string; created: boolean }> {
  if (given !== undefined && given !== '') return { token: check(given, 'FAAS_GRPC_TOKEN'), source: 'FAAS_GRPC_TOKEN', created: false };
  const file = join(dataDir, TOKEN_FILE_NAME);
  try {
    return { token: check(await readFile(file, 'utf8'), file), source: file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  try {
    // 'wx': never overwrite a token another process wrote meanwhile.
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { token: check(await readFile(file, 'utf8'), file), source: file, created: false };
    throw err;
  }
  await chmod(file, 0o600);
  return { token, source: file, created: true };
}

/**
 * A runtime's token: `given.token` (FAAS_GRPC_TOKEN), else the contents of `given.file` (FAAS_GRPC_TOKEN_FILE).
 * @throws Error saying which variable to set when neither is set, or when the token is too short
 */
export async function runtimeToken(given: { token?: string; file?: string }): Promise<string> {
  if (given.token !== undefined && given.token !== '') return check(given.token, 'FAAS_GRPC_TOKEN');
  const file = given.file;
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw configError(`FAAS_GRPC_TOKEN_FILE names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at the control plane's token file`);
    }
    return check(text, `FAAS_GRPC_TOKEN_FILE (${file})`);
  }
  throw configError('faas runtime needs the control plane\'s gRPC token: set FAAS_GRPC_TOKEN (or FAAS_GRPC_TOKEN_FILE to a file holding it); the control plane prints where its token is at start ($FAAS_DATA_DIR/grpc.token unless FAAS_GRPC_TOKEN is set there)');
}
