/**
 * Load scenario for the live-stream sample function: 50 streamers open rooms, 2,000 viewers pick
 * rooms by Zipf popularity (s = 1.1) and join, leave, re-join elsewhere and send gifts, many
 * requests in flight at once. Every sent event and its response are recorded; the expected
 * rankings are computed from the events that got a 2xx, and the platform's answers must equal
 * that model exactly. Runs once on the embedded Redis store and once on a real redis-server.
 *
 * Each viewer's own events are sent one after the other (a viewer never has two requests in
 * flight), so the final state is a pure function of the scripts; viewers interleave freely.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPlatform } from '../support/platform.ts';
import { startRedis } from '../support/redis-server.ts';
import { createRng, createZipf, randomInt, type Rng } from './zipf.ts';

const SEED = 20_240_611;
const ROOMS = 50;
const VIEWERS = Number(process.env.SCENARIO_VIEWERS ?? 2_000);
const CONCURRENCY = Number(process.env.SCENARIO_CONCURRENCY ?? 32);
const ZIPF_S = 1.1;
const GIFTERS_LIMIT = 100;

type EventKind = 'join' | 'leave' | 'gift';

/** One request a viewer sends, with what the scenario expects back. */
interface ScenarioEvent {
  viewer: string;
  kind: EventKind;
  roomId: string;
  amount?: number;
  /** 200 for valid events, 400 for the deliberately invalid gifts. */
  expectStatus: 200 | 400;
}

/** A sent event with the response it got. */
interface SentEvent extends ScenarioEvent {
  status: number;
  body: unknown;
}

const roomId = (rank: number): string => `room-${String(rank).padStart(2, '0')}`;

/** A gift amount: mostly small, sometimes large, rarely the maximum range. */
function giftAmount(rng: Rng): number {
  const r = rng();
  if (r < 0.8) return randomInt(rng, 1, 100);
  if (r < 0.98) return randomInt(rng, 100, 10_000);
  return randomInt(rng, 10_000, 1_000_000);
}

