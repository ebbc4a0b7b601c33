/**
 * Per-call overhead of `ctx.auth` on the host: `issue` and `verify` through `createAuthHost`
 * (argument checks, cached key lookup, claims, error mapping) against calling jose directly with
 * the same already-imported key, the same claims and the same verification options, in one run.
 * The isolate hop (IPC, copying arguments) is not included: it is the same for every builtin.
 *
 * Run: `node --no-node-snapshot bench/auth-overhead.ts` (knob: `BENCH_AUTH_CALLS`, calls per
 * variant, default 2000, at most 5000). Calls run one at a time, variants interleaved in rounds so
 * drift (JIT, GC, CPU frequency) hits both alike. Prints a markdown table of per-call times and the
 * host/jose ratio of the medians.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { createAuthHost, generateSigningKey, type IssuedToken } from '../builtins/auth/host.ts';
import type { BuiltinCall } from '../runtime/sandbox/interface.ts';
import { percentile, table } from './harness/stats.ts';

const CALLS = Math.min(5000, Math.max(100, Number(process.env.BENCH_AUTH_CALLS ?? 2000)));
const ROUNDS = 10;
const WARMUP = 200;

const key = generateSigningKey();
const host = createAuthHost({ keysFor: async () => [key] });
const call: BuiltinCall = { app: 'bench', function: 'login', versionId: 'v1', requestId: 'r1', deadline: Date.now() + 3_600_000, signal: new AbortController().signal };
const cryptoKey = await crypto.subtle.importKey('raw', Buffer.from(key.secret, 'base64url'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const claims = { level: 12, guild: 'g-7', roles: ['officer'] };
const ttlS = 3600;

/** jose alone: the same token shape `issue` produces. */
async function joseIssue(): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
    .setIssuer('faas').setSubject('player-1').setAudience('faas:app:bench')
    .setIssuedAt(iat).setExpirationTime(iat + ttlS).setJti(randomUUID())
    .sign(cryptoKey);
}

/** jose alone: the same checks `verify` asks jose for. */
async function joseVerify(token: string): Promise<unknown> {
  const { payload } = await jwtVerify(token, cryptoKey, {
    algorithms: ['HS256'], typ: 'JWT', issuer: 'faas', audience: 'faas:app:bench',
    requiredClaims: ['sub', 'exp', 'iat'], clockTolerance: 30, maxTokenAge: 2_592_000,
  });
  return payload;
}

const hostIssue = async (): Promise<string> => ((await host.execute(call, 'issue', ['player-1', { ttlS, claims }])) as IssuedToken).token;
const token = await hostIssue();
const variants: Record<string, () => Promise<unknown>> = {
  'issue: jose SignJWT': joseIssue,
  'issue: ctx.auth host': hostIssue,
  'verify: jose jwtVerify': () => joseVerify(token),
  'verify: ctx.auth host': () => host.execute(call, 'verify', [token]),
};

// The two paths must agree before they are timed.
const viaHost = await host.execute(call, 'verify', [await joseIssue()]);
if (JSON.stringify(viaHost) !== JSON.stringify({ id: 'player-1', claims })) throw new Error(`host and jose disagree: ${JSON.stringify(viaHost)}`);

for (const run of Object.values(variants)) for (let i = 0; i < WARMUP; i++) await run();
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
const perRound = Math.ceil(CALLS / ROUNDS);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const out = samples[name];
    for (let i = 0; i < perRound && out.length < CALLS; i++) {
      const t = performance.now();
      await run();
      out.push((performance.now() - t) * 1000);
    }
  }
}

const us = (n: number) => `${n.toFixed(1)} µs`;
const rows = Object.entries(samples).map(([name, values]) => [name, String(values.length), us(percentile(values, 50)), us(percentile(values, 99))]);
const ratio = (op: 'issue' | 'verify', jose: string) => percentile(samples[`${op}: ctx.auth host`], 50) / percentile(samples[`${op}: ${jose}`], 50);
console.log(`\nctx.auth host overhead, ${CALLS} sequential calls per variant, node ${process.version}\n`);
console.log(table(['variant', 'calls', 'p50', 'p99'], rows));
console.log(`\nratio host / jose (p50): issue ${ratio('issue', 'jose SignJWT').toFixed(2)}×, verify ${ratio('verify', 'jose jwtVerify').toFixed(2)}×`);
