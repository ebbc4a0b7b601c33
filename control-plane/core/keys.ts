/**
 * API keys: `faas_` followed by 32 random bytes in base64url (43 characters). Only the SHA-256 hex
 * of the whole key is stored, so a leaked database does not leak usable keys.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditInput, Store, StoredApiKey } from '../store/store.ts';
import type { Role } from './types.ts';

/** Every key starts with this, so scanners and humans recognise it. */
export const API_KEY_PREFIX = 'faas_';

/** Name of the file under the data directory that receives the first admin key. */
export const ADMIN_KEY_FILE = 'admin.key';

/** A fresh random key: `faas_` + base64url(32 random bytes). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * The stored form of a key.
 * @param key the raw key as sent by a client
 * @returns SHA-256 of the UTF-8 key, 64 lowercase hex characters
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Create and store a new key.
 * @param store where the hash is kept
 * @param input `name` (shown as the author of deploys), `role`, and `apps` (default `'*'`)
 * @param audit recorded with the key in one transaction (omitted for the bootstrap admin key)
 * @returns the raw key (shown once, never stored) and the stored record
 * @throws whatever the store throws (e.g. E_STORE_UNAVAILABLE)
 */
export async function createApiKey(store: Store, input: { name: string; role: Role; apps?: string[] | '*' }, audit?: AuditInput): Promise<{ key: string; record: StoredApiKey }> {
  const key = generateApiKey();
  const record: StoredApiKey = {
    id: `key_${randomBytes(8).toString('hex')}`,
    name: input.name,
    role: input.role,
    apps: input.apps ?? '*',
    hash: hashApiKey(key),
    createdAt: new Date().toISOString(),
    revokedAt: null,
  };
  await store.createApiKey(record, audit);
  return { key, record };
}

/**
 * Bootstrap access on a fresh install: when the store has no active key, create an `admin` key
 * named `admin`, write it to `${dataDir}/admin.key` (file mode 0600, directory created with 0700)
 * and return it so the caller prints it once. When active keys exist, do nothing.
 *
 * Two processes starting at once against an empty shared store may each create a key; both keys
 * work and the file holds the last one.
 * @param store the control-plane store (migrated)
 * @param dataDir the data directory (`$FAAS_DATA_DIR`)
 * @returns `{ created: true, key, file }` or `{ created: false }`
 * @throws store errors, or the fs error when the file cannot be written
 */
export async function ensureAdminKey(store: Store, dataDir: string): Promise<{ created: true; key: string; file: string } | { created: false }> {
  if ((await store.countApiKeys()) > 0) return { created: false };
  const { key } = await createApiKey(store, { name: 'admin', role: 'admin' });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, ADMIN_KEY_FILE);
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // `mode` applies only when the file is created
  return { created: true, key, file };
}
