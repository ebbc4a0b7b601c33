/**
 * Serve the admin console's production build (`admin-ui/dist`, made by
 * `vite build --config admin-ui/vite.config.ts`) under `/admin/` with @fastify/static.
 *
 * Register on the platform's fastify instance before it listens: `app.register(adminUi)`.
 *
 * - `GET /admin` redirects to `/admin/`; `/admin/` and every client route (`/admin/apps/demo/…`,
 *   any path whose last segment has no file extension) answer `index.html` (SPA fallback), so
 *   reloads and shared links work.
 * - `/admin/assets/*` are content-hashed by Vite: cached for a year, `immutable`. `index.html` is
 *   `no-cache`, so a new build is picked up at once.
 * - A missing file with an extension (`/admin/assets/old.js`) is a plain 404, never index.html
 *   (a stale bundle must fail loudly, not parse HTML as JavaScript).
 * - When the build is missing, every `/admin` request answers 503 with a page that tells the
 *   operator which command to run. The build is looked up per request, so building while the
 *   server runs is enough (no restart).
 * - Console pages carry a Content-Security-Policy (scripts only from this origin, no framing),
 *   `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`: the page holds an API key.
 */
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Options of `adminUi`. */
export interface AdminUiOptions {
  /** Directory of the Vite build (must hold index.html). @default <repo>/admin-ui/dist */
  distDir?: string;
}

/** The build command, as shown on the 503 page (run from the repository root). */
export const BUILD_COMMAND = 'npm run build:admin   (or: node --no-node-snapshot ./node_modules/vite/bin/vite.js build --config admin-ui/vite.config.ts)';

/** Default build directory: `admin-ui/dist` beside this file. */
export const DEFAULT_DIST_DIR = resolve(import.meta.dirname, 'dist');

const PREFIX = '/admin';
// CodeMirror injects its styles at run time (style elements), hence 'unsafe-inline' for styles only.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
const ASSET_CACHE = 'public, max-age=31536000, immutable';

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function missingBuildPage(distDir: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Admin console not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:680px;margin:10vh auto;padding:0 16px;color:#1d2330}code,pre{font-family:ui-monospace,Menlo,monospace;background:#f1f3f7;border-radius:6px}pre{padding:12px;white-space:pre-wrap}</style>
</head><body>
<h1>The admin console is not built yet</h1>
<p>The platform is running, but <code>${escapeHtml(distDir)}</code> has no <code>index.html</code>. Build the console from the repository root:</p>
<pre>${escapeHtml(BUILD_COMMAND)}</pre>
<p>Then reload this page; no restart is needed. The REST API under <code>/api</code> and functions under <code>/fn</code> work meanwhile.</p>
</body></html>
`;
}

/**
 * The fastify plugin. Routes live under `/admin` in their own encapsulated scope (their 404
 * handler does not touch the rest of the server).
 * @param fastify the platform's instance (register before `listen`)
 * @param opts see `AdminUiOptions`
 * @throws TypeError when `distDir` is given but is not a string
 */
export async function adminUi(fastify: FastifyInstance, opts: AdminUiOptions = {}): Promise<void> {
  if (opts.distDir !== undefined && typeof opts.distDir !== 'string') throw new TypeError('adminUi: distDir must be a path string');
  const distDir = resolve(opts.distDir ?? DEFAULT_DIST_DIR);
  const indexFile = join(distDir, 'index.html');
  const assetsDir = join(distDir, 'assets') + sep;

  await fastify.register(async (scope) => {
    const sendIndex = (reply: FastifyReply) => {
      if (!existsSync(indexFile)) {
        return reply.code(503).header('cache-control', 'no-store').header('retry-after', '60').type('text/html; charset=utf-8').send(missingBuildPage(distDir));
      }
      return securityHeaders(reply).header('cache-control', 'no-cache').sendFile('index.html', distDir, { cacheControl: false });
    };

    await scope.register(fastifyStatic, {
      root: distDir,
      prefix: '/',
      // index.html is sent by sendIndex (with its headers), never by the static handler.
      index: false,
      dotfiles: 'ignore',
      cacheControl: false,
      suppressWarning: true,
      setHeaders: (reply, filePath) => {
        reply.header('cache-control', filePath.startsWith(assetsDir) ? ASSET_CACHE : 'no-cache');
        reply.header('x-content-type-options', 'nosniff');
      },
    });

    scope.get('', { prefixTrailingSlash: 'no-slash' }, (_request, reply) => reply.redirect(`${PREFIX}/`, 302));
    scope.get('/', { prefixTrailingSlash: 'slash' }, (_request, reply) => sendIndex(reply));
    scope.get('/index.html', (_request, reply) => sendIndex(reply));

    scope.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      const path = (request.url.split('?')[0] ?? '').slice(PREFIX.length);
      const last = path.slice(path.lastIndexOf('/') + 1);
      const isClientRoute = (request.method === 'GET' || request.method === 'HEAD') && !last.includes('.') && !path.startsWith('/assets/');
      if (isClientRoute) return sendIndex(reply);
      if (!existsSync(indexFile)) return sendIndex(reply);
      return reply.code(404).type('text/plain; charset=utf-8').send(`Not found: ${request.method} ${request.url.split('?')[0]}\n`);
    });
  }, { prefix: PREFIX });
}

export default adminUi;
