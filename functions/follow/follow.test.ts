/**
 * The follow function's HTTP API (README.md) through the real gateway of a platform started in
 * this process, where the samples are deployed as `demo/follow` and `demo/live-stream`. The same
 * suite runs on the embedded defaults (in-process Redis store, SQLite per app) and on a real
 * redis-server + MariaDB (`MYSQL_URL`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import mysql from 'mysql2/promise';
import { Redis } from 'ioredis';
import { startPlatform, type TestPlatform } from '../../test/support/platform.ts';
import { api, deploy } from '../../test/support/http.ts';
import { startRedis, type TestRedis } from '../../test/support/redis-server.ts';
import { createTestDatabase, startMariaDb, type TestMariaDb } from '../../test/support/mariadb.ts';

interface Reply {
  status: number;
  headers: Headers;
  // JSON from the function under test, asserted field by field (a local test type, not a module boundary).
  body: any;
}

interface Backend {
  label: string;
  start(): Promise<TestPlatform>;
  /** Wipe the real Redis (for the recovery test); absent on the embedded store. */
  flushRedis?: () => Promise<void>;
  /** Rows of demo's follow_edges with this streamer, read from the backend directly (not through ctx.sql). */
  countEdges(platform: TestPlatform, streamer: string): Promise<number>;
  stop(): Promise<void>;
}

/** Issues a token for `{ userId }` in whatever app it is deployed to. */
const MINT = 'export default async function handler(req, ctx) { return ctx.auth.issue(req.body.userId, { ttlS: 3600 }); }';

