/**
 * The live-stream function's HTTP API (README.md), exercised through the real gateway of a
 * platform started by `startPlatform()`, where it is deployed as `demo/live-stream`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform } from '../../test/support/platform.ts';

interface Reply {
  status: number;
  // JSON from the function under test, asserted field by field (a local test type, not a module boundary).
  body: any;
}

describe('live-stream rooms over HTTP', () => {
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  let base: string;

  /** Call the function; `body` is sent as JSON. */
  async function call(method: string, path: string, body?: unknown): Promise<Reply> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? null : JSON.parse(text) };
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
  });

  after(async () => {
    await platform?.stop();
  });

  it('opens a room with 201 and reports it', async () => {
    const opened = await call('POST', '/rooms', { roomId: 'alpha', streamer: 'sam', title: 'Speedrun' });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    assert.equal(opened.body.roomId, 'alpha');
    assert.equal(opened.body.status, 'open');
    const room = await call('GET', '/rooms/alpha');
    assert.equal(room.status, 200);
    assert.deepEqual(
      { roomId: room.body.roomId, streamer: room.body.streamer, title: room.body.title, status: room.body.status, viewers: room.body.viewers, giftScore: room.body.giftScore },
      { roomId: 'alpha', streamer: 'sam', title: 'Speedrun', status: 'open', viewers: 0, giftScore: 0 },
    );
  });

  it('opening an already open room is a 409 ROOM_ALREADY_OPEN', async () => {
    assertError(await call('POST', '/rooms', { roomId: 'alpha', streamer: 'someone-else' }), 409, 'ROOM_ALREADY_OPEN');
  });

  it('joining twice counts the viewer once', async () => {
    const first = await call('POST', '/rooms/alpha/join', { viewer: 'v1' });
    assert.equal(first.status, 200);
    assert.equal(first.body.joined, true);
    const again = await call('POST', '/rooms/alpha/join', { viewer: 'v1' });
    assert.equal(again.status, 200);
    assert.equal(again.body.joined, false);
    await call('POST', '/rooms/alpha/join', { viewer: 'v2' });
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 2);
    const top = await call('GET', '/rooms/top?by=viewers');
    assert.deepEqual(top.body.rooms.find((room: { roomId: string }) => room.roomId === 'alpha'), { roomId: 'alpha', score: 2 });
  });

  it('concurrent joins of the same viewer still count once', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => call('POST', '/rooms/alpha/join', { viewer: 'v3' })));
    assert.ok(replies.every((reply) => reply.status === 200));
    assert.equal(replies.filter((reply) => reply.body.joined === true).length, 1);
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 3);
  });

  it('leaving removes the viewer once; leaving again changes nothing', async () => {
    const left = await call('POST', '/rooms/alpha/leave', { viewer: 'v3' });
    assert.equal(left.status, 200);
    assert.equal(left.body.left, true);
    const again = await call('POST', '/rooms/alpha/leave', { viewer: 'v3' });
    assert.equal(again.body.left, false);
    assert.equal((await call('GET', '/rooms/alpha')).body.viewers, 2);
    const top = await call('GET', '/rooms/top?by=viewers');
    assert.deepEqual(top.body.rooms.find((room: { roomId: string }) => room.roomId === 'alpha'), { roomId: 'alpha', score: 2 });
  });

  it('gifts add up per room and per gifter, and return the new room score', async () => {
    const first = await call('POST', '/rooms/alpha/gifts', { from: 'v1', amount: 100 });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.giftScore, 100);
    const second = await call('POST', '/rooms/alpha/gifts', { from: 'v2', amount: 250 });
    assert.equal(second.body.giftScore, 350);
    const third = await call('POST', '/rooms/alpha/gifts', { from: 'v1', amount: 1_000_000 });
    assert.equal(third.body.giftScore, 1_000_350);
    assert.equal(third.body.fromTotal, 1_000_100);
    assert.equal((await call('GET', '/rooms/alpha')).body.giftScore, 1_000_350);
  });

  it('top by viewers and by gifts list rooms highest first', async () => {
    await call('POST', '/rooms', { roomId: 'beta', streamer: 'bea' });
    await call('POST', '/rooms', { roomId: 'gamma', streamer: 'gil' });
    for (const viewer of ['w1', 'w2', 'w3']) await call('POST', '/rooms/beta/join', { viewer });
    await call('POST', '/rooms/gamma/join', { viewer: 'w1' });
    await call('POST', '/rooms/beta/gifts', { from: 'w1', amount: 5 });
    await call('POST', '/rooms/gamma/gifts', { from: 'w1', amount: 600_000 });
    await call('POST', '/rooms/gamma/gifts', { from: 'w2', amount: 500_000 });

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
    await call('POST', '/rooms/alpha/gifts', { from: 'v3', amount: 300 });
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

  it('closing a room removes it from both rankings and empties it; joining it then is a 409', async () => {
    const closed = await call('POST', '/rooms/gamma/close');
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
    assertError(await call('POST', '/rooms/gamma/join', { viewer: 'late' }), 409, 'ROOM_CLOSED');
    assertError(await call('POST', '/rooms/gamma/gifts', { from: 'late', amount: 1 }), 409, 'ROOM_CLOSED');
    assertError(await call('POST', '/rooms/gamma/close'), 409, 'ROOM_CLOSED');
    assert.ok(!(await call('GET', '/rooms/top?by=gifts')).body.rooms.some((r: { roomId: string }) => r.roomId === 'gamma'));
  });

  it('a closed room can be opened again as a fresh session', async () => {
    const reopened = await call('POST', '/rooms', { roomId: 'gamma', streamer: 'gil', title: 'round two' });
    assert.equal(reopened.status, 201);
    const room = await call('GET', '/rooms/gamma');
    assert.equal(room.body.status, 'open');
    assert.equal(room.body.giftScore, 0);
    assert.deepEqual((await call('GET', '/rooms/gamma/gifters')).body.gifters, []);
  });

  it('unknown rooms are 404 ROOM_NOT_FOUND', async () => {
    assertError(await call('GET', '/rooms/nope'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/join', { viewer: 'v1' }), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/close'), 404, 'ROOM_NOT_FOUND');
    assertError(await call('POST', '/rooms/nope/gifts', { from: 'v1', amount: 1 }), 404, 'ROOM_NOT_FOUND');
    assertError(await call('GET', '/rooms/nope/gifters'), 404, 'ROOM_NOT_FOUND');
  });

  it('bad input is a 400 with a code and a message naming the field', async () => {
    assert.match(assertError(await call('POST', '/rooms', { streamer: 'x' }), 400, 'BAD_REQUEST'), /roomId/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'r9' }), 400, 'BAD_REQUEST'), /streamer/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'has space', streamer: 'x' }), 400, 'BAD_REQUEST'), /roomId/);
    assert.match(assertError(await call('POST', '/rooms', { roomId: 'r9', streamer: 'x', title: 42 }), 400, 'BAD_REQUEST'), /title/);
    assert.match(assertError(await call('POST', '/rooms/alpha/join', {}), 400, 'BAD_REQUEST'), /viewer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/join'), 400, 'BAD_REQUEST'), /body/);
    assert.match(assertError(await call('POST', '/rooms/alpha/leave', { viewer: 7 }), 400, 'BAD_REQUEST'), /viewer/);
    assert.match(assertError(await call('POST', '/rooms/alpha/gifts', { amount: 5 }), 400, 'BAD_REQUEST'), /from/);
    for (const amount of [0, -5, 1.5, 1_000_001, '10', null]) {
      assert.match(assertError(await call('POST', '/rooms/alpha/gifts', { from: 'v1', amount }), 400, 'INVALID_AMOUNT'), /amount/, `amount ${String(amount)}`);
    }
    assert.match(assertError(await call('GET', '/rooms/top?by=likes'), 400, 'BAD_REQUEST'), /by/);
    for (const limit of ['0', '101', 'ten']) {
      assert.match(assertError(await call('GET', `/rooms/top?limit=${limit}`), 400, 'BAD_REQUEST'), /limit/);
    }
    assert.match(assertError(await call('GET', '/rooms/alpha/gifters?limit=500'), 400, 'BAD_REQUEST'), /limit/);
    // nothing above changed the room
    assert.equal((await call('GET', '/rooms/alpha')).body.giftScore, 1_000_650);
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
    await call('POST', '/rooms', { roomId: 'logged', streamer: 'lou' });
    await call('POST', '/rooms/logged/close');
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
