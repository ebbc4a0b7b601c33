/**
 * Load scenario for the live-stream and follow sample functions, with many requests in flight:
 *
 * 1. 60 streamers sign in (POST /follow/session → a player token); 50 of them open a room.
 * 2. 1,000 players (SCENARIO_VIEWERS) sign in, then pick rooms by Zipf popularity (s = 1.1) and join, leave,
 *    re-join elsewhere and send gifts, and follow streamers by Zipf popularity (some follow
 *    again, some unfollow) — every request carries the player's token.
 * 3. The rankings and gifters must equal a model computed from the room events that got a 2xx.
 * 4. Streamers keep, close, or close and switch rooms.
 * 5. Every streamer's follower count, the most followed streamer's follower list (paged) and
 *    every player's live-now list (/follow/me/live, which asks live-stream over ctx.rpc) must
 *    equal what the model of the sent events says.
 *
 * Runs once on the embedded defaults (Redis store in process, SQLite) and once on a real
 * redis-server + MariaDB. Each player's and each streamer's own events are sent one after the
 * other (never two in flight), so the final state is a pure function of the scripts while
 * players interleave freely.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import { startRedis } from '../support/redis-server.ts';
import { createTestDatabase, startMariaDb } from '../support/mariadb.ts';
import { createRng, createZipf, randomInt, type Rng } from './zipf.ts';
import { buildFollowScripts, buildRoomChanges, buildUniverse, FollowModel, type FollowEvent, type FollowUniverse } from './follow-model.ts';

const SEED = 20_240_611;
const ROOMS = 50;
const OFFLINE_STREAMERS = 10;
/** Players (SCENARIO_VIEWERS): 1,000 keeps both runs together under a minute on 2 cores (about 8,000 requests each). */
const VIEWERS = Number(process.env.SCENARIO_VIEWERS ?? 1_000);
const CONCURRENCY = Number(process.env.SCENARIO_CONCURRENCY ?? 32);
const ZIPF_S = 1.1;
const GIFTERS_LIMIT = 100;

type RoomEventKind = 'join' | 'leave' | 'gift';

/** One room request a viewer sends, with what the scenario expects back. */
interface RoomEvent {
  viewer: string;
  kind: RoomEventKind;
  roomId: string;
  amount?: number;
  /** 200 for valid events, 400 for the deliberately invalid gifts. */
  expectStatus: 200 | 400;
}

/** Anything in a player's script: sign-in first, then room and follow events interleaved. */
type PlayerEvent = { kind: 'session'; viewer: string } | RoomEvent | (FollowEvent & { viewer: string });

/** A sent event with the response it got. */
type SentEvent = PlayerEvent & { status: number; body: unknown };

interface Reply {
  status: number;
  // parsed JSON of a sample function, read field by field (a local test type, not a module boundary)
  body: any;
}

const roomId = (rank: number): string => `room-${String(rank).padStart(2, '0')}`;
const viewerId = (v: number): string => `viewer-${String(v).padStart(4, '0')}`;

/** A gift amount: mostly small, sometimes large, rarely the maximum range. */
function giftAmount(rng: Rng): number {
  const r = rng();
  if (r < 0.8) return randomInt(rng, 1, 100);
  if (r < 0.98) return randomInt(rng, 100, 10_000);
  return randomInt(rng, 10_000, 1_000_000);
}

/** Deterministic per-viewer room scripts from the seed. */
function buildRoomScripts(seed: number, viewers: number): RoomEvent[][] {
  const rng = createRng(seed);
  const zipf = createZipf(ROOMS, ZIPF_S, rng);
  const scripts: RoomEvent[][] = [];
  for (let v = 0; v < viewers; v++) {
    const viewer = viewerId(v);
    let room = roomId(zipf.sample());
    const script: RoomEvent[] = [{ viewer, kind: 'join', roomId: room, expectStatus: 200 }];
    const steps = randomInt(rng, 1, 4);
    for (let step = 0; step < steps; step++) {
      const r = rng();
      if (r < 0.45) {
        script.push({ viewer, kind: 'gift', roomId: room, amount: giftAmount(rng), expectStatus: 200 });
      } else if (r < 0.57) {
        script.push({ viewer, kind: 'join', roomId: room, expectStatus: 200 }); // again: must count once
      } else if (r < 0.8) {
        script.push({ viewer, kind: 'leave', roomId: room, expectStatus: 200 }); // re-join elsewhere
        room = roomId(zipf.sample());
        script.push({ viewer, kind: 'join', roomId: room, expectStatus: 200 });
      } else if (r < 0.95) {
        script.push({ viewer, kind: 'leave', roomId: room, expectStatus: 200 }); // may already be out
      } else {
        const amount = rng() < 0.5 ? 0 : 1_000_001;
        script.push({ viewer, kind: 'gift', roomId: room, amount, expectStatus: 400 });
      }
    }
    scripts.push(script);
  }
  return scripts;
}

