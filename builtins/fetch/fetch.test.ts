/**
 * `ctx.fetch` host side against real HTTP(S) servers on 127.0.0.1. Positive cases reach the
 * loopback servers through injected DNS answers (`resolve`) and the test-only `allowAddresses`
 * escape hatch; refusal cases use the default address policy, often pointed at a live server, so
 * a refusal that failed to happen would show as a request the server saw.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BuiltinCall } from '../../runtime/sandbox/interface.ts';
import { BUILTIN_ERRORS } from '../errors.ts';
import { freePort } from '../../test/support/free-port.ts';
import { createFetchHost, type FetchHost, type FetchHostOptions } from './host.ts';
import { checkAllowlistEntry, classifyAddress, isBlockedHostname, matchAllowlist, parseAllowAddresses } from './policy.ts';
import { rejectsWith } from '../../test/support/assert-platform-error.ts';

let requestCounter = 0;
/** A fresh invocation: its BuiltinCall and `end()` to abort its signal as the sandbox does. */
function invocation(deadlineInMs = 30_000): { call: BuiltinCall; end: () => void } {
  const controller = new AbortController();
  return {
    call: { app: 'game1', function: 'shop', versionId: 'v1', requestId: `req-${++requestCounter}`, deadline: Date.now() + deadlineInMs, signal: controller.signal },
    end: () => controller.abort(),
  };
}

/** What a test server saw. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback HTTP server with the routes the tests use; `seen` records every request. */
class TestServer {
  readonly seen: Seen[] = [];
  /** Set when a held request (`/slow`, `/stream`) had its connection closed by the client. */
  closedEarly = 0;
  server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once the server has seen `n` requests in total. */
  async waitForRequests(n: number): Promise<void> {
    for (let i = 0; i < 200 && this.seen.length < n; i++) await sleep(10);
    assert.ok(this.seen.length >= n, `the server saw ${this.seen.length} requests, expected ${n}`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const json = (status: number, value: unknown, headers: Record<string, string | string[]> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
      };
      switch (url.pathname) {
        case '/json': return json(200, { hello: 'world', n: 42 }, { 'x-trace': 'abc', 'set-cookie': ['a=1', 'b=2'] });
        case '/echo': return json(200, { method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        case '/redirect': {
          res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/json' }).end('moved');
          return;
        }
        case '/loop': res.writeHead(302, { location: '/loop' }).end(); return;
        case '/bin': res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from(Array.from({ length: 256 }, (_, i) => i))); return;
        case '/latin1': res.writeHead(200, { 'content-type': 'text/plain' }).end(Buffer.from([0x63, 0x61, 0x66, 0xe9])); return;
        case '/big': res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(Number(url.searchParams.get('n')))); return;
        case '/stream': {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const chunk = Buffer.alloc(16 * 1024, 1);
          const timer = setInterval(() => res.write(chunk), 1);
          res.on('close', () => {
            clearInterval(timer);
            this.closedEarly++;
          });
          return;
        }
        case '/slow': {
          const timer = setTimeout(() => json(200, { late: true }), 20_000);
          res.on('close', () => {
            clearTimeout(timer);
            if (!res.writableEnded) this.closedEarly++;
          });
          return;
        }
        default: json(404, { error: 'no route' });
      }
    });
  }
}

