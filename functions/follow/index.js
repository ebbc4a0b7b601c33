// Follow service: players follow streamers, list followers and following page by page, read
// follower counts, see which of the streamers they follow are live now (asked of the live-stream
// function over ctx.rpc), and get a short "new follower" feed. POST /session signs a player in
// (a token from ctx.auth.issue). The HTTP API is documented in README.md.
//
// Where things live:
//   SQL (ctx.sql, the app's own database): the relation, the source of truth
//     follow_edges(follower, streamer, created_at)  — schema in SCHEMA below, created on first use
//   Redis (ctx.redis, namespaced per app by the platform): derived data
//     follow:counts:<id>  hash  followers, following — moved only when SQL changed a row
//     follow:feed:<id>    list  newest first, JSON { type: 'follow', from, at }, at most FEED_MAX
//
// Counts stay equal to SQL: a follow or unfollow moves a counter only when its INSERT or DELETE
// changed a row (repeated or concurrent follows of the same pair change one row, once). A count
// hash that does not exist yet (a new player, or Redis lost its data while SQL kept it) is built
// from SQL with COUNT(*) at sign-in or on first read; until then writes leave it alone, and the
// writer checks for it before its SQL write so a build never counts a write twice.
import { response, HttpError } from 'faas';

/** Player and streamer ids: the same alphabet as live-stream's. */
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
/** A page cursor: `<created_at ms>:<id>` of the last row of the previous page. */
const CURSOR_PATTERN = /^(\d{1,16}):([A-Za-z0-9_.:-]{1,64})$/;
const PAGE_DEFAULT = 20;
const PAGE_MAX = 100;
const FEED_MAX = 50;
/** /me/live looks at the oldest this many follows of the caller (and says so when there are more). */
const LIVE_MAX_FOLLOWING = 5000;
/** Streamer ids per ctx.rpc.call to live-stream (its own limit is 1000). */
const LIVE_BATCH = 1000;
const SESSION_TTL_DEFAULT_S = 86400;
const SESSION_TTL_MIN_S = 60;
const SESSION_TTL_MAX_S = 7 * 86400;

/**
 * The relation. Portable between SQLite and MySQL/MariaDB: no AUTO_INCREMENT, indexes as UNIQUE
 * table constraints (both accept them inline; `CREATE INDEX IF NOT EXISTS` is not MySQL). Ids
 * compare case-sensitively on both: SQLite's default collation is BINARY, and ctx.sql creates
 * each app's MySQL database with utf8mb4_bin.
 * - PRIMARY KEY (follower, streamer): one row per pair, so a duplicate follow cannot insert;
 * - UNIQUE (streamer, created_at, follower): followers of a streamer in page order;
 * - UNIQUE (follower, created_at, streamer): whom a player follows in page order.
 */
const SCHEMA = `CREATE TABLE IF NOT EXISTS follow_edges (
  follower   VARCHAR(64) NOT NULL,
  streamer   VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (follower, streamer),
  UNIQUE (streamer, created_at, follower),
  UNIQUE (follower, created_at, streamer)
)`;

/** Per isolate: the CREATE TABLE has run here (it is idempotent, so concurrent first calls are fine). */
let schemaReady = false;

async function db(ctx) {
  if (!schemaReady) {
    await ctx.sql.execute(SCHEMA);
    schemaReady = true;
  }
  return ctx.sql;
}

// --- input ----------------------------------------------------------------------------------

function badRequest(message, code = 'BAD_REQUEST') {
  return new HttpError(400, message, { code });
}

function objectBody(req) {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object (send Content-Type: application/json)');
  }
  return body;
}

function checkId(value, where) {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw badRequest(`${where} must be a string of 1-64 characters from A-Z a-z 0-9 _ . : -`);
  }
  return value;
}

/** An id from the path. req.path is already percent-decoded: decoding again would read `%2561` as `a`. */
function pathId(raw, where) {
  return checkId(raw, where);
}

