/**
 * Peer "workerd": Cloudflare's runtime (npm package `workerd`, which ships its binary) serving the
 * shared handlers as one Worker (`workerd/main.js` + `workerd/adapter.js` + `handlers/*.js`).
 * The config is written to a temp directory with the modules copied beside it (capnp `embed`
 * paths are relative to the config file).
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startServer, waitHttp, type ServerProcess } from '../harness/proc.ts';

/** `compatibilityDate` of the Worker when the package does not name its own (newest it supports). */
const FALLBACK_COMPAT_DATE = '2025-09-01';

/** A running workerd peer. */
export interface WorkerdPeer {
  base: string;
  version: string;
  server: ServerProcess;
  stop(): Promise<void>;
}

/** Where the binary is and whether it runs here: `{ ok: true, path, version }` or `{ ok: false, reason }`. */
export function probeWorkerd(): { ok: true; path: string; version: string; compatibilityDate: string } | { ok: false; reason: string } {
  let path: string;
  let compatibilityDate = FALLBACK_COMPAT_DATE;
  try {
    const require = createRequire(import.meta.url);
    const main = require('workerd') as { default?: string; compatibilityDate?: string } | string;
    path = typeof main === 'string' ? main : (main.default ?? '');
    if (typeof main !== 'string' && typeof main.compatibilityDate === 'string') compatibilityDate = main.compatibilityDate;
    if (path === '') throw new Error('the workerd package did not name its binary');
  } catch (err) {
    return { ok: false, reason: `npm package workerd is not installed or has no binary for this platform (${(err as Error).message})` };
  }
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return { ok: false, reason: `${path} --version failed: ${r.error?.message ?? r.stderr.trim()}` };
  return { ok: true, path, version: r.stdout.trim(), compatibilityDate };
}

function config(port: number, compatDate: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .mainWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);

const mainWorker :Workerd.Worker = (
  modules = [
    (name = "main.js", esModule = embed "main.js"),
    (name = "adapter.js", esModule = embed "adapter.js"),
    (name = "hello.js", esModule = embed "hello.js"),
    (name = "json.js", esModule = embed "json.js"),
  ],
  compatibilityDate = "${compatDate}",
  bindings = [
    (name = "LOADER", workerLoader = ()),
    (name = "ADAPTER_SRC", text = embed "adapter.js"),
    (name = "HELLO_SRC", text = embed "hello.js"),
    (name = "COMPAT_DATE", text = "${compatDate}"),
  ],
);
`;
}

/**
 * Start `workerd serve --experimental` (the flag enables the Worker Loader binding used for the
 * cold-start comparison) pinned to `cpus`, and wait until `/hello` answers.
 * @throws Error with workerd's output when it does not start.
 */
export async function startWorkerd(binary: string, version: string, compatDate: string, cpus?: string): Promise<WorkerdPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'faas-bench-workerd-'));
  const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  await copyFile(here('./workerd/main.js'), join(dir, 'main.js'));
  await copyFile(here('./workerd/adapter.js'), join(dir, 'adapter.js'));
  await copyFile(here('./handlers/hello.js'), join(dir, 'hello.js'));
  await copyFile(here('./handlers/json.js'), join(dir, 'json.js'));
  const port = await freePort();
  await writeFile(join(dir, 'config.capnp'), config(port, compatDate));
  const server = startServer({ name: 'workerd', command: binary, args: ['serve', '--experimental', join(dir, 'config.capnp')], cpus, cwd: dir });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(server, `${base}/hello`, 30_000);
  } catch (err) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    base,
    version,
    server,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
