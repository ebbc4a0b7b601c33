/**
 * Run one control-plane contract suite over both stores: SQLite in a temporary directory and a
 * throwaway MariaDB server (a fresh database per suite), each in its own `describe`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { openStore } from '../../control-plane/store/open.ts';
import type { Store } from '../../control-plane/store/store.ts';
import { createTestDatabase, startMariaDb, type TestMariaDb } from './mariadb.ts';

/** Opens a migrated store for a suite; `cleanup` removes what it created (the caller closes the store). */
export type OpenTestStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/**
 * `describe(`${title} over SQLite`)` and `describe(`${title} over MariaDB`)`, each calling `suite`
 * with a way to open its store.
 * @throws (in the MariaDB suite's hook) when mariadbd cannot start
 */
export function describeOverStores(title: string, suite: (open: OpenTestStore) => void): void {
  describe(`${title} over SQLite`, () => {
    suite(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'faas-store-'));
      const store = await openStore({ dataDir: join(dir, 'data') });
      return { store, cleanup: () => rm(dir, { recursive: true, force: true }) };
    });
  });
  describe(`${title} over MariaDB`, () => {
    let server: TestMariaDb;
    before(async () => {
      server = await startMariaDb();
    });
    after(async () => {
      await server?.stop();
    });
    suite(async () => {
      const store = await openStore({ dataDir: '/nonexistent-unused', mysqlUrl: await createTestDatabase(server) });
      return { store, async cleanup() {} };
    });
  });
}
