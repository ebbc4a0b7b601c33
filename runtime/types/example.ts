/**
 * A small function written against runtime/types/faas.d.ts. It exists to be type-checked
 * (`tsc -p runtime/types/tsconfig.json`); the `@ts-expect-error` lines prove that what the
 * isolate lacks is a compile error, so the check fails if the declarations get too loose.
 */
import { HttpError, response } from 'faas';

interface GiftBody {
  user: string;
  amount: number;
}

function giftBody(body: unknown): GiftBody {
  if (typeof body !== 'object' || body === null) throw new HttpError(400, 'send a JSON object', { code: 'BAD_REQUEST' });
  const { user, amount } = body as Record<string, unknown>;
  if (typeof user !== 'string' || typeof amount !== 'number') throw new HttpError(400, 'user (string) and amount (number) are required', { code: 'BAD_REQUEST' });
  return { user, amount };
}

const handler: FaasHandler = async (req, ctx) => {
  const room = req.path.split('/')[1] ?? '';
  if (req.method === 'GET') {
    const top = await ctx.redis.zrevrange(`room:${room}:gifters`, 0, 9, 'WITHSCORES');
    const info: Record<string, string> = await ctx.redis.hgetall(`room:${room}`);
    if (Object.keys(info).length === 0) throw new HttpError(404, `room ${room} not found`, { code: 'ROOM_NOT_FOUND' });
    return { room, title: info.title ?? null, top };
  }
  if (req.method === 'DELETE') {
    await ctx.redis.del(`room:${room}`, `room:${room}:gifters`);
    return undefined; // 204
  }
  const gift = giftBody(req.body);
  try {
    const total: string = await ctx.redis.zincrby(`room:${room}:gifters`, gift.amount, gift.user);
    const fresh: 'OK' | null = await ctx.redis.set(`gift:${ctx.requestId}`, '1', 'EX', 60, 'NX');
    const popped: string[] | null = await ctx.redis.lpop('queue', 2);
    await ctx.redis.zadd('rank', 'GT', 'CH', 10, room);
    await ctx.redis.zrangebyscore('rank', '-inf', '(100', 'LIMIT', 0, 10);
    ctx.log.info('gift', gift, { total, fresh, popped, deadlineInMs: ctx.deadline - Date.now() });
    return response({ total: Number(total) }, { status: 201, headers: { 'x-room': room, 'cache-control': 'no-store' } });
  } catch (err) {
    if ((err as FaasBuiltinError).code === 'E_REDIS_UNAVAILABLE') throw new HttpError(503, 'try again shortly', { code: 'BUSY' });
    throw err;
  }
};
export default handler;

// --- what does not exist in the isolate, or is refused by the declarations -------------------
export async function notAvailable(ctx: FaasContext, req: FaasRequest): Promise<void> {
  // @ts-expect-error: no Node.js in the isolate (`"types": []`)
  process.exit(1);
  // @ts-expect-error: no require (modules import only 'faas')
  require('fs');
  // @ts-expect-error: no timers in the isolate
  setTimeout(() => {}, 10);
  // @ts-expect-error: no console: use ctx.log
  console.log('x');
  // @ts-expect-error: not on the ctx.redis allowlist
  await ctx.redis.keys('*');
  // @ts-expect-error: a score bound is a number or '-inf' / '+inf' / '(' + number
  await ctx.redis.zcount('z', 0, 'max');
  // @ts-expect-error: SET options must be a known keyword
  await ctx.redis.set('k', 'v', 'KEEPTTL');
  // @ts-expect-error: ctx is frozen
  ctx.app = 'other';
  // @ts-expect-error: user is null until auth lands
  ctx.user.id;
  // @ts-expect-error: req is frozen
  req.body = null;
}

// A handler that returns a BigInt is refused at compile time (it would fail with 502 E_BAD_RESPONSE).
// @ts-expect-error: bigint is not a handler result
export const bad: FaasHandler = () => 1n;

// The JSDoc alias works from TypeScript too.
export const typed: import('faas').Handler<{ n: number }> = (req) => ({ twice: req.body.n * 2 });