/** A single query parameter (repeated parameters are refused). */
function queryParam(req, name) {
  const value = req.query ? req.query[name] : undefined;
  if (Array.isArray(value)) throw badRequest(`query parameter "${name}" must be given once`);
  return value === undefined || value === '' ? undefined : value;
}

function limitParam(req, fallback, max) {
  const raw = queryParam(req, 'limit');
  if (raw === undefined) return fallback;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw badRequest(`query parameter "limit" must be an integer from 1 to ${max}`);
  }
  return Number(raw);
}

/** `?cursor=` → null (first page) or { at, id }. */
function cursorParam(req) {
  const raw = queryParam(req, 'cursor');
  if (raw === undefined) return null;
  const match = CURSOR_PATTERN.exec(raw);
  if (match === null) {
    throw badRequest('query parameter "cursor" is not a cursor from this API: pass the "nextCursor" of the previous page unchanged', 'BAD_CURSOR');
  }
  return { at: Number(match[1]), id: match[2] };
}

/**
 * The signed-in caller's id (ctx.user, verified by the gateway from `Authorization: Bearer`).
 * 401 SIGN_IN_REQUIRED without one; 403 UNSUPPORTED_USER_ID when the token's id is not a valid id here.
 */
function caller(ctx) {
  const user = ctx.user;
  if (user === null || user === undefined) {
    throw new HttpError(401, 'sign in first: send Authorization: Bearer <token> (get one from POST /session)', { code: 'SIGN_IN_REQUIRED' });
  }
  if (!ID_PATTERN.test(user.id)) {
    throw new HttpError(403, `your player id ${JSON.stringify(user.id.slice(0, 80))} cannot be used by follow: ids are 1-64 characters from A-Z a-z 0-9 _ . : -`, { code: 'UNSUPPORTED_USER_ID' });
  }
  return user.id;
}

/** Compare a presented key with the configured one without stopping at the first difference. */
function sameKey(presented, expected) {
  if (typeof presented !== 'string') return false;
  const n = Math.max(presented.length, expected.length);
  let diff = presented.length ^ expected.length;
  for (let i = 0; i < n; i++) diff |= (presented.charCodeAt(i) | 0) ^ (expected.charCodeAt(i) | 0);
  return diff === 0;
}

const iso = (ms) => new Date(Number(ms)).toISOString();

// --- counts (Redis, derived from SQL) -------------------------------------------------------

const countsKey = (id) => `follow:counts:${id}`;
const feedKey = (id) => `follow:feed:${id}`;

async function hasCounts(redis, id) {
  return Number(await redis.exists(countsKey(id))) === 1;
}

/**
 * `{ followers, following }` of `id` from Redis; when the hash does not exist, counted in SQL and
 * stored when `store` is true or the player has any relation (a read of an unknown id stores nothing).
 */
async function countsOf(ctx, id, store) {
  const [followers, following] = await ctx.redis.hmget(countsKey(id), 'followers', 'following');
  if (followers !== null && following !== null) return { followers: Number(followers), following: Number(following) };
  const sql = await db(ctx);
  const [a] = await sql.query('SELECT COUNT(*) AS n FROM follow_edges WHERE streamer = ?', [id]);
  const [b] = await sql.query('SELECT COUNT(*) AS n FROM follow_edges WHERE follower = ?', [id]);
  const counts = { followers: Number(a.n), following: Number(b.n) };
  if (store || counts.followers + counts.following > 0) {
    await ctx.redis.hset(countsKey(id), 'followers', counts.followers, 'following', counts.following);
  }
  return counts;
}

/** Move both counters of a changed edge, each only if its hash exists (checked before the SQL write). */
async function moveCounts(redis, follower, streamer, delta, present) {
  if (present.follower) await redis.hincrby(countsKey(follower), 'following', delta);
  if (present.streamer) await redis.hincrby(countsKey(streamer), 'followers', delta);
}

// --- routes ---------------------------------------------------------------------------------