/** Sign-in, then the room and follow events of each player merged in a seeded random order. */
function buildPlayerScripts(seed: number, viewers: number, universe: FollowUniverse): PlayerEvent[][] {
  const rooms = buildRoomScripts(seed, viewers);
  const follows = buildFollowScripts(seed + 1, rooms.map((_, v) => viewerId(v)), universe, ZIPF_S);
  const rng = createRng(seed + 2);
  return rooms.map((roomScript, v) => {
    const a = [...roomScript];
    const b = follows[v].map((event) => ({ ...event, viewer: event.player }));
    const merged: PlayerEvent[] = [{ kind: 'session', viewer: viewerId(v) }];
    while (a.length + b.length > 0) merged.push((rng() * (a.length + b.length) < a.length ? a : b).shift() as PlayerEvent);
    return merged;
  });
}

interface RoomModel {
  members: Map<string, Set<string>>;
  gifts: Map<string, number>;
  gifters: Map<string, Map<string, number>>;
}

interface RunStats {
  label: string;
  requests: number;
  eventRequests: number;
  eventSeconds: number;
  totalSeconds: number;
  rooms: RoomModel;
  follows: FollowModel;
  universe: FollowUniverse;
}

/** Run `task` for every item with at most `CONCURRENCY` in flight. */
async function pool<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function runScenario(label: string, url: string): Promise<RunStats> {
  let requests = 0;
  const tokens = new Map<string, string>();
  /** One request to a sample function of app demo, as `as` when given (their token). */
  const send = async (fn: 'live-stream' | 'follow', method: string, path: string, body?: unknown, as?: string): Promise<Reply> => {
    requests++;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = as === undefined ? undefined : tokens.get(as);
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${url}/fn/demo/${fn}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // keep the raw text for the failure message
    }
    return { status: res.status, body: parsed };
  };
  const signIn = async (user: string): Promise<Reply> => {
    const reply = await send('follow', 'POST', '/session', { userId: user });
    if (reply.status === 201) tokens.set(user, reply.body.token as string);
    return reply;
  };
  const started = performance.now();

  // --- 1. streamers sign in and open their rooms
  const universe = buildUniverse(ROOMS, OFFLINE_STREAMERS, roomId);
  const follows = new FollowModel();
  await pool(universe.streamers, async (streamer) => {
    const reply = await signIn(streamer);
    assert.equal(reply.status, 201, `sign-in ${streamer}: ${JSON.stringify(reply.body)}`);
  });
  for (const [streamer, room] of universe.firstRoom) {
    const opened = await send('live-stream', 'POST', '/rooms', { roomId: room, title: `stream of ${streamer}` }, streamer);
    assert.equal(opened.status, 201, `open ${room}: ${JSON.stringify(opened.body)}`);
    follows.setLive(streamer, room);
  }

  // --- 2. players: CONCURRENCY workers, round-robin over players, one request in flight per player
  const scripts = buildPlayerScripts(SEED, VIEWERS, universe);
  const sent: SentEvent[] = [];
  const queue: Array<{ script: PlayerEvent[]; next: number }> = scripts.map((script) => ({ script, next: 0 }));
  let head = 0;
  const eventsStarted = performance.now();
  const requestsBefore = requests;
  const worker = async (): Promise<void> => {
    while (head < queue.length) {
      const cursor = queue[head++];
      const event = cursor.script[cursor.next++];
      let reply: Reply;
      try {
        if (event.kind === 'session') reply = await signIn(event.viewer);
        else if (event.kind === 'follow' || event.kind === 'unfollow') reply = await send('follow', event.kind === 'follow' ? 'POST' : 'DELETE', `/follow/${event.streamer}`, undefined, event.viewer);
        else if (event.kind === 'gift') reply = await send('live-stream', 'POST', `/rooms/${event.roomId}/gifts`, { amount: event.amount }, event.viewer);
        else reply = await send('live-stream', 'POST', `/rooms/${event.roomId}/${event.kind}`, undefined, event.viewer);
      } catch (error) {
        reply = { status: 0, body: String(error) };
      }
      sent.push({ ...event, status: reply.status, body: reply.body });
      if (cursor.next < cursor.script.length) queue.push(cursor);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const eventSeconds = (performance.now() - eventsStarted) / 1000;
  const eventRequests = requests - requestsBefore;

  // --- every event got the status it should have; join/leave/follow replies agree with the model
  const rooms: RoomModel = { members: new Map(), gifts: new Map(), gifters: new Map() };
  for (let rank = 0; rank < ROOMS; rank++) rooms.members.set(roomId(rank), new Set());
  const unexpected: string[] = [];
  for (const event of sent) {
    const code = (event.body as { error?: { code?: string } } | null)?.error?.code;
    if (event.kind === 'session') {
      if (event.status !== 201) unexpected.push(`session ${event.viewer}: ${event.status} ${JSON.stringify(event.body)}`);
      continue;
    }
    if (event.kind === 'follow' || event.kind === 'unfollow') {
      if (event.status !== 200) unexpected.push(`${event.kind} ${event.viewer} → ${event.streamer}: ${event.status} ${JSON.stringify(event.body)}`);
      else follows.applyFollow(event, (event.body as { changed?: unknown }).changed);
      continue;
    }
    if (event.status !== event.expectStatus) {
      unexpected.push(`${event.kind} ${event.viewer} → ${event.roomId}: ${event.status} ${JSON.stringify(event.body)}`);
      continue;
    }
    if (event.status < 200 || event.status >= 300) {
      if (code !== 'INVALID_AMOUNT') unexpected.push(`${event.kind} ${event.viewer}: 400 with code ${code}`);
      continue;
    }
    const members = rooms.members.get(event.roomId) as Set<string>;
    const reply = event.body as { joined?: boolean; left?: boolean };
    if (event.kind === 'join') {
      if (reply.joined !== !members.has(event.viewer)) unexpected.push(`join ${event.viewer} → ${event.roomId}: joined=${reply.joined} but member=${members.has(event.viewer)}`);
      members.add(event.viewer);
    } else if (event.kind === 'leave') {
      if (reply.left !== members.has(event.viewer)) unexpected.push(`leave ${event.viewer} → ${event.roomId}: left=${reply.left} but member=${members.has(event.viewer)}`);
      members.delete(event.viewer);
    } else {
      const amount = event.amount as number;
      rooms.gifts.set(event.roomId, (rooms.gifts.get(event.roomId) ?? 0) + amount);
      const gifters = rooms.gifters.get(event.roomId) ?? new Map<string, number>();
      gifters.set(event.viewer, (gifters.get(event.viewer) ?? 0) + amount);
      rooms.gifters.set(event.roomId, gifters);
    }
  }
  assert.equal(sent.length, scripts.reduce((sum, script) => sum + script.length, 0), 'every scripted event was sent');
  assert.deepEqual(unexpected.slice(0, 10), [], `${unexpected.length} unexpected replies`);
  assert.deepEqual(follows.mismatches.slice(0, 10), [], `${follows.mismatches.length} follow replies disagree with the model`);

  // --- 3. rankings equal the model: same scores per room, highest first
  const expectedViewers = new Map([...rooms.members].map(([room, members]) => [room, members.size]));
  const byViewers = await send('live-stream', 'GET', `/rooms/top?by=viewers&limit=${ROOMS}`);
  assert.equal(byViewers.status, 200, JSON.stringify(byViewers.body));
  assertRanking('viewers', byViewers.body.rooms, expectedViewers);

  const byGifts = await send('live-stream', 'GET', `/rooms/top?by=gifts&limit=${ROOMS}`);
  assert.equal(byGifts.status, 200, JSON.stringify(byGifts.body));
  assertRanking('gifts', byGifts.body.rooms, rooms.gifts);

  for (let rank = 0; rank < ROOMS; rank++) {
    const id = roomId(rank);
    const room = await send('live-stream', 'GET', `/rooms/${id}`);
    assert.equal(room.body.viewers, expectedViewers.get(id), `${id} viewers`);
    assert.equal(room.body.giftScore, rooms.gifts.get(id) ?? 0, `${id} giftScore`);

    const gifters = await send('live-stream', 'GET', `/rooms/${id}/gifters?limit=${GIFTERS_LIMIT}`);
    assert.equal(gifters.status, 200, JSON.stringify(gifters.body));
    const list = gifters.body.gifters as Array<{ user: string; amount: number }>;
    const expected = rooms.gifters.get(id) ?? new Map<string, number>();
    const expectedTop = [...expected.values()].sort((a, b) => b - a).slice(0, GIFTERS_LIMIT);
    assert.deepEqual(list.map((g) => g.amount), expectedTop, `${id}: gifter amounts, highest first`);
    for (const gifter of list) assert.equal(gifter.amount, expected.get(gifter.user), `${id}: gifter ${gifter.user}`);
    assert.equal(new Set(list.map((g) => g.user)).size, list.length, `${id}: gifters are distinct`);
  }

  // --- 4. streamers keep, close, or switch rooms (each streamer's steps in order)
  const changes = buildRoomChanges(SEED + 3, universe);
  await pool(changes, async (change) => {
    if (change.action === 'keep') return;
    const closed = await send('live-stream', 'POST', `/rooms/${change.room}/close`, undefined, change.streamer);
    assert.equal(closed.status, 200, `close ${change.room}: ${JSON.stringify(closed.body)}`);
    follows.setLive(change.streamer, null);
    if (change.action === 'switch') {
      const opened = await send('live-stream', 'POST', '/rooms', { roomId: change.next }, change.streamer);
      assert.equal(opened.status, 201, `open ${change.next}: ${JSON.stringify(opened.body)}`);
      follows.setLive(change.streamer, change.next as string);
    }
  });

  // --- 5. follower counts, the top streamer's followers and every live-now list equal the model
  const counts = follows.followerCounts(universe.streamers);
  for (const streamer of universe.streamers) {
    const reply = await send('follow', 'GET', `/users/${streamer}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual({ followers: reply.body.followers, following: reply.body.following }, { followers: counts.get(streamer), following: 0 }, `${streamer}: counts`);
  }
  const top = universe.streamers[0];
  const listed: string[] = [];
  for (let cursor: string | null = '', pages = 0; cursor !== null; pages++) {
    assert.ok(pages <= VIEWERS / 100 + 1, 'pagination ends');
    const reply = await send('follow', 'GET', `/users/${top}/followers?limit=100${cursor === '' ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    for (const f of reply.body.followers as Array<{ userId: string }>) listed.push(f.userId);
    cursor = reply.body.nextCursor as string | null;
  }
  assert.equal(new Set(listed).size, listed.length, `${top}: followers listed once each`);
  assert.deepEqual([...listed].sort(), follows.followersOf(top).sort(), `${top}: followers`);

  const roomViewers = new Map(changes.map((c) => [c.streamer, c.action === 'keep' ? expectedViewers.get(c.room) : 0]));
  const wrongLive: string[] = [];
  await pool(scripts.map((_, v) => viewerId(v)), async (player) => {
    const reply = await send('follow', 'GET', '/me/live', undefined, player);
    if (reply.status !== 200) {
      wrongLive.push(`${player}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return;
    }
    const live = reply.body.live as Array<{ streamer: string; roomId: string; viewers: number }>;
    const got = live.map((room) => `${room.streamer}@${room.roomId}`).sort();
    const want = follows.liveNow(player);
    if (JSON.stringify(got) !== JSON.stringify(want)) wrongLive.push(`${player}: live ${JSON.stringify(got)}, model ${JSON.stringify(want)}`);
    for (const room of live) {
      if (room.viewers !== roomViewers.get(room.streamer)) wrongLive.push(`${player}: ${room.roomId} has ${room.viewers} viewers, model ${roomViewers.get(room.streamer)}`);
    }
    if (reply.body.checked !== (follows.following.get(player) ?? []).length) wrongLive.push(`${player}: checked ${reply.body.checked} followed streamers, model ${(follows.following.get(player) ?? []).length}`);
  });
  assert.deepEqual(wrongLive.slice(0, 10), [], `${wrongLive.length} live-now lists disagree with the model`);

  const totalSeconds = (performance.now() - started) / 1000;
  return { label, requests, eventRequests, eventSeconds, totalSeconds, rooms, follows, universe };
}

/** The ranking has exactly the model's non-zero rooms (zero-score rooms may appear), with equal scores, sorted desc. */
function assertRanking(by: string, rooms: Array<{ roomId: string; score: number }>, expected: Map<string, number>): void {
  const got = new Map(rooms.map((room) => [room.roomId, room.score]));
  assert.equal(got.size, rooms.length, `${by}: rooms are distinct`);
  for (const [room, score] of got) assert.equal(score, expected.get(room) ?? 0, `${by}: score of ${room}`);
  for (const [room, score] of expected) if (score > 0) assert.equal(got.get(room), score, `${by}: ${room} with score ${score} is ranked`);
  for (let i = 1; i < rooms.length; i++) assert.ok(rooms[i - 1].score >= rooms[i].score, `${by}: sorted at ${i}: ${rooms[i - 1].score} < ${rooms[i].score}`);
}

function report(stats: RunStats): void {
  const ranked = [...stats.rooms.members].map(([room, members]) => [room, members.size] as const).sort((a, b) => b[1] - a[1]);
  const followed = [...stats.follows.followerCounts(stats.universe.streamers)].sort((a, b) => b[1] - a[1]);
  const edges = followed.reduce((sum, [, n]) => sum + n, 0);
  console.log(
    `zipf scenario [${stats.label}]: ${stats.eventRequests} player requests in ${stats.eventSeconds.toFixed(2)} s = ` +
      `${Math.round(stats.eventRequests / stats.eventSeconds)} req/s at ${CONCURRENCY} in flight; ` +
      `${stats.requests} requests in all (setup + checks) in ${stats.totalSeconds.toFixed(2)} s; ` +
      `top rooms by viewers: ${ranked.slice(0, 3).map(([room, n]) => `${room}=${n}`).join(', ')}; ` +
      `${edges} follows at the end, most followed: ${followed.slice(0, 3).map(([s, n]) => `${s}=${n}`).join(', ')}`,
  );
}

/** Start a platform, run the scenario, report, stop (also on failure). */
async function runOn(label: string, start: () => Promise<TestPlatform>): Promise<void> {
  const platform = await start();
  try {
    report(await runScenario(label, platform.url));
  } finally {
    await platform.stop();
  }
}

describe('live-stream and follow under a Zipf-distributed concurrent load', () => {
  it('the Zipf generator is deterministic for a seed and skewed towards the first ranks', () => {
    const a = createZipf(ROOMS, ZIPF_S, createRng(7));
    const b = createZipf(ROOMS, ZIPF_S, createRng(7));
    const samplesA = Array.from({ length: 5_000 }, () => a.sample());
    const samplesB = Array.from({ length: 5_000 }, () => b.sample());
    assert.deepEqual(samplesA, samplesB);
    const share0 = samplesA.filter((rank) => rank === 0).length / samplesA.length;
    assert.ok(Math.abs(share0 - a.probability(0)) < 0.03, `rank 0 share ${share0} vs ${a.probability(0)}`);
    assert.ok(samplesA.every((rank) => rank >= 0 && rank < ROOMS));
    assert.ok(a.probability(0) > 10 * a.probability(ROOMS - 1));
  });

  it('the follow model counts only changed edges and lists live followed streamers', () => {
    const model = new FollowModel();
    model.applyFollow({ kind: 'follow', player: 'p', streamer: 's1' }, true);
    model.applyFollow({ kind: 'follow', player: 'p', streamer: 's1' }, false);
    model.applyFollow({ kind: 'follow', player: 'p', streamer: 's2' }, true);
    model.applyFollow({ kind: 'unfollow', player: 'p', streamer: 's3' }, false);
    model.applyFollow({ kind: 'follow', player: 'q', streamer: 's2' }, false); // wrong: q did not follow s2
    model.setLive('s2', 'r2');
    model.setLive('s3', 'r3');
    assert.deepEqual([...model.followerCounts(['s1', 's2', 's3'])], [['s1', 1], ['s2', 2], ['s3', 0]]);
    assert.deepEqual(model.liveNow('p'), ['s2@r2']);
    assert.equal(model.mismatches.length, 1);
    assert.match(model.mismatches[0], /q → s2/);
    const universe = buildUniverse(3, 2, roomId);
    const scripts = buildFollowScripts(1, ['a', 'b'], universe, ZIPF_S);
    assert.deepEqual(scripts, buildFollowScripts(1, ['a', 'b'], universe, ZIPF_S), 'deterministic');
    assert.ok(scripts.flat().every((e) => universe.streamers.includes(e.streamer)));
  });

  it('rooms, rankings, follower counts and live-now lists equal the model on the embedded defaults', { timeout: 180_000 }, async () => {
    await runOn('embedded store + SQLite', () => startPlatform());
  });

  it('rooms, rankings, follower counts and live-now lists equal the model on redis-server + MariaDB', { timeout: 240_000 }, async () => {
    const redis = await startRedis();
    const maria = await startMariaDb();
    try {
      await runOn('redis-server + MariaDB', async () => startPlatform({ redisUrl: redis.url, mysqlUrl: await createTestDatabase(maria) }));
    } finally {
      await redis.stop();
      await maria.stop();
    }
  });
});
