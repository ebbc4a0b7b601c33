/**
 * Encryption at rest for secrets and token-signing keys: AES-256-GCM (Node's crypto, NIST SP
 * 800-38D) with a random 96-bit IV per value and the owner (`app/function/name`) as additional
 * authenticated data, so a ciphertext copied to another function or app does not decrypt.
 *
 * The 32-byte key comes from `FAAS_SECRET_KEY` (base64 or hex of 32 bytes) or, when unset, from
 * `$FAAS_DATA_DIR/secret.key` (created 0600 on first start). Every control-plane instance sharing
 * one MySQL store must use the same key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpError } from '../errors.ts';

/** File under the data directory holding the generated key (base64, one line). */
export const SECRET_KEY_FILE = 'secret.key';
const VERSION = 'v1';

/**
 * Parse a 32-byte key from base64/base64url (44/43 chars) or hex (64 chars).
 * @throws Error naming `FAAS_SECRET_KEY` and the expected shape when it is not 32 bytes
 */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error(`FAAS_SECRET_KEY must be 32 bytes as base64 (44 characters) or hex (64 characters); got ${key.length} bytes. Generate one with: openssl rand -base64 32`);
  return key;
}

/**
 * The secret key of this installation: `env.FAAS_SECRET_KEY`, else `${dataDir}/secret.key`, created
 * (0600, directory 0700) with 32 random bytes when missing.
 * @throws Error for a malformed key (see `parseSecretKey`) or an unreadable file
 */
export async function loadSecretKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  if (env.FAAS_SECRET_KEY) return parseSecretKey(env.FAAS_SECRET_KEY);
  const file = join(dataDir, SECRET_KEY_FILE);
  try {
    return parseSecretKey(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseSecretKey(await readFile(file, 'utf8'));
    throw error;
  }
}

/** Encrypts and decrypts values bound to an owner string. */
export class SecretBox {
  readonly #key: Buffer;

  /** @param key 32 bytes (AES-256). @throws TypeError for another length */
  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length !== 32) throw new TypeError('SecretBox: the key must be a 32-byte Buffer');
    this.#key = Buffer.from(key);
  }

  /** `v1:<iv>:<tag>:<ciphertext>` (base64url parts) of `plaintext`, authenticated with `owner`. */
  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(':');
  }

  /**
   * Decrypt a value sealed for `owner`.
   * @throws PlatformError E_STORE_UNAVAILABLE when it does not decrypt (wrong key — FAAS_SECRET_KEY changed —,
   *   another owner, or tampering); the message never includes the value
   */
  open(sealed: string, owner: string): string {
    const parts = sealed.split(':');
    try {
      if (parts.length !== 4 || parts[0] !== VERSION) throw new Error('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(parts[1] as string, 'base64url'));
      decipher.setAAD(Buffer.from(owner, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[2] as string, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(parts[3] as string, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw cpError('E_STORE_UNAVAILABLE', `a stored secret of ${owner} does not decrypt: FAAS_SECRET_KEY (or $FAAS_DATA_DIR/${SECRET_KEY_FILE}) is not the key it was written with`);
    }
  }
}