async function signIn(req, ctx) {
  const expected = await ctx.config.secret('SIGNIN_KEY');
  if (expected !== null && !sameKey(req.headers['x-signin-key'], expected)) {
    throw new HttpError(403, 'sign-in needs the header x-signin-key with the key configured as the secret SIGNIN_KEY', { code: 'SIGNIN_KEY_REQUIRED' });
  }
  const body = objectBody(req);
  const userId = checkId(body.userId, 'field "userId"');
  let ttlS = SESSION_TTL_DEFAULT_S;
  if (body.ttlS !== undefined) {
    if (!Number.isInteger(body.ttlS) || body.ttlS < SESSION_TTL_MIN_S || body.ttlS > SESSION_TTL_MAX_S) {
      throw badRequest(`field "ttlS" must be an integer from ${SESSION_TTL_MIN_S} to ${SESSION_TTL_MAX_S} (seconds)`);
    }
    ttlS = body.ttlS;
  }
  const { token, expiresAt } = await ctx.auth.issue(userId, { ttlS });
  try {
    await countsOf(ctx, userId, true); // a signed-in player's counts are kept in Redis from now on
  } catch (err) {
    // Sign-in must not depend on SQL or Redis being up: the counts are built on a later read.
    ctx.log.warn('sign-in: counts of', userId, 'not built now:', String(err && err.code ? err.code : err));
  }
  ctx.log.info('signed in', userId);
  return response({ userId, token, expiresAt }, { status: 201 });
}

async function followStreamer(ctx, streamer) {
  const me = caller(ctx);
  if (streamer === me) throw badRequest('you cannot follow yourself', 'CANNOT_FOLLOW_SELF');
  const sql = await db(ctx);
  const find = () => sql.query(
    'SELECT created_at FROM follow_edges WHERE follower = ? AND streamer = ?', [me, streamer],
  );
  const existing = await find();
  if (existing.length > 0) return { follower: me, streamer, following: true, changed: false, since: iso(existing[0].created_at) };

  const present = { follower: await hasCounts(ctx.redis, me), streamer: await hasCounts(ctx.redis, streamer) };
  const now = Date.now();
  let changed;
  try {
    const result = await sql.execute('INSERT INTO follow_edges (follower, streamer, created_at) VALUES (?, ?, ?)', [me, streamer, now]);
    changed = result.affectedRows === 1;
  } catch (err) {
    // A concurrent follow of the same pair took the primary key first: that one counted it.
    const again = await find();
    if (again.length === 0) throw err;
    return { follower: me, streamer, following: true, changed: false, since: iso(again[0].created_at) };
  }
  if (changed) {
    await moveCounts(ctx.redis, me, streamer, 1, present);
    await ctx.redis.lpush(feedKey(streamer), JSON.stringify({ type: 'follow', from: me, at: iso(now) }));
    await ctx.redis.ltrim(feedKey(streamer), 0, FEED_MAX - 1);
  }
  return { follower: me, streamer, following: true, changed, since: iso(now) };
}

async function unfollowStreamer(ctx, streamer) {
  const me = caller(ctx);
  const sql = await db(ctx);
  const present = { follower: await hasCounts(ctx.redis, me), streamer: await hasCounts(ctx.redis, streamer) };
  const result = await sql.execute('DELETE FROM follow_edges WHERE follower = ? AND streamer = ?', [me, streamer]);
  const changed = result.affectedRows === 1;
  if (changed) await moveCounts(ctx.redis, me, streamer, -1, present);
  return { follower: me, streamer, following: false, changed };
}

/**
 * One page of followers (`side` 'followers': rows whose streamer is `id`) or of whom `id` follows
 * (`side` 'following'), oldest first, keyset-paginated on (created_at, other id): a page starts
 * strictly after the cursor, so pages never repeat a row and, without concurrent changes, never
 * skip one. The LIMIT is an integer this function validated (1..101), written into the text
 * because MySQL prepared statements do not all accept a placeholder there.
 */