/** Deterministic per-viewer scripts from the seed. */
function buildScripts(seed: number, viewers: number): ScenarioEvent[][] {
  const rng = createRng(seed);
  const zipf = createZipf(ROOMS, ZIPF_S, rng);
  const scripts: ScenarioEvent[][] = [];
  for (let v = 0; v < viewers; v++) {
    const viewer = `viewer-${String(v).padStart(4, '0')}`;
    let room = roomId(zipf.sample());
    const script: ScenarioEvent[] = [{ viewer, kind: 'join', roomId: room, expectStatus: 200 }];
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

interface Model {
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
  model: Model;
}

async function runScenario(label: string, url: string): Promise<RunStats> {
  const base = `${url}/fn/demo/live-stream`;
  let requests = 0;
  const send = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    requests++;
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // keep the raw text for the failure message
    }
    return { status: res.status, body: parsed };
  };
  const started = performance.now();

  for (let rank = 0; rank < ROOMS; rank++) {
    const opened = await send('POST', '/rooms', { roomId: roomId(rank), streamer: `streamer-${rank}`, title: `stream ${rank}` });
    assert.equal(opened.status, 201, `open ${roomId(rank)}: ${JSON.stringify(opened.body)}`);
  }

  // --- events: CONCURRENCY workers, round-robin over viewers, one request in flight per viewer
  const scripts = buildScripts(SEED, VIEWERS);
  const sent: SentEvent[] = [];
  const queue: Array<{ script: ScenarioEvent[]; next: number }> = scripts.map((script) => ({ script, next: 0 }));
  let head = 0;
  const eventsStarted = performance.now();
  const requestsBefore = requests;
  const worker = async (): Promise<void> => {
    while (head < queue.length) {
      const cursor = queue[head++];
      const event = cursor.script[cursor.next++];
      const path = `/rooms/${event.roomId}/${event.kind === 'gift' ? 'gifts' : event.kind}`;
      const body = event.kind === 'gift' ? { from: event.viewer, amount: event.amount } : { viewer: event.viewer };
      let reply: { status: number; body: unknown };
      try {
        reply = await send('POST', path, body);
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

  // --- every event got the status it should have, and join/leave replies agree with set semantics
  const model: Model = { members: new Map(), gifts: new Map(), gifters: new Map() };
  for (let rank = 0; rank < ROOMS; rank++) model.members.set(roomId(rank), new Set());
  const unexpected: string[] = [];
  for (const event of sent) {
    if (event.status !== event.expectStatus) {
      unexpected.push(`${event.kind} ${event.viewer} → ${event.roomId}: ${event.status} ${JSON.stringify(event.body)}`);
      continue;
    }
    if (event.status < 200 || event.status >= 300) {
      const code = (event.body as { error?: { code?: string } } | null)?.error?.code;
      if (code !== 'INVALID_AMOUNT') unexpected.push(`${event.kind} ${event.viewer}: 400 with code ${code}`);
      continue;
    }
    const members = model.members.get(event.roomId) as Set<string>;
    const reply = event.body as { joined?: boolean; left?: boolean };
    if (event.kind === 'join') {
      if (reply.joined !== !members.has(event.viewer)) unexpected.push(`join ${event.viewer} → ${event.roomId}: joined=${reply.joined} but member=${members.has(event.viewer)}`);
      members.add(event.viewer);
    } else if (event.kind === 'leave') {
      if (reply.left !== members.has(event.viewer)) unexpected.push(`leave ${event.viewer} → ${event.roomId}: left=${reply.left} but member=${members.has(event.viewer)}`);
      members.delete(event.viewer);
    } else {
      const amount = event.amount as number;
      model.gifts.set(event.roomId, (model.gifts.get(event.roomId) ?? 0) + amount);
      const gifters = model.gifters.get(event.roomId) ?? new Map<string, number>();
      gifters.set(event.viewer, (gifters.get(event.viewer) ?? 0) + amount);
      model.gifters.set(event.roomId, gifters);
    }
  }
  assert.equal(sent.length, scripts.reduce((sum, script) => sum + script.length, 0), 'every scripted event was sent');
  assert.deepEqual(unexpected.slice(0, 10), [], `${unexpected.length} unexpected replies`);

  // --- rankings equal the model: same scores per room, highest first
  const expectedViewers = new Map([...model.members].map(([room, members]) => [room, members.size]));
  const byViewers = await send('GET', `/rooms/top?by=viewers&limit=${ROOMS}`);
  assert.equal(byViewers.status, 200, JSON.stringify(byViewers.body));
  assertRanking('viewers', byViewers.body.rooms, expectedViewers);

  const byGifts = await send('GET', `/rooms/top?by=gifts&limit=${ROOMS}`);
  assert.equal(byGifts.status, 200, JSON.stringify(byGifts.body));
  assertRanking('gifts', byGifts.body.rooms, model.gifts);

  for (let rank = 0; rank < ROOMS; rank++) {
    const id = roomId(rank);
    const room = await send('GET', `/rooms/${id}`);
    assert.equal(room.body.viewers, expectedViewers.get(id), `${id} viewers`);
    assert.equal(room.body.giftScore, model.gifts.get(id) ?? 0, `${id} giftScore`);

    const gifters = await send('GET', `/rooms/${id}/gifters?limit=${GIFTERS_LIMIT}`);
    assert.equal(gifters.status, 200, JSON.stringify(gifters.body));
    const list = gifters.body.gifters as Array<{ user: string; amount: number }>;
    const expected = model.gifters.get(id) ?? new Map<string, number>();
    const expectedTop = [...expected.values()].sort((a, b) => b - a).slice(0, GIFTERS_LIMIT);
    assert.deepEqual(list.map((g) => g.amount), expectedTop, `${id}: gifter amounts, highest first`);
    for (const gifter of list) assert.equal(gifter.amount, expected.get(gifter.user), `${id}: gifter ${gifter.user}`);
    assert.equal(new Set(list.map((g) => g.user)).size, list.length, `${id}: gifters are distinct`);
  }

  const totalSeconds = (performance.now() - started) / 1000;
  return { label, requests, eventRequests, eventSeconds, totalSeconds, model };
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
  const ranked = [...stats.model.members].map(([room, members]) => [room, members.size] as const).sort((a, b) => b[1] - a[1]);
  console.log(
    `live-stream zipf [${stats.label}]: ${stats.eventRequests} event requests in ${stats.eventSeconds.toFixed(2)} s = ` +
      `${Math.round(stats.eventRequests / stats.eventSeconds)} req/s at ${CONCURRENCY} in flight; ` +
      `${stats.requests} requests in all (setup + checks) in ${stats.totalSeconds.toFixed(2)} s; ` +
      `top rooms by viewers: ${ranked.slice(0, 3).map(([room, n]) => `${room}=${n}`).join(', ')}`,
  );
}

describe('live-stream under a Zipf-distributed concurrent load', () => {
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

  it('rankings and gifters equal the model on the embedded store', { timeout: 180_000 }, async () => {
    const platform = await startPlatform();
    try {
      const stats = await runScenario('embedded store', platform.url);
      report(stats);
    } finally {
      await platform.stop();
    }
  });

  it('rankings and gifters equal the model on a real redis-server', { timeout: 180_000 }, async () => {
    const redis = await startRedis();
    try {
      const platform = await startPlatform({ redisUrl: redis.url });
      try {
        const stats = await runScenario('redis-server', platform.url);
        report(stats);
      } finally {
        await platform.stop();
      }
    } finally {
      await redis.stop();
    }
  });
});