describe('ctx.fetch host (loopback servers)', () => {
  let a: TestServer;
  let b: TestServer;
  let closedPort: number;
  let host: FetchHost;
  const allowlist = ['api.test', 'other.test', '*.wild.test', 'internal.test', 'loop.test', 'metadata.google.internal', '127.0.0.1'];
  const dns: Record<string, string[]> = {
    'api.test': ['127.0.0.1'],
    'other.test': ['127.0.0.1'],
    'x.y.wild.test': ['127.0.0.1'],
    'internal.test': ['127.0.0.1'],
    'loop.test': ['127.0.0.1'],
  };
  const resolve = async (name: string): Promise<string[]> => {
    const answer = dns[name];
    if (answer === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return answer;
  };
  /** A host with the given options over the shared allowlist and DNS. */
  const makeHost = (options: FetchHostOptions = {}, list: string[] = allowlist): FetchHost => createFetchHost({ allowlistFor: async () => list, options: { resolve, ...options } });
  const fetchWith = (h: FetchHost, url: string, init?: unknown, call = invocation().call): Promise<unknown> => h.execute(call, 'fetch', init === undefined ? [url] : [url, init]);

  before(async () => {
    a = await new TestServer().start();
    b = await new TestServer().start();
    closedPort = await freePort();
    host = makeHost({ allowAddresses: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`, `127.0.0.1:${closedPort}`] });
  });
  after(async () => {
    await host.close();
    await a.stop();
    await b.stop();
  });

  describe('requests that go through', () => {
    it('a GET returns status, lower-case headers, the JSON text, the final URL and redirected: false', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/json?q=1#frag`) as Record<string, unknown>;
      assert.equal(reply.status, 200);
      assert.equal(reply.statusText, 'OK');
      assert.equal(reply.bodyEncoding, 'text');
      assert.deepEqual(JSON.parse(reply.body as string), { hello: 'world', n: 42 });
      const headers = reply.headers as Record<string, string>;
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(headers['x-trace'], 'abc');
      assert.equal(headers['set-cookie'], 'a=1, b=2', 'repeated headers are joined as Headers.get does');
      assert.equal(reply.url, `http://api.test:${a.port}/json?q=1`, 'the fragment is never part of the URL');
      assert.equal(reply.redirected, false);
      const seen = a.seen.at(-1);
      assert.equal(seen?.headers.host, `api.test:${a.port}`, 'the Host header names the host, not the pinned address');
      assert.equal(seen?.headers['user-agent'], 'faas-platform-fetch/1');
      assert.equal(seen?.url, '/json?q=1');
    });

    it('a POST with an object body sends it as JSON with content-type application/json', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/echo`, { method: 'post', body: { item: 'sword', qty: 2 }, headers: { 'X-Api-Key': 'k1' } }) as { body: string };
      const echoed = JSON.parse(reply.body) as { method: string; headers: Record<string, string>; body: string };
      assert.equal(echoed.method, 'POST');
      assert.deepEqual(JSON.parse(echoed.body), { item: 'sword', qty: 2 });
      assert.equal(echoed.headers['content-type'], 'application/json');
      assert.equal(echoed.headers['x-api-key'], 'k1');
    });

    it('a string body is sent as is, with the caller\'s content-type', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/echo`, { method: 'PUT', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } }) as { body: string };
      const echoed = JSON.parse(reply.body) as { method: string; headers: Record<string, string>; body: string };
      assert.equal(echoed.method, 'PUT');
      assert.equal(echoed.body, 'a=1&b=2');
      assert.equal(echoed.headers['content-type'], 'application/x-www-form-urlencoded');
    });

    it('PATCH, DELETE and HEAD are sent; HEAD answers an empty body', async () => {
      for (const method of ['PATCH', 'DELETE']) {
        const reply = await fetchWith(host, `http://api.test:${a.port}/echo`, { method }) as { body: string };
        assert.equal((JSON.parse(reply.body) as { method: string }).method, method);
      }
      const head = await fetchWith(host, `http://api.test:${a.port}/json`, { method: 'HEAD' }) as { status: number; body: string };
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
    });

    it('a wildcard entry lets a name several labels below it through', async () => {
      const reply = await fetchWith(host, `http://x.y.wild.test:${a.port}/json`) as { status: number };
      assert.equal(reply.status, 200);
    });

    it('a redirect to another allowed host is followed: final URL, redirected: true, authorization dropped', async () => {
      const to = `http://other.test:${b.port}/echo`;
      const before = b.seen.length;
      const reply = await fetchWith(host, `http://api.test:${a.port}/redirect?to=${encodeURIComponent(to)}`, { headers: { authorization: 'Bearer secret', 'x-keep': '1' } }) as { status: number; url: string; redirected: boolean; body: string };
      assert.equal(reply.status, 200);
      assert.equal(reply.url, to);
      assert.equal(reply.redirected, true);
      assert.equal(b.seen.length, before + 1);
      const echoed = JSON.parse(reply.body) as { headers: Record<string, string> };
      assert.equal(echoed.headers.authorization, undefined, 'credentials never follow a redirect to another origin');
      assert.equal(echoed.headers['x-keep'], '1');
    });

    it('a 303 after a POST is followed with a GET and no body', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/redirect?status=303&to=/echo`, { method: 'POST', body: { x: 1 } }) as { body: string; redirected: boolean };
      const echoed = JSON.parse(reply.body) as { method: string; body: string; headers: Record<string, string> };
      assert.equal(echoed.method, 'GET');
      assert.equal(echoed.body, '');
      assert.equal(echoed.headers['content-type'], undefined);
      assert.equal(reply.redirected, true);
    });

    it('redirect: "manual" returns the 3xx answer with its location', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/redirect?to=/json`, { redirect: 'manual' }) as { status: number; headers: Record<string, string>; redirected: boolean };
      assert.equal(reply.status, 302);
      assert.equal(reply.headers.location, '/json');
      assert.equal(reply.redirected, false);
    });

    it('a binary body comes back as base64 of the exact bytes', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/bin`) as { body: string; bodyEncoding: string; headers: Record<string, string> };
      assert.equal(reply.bodyEncoding, 'base64');
      assert.equal(reply.headers['content-type'], 'image/png');
      assert.deepEqual([...Buffer.from(reply.body, 'base64')], Array.from({ length: 256 }, (_, i) => i));
    });

    it('text that is not valid UTF-8 comes back as base64 rather than mangled', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/latin1`) as { body: string; bodyEncoding: string };
      assert.equal(reply.bodyEncoding, 'base64');
      assert.deepEqual([...Buffer.from(reply.body, 'base64')], [0x63, 0x61, 0x66, 0xe9]);
    });

    it('an IP-literal URL goes through when that exact address is listed (and exempted here as a test server)', async () => {
      const reply = await fetchWith(host, `http://127.0.0.1:${a.port}/json`) as { status: number };
      assert.equal(reply.status, 200);
    });

    it('an error status is an answer, not an error', async () => {
      const reply = await fetchWith(host, `http://api.test:${a.port}/nothing`) as { status: number; body: string };
      assert.equal(reply.status, 404);
      assert.deepEqual(JSON.parse(reply.body), { error: 'no route' });
    });
  });

  describe('destinations that are refused', () => {
    it('a host that is not on the allowlist is refused with how to add it, and nothing is sent', async () => {
      const before = a.seen.length;
      dns['evil.test'] = ['127.0.0.1'];
      const details = await rejectsWith(fetchWith(host, `http://evil.test:${a.port}/json`), 'E_FETCH_REFUSED', /evil\.test is not on the fetch allowlist of app "game1"; add "evil\.test"/);
      assert.equal(details.host, 'evil.test');
      assert.equal(a.seen.length, before);
    });

    it('a wildcard does not match its own apex', async () => {
      await rejectsWith(fetchWith(host, `http://wild.test:${a.port}/json`), 'E_FETCH_REFUSED', /not on the fetch allowlist/);
    });

    // The default policy (no allowAddresses), with names the allowlist lets through.
    const policyCases: Array<[string, string, RegExp, string]> = [
      ['127.0.0.1', 'loop.test', /loopback/, 'loopback'],
      ['10.1.2.3', 'ten.test', /private address \(RFC 1918/, 'private'],
      ['192.168.1.10', 'home.test', /private address/, 'private'],
      ['172.16.5.4', 'corp.test', /private address/, 'private'],
      ['169.254.169.254', 'meta.test', /link-local.*169\.254\.169\.254/, 'linkLocal'],
      ['::1', 'v6loop.test', /loopback/, 'loopback'],
      ['::ffff:127.0.0.1', 'mapped.test', /resolves to 127\.0\.0\.1, which is a loopback/, 'loopback'],
      ['::ffff:10.0.0.1', 'mapped10.test', /resolves to 10\.0\.0\.1, which is a private/, 'private'],
      ['100.64.0.1', 'cgnat.test', /carrier-grade NAT/, 'carrierGradeNat'],
      ['fd12:3456::1', 'ula.test', /unique local/, 'uniqueLocal'],
      ['fe80::1', 'll6.test', /link-local/, 'linkLocal'],
      ['0.0.0.0', 'zero.test', /unspecified/, 'unspecified'],
      ['224.0.0.1', 'mcast.test', /multicast/, 'multicast'],
      ['240.0.0.1', 'res.test', /reserved/, 'reserved'],
      ['::7f00:1', 'compat.test', /IPv4-compatible/, 'ipv4Compatible'],
      ['64:ff9b::a00:1', 'nat64.test', /NAT64/, 'rfc6052'],
    ];
    for (const [address, name, message, range] of policyCases) {
      it(`an allowlisted name resolving to ${address} is refused (${range})`, async () => {
        const strict = createFetchHost({ allowlistFor: async () => [name], options: { resolve: async () => [address] } });
        const before = a.seen.length;
        const details = await rejectsWith(fetchWith(strict, `http://${name}:${a.port}/json`), 'E_FETCH_REFUSED', message);
        assert.equal(details.range, range);
        assert.equal(details.host, name);
        assert.equal(a.seen.length, before, 'nothing reached the live loopback server');
        await strict.close();
      });
    }

    it('a name with one public and one loopback address is refused (every address is vetted)', async () => {
      const strict = createFetchHost({ allowlistFor: async () => ['mixed.test'], options: { resolve: async () => ['93.184.216.34', '127.0.0.1'] } });
      await rejectsWith(fetchWith(strict, `http://mixed.test:${a.port}/json`), 'E_FETCH_REFUSED', /mixed\.test resolves to 127\.0\.0\.1, which is a loopback/);
      await strict.close();
    });

    it('the exemption is per address and port: the same loopback address on another port is refused', async () => {
      let port = await freePort();
      while ([a.port, b.port, closedPort].includes(port)) port = await freePort();
      await rejectsWith(fetchWith(host, `http://internal.test:${port}/json`), 'E_FETCH_REFUSED', /internal\.test resolves to 127\.0\.0\.1, which is a loopback/);
    });

    it('a redirect to a URL with credentials fails and is not followed', async () => {
      const before = b.seen.length;
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/redirect?to=${encodeURIComponent(`http://u:p@other.test:${b.port}/json`)}`), 'E_FETCH_FAILED', /redirect location .* must not carry a user name or password/);
      assert.equal(b.seen.length, before);
    });

    it('a redirect to a file: URL is refused', async () => {
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`), 'E_FETCH_REFUSED', /scheme "file:" is refused/);
    });

    it('cloud metadata names are refused even when allowlisted', async () => {
      dns['metadata.google.internal'] = ['169.254.169.254'];
      await rejectsWith(fetchWith(host, 'http://metadata.google.internal/computeMetadata/v1/'), 'E_FETCH_REFUSED', /metadata and localhost names are never reachable/);
      assert.ok(isBlockedHostname('METADATA.google.internal.'));
      assert.ok(isBlockedHostname('app.localhost'));
    });

    it('a redirect from an allowed host to a loopback IP literal is refused, and the target is never contacted', async () => {
      const before = b.seen.length;
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/redirect?to=${encodeURIComponent(`http://127.0.0.2:${b.port}/json`)}`), 'E_FETCH_REFUSED', /127\.0\.0\.2 is not on the fetch allowlist/);
      assert.equal(b.seen.length, before);
    });

    it('a redirect from an allowed host to a host off the allowlist is refused', async () => {
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/redirect?to=${encodeURIComponent(`http://evil2.test:${b.port}/json`)}`), 'E_FETCH_REFUSED', /evil2\.test is not on the fetch allowlist/);
    });

    it('a redirect to an allowlisted name that resolves to a refused address is refused (each hop is re-checked)', async () => {
      const strict = createFetchHost({ allowlistFor: async () => ['api.test', 'internal.test'], options: { resolve: async (name) => (name === 'internal.test' ? ['10.0.0.7'] : ['127.0.0.1']), allowAddresses: [`127.0.0.1:${a.port}`] } });
      await rejectsWith(fetchWith(strict, `http://api.test:${a.port}/redirect?to=${encodeURIComponent(`http://internal.test:${a.port}/json`)}`), 'E_FETCH_REFUSED', /internal\.test resolves to 10\.0\.0\.7, which is a private address/);
      await strict.close();
    });

    it('an IP-literal URL that is not listed is refused', async () => {
      await rejectsWith(fetchWith(host, `http://[::1]:${a.port}/json`), 'E_FETCH_REFUSED', /\[::1\] is not on the fetch allowlist.*IP-literal URLs must be listed/);
      await rejectsWith(fetchWith(host, `http://2130706434:${a.port}/json`), 'E_FETCH_REFUSED', /127\.0\.0\.2 is not on the fetch allowlist/);
    });

    it('a listed IP literal in a refused range is still refused by the default policy', async () => {
      const strict = createFetchHost({ allowlistFor: async () => ['127.0.0.1'] });
      await rejectsWith(fetchWith(strict, `http://127.0.0.1:${a.port}/json`), 'E_FETCH_REFUSED', /127\.0\.0\.1 is a loopback address/);
      await strict.close();
    });

    for (const url of ['file:///etc/passwd', 'ftp://api.test/file', 'data:text/plain,hi', 'ws://api.test/']) {
      it(`the ${new URL(url).protocol} scheme is refused`, async () => {
        const details = await rejectsWith(fetchWith(host, url), 'E_FETCH_REFUSED', /only http: and https: URLs/);
        assert.equal(details.scheme, new URL(url).protocol);
      });
    }

    it('a URL with credentials is refused with where to put them instead', async () => {
      await rejectsWith(fetchWith(host, `http://user:pass@api.test:${a.port}/json`), 'E_FETCH_BAD_ARGUMENTS', /must not carry a user name or password.*header/);
    });

    it('https to an allowlisted name resolving to loopback is refused before any TLS', async () => {
      const strict = createFetchHost({ allowlistFor: async () => ['loop.test'], options: { resolve: async () => ['127.0.0.1'] } });
      await rejectsWith(fetchWith(strict, `https://loop.test:${a.port}/json`), 'E_FETCH_REFUSED', /loopback/);
      await strict.close();
    });
  });

  describe('limits', () => {
    it('a response over the cap (declared length) is refused with E_FETCH_TOO_LARGE', async () => {
      const small = makeHost({ maxResponseBytes: 1024, allowAddresses: [`127.0.0.1:${a.port}`] });
      const details = await rejectsWith(fetchWith(small, `http://api.test:${a.port}/big?n=4096`), 'E_FETCH_TOO_LARGE', /larger than 1024 bytes; it was not read further/);
      assert.equal(details.limitBytes, 1024);
      assert.equal(details.part, 'response body');
      const ok = await fetchWith(small, `http://api.test:${a.port}/big?n=1024`) as { body: string };
      assert.equal(ok.body.length, 1024, 'exactly the cap is allowed');
      await small.close();
    });

    it('an endless streamed response stops at the cap and the connection is closed', async () => {
      const small = makeHost({ maxResponseBytes: 100_000, allowAddresses: [`127.0.0.1:${a.port}`] });
      const closedBefore = a.closedEarly;
      await rejectsWith(fetchWith(small, `http://api.test:${a.port}/stream`), 'E_FETCH_TOO_LARGE', /larger than 100000 bytes/);
      for (let i = 0; i < 100 && a.closedEarly === closedBefore; i++) await sleep(10);
      assert.equal(a.closedEarly, closedBefore + 1, 'the server saw its response abandoned');
      await small.close();
    });

    it('a request body over the cap is refused before anything is sent', async () => {
      const small = makeHost({ maxRequestBytes: 10, allowAddresses: [`127.0.0.1:${a.port}`] });
      const before = a.seen.length;
      await rejectsWith(fetchWith(small, `http://api.test:${a.port}/echo`, { method: 'POST', body: 'é'.repeat(6) }), 'E_FETCH_TOO_LARGE', /request body is 12 bytes; at most 10/);
      assert.equal(a.seen.length, before);
      await small.close();
    });

    it('a slow server times out with E_FETCH_TIMEOUT and the request is abandoned', async () => {
      const quick = makeHost({ timeoutMs: 200, allowAddresses: [`127.0.0.1:${a.port}`] });
      const closedBefore = a.closedEarly;
      const details = await rejectsWith(fetchWith(quick, `http://api.test:${a.port}/slow`), 'E_FETCH_TIMEOUT', /no complete answer within 200 ms/);
      assert.equal(details.timeoutMs, 200);
      for (let i = 0; i < 100 && a.closedEarly === closedBefore; i++) await sleep(10);
      assert.equal(a.closedEarly, closedBefore + 1);
      await quick.close();
    });

    it('the timeout is capped by the invocation deadline', async () => {
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/slow`, undefined, invocation(150).call), 'E_FETCH_TIMEOUT', /within 1\d\d ms \(the time left before the invocation deadline\)/);
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/json`, undefined, invocation(-1).call), 'E_FETCH_TIMEOUT', /within 0 ms/);
    });

    it('the 21st request of one invocation is refused with E_FETCH_LIMIT; another invocation is not affected', async () => {
      const { call, end } = invocation();
      for (let i = 0; i < 20; i++) assert.equal((await fetchWith(host, `http://api.test:${a.port}/json`, undefined, call) as { status: number }).status, 200);
      const details = await rejectsWith(fetchWith(host, `http://api.test:${a.port}/json`, undefined, call), 'E_FETCH_LIMIT', /already made 20 requests; at most 20/);
      assert.equal(details.limit, 20);
      assert.equal((await fetchWith(host, `http://api.test:${a.port}/json`) as { status: number }).status, 200);
      const tracked = host.trackedInvocations;
      end();
      assert.equal(host.trackedInvocations, tracked - 1, 'the counter is dropped when the invocation ends');
    });

    it('redirect hops do not count against the per-invocation limit', async () => {
      const few = makeHost({ maxRequestsPerInvocation: 1, allowAddresses: [`127.0.0.1:${a.port}`] });
      const reply = await fetchWith(few, `http://api.test:${a.port}/redirect?to=${encodeURIComponent('/redirect?to=/json')}`) as { status: number; redirected: boolean };
      assert.equal(reply.status, 200);
      await few.close();
    });

    it('more than 5 redirects fail with E_FETCH_FAILED', async () => {
      const before = a.seen.length;
      const details = await rejectsWith(fetchWith(host, `http://api.test:${a.port}/loop`), 'E_FETCH_FAILED', /more than 5 redirects/);
      assert.equal(details.cause, 'too-many-redirects');
      assert.equal(a.seen.length, before + 6);
    });

    it('redirect: "error" fails on a redirect', async () => {
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/redirect?to=/json`, { redirect: 'error' }), 'E_FETCH_FAILED', /init\.redirect is "error"/);
    });

    it('ending the invocation stops an in-flight request (E_CTX_REVOKED) and closes its connection', async () => {
      const { call, end } = invocation();
      const seenBefore = a.seen.length;
      const closedBefore = a.closedEarly;
      const pending = fetchWith(host, `http://api.test:${a.port}/slow`, undefined, call);
      await a.waitForRequests(seenBefore + 1);
      end();
      await rejectsWith(pending, 'E_CTX_REVOKED', /invocation ended while GET http:\/\/api\.test:\d+\/slow was in flight/);
      for (let i = 0; i < 100 && a.closedEarly === closedBefore; i++) await sleep(10);
      assert.equal(a.closedEarly, closedBefore + 1);
    });

    it('a call after the invocation ended does nothing', async () => {
      const { call, end } = invocation();
      end();
      const before = a.seen.length;
      await rejectsWith(fetchWith(host, `http://api.test:${a.port}/json`, undefined, call), 'E_CTX_REVOKED', /before ctx\.fetch was called/);
      assert.equal(a.seen.length, before);
      assert.equal(host.trackedInvocations >= 0, true);
    });
  });

  describe('network failures', () => {
    it('a refused connection is E_FETCH_FAILED naming the cause', async () => {
      dns['down.test'] = ['127.0.0.1'];
      const h = makeHost({ allowAddresses: [`127.0.0.1:${closedPort}`] }, ['down.test']);
      const details = await rejectsWith(fetchWith(h, `http://down.test:${closedPort}/json?key=SECRET`), 'E_FETCH_FAILED', /GET http:\/\/down\.test:\d+\/json failed: connection refused \(ECONNREFUSED\)/);
      assert.equal(details.cause, 'ECONNREFUSED');
      await h.close();
    });

    it('error messages never include the query string', async () => {
      await assert.rejects(fetchWith(host, `http://api.test:${a.port}/slow?token=SECRET`, undefined, invocation(100).call), (err: Error) => !err.message.includes('SECRET'));
    });

    it('a name that does not resolve is E_FETCH_FAILED', async () => {
      const h = makeHost({}, ['nowhere.test']);
      await rejectsWith(fetchWith(h, 'http://nowhere.test/'), 'E_FETCH_FAILED', /could not resolve nowhere\.test \(ENOTFOUND\)/);
      await h.close();
    });

    it('a connection reset mid-answer is E_FETCH_FAILED', async () => {
      const rude = createServer((req) => req.socket.destroy());
      await new Promise<void>((r) => rude.listen(0, '127.0.0.1', r));
      const port = (rude.address() as AddressInfo).port;
      const h = makeHost({ allowAddresses: [`127.0.0.1:${port}`] }, ['api.test']);
      await rejectsWith(fetchWith(h, `http://api.test:${port}/`), 'E_FETCH_FAILED', /failed: (connection closed unexpectedly|connection reset)/);
      await h.close();
      await new Promise<void>((r) => rude.close(() => r()));
    });
  });

  describe('HTTPS pinning', () => {
    let dir = '';
    let tls: TlsServer | null = null;
    let tlsPort = 0;
    const sni: string[] = [];

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'fetch-tls-'));
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=api.test', '-addext', 'subjectAltName=DNS:api.test',
          '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      } catch {
        return;
      }
      tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('tls'));
      tls.on('secureConnection', (socket) => sni.push(String((socket as { servername?: unknown }).servername)));
      tls.on('tlsClientError', () => {});
    });
    after(async () => {
      if (tls !== null) {
        tls.closeAllConnections();
        await new Promise<void>((r) => tls?.close(() => r()));
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('https connects to the pinned address, sends the host name as SNI, and verifies the certificate', async (t) => {
      if (tls === null) return t.skip('openssl is not installed');
      await new Promise<void>((r) => tls?.listen(0, '127.0.0.1', r));
      tlsPort = (tls.address() as AddressInfo).port;
      const clientErrors: string[] = [];
      tls.on('tlsClientError', (err: Error) => clientErrors.push(err.message));
      const h = makeHost({ allowAddresses: [`127.0.0.1:${tlsPort}`] }, ['api.test']);
      // The certificate is self-signed: the handshake reaches the server, which proves the
      // connection went to the vetted address with SNI api.test, and verification refuses it.
      await rejectsWith(fetchWith(h, `https://api.test:${tlsPort}/`), 'E_FETCH_FAILED', /self[- ]signed certificate/);
      for (let i = 0; i < 50 && clientErrors.length === 0 && sni.length === 0; i++) await sleep(10);
      assert.ok(clientErrors.length + sni.length > 0, 'the TLS server saw the handshake');
      await h.close();
    });
  });

  describe('bad arguments', () => {
    const cases: Array<[string, unknown[], RegExp]> = [
      ['no URL', [], /expected \(url, init\?\)/],
      ['a number as URL', [42], /url must be a string/],
      ['a relative URL', ['/json'], /is not an absolute URL/],
      ['a URL over 8192 characters', [`http://api.test/${'a'.repeat(9000)}`], /at most 8192/],
      ['init that is a string', ['http://api.test/', 'POST'], /init must be an object/],
      ['an unsupported init option', ['http://api.test/', { signal: {} }], /init\.signal is not supported/],
      ['method CONNECT', ['http://api.test/', { method: 'CONNECT' }], /init\.method must be one of GET, HEAD, POST, PUT, PATCH, DELETE/],
      ['method TRACE', ['http://api.test/', { method: 'TRACE' }], /init\.method must be one of/],
      ['headers as an array', ['http://api.test/', { headers: [['a', 'b']] }], /init\.headers must be an object/],
      ['a host header', ['http://api.test/', { headers: { Host: 'evil.test' } }], /header "host" cannot be set/],
      ['a connection header', ['http://api.test/', { headers: { connection: 'close' } }], /header "connection" cannot be set: it is a hop-by-hop/],
      ['a transfer-encoding header', ['http://api.test/', { headers: { 'transfer-encoding': 'chunked' } }], /header "transfer-encoding" cannot be set/],
      ['a content-length header', ['http://api.test/', { headers: { 'content-length': '5' } }], /header "content-length" cannot be set/],
      ['a header value with CRLF', ['http://api.test/', { headers: { 'x-a': 'b\r\nx-b: c' } }], /value contains CR, LF or NUL/],
      ['a header name with a space', ['http://api.test/', { headers: { 'x a': 'b' } }], /is not a valid HTTP header name/],
      ['a number header value', ['http://api.test/', { headers: { 'x-n': 5 } }], /must have a string value/],
      ['a header given twice', ['http://api.test/', { headers: { 'X-A': '1', 'x-a': '2' } }], /given twice/],
      ['a GET with a body', ['http://api.test/', { body: 'x' }], /GET request cannot have a body/],
      ['a number body', ['http://api.test/', { method: 'POST', body: 5 }], /init\.body must be a string or a JSON-serialisable object/],
      ['an unknown redirect mode', ['http://api.test/', { redirect: 'sometimes' }], /init\.redirect must be "follow", "manual" or "error"/],
    ];
    for (const [name, args, message] of cases) {
      it(`refuses ${name}`, async () => {
        await rejectsWith(host.execute(invocation().call, 'fetch', args), 'E_FETCH_BAD_ARGUMENTS', message);
      });
    }

    it('refuses an unknown operation', async () => {
      await rejectsWith(host.execute(invocation().call, 'get', ['http://api.test/']), 'E_FETCH_BAD_ARGUMENTS', /the only operation is "fetch"/);
    });

    it('bad arguments do not count against the per-invocation limit', async () => {
      const few = makeHost({ maxRequestsPerInvocation: 1, allowAddresses: [`127.0.0.1:${a.port}`] });
      const { call } = invocation();
      await rejectsWith(few.execute(call, 'fetch', [42]), 'E_FETCH_BAD_ARGUMENTS');
      assert.equal((await fetchWith(few, `http://api.test:${a.port}/json`, undefined, call) as { status: number }).status, 200);
      await few.close();
    });
  });
});

