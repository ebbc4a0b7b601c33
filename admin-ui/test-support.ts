/**
 * Helpers for the admin console's tests: build the SPA when needed, put the console on a running
 * test platform's own origin, launch headless Chromium, probe which API endpoints exist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import type { RunningPlatform } from '../control-plane/server.ts';
import { adminUi, DEFAULT_DIST_DIR } from './plugin.ts';

const ADMIN_DIR = import.meta.dirname;
const REPO_DIR = resolve(ADMIN_DIR, '..');

/** Newest modification time (ms) of the console's sources. */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else if (!path.endsWith('.test.ts')) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const path of ['src', 'index.html', 'vite.config.ts']) visit(join(ADMIN_DIR, path));
  return newest;
}

/**
 * Build `admin-ui/dist` with Vite when it is missing or older than the sources (the same command as
 * the `build:admin` script, run with this Node).
 * @returns whether a build ran
 * @throws Error with Vite's output when the build fails
 */
export function ensureBuilt(distDir = DEFAULT_DIST_DIR): boolean {
  const index = join(distDir, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestSource()) return false;
  const result = spawnSync(process.execPath, ['--no-node-snapshot', join(REPO_DIR, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(ADMIN_DIR, 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: REPO_DIR,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (result.status !== 0) throw new Error(`vite build failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  return true;
}

/**
 * Serve the console on the platform's own origin, so the SPA reaches `/api` and `/fn` exactly as
 * in production. `startPlatform` listens before a test can register plugins on its fastify
 * instance, so the platform's HTTP server gets a front dispatcher: `/admin` requests go to a
 * separate fastify instance with `adminUi` registered, everything else to the platform as before.
 * When the platform already serves the console itself (the server registered `adminUi`), nothing
 * is changed.
 * @returns a function that restores the server's original request handling
 */
export async function serveAdminOn(platform: RunningPlatform, distDir = DEFAULT_DIST_DIR): Promise<() => Promise<void>> {
  const probe = await fetch(`${platform.url}/admin/`);
  const text = await probe.text();
  if (probe.ok && text.includes('<div id="root">')) return async () => {};

  const ui: FastifyInstance = Fastify({ logger: false });
  await ui.register(adminUi, { distDir });
  await ui.ready();
  const server = platform.app.server;
  const original = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?')) ui.routing(req, res);
    else for (const listener of original) listener.call(server, req, res);
  };
  server.removeAllListeners('request');
  server.on('request', dispatch);
  return async () => {
    server.removeListener('request', dispatch);
    for (const listener of original) server.on('request', listener);
    await ui.close();
  };
}

/** Chromium flags for CI containers (no sandbox, no GPU, no background traffic). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launch Debian's Chromium headless through playwright-core. @throws when /usr/bin/chromium is missing */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}: install Debian's chromium package or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

/**
 * Whether the platform has an API route: anything but 404 `E_ROUTE_NOT_FOUND` counts as present
 * (a 404 for missing data, a 400 for a bad body, a 403 all mean the route exists).
 */
export async function hasRoute(baseUrl: string, apiKey: string, method: string, path: string, body?: unknown): Promise<boolean> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = await res.json().catch(() => null) as { error?: { code?: string } } | null;
  return !(res.status === 404 && parsed?.error?.code === 'E_ROUTE_NOT_FOUND');
}
