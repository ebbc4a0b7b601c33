/**
 * The signed-in session: the API key (kept in sessionStorage, so it is gone when the tab closes),
 * the key's actor from `GET /api/whoami` (null when that endpoint is missing — then the role is
 * unknown and the server's 403s decide), and the API client bound to it.
 */
import { createContext, useContext } from 'react';
import { AdminApi, isRouteMissing } from './api.ts';
import type { Actor } from './types.ts';

const STORAGE_KEY = 'faas.console.apiKey';

export interface Session {
  api: AdminApi;
  /** Null when the server has no `/api/whoami` (role unknown). */
  actor: Actor | null;
  signOut: (reason?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

/** The current session; only called below the signed-in shell. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession: no session (rendered outside the signed-in shell)');
  return session;
}

export function storedKey(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key === null) window.sessionStorage.removeItem(STORAGE_KEY);
    else window.sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Storage disabled: the key lives only in memory for this page.
  }
}

/**
 * Learn who a key belongs to: `GET /api/whoami`, or — on a server without it — `GET /api/apps`
 * just to prove the key works (actor null).
 * @throws ApiError from the server (401 E_UNAUTHORIZED for a bad key) or the transport
 */
export async function identify(api: AdminApi): Promise<Actor | null> {
  try {
    return await api.whoami();
  } catch (error) {
    if (!isRouteMissing(error)) throw error;
  }
  await api.listApps();
  return null;
}

/** Whether the actor may change things in `app` (unknown role → let the server decide). */
export function canWrite(actor: Actor | null, app: string): boolean {
  if (actor === null || actor.role === 'admin') return true;
  if (actor.role === 'viewer') return false;
  return actor.apps === '*' || actor.apps.includes(app);
}

/** Whether admin-only pages are offered (unknown role → offered; the server answers 403 otherwise). */
export function isAdmin(actor: Actor | null): boolean {
  return actor === null || actor.role === 'admin';
}
