/**
 * Small HTTP helpers for end-to-end tests against a started platform (see `platform.ts`).
 */
import type { TestPlatform } from './platform.ts';

/** A parsed HTTP answer. `body` is parsed JSON when the response is JSON, else text. */
export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** `{ error: { code, message } }` bodies, typed loosely for assertions. */
export function errorCode(answer: Answer): string | undefined {
  return (answer.body as { error?: { code?: string } } | null)?.error?.code;
}

/**
 * Send a request; JSON bodies are serialised and parsed. Never throws on HTTP errors.
 * @param init.body an object (sent as JSON) or a string (sent as is)
 */
export async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (typeof init.body === 'string') body = init.body;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text.length > 0) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Call the control-plane API with the platform's admin key. */
export function api(p: TestPlatform, path: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> {
  return call(`${p.url}/api${path}`, { ...init, headers: { authorization: `Bearer ${p.apiKey}` } });
}

/** Deploy `code` as `app/fn` (alias prod). @throws Error with the API's answer when the deploy fails. */
export async function deploy(p: TestPlatform, app: string, fn: string, code: string, limits?: Record<string, number>): Promise<string> {
  const answer = await api(p, `/apps/${app}/functions/${fn}/deploy`, { body: { code, message: 'test', ...(limits ? { limits } : {}) } });
  if (answer.status >= 300) throw new Error(`deploy ${app}/${fn} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
  return (answer.body as { version: { id: string } }).version.id;
}

/** Invoke `app/fn` at `path` through the gateway. */
export function invoke(p: TestPlatform, app: string, fn: string, path = '/', init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  return call(`${p.url}/fn/${app}/${fn}${path}`, init);
}
