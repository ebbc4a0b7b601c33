/**
 * The console's client-side routes under the base path `/admin/`: pure parse/format, so links,
 * the browser's back button and reloads all agree. The plugin serves index.html for any of them.
 */

export const BASE = '/admin';

export type FunctionTab = 'code' | 'versions' | 'try' | 'logs' | 'config';
export const FUNCTION_TABS: readonly FunctionTab[] = ['code', 'versions', 'try', 'logs', 'config'];

export type Route =
  | { page: 'apps' }
  | { page: 'app'; app: string; tab: 'functions' | 'settings' }
  | { page: 'new-function'; app: string }
  | { page: 'function'; app: string; fn: string; tab: FunctionTab }
  | { page: 'keys' }
  | { page: 'audit' }
  | { page: 'not-found'; path: string };

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * Parse a pathname (with or without the `/admin` base) into a route.
 * @example parseRoute('/admin/apps/demo/functions/hello/versions') // { page: 'function', app: 'demo', fn: 'hello', tab: 'versions' }
 */
export function parseRoute(pathname: string): Route {
  let rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  rest = rest.replace(/\/+$/, '');
  const parts = rest.split('/').filter((p) => p !== '').map(decode);
  if (parts.some((p) => p === null)) return { page: 'not-found', path: pathname };
  const p = parts as string[];
  if (p.length === 0 || (p.length === 1 && p[0] === 'apps')) return { page: 'apps' };
  if (p.length === 1 && p[0] === 'keys') return { page: 'keys' };
  if (p.length === 1 && p[0] === 'audit') return { page: 'audit' };
  if (p[0] === 'apps' && p[1] !== undefined) {
    const app = p[1];
    if (p.length === 2) return { page: 'app', app, tab: 'functions' };
    if (p.length === 3 && p[2] === 'settings') return { page: 'app', app, tab: 'settings' };
    if (p.length === 3 && p[2] === 'new') return { page: 'new-function', app };
    if (p[2] === 'functions' && p[3] !== undefined && p.length <= 5) {
      const tab = (p[4] ?? 'code') as FunctionTab;
      if (FUNCTION_TABS.includes(tab)) return { page: 'function', app, fn: p[3], tab };
    }
  }
  return { page: 'not-found', path: pathname };
}

/** The pathname of a route (always under `/admin/`). Inverse of `parseRoute`. */
export function hrefOf(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case 'apps': return `${BASE}/`;
    case 'app': return `${BASE}/apps/${e(route.app)}${route.tab === 'settings' ? '/settings' : ''}`;
    case 'new-function': return `${BASE}/apps/${e(route.app)}/new`;
    case 'function': return `${BASE}/apps/${e(route.app)}/functions/${e(route.fn)}${route.tab === 'code' ? '' : `/${route.tab}`}`;
    case 'keys': return `${BASE}/keys`;
    case 'audit': return `${BASE}/audit`;
    case 'not-found': return route.path;
  }
}
