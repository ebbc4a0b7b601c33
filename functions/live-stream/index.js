// Live-stream rooms: open/close rooms, viewers joining and leaving, gifts, and live rankings
// (most watched, most gifted) on Redis sorted sets. The HTTP API is documented in README.md.
//
// Redis keys (the platform namespaces them per app):
//   room:<id>            hash  streamer, title, status (open|closed), openedAt, closedAt, finalGiftScore
//   rooms:open           set   ids of open rooms; SADD/SREM on it is the open/close guard
//   room:<id>:viewers    set   viewer ids currently in the room
//   room:<id>:gifters    zset  user → total amount gifted in the current (or last) session
//   rank:viewers         zset  open room id → viewer count
//   rank:gifts           zset  open room id → gift total of the current session
//
// Consistency without transactions: a counter only moves when SADD/SREM actually changed the
// set (so repeated or concurrent joins count once), and every write to a ranking is followed by
// a check that the room is still open; a request that raced a close undoes its ranking write and
// answers 409, so a closed room never reappears in the rankings.
import { response, HttpError } from 'faas';

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_TEXT = 200;
const MAX_GIFT = 1_000_000;
const RANKINGS = { viewers: 'rank:viewers', gifts: 'rank:gifts' };

/** 400 with code BAD_REQUEST naming the offending field. */
function badRequest(message) {
  return new HttpError(400, message, { code: 'BAD_REQUEST' });
}

function objectBody(req) {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (send Content-Type: application/json)');
  }
  return body;
}

/** A required id-like string field (room ids, user ids). */
function idField(body, field) {
  const value = body[field];
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw badRequest(`field "${field}" must be a string of 1-64 characters from A-Z a-z 0-9 _ . : -`);
  }
  return value;
}

/** A single query parameter (repeated parameters are refused). */
function queryParam(req, name) {
  const value = req.query ? req.query[name] : undefined;
  if (Array.isArray(value)) throw badRequest(`query parameter "${name}" must be given once`);
  return value === undefined || value === '' ? undefined : value;
}

function limitParam(req, fallback) {
  const raw = queryParam(req, 'limit');
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100) {
    throw badRequest('query parameter "limit" must be an integer from 1 to 100');
  }
  return Number(raw);
}

function checkRoomId(id) {
  if (!ID_PATTERN.test(id) || id === 'top') {
    throw badRequest('room id in the path must be 1-64 characters from A-Z a-z 0-9 _ . : - (and not "top")');
  }
  return id;
}

/** Flat `[member, score, member, score, ...]` (WITHSCORES) → pairs with numeric scores. */
function pairs(flat, memberKey, scoreKey) {
  const out = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ [memberKey]: String(flat[i]), [scoreKey]: Number(flat[i + 1]) });
  return out;
}

/** Throws 404 ROOM_NOT_FOUND or 409 ROOM_CLOSED unless the room is open. */
async function requireOpen(redis, id) {
  if (Number(await redis.sismember('rooms:open', id)) === 1) return;
  if (Number(await redis.exists(`room:${id}`)) === 1) {
    throw new HttpError(409, `room "${id}" is closed`, { code: 'ROOM_CLOSED' });
  }
  throw new HttpError(404, `room "${id}" does not exist`, { code: 'ROOM_NOT_FOUND' });
}

async function requireExists(redis, id) {
  if (Number(await redis.exists(`room:${id}`)) !== 1) {
    throw new HttpError(404, `room "${id}" does not exist`, { code: 'ROOM_NOT_FOUND' });
  }
}

async function stillOpen(redis, id) {
  return Number(await redis.sismember('rooms:open', id)) === 1;
}

async function openRoom(req, ctx) {
  const body = objectBody(req);
  const roomId = checkRoomId(idField(body, 'roomId'));
  const streamer = idField(body, 'streamer');
  let title = '';
  if (body.title !== undefined && body.title !== null) {
    if (typeof body.title !== 'string' || body.title.length > MAX_TEXT) {
      throw badRequest(`field "title" must be a string of at most ${MAX_TEXT} characters`);
    }
    title = body.title;
  }
  const redis = ctx.redis;
  const alreadyOpen = () => new HttpError(409, `room "${roomId}" is already open`, { code: 'ROOM_ALREADY_OPEN' });
  if (await stillOpen(redis, roomId)) throw alreadyOpen();
  // A reopened room starts a new session: drop the last session's gifters before the room
  // becomes visible as open (close already emptied the viewers set).
  await redis.del(`room:${roomId}:gifters`);
  await redis.hdel(`room:${roomId}`, 'closedAt', 'finalGiftScore');
  // SADD is the guard: of two concurrent opens exactly one sees 1.
  if (Number(await redis.sadd('rooms:open', roomId)) === 0) throw alreadyOpen();
  const openedAt = new Date().toISOString();
  await redis.hset(`room:${roomId}`, 'streamer', streamer, 'title', title, 'status', 'open', 'openedAt', openedAt);
  ctx.log.info('room opened', roomId, 'by', streamer);
  return response({ roomId, streamer, title, status: 'open', openedAt }, { status: 201 });
}

async function closeRoom(id, ctx) {
  const redis = ctx.redis;
  await requireExists(redis, id);
  if (Number(await redis.srem('rooms:open', id)) === 0) {
    throw new HttpError(409, `room "${id}" is already closed`, { code: 'ROOM_CLOSED' });
  }
  const giftScore = Number((await redis.zscore(RANKINGS.gifts, id)) ?? 0);
  const closedAt = new Date().toISOString();
  await redis.hset(`room:${id}`, 'status', 'closed', 'closedAt', closedAt, 'finalGiftScore', String(giftScore));
  await redis.zrem(RANKINGS.viewers, id);
  await redis.zrem(RANKINGS.gifts, id);
  await redis.del(`room:${id}:viewers`);
  ctx.log.info('room closed', id, 'gift score', giftScore);
  return { roomId: id, status: 'closed', closedAt, giftScore };
}

