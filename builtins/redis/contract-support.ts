/**
 * What the `ctx.redis` contract suites (`redis.test.ts`, `redis-batch-scan.test.ts`) share: the two
 * backends every contract runs against, and fresh app names. Test-only code.
 */
import { startRedis } from '../../test/support/redis-server.ts';
import { createEmbeddedBackend, createIoredisBackend, type RedisBackend } from './backend.ts';

/** A backend under test, plus a second connection to the same data (for concurrent readers). */
export interface ContractTarget {
  /** The backend the contract drives. */
  readonly backend: RedisBackend;
  /** Another backend on the same data: a second ioredis connection, or the same embedded store. */
  readonly reader: RedisBackend;
  /** Close both (and stop the throwaway server). */
  close(): Promise<void>;
}

/** The backends every contract runs against: a throwaway redis-server and the embedded store. */
export const CONTRACT_TARGETS: ReadonlyArray<readonly [name: string, make: () => Promise<ContractTarget>]> = [
  ['a real redis-server', async () => {
    const server = await startRedis();
    const backend = createIoredisBackend(server.url);
    const reader = createIoredisBackend(server.url);
    return {
      backend,
      reader,
      async close() {
        await backend.close();
        await reader.close();
        await server.stop();
      },
    };
  }],
  ['the embedded store', async () => {
    const backend = createEmbeddedBackend();
    return { backend, reader: backend, close: () => backend.close() };
  }],
];

let appCounter = 0;

/** A fresh app name, so tests sharing one server never see each other's keys. */
export function newApp(label = 'app'): string {
  appCounter += 1;
  return `${label}${appCounter}-${process.pid}`;
}
