// Live-stream rooms: open/close rooms, viewers joining and leaving, gifts, and live rankings
// (most watched, most gifted) on Redis sorted sets. The HTTP API is documented in README.md.
//
// Writes need a signed-in player (`Authorization: Bearer <token>`, verified by the gateway into
// ctx.user): the streamer who opens or closes a room, the viewer who joins or leaves and the
// sender of a gift are always the caller. Reads are public. Other functions of the app ask
// "which of these streamers are live?" with ctx.rpc.call('live-stream', { op: 'live', streamers }).
//
// Redis keys (the platform namespaces them per app):
//   room:<id>            hash  streamer, title, status (open|closed), openedAt, closedAt, finalGiftScore
//   rooms:open           set   ids of open rooms; SADD/SREM on it is the open/close guard
//   streamer:<id>:room   string the room the streamer has open; SET NX on it is the one-room guard
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
/** Most streamer ids one `live` rpc call may ask about. */
const MAX_LIVE_QUERY = 1000;
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

/** Like objectBody, but a request without a body is fine (null). */
function optionalObjectBody(req) {
  return req.body === null || req.body === '' ? null : objectBody(req);
}

/** A required id-like string field (room ids, user ids). */
function idField(body, field) {
  const value = body[field];
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw badRequest(`field "${field}" must be a string of 1-64 characters from A-Z a-z 0-9 _ . : -`);
  }
  return value;
}

/**
 * The signed-in caller's id (ctx.user, verified by the gateway from `Authorization: Bearer`).
 * 401 SIGN_IN_REQUIRED without one; 403 UNSUPPORTED_USER_ID when the id is not a valid id here.
 */
function caller(ctx) {
  const user = ctx.user;
  if (user === null || user === undefined) {
    throw new HttpError(401, 'sign in first: send Authorization: Bearer <token> (a player token from ctx.auth.issue, e.g. POST /fn/<app>/follow/session)', { code: 'SIGN_IN_REQUIRED' });
  }
  if (!ID_PATTERN.test(user.id)) {
    throw new HttpError(403, `your player id ${JSON.stringify(user.id.slice(0, 80))} cannot be used in live-stream: ids are 1-64 characters from A-Z a-z 0-9 _ . : -`, { code: 'UNSUPPORTED_USER_ID' });
  }
  return user.id;
}

/**
 * An identity field of the old API (`streamer`, `viewer`, `from`): it may be left out, and when
 * given it must be the caller's own id (400 when malformed, 403 IDENTITY_MISMATCH when another id).
 */