async function joinRoom(id, req, ctx) {
  const viewer = idField(objectBody(req), 'viewer');
  const redis = ctx.redis;
  await requireOpen(redis, id);
  const joined = Number(await redis.sadd(`room:${id}:viewers`, viewer)) === 1;
  if (joined) {
    await redis.zincrby(RANKINGS.viewers, 1, id);
    if (!(await stillOpen(redis, id))) {
      // Raced a close: undo, so the closed room does not come back into the ranking.
      await redis.srem(`room:${id}:viewers`, viewer);
      await redis.zrem(RANKINGS.viewers, id);
      throw new HttpError(409, `room "${id}" is closed`, { code: 'ROOM_CLOSED' });
    }
  }
  return { roomId: id, viewer, joined, viewers: Number(await redis.scard(`room:${id}:viewers`)) };
}

async function leaveRoom(id, req, ctx) {
  const viewer = idField(objectBody(req), 'viewer');
  const redis = ctx.redis;
  await requireExists(redis, id);
  const left = Number(await redis.srem(`room:${id}:viewers`, viewer)) === 1;
  if (left) {
    if (await stillOpen(redis, id)) {
      await redis.zincrby(RANKINGS.viewers, -1, id);
      if (!(await stillOpen(redis, id))) await redis.zrem(RANKINGS.viewers, id);
    }
  }
  return { roomId: id, viewer, left, viewers: Number(await redis.scard(`room:${id}:viewers`)) };
}

async function sendGift(id, req, ctx) {
  const body = objectBody(req);
  const from = idField(body, 'from');
  const amount = body.amount;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1 || amount > MAX_GIFT) {
    throw new HttpError(400, `field "amount" must be an integer from 1 to ${MAX_GIFT}`, { code: 'INVALID_AMOUNT' });
  }
  const redis = ctx.redis;
  await requireOpen(redis, id);
  const giftScore = Number(await redis.zincrby(RANKINGS.gifts, amount, id));
  if (!(await stillOpen(redis, id))) {
    await redis.zrem(RANKINGS.gifts, id);
    throw new HttpError(409, `room "${id}" is closed`, { code: 'ROOM_CLOSED' });
  }
  const total = Number(await redis.zincrby(`room:${id}:gifters`, amount, from));
  return { roomId: id, from, amount, giftScore, fromTotal: total };
}

async function getRoom(id, ctx) {
  const redis = ctx.redis;
  const [streamer, title, status, openedAt, closedAt, finalGiftScore] = await redis.hmget(
    `room:${id}`, 'streamer', 'title', 'status', 'openedAt', 'closedAt', 'finalGiftScore',
  );
  if (status === null || status === undefined) {
    throw new HttpError(404, `room "${id}" does not exist`, { code: 'ROOM_NOT_FOUND' });
  }
  const viewers = Number(await redis.scard(`room:${id}:viewers`));
  const giftScore = status === 'open'
    ? Number((await redis.zscore(RANKINGS.gifts, id)) ?? 0)
    : Number(finalGiftScore ?? 0);
  return { roomId: id, streamer, title: title ?? '', status, viewers, giftScore, openedAt, closedAt: closedAt ?? null };
}

async function topRooms(req, ctx) {
  const by = queryParam(req, 'by') ?? 'viewers';
  if (by !== 'viewers' && by !== 'gifts') throw badRequest('query parameter "by" must be "viewers" or "gifts"');
  const limit = limitParam(req, 10);
  const flat = await ctx.redis.zrevrange(RANKINGS[by], 0, limit - 1, 'WITHSCORES');
  return { by, rooms: pairs(flat, 'roomId', 'score') };
}

async function gifters(id, req, ctx) {
  const limit = limitParam(req, 10);
  await requireExists(ctx.redis, id);
  const flat = await ctx.redis.zrevrange(`room:${id}:gifters`, 0, limit - 1, 'WITHSCORES');
  return { roomId: id, gifters: pairs(flat, 'user', 'amount') };
}

function routeNotFound(req) {
  return new HttpError(404, `no route for ${req.method} ${req.path}`, { code: 'ROUTE_NOT_FOUND' });
}

export default async function handler(req, ctx) {
  const method = req.method;
  const parts = req.path.split('/').filter((part) => part !== '');
  if (parts[0] !== 'rooms') throw routeNotFound(req);

  if (parts.length === 1) {
    if (method === 'POST') return openRoom(req, ctx);
    throw routeNotFound(req);
  }
  if (parts.length === 2 && parts[1] === 'top') {
    if (method === 'GET') return topRooms(req, ctx);
    throw routeNotFound(req);
  }
  if (parts.length > 3) throw routeNotFound(req);

  let rawId;
  try {
    rawId = decodeURIComponent(parts[1]);
  } catch {
    throw badRequest('room id in the path is not valid percent-encoding');
  }
  const action = parts[2];
  const route = `${method} ${action ?? ''}`;
  switch (route) {
    case 'GET ': return getRoom(checkRoomId(rawId), ctx);
    case 'POST close': return closeRoom(checkRoomId(rawId), ctx);
    case 'POST join': return joinRoom(checkRoomId(rawId), req, ctx);
    case 'POST leave': return leaveRoom(checkRoomId(rawId), req, ctx);
    case 'POST gifts': return sendGift(checkRoomId(rawId), req, ctx);
    case 'GET gifters': return gifters(checkRoomId(rawId), req, ctx);
    default: throw routeNotFound(req);
  }
}
