// Turns a platform-contract handler `(req, ctx) => value` into a Worker `fetch(request)`, the way
// the platform's gateway does: JSON bodies (application/json, application/*+json) parsed, other
// bodies as text, null when empty; the returned value sent as JSON with status 200.
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json\b/i;

export function toFetch(handler) {
  return async (request) => {
    const url = new URL(request.url);
    let body = null;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const text = await request.text();
      if (text.length > 0) body = JSON_TYPE.test(request.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
    }
    const req = { method: request.method, path: '/', query: Object.fromEntries(url.searchParams), headers: Object.fromEntries(request.headers), body };
    const value = await handler(req, {});
    return new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json; charset=utf-8' } });
  };
}
