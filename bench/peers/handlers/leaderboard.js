// Workload `leaderboard`: one ZINCRBY and one ZREVRANGE 0 9 WITHSCORES on real Redis per request.
// `ctx.redis` is the platform's builtin; bare fastify passes an object with the same two methods
// bound to ioredis.
export default async function handler(req, ctx) {
  const player = typeof req.body?.player === 'string' ? req.body.player : 'anonymous';
  await ctx.redis.zincrby('bench:leaderboard', 1, player);
  const flat = await ctx.redis.zrevrange('bench:leaderboard', 0, 9, 'WITHSCORES');
  const top = [];
  for (let i = 0; i < flat.length; i += 2) top.push({ player: flat[i], score: Number(flat[i + 1]) });
  return { player, top };
}
