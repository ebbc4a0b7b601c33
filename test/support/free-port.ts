import { createServer } from 'node:net';

/**
 * A loopback TCP port that was free a moment ago: the OS picks it, we close the listener and the
 * caller reuses the number (a tiny race with other processes is accepted in tests).
 * @throws the listen error when no port can be bound
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
