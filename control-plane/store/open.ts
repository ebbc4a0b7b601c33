/**
 * Choose and open the control plane's store: MySQL/MariaDB when a URL is given (production),
 * otherwise the SQLite file `${dataDir}/control-plane.db` (the embedded default). Either way the
 * store is migrated before it is returned.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openMysqlStore } from './mysql.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/** File name of the embedded store under the data directory. */
export const SQLITE_FILE = 'control-plane.db';

/** Where the store lives. */
export interface OpenStoreOptions {
  /** The data directory (`$FAAS_DATA_DIR`); created with mode 0700 when missing. Holds the SQLite file and `admin.key`. */
  dataDir: string;
  /** `mysql://user:password@host:3306/database` (`MYSQL_URL`); when set, SQLite is not used. */
  mysqlUrl?: string;
}

/**
 * Open the store chosen by `options` and apply pending migrations.
 * @returns a migrated store; `close()` it on shutdown
 * @throws Error for a malformed MySQL URL; PlatformError E_STORE_UNAVAILABLE when MySQL is
 *   unreachable or the SQLite file stays locked; fs errors when the data directory cannot be created.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  let store: Store;
  if (options.mysqlUrl !== undefined && options.mysqlUrl !== '') {
    store = await openMysqlStore(options.mysqlUrl);
  } else {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    store = await openSqliteStore(join(options.dataDir, SQLITE_FILE));
  }
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