async function page(req, ctx, id, side) {
  const limit = limitParam(req, PAGE_DEFAULT, PAGE_MAX);
  const cursor = cursorParam(req);
  const [mine, other] = side === 'followers' ? ['streamer', 'follower'] : ['follower', 'streamer'];
  const sql = await db(ctx);
  const after = cursor === null ? '' : ` AND (created_at > ? OR (created_at = ? AND ${other} > ?))`;
  const params = cursor === null ? [id] : [id, cursor.at, cursor.at, cursor.id];
  const rows = await sql.query(
    `SELECT ${other} AS user_id, created_at FROM follow_edges WHERE ${mine} = ?${after} ` +
    `ORDER BY created_at, ${other} LIMIT ${limit + 1}`,
    params,
  );
  const more = rows.length > limit;
  const items = rows.slice(0, limit).map((row) => ({ userId: String(row.user_id), since: iso(row.created_at) }));
  const last = rows[limit - 1];
  return {
    userId: id,
    [side]: items,
    nextCursor: more ? `${Number(last.created_at)}:${String(last.user_id)}` : null,
  };
}

async function liveNow(ctx) {
  const me = caller(ctx);
  const sql = await db(ctx);
  const rows = await sql.query(
    `SELECT streamer FROM follow_edges WHERE follower = ? ORDER BY created_at, streamer LIMIT ${LIVE_MAX_FOLLOWING + 1}`,
    [me],
  );
  const truncated = rows.length > LIVE_MAX_FOLLOWING;
  const streamers = rows.slice(0, LIVE_MAX_FOLLOWING).map((row) => String(row.streamer));
  const live = [];
  for (let i = 0; i < streamers.length; i += LIVE_BATCH) {
    let answer;
    try {
      answer = await ctx.rpc.call('live-stream', { op: 'live', streamers: streamers.slice(i, i + LIVE_BATCH) });
    } catch (err) {
      if (err !== null && typeof err === 'object' && typeof err.code === 'string' && err.code.startsWith('E_RPC')) {
        throw new HttpError(502, `live-stream could not be asked who is live: ${err.message}`, { code: 'LIVE_STREAM_UNAVAILABLE' });
      }
      throw err;
    }
    if (answer === null || typeof answer !== 'object' || !Array.isArray(answer.live)) {
      throw new HttpError(502, 'live-stream answered the live query without a "live" list', { code: 'LIVE_STREAM_UNAVAILABLE' });
    }
    for (const room of answer.live) live.push(room);
  }
  return { userId: me, live, checked: streamers.length, truncated };
}

async function feed(req, ctx) {
  const me = caller(ctx);
  const limit = limitParam(req, 20, FEED_MAX);
  const entries = await ctx.redis.lrange(feedKey(me), 0, limit - 1);
  return { userId: me, events: entries.map((entry) => JSON.parse(entry)) };
}

function routeNotFound(req) {
  return new HttpError(404, `no route for ${req.method} ${req.path}`, { code: 'ROUTE_NOT_FOUND' });
}

async function route(req, ctx) {
  const method = req.method;
  const parts = req.path.split('/').filter((part) => part !== '');
  const [first, second, third] = parts;
  if (parts.length === 1 && first === 'session' && method === 'POST') return signIn(req, ctx);
  if (parts.length === 2 && first === 'follow') {
    if (method === 'POST') return followStreamer(ctx, pathId(second, 'the streamer id in the path'));
    if (method === 'DELETE') return unfollowStreamer(ctx, pathId(second, 'the streamer id in the path'));
  }
  if (first === 'users' && method === 'GET' && parts.length >= 2 && parts.length <= 3) {
    const id = pathId(second, 'the user id in the path');
    if (third === undefined) return { userId: id, ...(await countsOf(ctx, id, false)) };
    if (third === 'followers' || third === 'following') return page(req, ctx, id, third);
  }
  if (first === 'me' && parts.length === 2 && method === 'GET') {
    if (second === 'live') return liveNow(ctx);
    if (second === 'feed') return feed(req, ctx);
  }
  throw routeNotFound(req);
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
