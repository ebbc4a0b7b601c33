/**
 * Builtins end to end through the real platform (gateway → worker isolates → gateway-side hosts):
 * ctx.auth + ctx.user with `auth: required`, ctx.rpc.call (chain, cycle, depth, deadline),
 * ctx.config with secrets redacted from logs, ctx.sql isolation between apps, and the canary split
 * of an alias measured over 10,000 invocations.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { startPlatform, type TestPlatform } from '../support/platform.ts';

describe('builtins through the gateway', () => {
  let t: TestPlatform;
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${t.url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${t.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? null : JSON.parse(text) };
  };
  const deploy = async (app: string, fn: string, code: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const res = await api('POST', `/apps/${app}/functions/${fn}/deploy`, { code, ...extra });
    assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.json));
    return res.json.version.id as string;
  };
  const call = async (app: string, fn: string, init: { method?: string; path?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${t.url}/fn/${app}/${fn}${init.path ?? ''}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    let json: any = null;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, json, headers: res.headers };
  };

  before(async () => {
    t = await startPlatform({ env: { FAAS_DEPLOY_SAMPLES: '0', FAAS_WORKERS: '2' } });
    await deploy('game', 'signin', `export default async (req, ctx) => ctx.auth.issue(req.body.userId, { ttlS: 3600, claims: { tier: 'gold' } });`);
    await deploy('game', 'me', `export default async (req, ctx) => ({ user: ctx.user });`, { auth: 'required' });
    await deploy('other', 'signin', `export default async (req, ctx) => ctx.auth.issue(req.body.userId);`);
  });
  after(async () => {
    await t?.stop();
  });

  it('ctx.auth issues a token; auth: required answers 401 before the isolate without one, and ctx.user with one', async () => {
    const { json: issued } = await call('game', 'signin', { body: { userId: 'alice' } });
    assert.match(issued.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const none = await call('game', 'me');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'E_AUTH_REQUIRED');
    assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
    const ok = await call('game', 'me', { headers: { authorization: `Bearer ${issued.token}` } });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(ok.json.user, { id: 'alice', claims: { tier: 'gold' } });

    const { json: foreign } = await call('other', 'signin', { body: { userId: 'alice' } });
    const otherApp = await call('game', 'me', { headers: { authorization: `Bearer ${foreign.token}` } });
    assert.equal(otherApp.status, 401, 'a token of another app is refused');
    assert.equal(otherApp.json.error.code, 'E_AUTH_INVALID');

    const [header, payload] = issued.token.split('.');
    const none2 = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    assert.equal((await call('game', 'me', { headers: { authorization: `Bearer ${none2}` } })).status, 401, 'alg none is refused');
    const forged = `${header}.${payload}.${Buffer.from('x'.repeat(32)).toString('base64url')}`;
    assert.equal((await call('game', 'me', { headers: { authorization: `Bearer ${forged}` } })).status, 401, 'a forged signature is refused');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const expired = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: JSON.parse(Buffer.from(header, 'base64url').toString()).kid })
      .setSubject('alice').setAudience(claims.aud).setIssuer(claims.iss).setIssuedAt(1_600_000_000).setExpirationTime(1_600_000_100)
      .sign(new Uint8Array(32));
    assert.equal((await call('game', 'me', { headers: { authorization: `Bearer ${expired}` } })).status, 401, 'an expired (and wrongly signed) token is refused');

    // Rotation: the previous key keeps verifying, new tokens use the new key.
    assert.equal((await api('POST', '/apps/game/auth/rotate')).status, 200);
    assert.equal((await call('game', 'me', { headers: { authorization: `Bearer ${issued.token}` } })).status, 200, 'tokens of the previous key stay valid');
    const { json: fresh } = await call('game', 'signin', { body: { userId: 'bob' } });
    assert.notEqual(JSON.parse(Buffer.from(fresh.token.split('.')[0], 'base64url').toString()).kid, JSON.parse(Buffer.from(header, 'base64url').toString()).kid);
    assert.equal((await call('game', 'me', { headers: { authorization: `Bearer ${fresh.token}` } })).json.user.id, 'bob');
  });

  it('ctx.rpc.call calls a function of the same app through the pool, refuses cycles with the chain, and passes the user on', async () => {
    await deploy('game', 'echo', `export default async (req, ctx) => ({ got: req.body, caller: req.headers['x-faas-caller'], user: ctx.user && ctx.user.id });`);
    await deploy('game', 'front', `export default async (req, ctx) => ctx.rpc.call('echo', { n: 1 });`);
    const res = await call('game', 'front');
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, { got: { n: 1 }, caller: 'front', user: null });
    const spoofed = await call('game', 'echo', { body: {}, headers: { 'x-faas-caller': 'admin-tool' } });
    assert.equal(spoofed.json.caller, undefined, 'a client cannot pose as an rpc caller');
    assert.match(res.headers.get('content-security-policy') ?? '', /^sandbox allow-scripts/, 'function responses never run with the console\'s origin');

    await deploy('game', 'ping', `export default async (req, ctx) => ctx.rpc.call('pong', {});`);
    await deploy('game', 'pong', `export default async (req, ctx) => ctx.rpc.call('ping', {});`);
    const cycle = await call('game', 'ping');
    assert.equal(cycle.status, 502, JSON.stringify(cycle.json));
    assert.match(cycle.json.error.message, /ping → pong → ping/);

    await deploy('game', 'missing-callee', `export default async (req, ctx) => { try { await ctx.rpc.call('nope', {}); } catch (e) { return { code: e.code }; } };`);
    assert.deepEqual((await call('game', 'missing-callee')).json, { code: 'E_RPC_NOT_FOUND' });
    // game/echo exists, but a function of app other cannot reach it: names resolve in the caller's app only.
    await deploy('other', 'cross-app', `export default async (req, ctx) => { try { return await ctx.rpc.call('echo', {}); } catch (e) { return { code: e.code }; } };`);
    assert.deepEqual((await call('other', 'cross-app')).json, { code: 'E_RPC_NOT_FOUND' });
  });

  it('ctx.rpc.call refuses a function calling itself, chains deeper than 8, and malformed names', async () => {
    const tryCall = (target: string) => `export default async (req, ctx) => { try { return await ctx.rpc.call(${JSON.stringify(target)}, {}); } catch (e) { return { code: e.code, message: e.message }; } };`;
    await deploy('game', 'self', tryCall('self'));
    const self = await call('game', 'self');
    assert.equal(self.json.code, 'E_RPC_CYCLE', JSON.stringify(self.json));
    assert.match(self.json.message, /self → self/);
    for (let i = 1; i <= 9; i++) await deploy('game', `d${i}`, i < 9 ? tryCall(`d${i + 1}`) : `export default async () => 'bottom';`);
    const deep = await call('game', 'd1');
    assert.equal(deep.json.code, 'E_RPC_DEPTH', JSON.stringify(deep.json));
    assert.match(deep.json.message, /d1 → d2 → d3 → d4 → d5 → d6 → d7 → d8 → d9/);
    await deploy('game', 'badname', tryCall('Bad Name@prod'));
    assert.equal((await call('game', 'badname')).json.code, 'E_RPC_BAD_ARGUMENTS');
    await deploy('game', 'badcfg', `export default async (req, ctx) => { try { return await ctx.config.get('no-dashes'); } catch (e) { return { code: e.code }; } };`);
    assert.deepEqual((await call('game', 'badcfg')).json, { code: 'E_CONFIG_BAD_ARGUMENTS' });
  });

  it('ctx.config reads values and secrets; a secret a function logs is redacted; API reads never show it', async () => {
    await deploy('game', 'cfg', `export default async (req, ctx) => {
      const token = await ctx.config.secret('UPSTREAM_TOKEN');
      ctx.log.info('using token', token);
      return { region: await ctx.config.get('REGION'), hasToken: token !== null, missing: await ctx.config.get('NOPE') };
    };`);
    assert.equal((await api('PUT', '/apps/game/functions/cfg/config/REGION', { value: 'eu' })).status, 204);
    assert.equal((await api('PUT', '/apps/game/functions/cfg/secrets/UPSTREAM_TOKEN', { value: 'tok-9f8e7d6c5b4a' })).status, 204);
    const res = await call('game', 'cfg');
    assert.deepEqual(res.json, { region: 'eu', hasToken: true, missing: null });
    const requestId = res.headers.get('x-faas-request-id');
    const logs = await api('GET', `/apps/game/functions/cfg/logs?requestId=${requestId}`);
    assert.equal(logs.json.lines.length, 1);
    assert.equal(logs.json.lines[0].message, 'using token [secret]');
    // A change reaches the runtime at once (the config cache drops on the change event).
    await api('PUT', '/apps/game/functions/cfg/config/REGION', { value: 'us' });
    assert.equal((await call('game', 'cfg')).json.region, 'us');
  });

  it('ctx.sql: each app has its own database; one app cannot read another\'s tables', async () => {
    await deploy('game', 'sql', `export default async (req, ctx) => {
      await ctx.sql.execute('CREATE TABLE IF NOT EXISTS scores (player VARCHAR(64) PRIMARY KEY, score INTEGER NOT NULL)');
      await ctx.sql.execute('DELETE FROM scores');
      await ctx.sql.transaction(async (tx) => {
        await tx.execute('INSERT INTO scores (player, score) VALUES (?, ?)', ['alice', 10]);
        await tx.execute('INSERT INTO scores (player, score) VALUES (?, ?)', ['bob', 7]);
      });
      try { await ctx.sql.transaction(async (tx) => { await tx.execute('INSERT INTO scores (player, score) VALUES (?, ?)', ['carol', 1]); throw new Error('abort'); }); } catch {}
      return ctx.sql.query('SELECT player, score FROM scores ORDER BY score DESC', []);
    };`);
    const res = await call('game', 'sql');
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, [{ player: 'alice', score: 10 }, { player: 'bob', score: 7 }]);
    await deploy('other', 'peek', `export default async (req, ctx) => { try { return await ctx.sql.query('SELECT * FROM scores', []); } catch (e) { return { code: e.code }; } };`);
    const peek = await call('other', 'peek');
    assert.equal(peek.status, 200);
    assert.ok(!Array.isArray(peek.json), `app other must not see app game's rows: ${JSON.stringify(peek.json)}`);
  });

  it('app "rival" names app "vault"\'s keys, rows, functions and secrets and reaches none of them', async () => {
    await deploy('vault', 'keeper', `export default async (req, ctx) => {
      await ctx.redis.set('gold', '100');
      await ctx.sql.execute('CREATE TABLE IF NOT EXISTS ledger (who VARCHAR(20), amount INTEGER)');
      await ctx.sql.execute('DELETE FROM ledger');
      await ctx.sql.execute('INSERT INTO ledger (who, amount) VALUES (?, ?)', ['vault', 100]);
      return { gold: await ctx.redis.get('gold'), ledger: await ctx.sql.query('SELECT who, amount FROM ledger') };
    };`);
    assert.equal((await api('PUT', '/apps/vault/functions/keeper/secrets/MASTER', { value: 'vault-master-7c1d' })).status, 204);
    assert.deepEqual((await call('vault', 'keeper')).json, { gold: '100', ledger: [{ who: 'vault', amount: 100 }] });
    // Same function name in the rival app, with every way to name the vault's data.
    await deploy('rival', 'keeper', `export default async (req, ctx) => {
      const attempt = async (f) => { try { return await f(); } catch (e) { return e.code; } };
      return {
        plainKey: await ctx.redis.get('gold'),
        prefixedKey: await ctx.redis.get('app:{vault}:gold'),
        overwrite: await ctx.redis.set('app:{vault}:gold', '0'),
        scan: await ctx.redis.scan(0, 'MATCH', '*gold*', 'COUNT', 1000),
        // Refused commands are not offered in the isolate at all (the host refuses them again).
        keys: typeof ctx.redis.keys,
        select: typeof ctx.redis.select,
        rows: await attempt(() => ctx.sql.query('SELECT * FROM ledger')),
        write: await attempt(() => ctx.sql.execute('INSERT INTO ledger (who, amount) VALUES (?, ?)', ['rival', -100])),
        secret: await ctx.config.secret('MASTER'),
        rpc: await attempt(() => ctx.rpc.call('keeper', {}).then(() => 'self-call allowed?')),
        rpcOther: await attempt(() => ctx.rpc.call('vault/keeper', {})),
      };
    };`);
    const rival = await call('rival', 'keeper');
    assert.equal(rival.status, 200, JSON.stringify(rival.json));
    assert.equal(rival.json.plainKey, null);
    assert.equal(rival.json.prefixedKey, null);
    assert.equal(rival.json.overwrite, 'OK', 'the write lands in the rival\'s own namespace');
    assert.deepEqual(rival.json.scan[1], ['app:{vault}:gold'], 'SCAN sees only the rival\'s own (oddly named) key');
    assert.equal(rival.json.keys, 'undefined');
    assert.equal(rival.json.select, 'undefined');
    assert.equal(rival.json.rows, 'E_SQL_ERROR', 'no table "ledger" in the rival\'s database');
    assert.equal(rival.json.write, 'E_SQL_ERROR');
    assert.equal(rival.json.secret, null, 'a secret of the same name in another app is not visible');
    assert.equal(rival.json.rpc, 'E_RPC_CYCLE');
    assert.equal(rival.json.rpcOther, 'E_RPC_BAD_ARGUMENTS');
    // The vault's data is untouched.
    await deploy('vault', 'reader', `export default async (req, ctx) => ({ gold: await ctx.redis.get('gold'), ledger: await ctx.sql.query('SELECT who, amount FROM ledger'), secret: await ctx.config.secret('MASTER') });`);
    assert.deepEqual((await call('vault', 'reader')).json, { gold: '100', ledger: [{ who: 'vault', amount: 100 }], secret: null }, 'secrets are per function too');
    assert.equal((await call('vault', 'keeper')).json.gold, '100');
  });

  it('an alias with a 10% canary sends 10% ±2 of 10,000 invocations to the canary', async () => {
    const main = await deploy('split', 'fn', `export default async () => 'main';`);
    const canary = await deploy('split', 'fn', `export default async () => 'canary';`, { alias: 'next' });
    const set = await api('PUT', '/apps/split/functions/fn/aliases/prod', { versionId: main, canary: { versionId: canary, weight: 10 } });
    assert.equal(set.status, 200, JSON.stringify(set.json));
    const counts = { main: 0, canary: 0 } as Record<string, number>;
    const total = 10_000;
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < total) {
        next++;
        const res = await fetch(`${t.url}/fn/split/fn`);
        const version = res.headers.get('x-faas-version');
        const body = await res.json() as string;
        assert.equal(res.status, 200);
        assert.equal(version, body === 'main' ? main : canary, 'x-faas-version names the version that answered');
        counts[body] = (counts[body] ?? 0) + 1;
      }
    }));
    const share = counts.canary! / total;
    console.log(`# canary split: ${counts.canary} of ${total} = ${(share * 100).toFixed(2)} % (weight 10 %)`);
    assert.ok(Math.abs(share - 0.1) <= 0.02, `canary share ${share}`);
    // A pinned version bypasses the split.
    const pinned = await fetch(`${t.url}/fn/split/fn`, { headers: { 'x-faas-version': main } });
    assert.equal(await pinned.json(), 'main');
  });
});
