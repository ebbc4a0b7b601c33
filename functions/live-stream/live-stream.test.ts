/**
 * The live-stream function's HTTP API (README.md), exercised through the real gateway of a
 * platform started by `startPlatform()`, where it is deployed as `demo/live-stream`. Writes are
 * sent as signed-in players: tokens come from ctx.auth.issue in a small helper function this
 * file deploys as `demo/test-signin`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform } from '../../test/support/platform.ts';
import { deploy } from '../../test/support/http.ts';

interface Reply {
  status: number;
  headers: Headers;
  // JSON from the function under test, asserted field by field (a local test type, not a module boundary).
  body: any;
}

/** Issues a player token for `{ userId }` (the platform's ctx.auth.issue, nothing else). */
const SIGNIN_HELPER = 'export default async function handler(req, ctx) { return ctx.auth.issue(req.body.userId, { ttlS: 3600 }); }';
/** Calls live-stream's rpc entry through ctx.rpc.call with the request body as the payload. */
const RPC_PROBE = 'export default async function handler(req, ctx) { try { return { answer: await ctx.rpc.call("live-stream", req.body) }; } catch (err) { return { error: err.code, message: err.message }; } }';

describe('live-stream rooms over HTTP', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let base: string;
  const tokens = new Map<string, string>();

  /** The rpc entry, called the only way it can be: through ctx.rpc.call from another function (the gateway drops a client's x-faas-caller). */
  async function liveVia(streamers: string[]): Promise<{ status: number; body: any }> {
    const res = await fetch(`${platform.url}/fn/demo/test-rpc-probe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'live', streamers }) });
    const reply = await res.json() as { answer?: unknown; error?: string; message?: string };
    return { status: res.status, body: reply.answer ?? reply };
  }

  /** A token for player `user` (issued once per test run). */
  async function tokenFor(user: string): Promise<string> {
    let token = tokens.get(user);
    if (token === undefined) {
      const res = await fetch(`${platform.url}/fn/demo/test-signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: user }) });
      const body = await res.json() as { token?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      token = body.token as string;
      tokens.set(user, token);
    }
    return token;
  }

  /** Call the function as player `as` (no Authorization header when omitted); `body` is sent as JSON. */
  async function call(method: string, path: string, body?: unknown, as?: string, extraHeaders: Record<string, string> = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (as !== undefined) headers.authorization = `Bearer ${await tokenFor(as)}`;
    const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? null : JSON.parse(text) };
  }

  /** Assert an error reply with its status and code, and return its message. */
  function assertError(reply: Reply, status: number, code: string): string {
    assert.equal(reply.status, status, JSON.stringify(reply.body));
    assert.equal(reply.body?.error?.code, code, JSON.stringify(reply.body));
    assert.equal(typeof reply.body.error.message, 'string');
    return reply.body.error.message as string;
  }

  before(async () => {
    platform = await startPlatform();
    base = `${platform.url}/fn/demo/live-stream`;
    await deploy(platform, 'demo', 'test-signin', SIGNIN_HELPER);
    await deploy(platform, 'demo', 'test-rpc-probe', RPC_PROBE);
  });

  after(async () => {
    await platform?.stop();
  });

  it('opens a room with 201 as the signed-in streamer and reports it', async () => {
    const opened = await call('POST', '/rooms', { roomId: 'alpha', title: 'Speedrun' }, 'sam');
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    assert.equal(opened.body.roomId, 'alpha');
    assert.equal(opened.body.streamer, 'sam');
    assert.equal(opened.body.status, 'open');
    const room = await call('GET', '/rooms/alpha');
    assert.equal(room.status, 200);
    assert.deepEqual(
      { roomId: room.body.roomId, streamer: room.body.streamer, title: room.body.title, status: room.body.status, viewers: room.body.viewers, giftScore: room.body.giftScore },
      { roomId: 'alpha', streamer: 'sam', title: 'Speedrun', status: 'open', viewers: 0, giftScore: 0 },
    );
  });

  it('every write without a token is a 401 SIGN_IN_REQUIRED with a Bearer challenge, and changes nothing', async () => {
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/rooms', { roomId: 'anon', streamer: 'sam' }],
      ['POST', '/rooms/alpha/close', undefined],
      ['POST', '/rooms/alpha/join', { viewer: 'v1' }],
      ['POST', '/rooms/alpha/leave', { viewer: 'v1' }],
      ['POST', '/rooms/alpha/gifts', { from: 'v1', amount: 5 }],
    ];
    for (const [method, path, body] of writes) {
      const reply = await call(method, path, body);
      assert.match(assertError(reply, 401, 'SIGN_IN_REQUIRED'), /Bearer/, `${method} ${path}`);
      assert.match(reply.headers.get('www-authenticate') ?? '', /^Bearer realm="faas:app:demo"$/, `${method} ${path}`);
    }
    assertError(await call('GET', '/rooms/anon'), 404, 'ROOM_NOT_FOUND');
    const room = await call('GET', '/rooms/alpha');
    assert.equal(room.body.status, 'open');
    assert.equal(room.body.viewers, 0);
    assert.equal(room.body.giftScore, 0);
  });

  it('a token that does not verify is refused by the gateway before the function runs', async () => {
    const reply = await call('POST', '/rooms/alpha/join', {}, undefined, { authorization: 'Bearer not.a.token' });
    assertError(reply, 401, 'E_AUTH_INVALID');
  });

  it('reads stay public: rooms, rankings and gifters need no token', async () => {
    assert.equal((await call('GET', '/rooms/alpha')).status, 200);
    assert.equal((await call('GET', '/rooms/top?by=viewers')).status, 200);
    assert.equal((await call('GET', '/rooms/alpha/gifters')).status, 200);
  });

  it('the old identity fields are accepted when they name the caller and refused with 403 otherwise', async () => {
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'r-x', streamer: 'someone-else' }, 'sam'), 403, 'IDENTITY_MISMATCH'), /streamer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/join', { viewer: 'v2' }, 'v1'), 403, 'IDENTITY_MISMATCH'), /viewer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/leave', { viewer: 'v2' }, 'v1'), 403, 'IDENTITY_MISMATCH'), /viewer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/gifts', { from: 'v2', amount: 5 }, 'v1'), 403, 'IDENTITY_MISMATCH'), /from/);
    const own = await call('POST', '/rooms/alpha/join', { viewer: 'v1' }, 'v1');
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.viewer, 'v1');
    const left = await call('POST', '/rooms/alpha/leave', { viewer: 'v1' }, 'v1');
    assert.equal(left.body.left, true);
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 0);
  });

  it('opening an already open room is a 409 ROOM_ALREADY_OPEN', async () => {
    assertError(await call('POST', '/rooms', { roomId: 'alpha' }, 'sam'), 409, 'ROOM_ALREADY_OPEN');
  });

  it('a streamer has one open room at a time (409 STREAMER_ALREADY_LIVE), and a room belongs to its streamer', async () => {
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'alpha-2' }, 'sam'), 409, 'STREAMER_ALREADY_LIVE'), /alpha/);
    assertError(await call('GET', '/rooms/alpha-2'), 404, 'ROOM_NOT_FOUND');
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'alpha' }, 'mallory'), 403, 'NOT_ROOM_OWNER'), /sam/);
    assert.match(assertError(await call('POST', '/rooms/alpha/close', undefined, 'mallory'), 403, 'NOT_ROOM_OWNER'), /sam/);
    assert.equal((await call('GET', '/rooms/alpha')).body.status, 'open');
  });

  it('joining twice counts the viewer once; the viewer is the caller (no body needed)', async () => {
    const first = await call('POST', '/rooms/alpha/join', undefined, 'v1');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.joined, true);
    assert.equal(first.body.viewer, 'v1');
    const again = await call('POST', '/rooms/alpha/join', {}, 'v1');
    assert.equal(again.status, 200);
    assert.equal(again.body.joined, false);
    await call('POST', '/rooms/alpha/join', undefined, 'v2');
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 2);
    const top = await call('GET', '/rooms/top?by=viewers');
    assert.deepEqual(top.body.rooms.find((room: { roomId: string }) => room.roomId === 'alpha'), { roomId: 'alpha', score: 2 });
  });

  it('concurrent joins of the same viewer still count once', async () => {
    await tokenFor('v3');
    const replies = await Promise.all(Array.from({ length: 10 }, () => call('POST', '/rooms/alpha/join', undefined, 'v3')));
    assert.ok(replies.every((reply) => reply.status === 200));
    assert.equal(replies.filter((reply) => reply.body.joined === true).length, 1);
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 3);
  });

  it('leaving removes the viewer once; leaving again changes nothing', async () => {
    const left = await call('POST', '/rooms/alpha/leave', undefined, 'v3');
    assert.equal(left.status, 200);
    assert.equal(left.body.left, true);
    const again = await call('POST', '/rooms/alpha/leave', undefined, 'v3');
    assert.equal(again.body.left, false);
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 2);
    const top = await call('GET', '/rooms/top?by=viewers');
    assert.deepEqual(top.body.rooms.find((room: { roomId: string }) => room.roomId === 'alpha'), { roomId: 'alpha', score: 2 });
  });

  it('gifts add up per room and per gifter (the caller), and return the new room score', async () => {
    const first = await call('POST', '/rooms/alpha/gifts', { amount: 100 }, 'v1');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.giftScore, 100);
    assert.equal(first.body.from, 'v1');
    const second = await call('POST', '/rooms/alpha/gifts', { from: 'v2', amount: 250 }, 'v2');
    assert.equal(second.body.giftScore, 350);
    const third = await call('POST', '/rooms/alpha/gifts', { amount: 1_000_000 }, 'v1');
    assert.equal(third.body.giftScore, 1_000_350);
    assert.equal(third.body.fromTotal, 1_000_100);
    assert.equal((await call('GET', '/rooms/alpha')).body.giftScore, 1_000_350);
  });

  it('top by viewers and by gifts list rooms highest first', async () => {
    await call('POST', '/rooms', { roomId: 'beta' }, 'bea');
    await call('POST', '/rooms', { roomId: 'gamma' }, 'gil');
    for (const viewer of ['w1', 'w2', 'w3']) await call('POST', '/rooms/beta/join', undefined, viewer);
    await call('POST', '/rooms/gamma/join', undefined, 'w1');
    await call('POST', '/rooms/beta/gifts', { amount: 5 }, 'w1');
    await call('POST', '/rooms/gamma/gifts', { amount: 600_000 }, 'w1');
    await call('POST', '/rooms/gamma/gifts', { amount: 500_000 }, 'w2');

    const byViewers = await call('GET', '/rooms/top?by=viewers&limit=10');
    assert.equal(byViewers.status, 200);
    assert.equal(byViewers.body.by, 'viewers');
    assert.deepEqual(byViewers.body.rooms, [
      { roomId: 'beta', score: 3 },
      { roomId: 'alpha', score: 2 },
      { roomId: 'gamma', score: 1 },
    ]);

    const byGifts = await call('GET', '/rooms/top?by=gifts');
    assert.deepEqual(byGifts.body.rooms, [
      { roomId: 'gamma', score: 1_100_000 },
      { roomId: 'alpha', score: 1_000_350 },
      { roomId: 'beta', score: 5 },
    ]);

    const limited = await call('GET', '/rooms/top?by=viewers&limit=1');
    assert.deepEqual(limited.body.rooms, [{ roomId: 'beta', score: 3 }]);
  });

  it('gifters lists each gifter with the total, highest first', async () => {
    await call('POST', '/rooms/alpha/gifts', { amount: 300 }, 'v3');
    const gifters = await call('GET', '/rooms/alpha/gifters?limit=10');
    assert.equal(gifters.status, 200);
    assert.deepEqual(gifters.body.gifters, [
      { user: 'v1', amount: 1_000_100 },
      { user: 'v3', amount: 300 },
      { user: 'v2', amount: 250 },
    ]);
    const limited = await call('GET', '/rooms/alpha/gifters?limit=1');
    assert.deepEqual(limited.body.gifters, [{ user: 'v1', amount: 1_000_100 }]);
  });

  it('the rpc entry answers which of the asked streamers are live, through ctx.rpc.call', async () => {
    const probe = async (payload: unknown): Promise<any> => {
      const res = await fetch(`${platform.url}/fn/demo/test-rpc-probe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
      assert.equal(res.status, 200);
      return res.json();
    };
    const reply = await probe({ op: 'live', streamers: ['gil', 'nobody', 'sam', 'gil', 'bea'] });
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.deepEqual(
      reply.answer.live.map((room: { streamer: string; roomId: string; viewers: number }) => [room.streamer, room.roomId, room.viewers]),
      [['gil', 'gamma', 1], ['sam', 'alpha', 2], ['bea', 'beta', 3]],
      'in the order asked, duplicates once, unknown streamers left out',
    );
    const alpha = reply.answer.live.find((room: { roomId: string }) => room.roomId === 'alpha');
    assert.equal(alpha.title, 'Speedrun');
    assert.equal(typeof alpha.openedAt, 'string');
    assert.deepEqual((await probe({ op: 'live', streamers: [] })).answer, { live: [] });

    assert.equal((await probe({ op: 'dance', streamers: [] })).error, 'E_RPC_FAILED');
    assert.match((await probe({ op: 'live', streamers: 'sam' })).message, /streamers/);
    assert.match((await probe({ op: 'live', streamers: ['ok', 'has space'] })).message, /streamers\[1\]/);
    assert.match((await probe({ op: 'live', streamers: Array.from({ length: 1001 }, (_, i) => `s${i}`) })).message, /1000/);
  });

  it('the rpc entry answers ctx.rpc.call only: a client posting to / (even with a forged x-faas-caller) gets a 404', async () => {
    const viaRpc = await liveVia(['sam']);
    assert.equal(viaRpc.status, 200, JSON.stringify(viaRpc.body));
    assert.deepEqual(viaRpc.body.live.map((room: { roomId: string }) => room.roomId), ['alpha']);
    assertError(await call('POST', '/', { op: 'live', streamers: ['sam'] }), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('POST', '/', { op: 'live', streamers: ['sam'] }, undefined, { 'x-faas-caller': 'curl' }), 404, 'ROUTE_NOT_FOUND');
  });

  it('closing a room removes it from both rankings, empties it and takes it off the live list; joining it then is a 409', async () => {
    const closed = await call('POST', '/rooms/gamma/close', undefined, 'gil');
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.status, 'closed');
    const byViewers = await call('GET', '/rooms/top?by=viewers');
    const byGifts = await call('GET', '/rooms/top?by=gifts');
    assert.ok(!byViewers.body.rooms.some((room: { roomId: string }) => room.roomId === 'gamma'));
    assert.ok(!byGifts.body.rooms.some((room: { roomId: string }) => room.roomId === 'gamma'));
    const room = await call('GET', '/rooms/gamma');
    assert.equal(room.body.status, 'closed');
    assert.equal(room.body.viewers, 0);
    assert.equal(room.body.giftScore, 1_100_000, 'a closed room keeps its final gift score');
    assertError(await call('POST', '/rooms/gamma/join', undefined, 'late'), 409, 'ROOM_CLOSED');
    assertError(await call('POST', '/rooms/gamma/gifts', { amount: 1 }, 'late'), 409, 'ROOM_CLOSED');
    assertError(await call('POST', '/rooms/gamma/close', undefined, 'gil'), 409, 'ROOM_CLOSED');
    assert.ok(!(await call('GET', '/rooms/top?by=gifts')).body.rooms.some((r: { roomId: string }) => r.roomId === 'gamma'));
    const live = await liveVia(['gil', 'sam']);
    assert.deepEqual(live.body.live.map((r: { streamer: string }) => r.streamer), ['sam']);
  });

  it('a closed room can be opened again by its streamer as a fresh session, and a streamer can switch rooms after closing', async () => {
    const reopened = await call('POST', '/rooms', { roomId: 'gamma', title: 'round two' }, 'gil');
    assert.equal(reopened.status, 201, JSON.stringify(reopened.body));
    const room = await call('GET', '/rooms/gamma');
    assert.equal(room.body.status, 'open');
    assert.equal(room.body.giftScore, 0);
    assert.deepEqual((await call('GET', '/rooms/gamma/gifters')).body.gifters, []);
    assert.equal((await call('POST', '/rooms/gamma/close', undefined, 'gil')).status, 200);
    assert.equal((await call('POST', '/rooms', { roomId: 'gamma-b' }, 'gil')).status, 201);
    const live = await liveVia(['gil']);
    assert.deepEqual(live.body.live.map((r: { roomId: string }) => r.roomId), ['gamma-b']);
  });

  it('concurrent opens of two rooms by one streamer leave exactly one open', async () => {
    await tokenFor('dup');
    const replies = await Promise.all(['dup-1', 'dup-2', 'dup-3'].map((roomId) => call('POST', '/rooms', { roomId }, 'dup')));
    assert.equal(replies.filter((r) => r.status === 201).length, 1, JSON.stringify(replies.map((r) => r.body)));
    for (const r of replies.filter((reply) => reply.status !== 201)) assertError(r, 409, 'STREAMER_ALREADY_LIVE');
    const live = await liveVia(['dup']);
    assert.equal(live.body.live.length, 1);
    assert.equal(live.body.live[0].roomId, replies.find((r) => r.status === 201)?.body.roomId);
  });

  it('unknown rooms are 404 ROOM_NOT_FOUND', async () => {
    assertError(await call('GET', '/rooms/nope'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/join', undefined, 'v1'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/close', undefined, 'v1'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/gifts', { amount: 1 }, 'v1'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('GET', '/rooms/nope/gifters'), 404, 'ROOM_NOT_FOUND');
  });

  it('bad input is a 400 with a code and a message naming the field', async () => {
    assert.match(assertError(await call('POST', '/rooms', { title: 'x' }, 'x'), 400, 'BAD_REQUEST'), /roomId/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'has space' }, 'x'), 400, 'BAD_REQUEST'), /roomId/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'r9', title: 42 }, 'x'), 400, 'BAD_REQUEST'), /title/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'r9', streamer: 7 }, 'x'), 400, 'BAD_REQUEST'), /streamer/);
    assert.match(assertError(await call('POST', '/rooms', undefined, 'x'), 400, 'BAD_REQUEST'), /body/);
    assert.match(assertError(await call('POST', '/rooms/alpha/join', [1], 'v1'), 400, 'BAD_REQUEST'), /body/);
    assert.match(assertError(await call('POST', '/rooms/alpha/leave', { viewer: 7 }, 'v1'), 400, 'BAD_REQUEST'), /viewer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/gifts', undefined, 'v1'), 400, 'BAD_REQUEST'), /body/);
    // the gateway decodes the path once; %2561lpha must stay "%61lpha", not become "alpha"
    assert.match(assertError(await call('POST', '/rooms/%2561lpha/gifts', { amount: 1 }, 'v1'), 400, 'BAD_REQUEST'), /room id/);
    for (const amount of [0, -5, 1.5, 1_000_001, '10', null]) {
      assert.match(assertError(await call('POST', '/rooms/alpha/gifts', { amount }, 'v1'), 400, 'INVALID_AMOUNT'), /amount/, `amount ${String(amount)}`);
    }
    assert.match(assertError(await call('GET', '/rooms/top?by=likes'), 400, 'BAD_REQUEST'), /by/);
    for (const limit of ['0', '101', 'ten']) {
      assert.match(assertError(await call('GET', `/rooms/top?limit=${limit}`), 400, 'BAD_REQUEST'), /limit/);
    }
    assert.match(assertError(await call('GET', '/rooms/alpha/gifters?limit=500'), 400, 'BAD_REQUEST'), /limit/);
    // nothing above changed the room
    assert.equal((await call('GET', '/rooms/alpha')).body.giftScore, 1_000_650);
  });

  it('a player id outside the id alphabet is a 403 UNSUPPORTED_USER_ID', async () => {
    assert.match(assertError(await call('POST', '/rooms/alpha/join', undefined, 'has space'), 403, 'UNSUPPORTED_USER_ID'), /has space/);
  });

  it('any other route is a 404 ROUTE_NOT_FOUND', async () => {
    assertError(await call('GET', '/'), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('GET', '/rooms'), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('DELETE', '/rooms/alpha'), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('POST', '/rooms/alpha/dance', {}), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('GET', '/rooms/alpha/join/extra'), 404, 'ROUTE_NOT_FOUND');
    assertError(await call('POST', '/rooms/top', {}), 404, 'ROUTE_NOT_FOUND');
  });

  it('opening and closing a room are logged with ctx.log.info', async () => {
    await call('POST', '/rooms', { roomId: 'logged' }, 'lou');
    await call('POST', '/rooms/logged/close', undefined, 'lou');
    const headers = { authorization: `Bearer ${platform.apiKey}` };
    let messages: string[] = [];
    for (let attempt = 0; attempt < 25; attempt++) {
      const res = await fetch(`${platform.url}/api/apps/demo/functions/live-stream/logs?limit=100`, { headers });
      assert.equal(res.status, 200);
      messages = ((await res.json()) as { lines: Array<{ level: string; message: string }> }).lines.filter((line) => line.level === 'info').map((line) => line.message);
      if (messages.some((m) => m.includes('room closed logged'))) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(messages.some((m) => m.includes('room opened logged by lou')), messages.join('\n'));
    assert.ok(messages.some((m) => m.includes('room closed logged')), messages.join('\n'));
  });
});
