/** React hooks shared by the pages: async loading with cancellation, media queries, the current location. */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

/** State of an async load. `error` is whatever the loader threw (usually an ApiError). */
export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Run the loader again (keeps the old data visible while it runs). */
  reload: () => void;
  /** Replace the data locally (e.g. after a write answered with the new value). */
  setData: (data: T) => void;
}

/**
 * Run `load` now and whenever `deps` change; an older run's result is dropped (its signal aborts)
 * when a newer one starts or the component unmounts.
 */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    loadRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

/**
 * Track a busy flag and the last error of a user action (deploy, rollback, save): the button
 * shows a spinner and is disabled while `run` is pending; the error stays until the next run.
 */
export function useAction(): { busy: boolean; error: unknown; run: <T>(action: () => Promise<T>) => Promise<T | undefined>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const mounted = useRef(true);
  useEffect(() => () => { mounted.current = false; }, []);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await action();
    } catch (err) {
      if (mounted.current) setError(err);
      return undefined;
    } finally {
      if (mounted.current) setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(undefined), []);
  return { busy, error, run, clear };
}

/** True while the media query matches, e.g. `useMediaQuery('(max-width: 720px)')`. */
export function useMediaQuery(query: string): boolean {
  return useSyncExternalStore(
    (notify) => {
      const list = window.matchMedia(query);
      list.addEventListener('change', notify);
      return () => list.removeEventListener('change', notify);
    },
    () => window.matchMedia(query).matches,
    () => false,
  );
}

const locationListeners = new Set<() => void>();
function notifyLocation(): void {
  for (const listener of locationListeners) listener();
}
if (typeof window !== 'undefined') window.addEventListener('popstate', notifyLocation);

/** Push a new pathname (client-side navigation) and re-render subscribers. */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (href === window.location.pathname + window.location.search) return;
  if (options.replace === true) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  window.scrollTo(0, 0);
  notifyLocation();
}

/** The current pathname, updated on navigate() and the back/forward buttons. */
export function usePathname(): string {
  return useSyncExternalStore(
    (notify) => {
      locationListeners.add(notify);
      return () => { locationListeners.delete(notify); };
    },
    () => window.location.pathname,
    () => '/admin/',
  );
}

/** Call `tick` every `intervalMs` while `enabled` and the tab is visible (polling). */
export function useInterval(tick: () => void, intervalMs: number, enabled: boolean): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (!enabled) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') tickRef.current();
    }, intervalMs);
    return () => window.clearInterval(id);
  }, [intervalMs, enabled]);
}