function followSuite(backend: Backend): void {
  describe(`follow over HTTP [${backend.label}]`, () => {
    let platform: TestPlatform;
    const tokens = new Map<string, string>();

    async function request(fn: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
      const all: Record<string, string> = { ...headers };
      if (body !== undefined) all['content-type'] = 'application/json';
      const res = await fetch(`${platform.url}/fn/demo/${fn}${path}`, { method, headers: all, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
    }

    /** Sign `user` in through POST /session (once per run) and return the token. */
    async function tokenFor(user: string): Promise<string> {
      let token = tokens.get(user);
      if (token === undefined) {
        const reply = await request('follow', 'POST', '/session', { userId: user });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
        token = reply.body.token as string;
        tokens.set(user, token);
      }
      return token;
    }

    /** Call demo/follow as player `as` (anonymous when omitted). */
    async function call(method: string, path: string, as?: string, body?: unknown): Promise<Reply> {
      return request('follow', method, path, body, as === undefined ? {} : { authorization: `Bearer ${await tokenFor(as)}` });
    }

    function assertError(reply: Reply, status: number, code: string): string {
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.equal(reply.body?.error?.code, code, JSON.stringify(reply.body));
      assert.equal(typeof reply.body.error.message, 'string');
      return reply.body.error.message as string;
    }

    async function counts(user: string): Promise<{ followers: number; following: number }> {
      const reply = await call('GET', `/users/${user}`);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return { followers: reply.body.followers, following: reply.body.following };
    }

    /** Every page of a list, following nextCursor; asserts each page's size bound. */
    async function allPages(user: string, side: 'followers' | 'following', limit: number): Promise<{ ids: string[]; pages: number; since: string[] }> {
      const ids: string[] = [];
      const since: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
        const reply = await call('GET', `/users/${user}/${side}${query}`);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.userId, user);
        const items = reply.body[side] as Array<{ userId: string; since: string }>;
        assert.ok(items.length <= limit);
        if (reply.body.nextCursor !== null) assert.equal(items.length, limit, 'only the last page is short');
        for (const item of items) {
          ids.push(item.userId);
          since.push(item.since);
        }
        cursor = reply.body.nextCursor;
        pages++;
        assert.ok(pages < 1000, 'pagination ends');
      } while (cursor !== null);
      return { ids, pages, since };
    }

    before(async () => {
      platform = await backend.start();
    });

    after(async () => {
      await platform?.stop();
      await backend.stop();
    });

    it('POST /session signs a player in: 201 with a token that the gateway accepts', async () => {
      const reply = await call('POST', '/session', undefined, { userId: 'ann', ttlS: 600 });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.userId, 'ann');
      assert.match(reply.body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const expires = Date.parse(reply.body.expiresAt);
      assert.ok(expires > Date.now() + 500_000 && expires <= Date.now() + 600_000 + 5_000, reply.body.expiresAt);
      const feed = await request('follow', 'GET', '/me/feed', undefined, { authorization: `Bearer ${reply.body.token}` });
      assert.equal(feed.status, 200, JSON.stringify(feed.body));
      assert.deepEqual(feed.body, { userId: 'ann', events: [] });
    });

    it('POST /session refuses bad input with 400 naming the field', async () => {
      assert.match(assertError(await call('POST', '/session', undefined, {}), 400, 'BAD_REQUEST'), /userId/);
      assert.match(assertError(await call('POST', '/session', undefined, { userId: 'has space' }), 400, 'BAD_REQUEST'), /userId/);
      assert.match(assertError(await call('POST', '/session', undefined, { userId: 'x'.repeat(65) }), 400, 'BAD_REQUEST'), /userId/);
      for (const ttlS of [59, 7 * 86400 + 1, 1.5, '600']) {
        assert.match(assertError(await call('POST', '/session', undefined, { userId: 'ann', ttlS }), 400, 'BAD_REQUEST'), /ttlS/, `ttlS ${String(ttlS)}`);
      }
      assert.match(assertError(await call('POST', '/session'), 400, 'BAD_REQUEST'), /body/);
    });

    it('writes and /me routes without a token are 401 SIGN_IN_REQUIRED with a Bearer challenge', async () => {
      for (const [method, path] of [['POST', '/follow/sam'], ['DELETE', '/follow/sam'], ['GET', '/me/live'], ['GET', '/me/feed']] as const) {
        const reply = await call(method, path);
        assert.match(assertError(reply, 401, 'SIGN_IN_REQUIRED'), /session/, `${method} ${path}`);
        assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="faas:app:demo"');
      }
      assert.deepEqual(await counts('sam'), { followers: 0, following: 0 });
    });

    it("a token of another app is refused, though it is valid in its own app", async () => {
      await deploy(platform, 'other', 'mint', MINT);
      await deploy(platform, 'other', 'whoami', 'export default async function handler(req, ctx) { return ctx.user; }');
      const res = await fetch(`${platform.url}/fn/other/mint`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'ann' }) });
      const foreign = (await res.json() as { token: string }).token;
      assert.equal(res.status, 200);
      const own = await fetch(`${platform.url}/fn/other/whoami`, { headers: { authorization: `Bearer ${foreign}` } });
      assert.deepEqual(await own.json(), { id: 'ann', claims: {} });
      const reply = await request('follow', 'POST', '/follow/sam', undefined, { authorization: `Bearer ${foreign}` });
      assertError(reply, 401, 'E_AUTH_INVALID');
      assert.deepEqual(await counts('sam'), { followers: 0, following: 0 });
    });

    it('following is idempotent: the second follow changes nothing and counts move once', async () => {
      await tokenFor('sam');
      const first = await call('POST', '/follow/sam', 'ann');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual({ ...first.body, since: undefined }, { follower: 'ann', streamer: 'sam', following: true, changed: true, since: undefined });
      const again = await call('POST', '/follow/sam', 'ann');
      assert.equal(again.body.changed, false);
      assert.equal(again.body.since, first.body.since, 'the original follow time is kept');
      assert.deepEqual(await counts('sam'), { followers: 1, following: 0 });
      assert.deepEqual(await counts('ann'), { followers: 0, following: 1 });
    });

    it('concurrent follows of the same pair change one row and count once', async () => {
      await tokenFor('bob');
      const replies = await Promise.all(Array.from({ length: 12 }, () => call('POST', '/follow/sam', 'bob')));
      assert.ok(replies.every((r) => r.status === 200), JSON.stringify(replies.map((r) => r.body)));
      assert.equal(replies.filter((r) => r.body.changed === true).length, 1);
      assert.deepEqual(await counts('sam'), { followers: 2, following: 0 });
      assert.deepEqual(await counts('bob'), { followers: 0, following: 1 });
    });

    it('unfollowing is idempotent, also when concurrent, and counts move once', async () => {
      const first = await call('DELETE', '/follow/sam', 'ann');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(first.body, { follower: 'ann', streamer: 'sam', following: false, changed: true });
      assert.equal((await call('DELETE', '/follow/sam', 'ann')).body.changed, false);
      assert.deepEqual(await counts('sam'), { followers: 1, following: 0 });
      assert.deepEqual(await counts('ann'), { followers: 0, following: 0 });
      const replies = await Promise.all(Array.from({ length: 12 }, () => call('DELETE', '/follow/sam', 'bob')));
      assert.equal(replies.filter((r) => r.body.changed === true).length, 1);
      assert.deepEqual(await counts('sam'), { followers: 0, following: 0 });
      assert.equal((await call('DELETE', '/follow/never-followed', 'ann')).body.changed, false);
      assert.deepEqual(await counts('ann'), { followers: 0, following: 0 });
    });

    it('a new follower shows once in the streamer\'s feed, newest first', async () => {
      await call('POST', '/follow/sam', 'ann');
      await call('POST', '/follow/sam', 'ann');
      await call('POST', '/follow/sam', 'bob');
      const feed = await call('GET', '/me/feed?limit=10', 'sam');
      assert.equal(feed.status, 200, JSON.stringify(feed.body));
      // ann and bob had followed sam once before (then unfollowed); repeated follows add nothing
      const recent = feed.body.events.map((e: { type: string; from: string }) => `${e.type}:${e.from}`);
      assert.deepEqual(recent, ['follow:bob', 'follow:ann', 'follow:bob', 'follow:ann']);
      assert.ok(feed.body.events.every((e: { at: string }) => !Number.isNaN(Date.parse(e.at))));
      assert.match(assertError(await call('GET', '/me/feed?limit=51', 'sam'), 400, 'BAD_REQUEST'), /limit/);
    });

    it('following yourself is a 400 CANNOT_FOLLOW_SELF; bad ids are 400; unknown routes 404', async () => {
      assertError(await call('POST', '/follow/ann', 'ann'), 400, 'CANNOT_FOLLOW_SELF');
      assert.match(assertError(await call('POST', '/follow/has%20space', 'ann'), 400, 'BAD_REQUEST'), /streamer id/);
      // the gateway decodes the path once; %2561 must stay "%61", not become "a"
      assert.match(assertError(await call('POST', '/follow/%2561nn', 'bob'), 400, 'BAD_REQUEST'), /streamer id/);
      assert.equal((await call('POST', '/follow/%61nn', 'bob')).body.streamer, 'ann', 'a percent-encoded id is decoded once');
      await call('DELETE', '/follow/ann', 'bob');
      assert.match(assertError(await call('GET', `/users/${'x'.repeat(65)}`), 400, 'BAD_REQUEST'), /user id/);
      assertError(await call('GET', '/follow/sam', 'ann'), 404, 'ROUTE_NOT_FOUND');
      assertError(await call('GET', '/users/ann/friends'), 404, 'ROUTE_NOT_FOUND');
      assertError(await call('PUT', '/me/live', 'ann'), 404, 'ROUTE_NOT_FOUND');
      assertError(await call('GET', '/'), 404, 'ROUTE_NOT_FOUND');
    });

    it('a token whose player id is outside the id alphabet is a 403 UNSUPPORTED_USER_ID', async () => {
      await deploy(platform, 'demo', 'test-mint', MINT);
      const minted = await request('test-mint', 'POST', '/', { userId: 'has space' });
      assert.equal(minted.status, 200, JSON.stringify(minted.body));
      const reply = await request('follow', 'POST', '/follow/sam', undefined, { authorization: `Bearer ${minted.body.token}` });
      assert.match(assertError(reply, 403, 'UNSUPPORTED_USER_ID'), /has space/);
    });

    it('followers and following page through every row once, oldest first, with no duplicates or gaps', async () => {
      const fans = Array.from({ length: 23 }, (_, i) => `fan-${String(i).padStart(2, '0')}`);
      for (const fan of fans) await tokenFor(fan);
      for (const fan of fans) assert.equal((await call('POST', '/follow/star', fan)).body.changed, true);
      const stars = Array.from({ length: 11 }, (_, i) => `star-${i}`);
      for (const star of stars) assert.equal((await call('POST', `/follow/${star}`, 'fan-00')).body.changed, true);

      for (const limit of [1, 5, 10, 23, 100]) {
        const { ids, pages, since } = await allPages('star', 'followers', limit);
        assert.deepEqual([...ids].sort(), [...fans].sort(), `limit ${limit}: every follower once`);
        assert.equal(pages, Math.ceil(fans.length / limit), `limit ${limit}: pages`);
        const times = since.map((s) => Date.parse(s));
        for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] <= times[i], `limit ${limit}: oldest first at ${i}`);
      }
      assert.deepEqual(await counts('star'), { followers: fans.length, following: 0 });

      const following = await allPages('fan-00', 'following', 4);
      assert.deepEqual([...following.ids].sort(), ['star', ...stars].sort());
      assert.deepEqual(await counts('fan-00'), { followers: 0, following: stars.length + 1 });
      const empty = await call('GET', '/users/nobody-at-all/followers');
      assert.deepEqual(empty.body, { userId: 'nobody-at-all', followers: [], nextCursor: null });
    });

    it('a cursor stays valid across changes: later pages neither repeat nor skip the rows that stayed', async () => {
      const first = await call('GET', '/users/star/followers?limit=5');
      const seen: string[] = first.body.followers.map((f: { userId: string }) => f.userId);
      // one follower of page 1 leaves, a new one arrives (at the end), one from a later page leaves
      await call('DELETE', '/follow/star', seen[1]);
      await call('POST', '/follow/star', 'fan-late');
      await call('DELETE', '/follow/star', 'fan-20');
      let cursor: string | null = first.body.nextCursor;
      while (cursor !== null) {
        const next = await call('GET', `/users/star/followers?limit=5&cursor=${encodeURIComponent(cursor)}`);
        assert.equal(next.status, 200, JSON.stringify(next.body));
        for (const f of next.body.followers as Array<{ userId: string }>) seen.push(f.userId);
        cursor = next.body.nextCursor;
      }
      assert.equal(new Set(seen).size, seen.length, 'no duplicates');
      const expected = Array.from({ length: 23 }, (_, i) => `fan-${String(i).padStart(2, '0')}`).filter((f) => f !== 'fan-20');
      assert.deepEqual(seen.filter((f) => f !== 'fan-late').sort(), expected.sort());
      assert.equal(seen.at(-1), 'fan-late', 'the newest follower comes last');
      assert.deepEqual(await counts('star'), { followers: 22, following: 0 });
    });

    it('bad cursors and limits are 400s naming the parameter', async () => {
      for (const cursor of ['abc', '123', '12:has space', `${'9'.repeat(17)}:x`, ':x']) {
        assert.match(assertError(await call('GET', `/users/star/followers?cursor=${encodeURIComponent(cursor)}`), 400, 'BAD_CURSOR'), /cursor/, cursor);
      }
      for (const limit of ['0', '101', 'ten', '-1']) {
        assert.match(assertError(await call('GET', `/users/star/following?limit=${limit}`), 400, 'BAD_REQUEST'), /limit/, limit);
      }
      assert.match(assertError(await call('GET', '/users/star/followers?limit=1&limit=2'), 400, 'BAD_REQUEST'), /once/);
    });

    it('/me/live lists the followed streamers with an open room, asking live-stream through ctx.rpc', async () => {
      const live = async (user: string): Promise<string[]> => {
        const reply = await call('GET', '/me/live', user);
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal(reply.body.truncated, false);
        return reply.body.live.map((room: { streamer: string; roomId: string }) => `${room.streamer}@${room.roomId}`);
      };
      const asStreamer = async (user: string, method: string, path: string, body?: unknown): Promise<Reply> =>
        request('live-stream', method, path, body, { authorization: `Bearer ${await tokenFor(user)}` });

      for (const s of ['tv-1', 'tv-2', 'tv-3']) assert.equal((await call('POST', `/follow/${s}`, 'viewer-a')).status, 200);
      assert.deepEqual(await live('viewer-a'), []);
      assert.equal((await asStreamer('tv-1', 'POST', '/rooms', { roomId: 'room-tv-1', title: 'one' })).status, 201);
      assert.equal((await asStreamer('tv-3', 'POST', '/rooms', { roomId: 'room-tv-3' })).status, 201);
      assert.equal((await asStreamer('tv-9', 'POST', '/rooms', { roomId: 'room-tv-9' })).status, 201);
      assert.deepEqual(await live('viewer-a'), ['tv-1@room-tv-1', 'tv-3@room-tv-3']);
      const full = await call('GET', '/me/live', 'viewer-a');
      assert.deepEqual(Object.keys(full.body.live[0]).sort(), ['openedAt', 'roomId', 'streamer', 'title', 'viewers']);
      assert.equal(full.body.live[0].title, 'one');
      assert.equal(full.body.checked, 3);

      assert.equal((await asStreamer('tv-1', 'POST', '/rooms/room-tv-1/close')).status, 200);
      assert.deepEqual(await live('viewer-a'), ['tv-3@room-tv-3']);
      await call('DELETE', '/follow/tv-3', 'viewer-a');
      assert.deepEqual(await live('viewer-a'), []);
      assert.deepEqual(await live('nobody-followed'), []);
    });

    it('a configured SIGNIN_KEY secret is required in x-signin-key; unset, sign-in is open again', async () => {
      const setSecret = await api(platform, '/apps/demo/functions/follow/secrets/SIGNIN_KEY', { method: 'PUT', body: { value: 'k3y-for-tests' } });
      assert.ok(setSecret.status < 300, JSON.stringify(setSecret.body));
      // config changes reach the runtime through the control plane's change events: wait for it
      let refused: Reply | null = null;
      for (let attempt = 0; attempt < 50; attempt++) {
        const reply = await call('POST', '/session', undefined, { userId: 'keyed' });
        if (reply.status === 403) {
          refused = reply;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(refused !== null, 'sign-in without the key is refused once the secret is set');
      assert.match(assertError(refused, 403, 'SIGNIN_KEY_REQUIRED'), /x-signin-key/);
      assert.ok(!JSON.stringify(refused.body).includes('k3y-for-tests'), 'the key is not echoed');
      assertError(await request('follow', 'POST', '/session', { userId: 'keyed' }, { 'x-signin-key': 'wrong' }), 403, 'SIGNIN_KEY_REQUIRED');
      assertError(await request('follow', 'POST', '/session', { userId: 'keyed' }, { 'x-signin-key': 'k3y-for-tests-and-more' }), 403, 'SIGNIN_KEY_REQUIRED');
      const ok = await request('follow', 'POST', '/session', { userId: 'keyed' }, { 'x-signin-key': 'k3y-for-tests' });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));

      const unset = await api(platform, '/apps/demo/functions/follow/secrets/SIGNIN_KEY', { method: 'DELETE' });
      assert.ok(unset.status < 300, JSON.stringify(unset.body));
      let open = 0;
      for (let attempt = 0; attempt < 50 && open !== 201; attempt++) {
        open = (await call('POST', '/session', undefined, { userId: 'keyed' })).status;
        if (open !== 201) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(open, 201);
    });

    it('the relation is stored in the app\'s own database, one row per follow', async () => {
      assert.equal(await backend.countEdges(platform, 'star'), (await counts('star')).followers);
      assert.equal(await backend.countEdges(platform, 'sam'), (await counts('sam')).followers);
    });

    if (backend.flushRedis !== undefined) {
      const flush = backend.flushRedis;
      it('counts are rebuilt from SQL when Redis lost its data, and stay exact afterwards', async () => {
        const before = { star: await counts('star'), fan: await counts('fan-00') };
        await flush();
        assert.deepEqual(await counts('star'), before.star);
        assert.deepEqual(await counts('fan-00'), before.fan);
        await call('POST', '/follow/star', 'ann');
        await call('DELETE', '/follow/star-0', 'fan-00');
        assert.deepEqual(await counts('star'), { followers: before.star.followers + 1, following: 0 });
        assert.deepEqual(await counts('fan-00'), { followers: 0, following: before.fan.following - 1 });
      });
    }
  });
}