describe('ctx.fetch policy functions', () => {
  it('matchAllowlist: exact names ignore case and a trailing dot; wildcards need at least one label more', () => {
    const list = ['API.example.com', '*.cdn.example.net', '203.0.113.9', '[2001:db8::1]', 'bad entry', '*.com'];
    assert.equal(matchAllowlist('api.example.com', list), 'API.example.com');
    assert.equal(matchAllowlist('api.example.com.', list), 'API.example.com');
    assert.equal(matchAllowlist('x.api.example.com', list), null);
    assert.equal(matchAllowlist('img.cdn.example.net', list), '*.cdn.example.net');
    assert.equal(matchAllowlist('a.b.cdn.example.net', list), '*.cdn.example.net');
    assert.equal(matchAllowlist('cdn.example.net', list), null);
    assert.equal(matchAllowlist('evilcdn.example.net', list), null);
    assert.equal(matchAllowlist('203.0.113.9', list), '203.0.113.9');
    assert.equal(matchAllowlist('[2001:db8::1]', list), '[2001:db8::1]');
    assert.equal(matchAllowlist('[::ffff:203.0.113.9]', list), '203.0.113.9', 'an IPv4-mapped literal is the same address');
    assert.equal(matchAllowlist('anything.com', list), null, 'a too-broad wildcard never matches');
  });

  it('checkAllowlistEntry explains what is wrong with an entry', () => {
    assert.equal(checkAllowlistEntry('api.example.com'), null);
    assert.equal(checkAllowlistEntry('*.example.com'), null);
    assert.equal(checkAllowlistEntry('2001:db8::1'), null);
    assert.match(checkAllowlistEntry('https://api.example.com/') ?? '', /without scheme, port or path/);
    assert.match(checkAllowlistEntry('api.example.com:443') ?? '', /without scheme, port or path/);
    assert.match(checkAllowlistEntry('*.com') ?? '', /too broad/);
    assert.match(checkAllowlistEntry('a.*.example.com') ?? '', /only a leading "\*\." wildcard/);
    assert.match(checkAllowlistEntry('') ?? '', /non-empty/);
  });

  it('classifyAddress allows public unicast only', () => {
    assert.deepEqual(classifyAddress('93.184.216.34'), { allowed: true, address: '93.184.216.34' });
    assert.equal(classifyAddress('2606:4700::1111').allowed, true);
    assert.equal(classifyAddress('::ffff:8.8.8.8').allowed, true);
    for (const ip of ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::1', 'fc00::1', 'ff02::1', '::ffff:169.254.169.254', '2001:db8::1', '2002:7f00:1::1']) {
      assert.equal(classifyAddress(ip).allowed, false, ip);
    }
    assert.throws(() => classifyAddress('example.com'), TypeError);
  });

  it('options are validated once: bad limits and malformed allowAddresses throw TypeError', () => {
    assert.throws(() => createFetchHost({ allowlistFor: async () => [], options: { timeoutMs: 0 } }), /timeoutMs must be an integer ≥ 1, got 0/);
    assert.throws(() => createFetchHost({ allowlistFor: async () => [], options: { maxRequestsPerInvocation: 1.5 } }), /maxRequestsPerInvocation/);
    assert.equal(createFetchHost({ allowlistFor: async () => [], options: { maxRedirects: 0 } }).options.maxRedirects, 0, 'maxRedirects may be 0 (follow none)');
    assert.throws(() => createFetchHost({ allowlistFor: async () => [], options: { allowAddresses: ['127.0.0.1'] } }), /"ip:port"/);
    assert.throws(() => parseAllowAddresses(['::1:80']), /IPv6 as "\[::1\]:port"/);
    assert.equal(parseAllowAddresses(['[::1]:80', '127.0.0.1:8080']).size, 2);
    const h = createFetchHost({ allowlistFor: async () => [] });
    assert.equal(Object.isFrozen(h.options), true);
    assert.equal(h.options.timeoutMs, 5000);
    assert.deepEqual(h.options.allowAddresses, [], 'the loopback escape hatch is off by default');
  });

  it('close and destroy are idempotent, and a closed host refuses calls', async () => {
    const h = createFetchHost({ allowlistFor: async () => [] });
    await Promise.all([h.close(), h.close()]);
    await h.destroy();
    await h.destroy();
    await rejectsWith(h.execute(invocation().call, 'fetch', ['http://api.test/']), 'E_INTERNAL', /closed/);
  });

  it('every fetch code is in the builtins catalog', () => {
    for (const code of ['E_FETCH_REFUSED', 'E_FETCH_BAD_ARGUMENTS', 'E_FETCH_TIMEOUT', 'E_FETCH_TOO_LARGE', 'E_FETCH_LIMIT', 'E_FETCH_FAILED']) {
      assert.ok(Object.hasOwn(BUILTIN_ERRORS, code), code);
    }
  });
});