function checkActingAs(body, field, me) {
  if (body === null || body[field] === undefined) return;
  const value = idField(body, field);
  if (value !== me) {
    throw new HttpError(403, `field "${field}" is "${value}" but you are signed in as "${me}": leave it out, or send your own id`, { code: 'IDENTITY_MISMATCH' });
  }
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

function notOwner(id, owner) {
  return new HttpError(403, `room "${id}" belongs to streamer "${owner}"; only they can open or close it`, { code: 'NOT_ROOM_OWNER' });
}

/** Drop the streamer's open-room index if it still names this room (a later open may have replaced it). */
async function releaseStreamerIndex(redis, streamer, roomId) {
  const key = `streamer:${streamer}:room`;
  if ((await redis.get(key)) === roomId) await redis.del(key);
}

async function openRoom(req, ctx) {
  const streamer = caller(ctx);
  const body = objectBody(req);
  const roomId = checkRoomId(idField(body, 'roomId'));
  checkActingAs(body, 'streamer', streamer);
  let title = '';
  if (body.title !== undefined && body.title !== null) {
    if (typeof body.title !== 'string' || body.title.length > MAX_TEXT) {
      throw badRequest(`field "title" must be a string of at most ${MAX_TEXT} characters`);
    }
    title = body.title;
  }
  const redis = ctx.redis;
  const alreadyOpen = () => new HttpError(409, `room "${roomId}" is already open`, { code: 'ROOM_ALREADY_OPEN' });
  // A room id belongs to the streamer who first opened it.
  const owner = await redis.hget(`room:${roomId}`, 'streamer');
  if (owner !== null && owner !== streamer) throw notOwner(roomId, owner);
  if (await stillOpen(redis, roomId)) throw alreadyOpen();
  // One open room per streamer: SET NX on the index is the guard (of two concurrent opens by the
  // same streamer exactly one gets 'OK').
  if ((await redis.set(`streamer:${streamer}:room`, roomId, 'NX')) === null) {
    const current = await redis.get(`streamer:${streamer}:room`);
    if (current === roomId) throw alreadyOpen();
    throw new HttpError(409, `you are already live in room "${current}": close it before opening another`, { code: 'STREAMER_ALREADY_LIVE' });
  }
  try {
    // A reopened room starts a new session: drop the last session's gifters before the room
    // becomes visible as open (close already emptied the viewers set).
    await redis.del(`room:${roomId}:gifters`);
    await redis.hdel(`room:${roomId}`, 'closedAt', 'finalGiftScore');
    // SADD is the guard: of two concurrent opens exactly one sees 1.
    if (Number(await redis.sadd('rooms:open', roomId)) === 0) throw alreadyOpen();
  } catch (err) {
    await releaseStreamerIndex(redis, streamer, roomId);
    throw err;
  }
  const openedAt = new Date().toISOString();
  await redis.hset(`room:${roomId}`, 'streamer', streamer, 'title', title, 'status', 'open', 'openedAt', openedAt);
  ctx.log.info('room opened', roomId, 'by', streamer);
  return response({ roomId, streamer, title, status: 'open', openedAt }, { status: 201 });
}

async function closeRoom(id, ctx) {
  const me = caller(ctx);
  const redis = ctx.redis;
  await requireExists(redis, id);
  const owner = await redis.hget(`room:${id}`, 'streamer');
  if (owner !== me) throw notOwner(id, owner);
  if (Number(await redis.srem('rooms:open', id)) === 0) {
    throw new HttpError(409, `room "${id}" is already closed`, { code: 'ROOM_CLOSED' });
  }
  const giftScore = Number((await redis.zscore(RANKINGS.gifts, id)) ?? 0);
  const closedAt = new Date().toISOString();
  await redis.hset(`room:${id}`, 'status', 'closed', 'closedAt', closedAt, 'finalGiftScore', String(giftScore));
  await redis.zrem(RANKINGS.viewers, id);
  await redis.zrem(RANKINGS.gifts, id);
  await redis.del(`room:${id}:viewers`);
  await releaseStreamerIndex(redis, me, id);
  ctx.log.info('room closed', id, 'gift score', giftScore);
  return { roomId: id, status: 'closed', closedAt, giftScore };
}

async function joinRoom(id, req, ctx) {
  const viewer = caller(ctx);
  checkActingAs(optionalObjectBody(req), 'viewer', viewer);
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
  const viewer = caller(ctx);
  checkActingAs(optionalObjectBody(req), 'viewer', viewer);
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
  const from = caller(ctx);
  const body = objectBody(req);
  checkActingAs(body, 'from', from);
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

/**
 * The rpc entry (ctx.rpc.call('live-stream', { op: 'live', streamers: [ids] })): which of these
 * streamers have an open room, in the order asked (duplicates once), as
 * `{ live: [{ streamer, roomId, title, openedAt, viewers }] }`. Read-only and public data, so the
 * x-faas-caller header (which an outside client could also send) only routes the request.
 */
async function liveNow(req, ctx) {
  const body = objectBody(req);
  if (body.op !== 'live') throw badRequest('field "op" must be "live" (the only rpc operation of live-stream)');
  const asked = body.streamers;
  if (!Array.isArray(asked) || asked.length > MAX_LIVE_QUERY) {
    throw badRequest(`field "streamers" must be an array of at most ${MAX_LIVE_QUERY} streamer ids`);
  }
  const streamers = [];
  const seen = new Set();
  for (let i = 0; i < asked.length; i++) {
    const id = asked[i];
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
      throw badRequest(`field "streamers[${i}]" must be a string of 1-64 characters from A-Z a-z 0-9 _ . : -`);
    }
    if (!seen.has(id)) {
      seen.add(id);
      streamers.push(id);
    }
  }
  if (streamers.length === 0) return { live: [] };
  const redis = ctx.redis;
  const roomIds = await redis.mget(...streamers.map((id) => `streamer:${id}:room`));
  const live = [];
  for (let i = 0; i < streamers.length; i++) {
    const roomId = roomIds[i];
    if (roomId === null || roomId === undefined) continue;
    // The index is only a hint: the room must be open now and still be this streamer's.
    const [owner, title, status, openedAt] = await redis.hmget(`room:${roomId}`, 'streamer', 'title', 'status', 'openedAt');
    if (status !== 'open' || owner !== streamers[i] || !(await stillOpen(redis, roomId))) continue;
    const viewers = Number(await redis.scard(`room:${roomId}:viewers`));
    live.push({ streamer: streamers[i], roomId, title: title ?? '', openedAt, viewers });
  }
  return { live };
}

function routeNotFound(req) {
  return new HttpError(404, `no route for ${req.method} ${req.path}`, { code: 'ROUTE_NOT_FOUND' });
}

async function route(req, ctx) {
  const method = req.method;
  const parts = req.path.split('/').filter((part) => part !== '');
  if (parts.length === 0 && method === 'POST' && req.headers['x-faas-caller'] !== undefined) return liveNow(req, ctx);
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

  // req.path is already percent-decoded: decoding again would turn `%2561` into `a`.
  const rawId = parts[1];
  const action = parts[2];
  switch (`${method} ${action ?? ''}`) {
    case 'GET ': return getRoom(checkRoomId(rawId), ctx);
    case 'POST close': return closeRoom(checkRoomId(rawId), ctx);
    case 'POST join': return joinRoom(checkRoomId(rawId), req, ctx);
    case 'POST leave': return leaveRoom(checkRoomId(rawId), req, ctx);
    case 'POST gifts': return sendGift(checkRoomId(rawId), req, ctx);
    case 'GET gifters': return gifters(checkRoomId(rawId), req, ctx);
    default: throw routeNotFound(req);
  }
}

export default async function handler(req, ctx) {
  try {
    return await route(req, ctx);
  } catch (err) {
    // RFC 9110 §15.5.2: a 401 carries a WWW-Authenticate challenge (RFC 6750 for Bearer tokens).
    if (err instanceof HttpError && err.status === 401) {
      return response({ error: { code: err.code, message: err.message } }, { status: 401, headers: { 'www-authenticate': `Bearer realm="faas:app:${ctx.app}"` } });
    }
    throw err;
  }
}