followSuite({
  label: 'embedded Redis store + SQLite',
  start: () => startPlatform(),
  countEdges: async (platform, streamer) => {
    const db = new DatabaseSync(join(platform.dataDir, 'sql', 'demo.sqlite'));
    try {
      const row = db.prepare('SELECT COUNT(*) AS n FROM follow_edges WHERE streamer = ?').get(streamer) as { n: number };
      return row.n;
    } finally {
      db.close();
    }
  },
  stop: async () => {},
});

{
  let redis: TestRedis | null = null;
  let maria: TestMariaDb | null = null;
  let client: Redis | null = null;
  followSuite({
    label: 'redis-server + MariaDB',
    start: async () => {
      redis = await startRedis();
      maria = await startMariaDb();
      client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      return startPlatform({ redisUrl: redis.url, mysqlUrl: await createTestDatabase(maria) });
    },
    flushRedis: async () => {
      await client?.flushall();
    },
    countEdges: async (_platform, streamer) => {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: (maria as TestMariaDb).port, user: 'root', database: 'faas_app_demo' });
      try {
        const [rows] = await conn.execute('SELECT COUNT(*) AS n FROM follow_edges WHERE streamer = ?', [streamer]);
        return Number((rows as Array<{ n: number }>)[0].n);
      } finally {
        await conn.end();
      }
    },
    stop: async () => {
      client?.disconnect();
      await redis?.stop();
      await maria?.stop();
    },
  });
}
