/**
 * `ctx.redis` host side: one contract suite run against a real throwaway redis-server and the
 * embedded store, plus unit tests of the catalog, namespacing and options, and fault tests that
 * only a real server can give (kill it, restart it). MULTI, pipelines, SCAN and the refusals are
 * in `redis-batch-scan.test.ts`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPlatformError } from '../../runtime/errors.ts';
import { BUILTIN_ERRORS, builtinError } from '../errors.ts';
import { createEmbeddedBackend, createIoredisBackend, type RedisBackend, type RedisReply } from './backend.ts';
import { createBuiltinHost } from '../registry.ts';
import { ALLOWED_COMMANDS, BATCH_COMMANDS, COMMANDS, batchCommand, lookupCommand, matchArgs } from './commands.ts';
import { CONTRACT_TARGETS, newApp, type ContractTarget } from './contract-support.ts';
import { createRedisHost, type RedisHost, type RedisValue } from './host.ts';
import { MAX_KEY_BYTES, keyPrefix, prefixKey, unprefixKey } from './namespace.ts';
import { batchError, type RedisBatchCommand, type RedisBatchEntry, type RedisBatchMode } from './reply.ts';
import { rejectsWith } from '../../test/support/assert-platform-error.ts';
import { startRedis, type TestRedis } from '../../test/support/redis-server.ts';

type Call = (command: string, ...args: unknown[]) => Promise<RedisValue>;

/** A backend whose every call is `exec` (tests of the host's handling of backend answers). */
function fakeBackend(kind: RedisBackend['kind'], exec: () => Promise<RedisReply>): RedisBackend {
  return { kind, exec, batch: async () => [await exec()], close: async () => {} };
}

/**
 * Call `call` every 100 ms while it fails with E_REDIS_UNAVAILABLE (a restarted server that does
 * not accept connections yet), for at most `ms`; any other error fails the test.
 * @returns the first result, or `undefined` when it kept failing for `ms`
 */
async function untilUp<T>(call: () => Promise<T>, ms: number): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      return await call();
    } catch (err) {
      assert.ok(isPlatformError(err) && err.code === 'E_REDIS_UNAVAILABLE', String(err));
      await sleep(100);
    }
  }
  return undefined;
}

/**
 * The contract every backend must meet, through the host (validation + namespacing).
 * @param name suite title
 * @param makeTarget creates the backend before the suite; it is closed after
 */
function contract(name: string, makeTarget: () => Promise<ContractTarget>): void {
  describe(`ctx.redis contract on ${name}`, () => {
    let target: ContractTarget;
    let backend: RedisBackend;
    let host: RedisHost;
    const as = (app: string): Call => (command, ...args) => host.execute(app, command, args);
    let r: Call;

    before(async () => {
      target = await makeTarget();
      backend = target.backend;
      host = createRedisHost(backend);
    });
    after(async () => {
      await target.close();
    });
    // every test gets its own app namespace
    const fresh = (): Call => {
      r = as(newApp());
      return r;
    };

    describe('strings and counters', () => {
      it('SET then GET returns the stored string, and GET of a missing key is null', async () => {
        r = fresh();
        assert.equal(await r('set', 'greeting', 'héllo 🌍'), 'OK');
        assert.equal(await r('get', 'greeting'), 'héllo 🌍');
        assert.equal(await r('get', 'missing'), null);
      });

      it('numbers are stored as their decimal strings', async () => {
        r = fresh();
        await r('set', 'int', 42);
        await r('set', 'float', 1.5);
        assert.deepEqual([await r('get', 'int'), await r('get', 'float')], ['42', '1.5']);
      });

      it('SET with NX writes only a missing key and with XX only an existing one', async () => {
        r = fresh();
        assert.equal(await r('set', 'k', 'first', 'NX'), 'OK');
        assert.equal(await r('set', 'k', 'second', 'nx'), null);
        assert.equal(await r('set', 'other', 'x', 'XX'), null);
        assert.equal(await r('set', 'k', 'third', 'XX'), 'OK');
        assert.deepEqual([await r('get', 'k'), await r('get', 'other')], ['third', null]);
      });

      it('INCR, INCRBY, DECR and DECRBY count from zero and return numbers', async () => {
        r = fresh();
        assert.equal(await r('incr', 'n'), 1);
        assert.equal(await r('incrby', 'n', 10), 11);
        assert.equal(await r('incrby', 'n', '-2'), 9);
        assert.equal(await r('decr', 'n'), 8);
        assert.equal(await r('decrby', 'n', 3), 5);
        assert.equal(await r('get', 'n'), '5');
      });

      it('INCRBYFLOAT returns the new value as a string', async () => {
        r = fresh();
        assert.equal(await r('incrbyfloat', 'f', 1.5), '1.5');
        assert.equal(await r('incrbyfloat', 'f', '2.25'), '3.75');
        assert.equal(await r('set', 'g', '3.0'), 'OK');
        assert.equal(await r('incrbyfloat', 'g', -1), '2');
      });

      it('INCR of a value that is not an integer fails with Redis\'s message as E_REDIS_ERROR', async () => {
        r = fresh();
        await r('set', 's', 'abc');
        await rejectsWith(r('incr', 's'), 'E_REDIS_ERROR', /^ERR value is not an integer or out of range$/);
        await r('set', 'f', '1.5');
        await rejectsWith(r('incrby', 'f', 1), 'E_REDIS_ERROR', /not an integer/);
        await rejectsWith(r('incrbyfloat', 's', 1), 'E_REDIS_ERROR', /^ERR value is not a valid float$/);
        assert.equal(await r('get', 's'), 'abc');
      });

      it('counters are 64-bit: exact up to the maximum, then an overflow error', async () => {
        r = fresh();
        await r('set', 'big', '9223372036854775806');
        await r('incr', 'big');
        assert.equal(await r('get', 'big'), '9223372036854775807');
        await rejectsWith(r('incr', 'big'), 'E_REDIS_ERROR', /overflow/);
        assert.equal(await r('get', 'big'), '9223372036854775807');
      });

      it('MSET and MGET handle several keys, and MGET gives null for missing keys and other types', async () => {
        r = fresh();
        assert.equal(await r('mset', 'a', '1', 'b', 2), 'OK');
        await r('hset', 'h', 'f', 'v');
        assert.deepEqual(await r('mget', 'a', 'b', 'nope', 'h'), ['1', '2', null, null]);
      });

      it('SETNX, STRLEN, APPEND, EXISTS and DEL behave as in Redis', async () => {
        r = fresh();
        assert.equal(await r('setnx', 'k', 'ab'), 1);
        assert.equal(await r('setnx', 'k', 'zz'), 0);
        assert.equal(await r('append', 'k', 'cd'), 4);
        assert.equal(await r('strlen', 'k'), 4);
        assert.equal(await r('strlen', 'none'), 0);
        assert.equal(await r('exists', 'k', 'k', 'none'), 2);
        assert.equal(await r('del', 'k', 'none'), 1);
        assert.equal(await r('exists', 'k'), 0);
      });
    });

    describe('expiry', () => {
      it('EXPIRE sets a TTL that TTL and PTTL report, and PERSIST removes it', async () => {
        r = fresh();
        await r('set', 'k', 'v');
        assert.equal(await r('ttl', 'k'), -1);
        assert.equal(await r('ttl', 'missing'), -2);
        assert.equal(await r('expire', 'k', 100), 1);
        const ttl = await r('ttl', 'k');
        assert.ok(typeof ttl === 'number' && ttl > 95 && ttl <= 100, `ttl ${String(ttl)}`);
        const pttl = await r('pttl', 'k');
        assert.ok(typeof pttl === 'number' && pttl > 95_000 && pttl <= 100_000, `pttl ${String(pttl)}`);
        assert.equal(await r('persist', 'k'), 1);
        assert.equal(await r('ttl', 'k'), -1);
        assert.equal(await r('expire', 'missing', 10), 0);
      });

      it('a key with PEXPIRE 50 is gone after 120 ms, and so is one SET with PX 50', async () => {
        r = fresh();
        await r('set', 'a', 'v');
        assert.equal(await r('pexpire', 'a', 50), 1);
        await r('set', 'b', 'v', 'PX', 50);
        assert.equal(await r('get', 'a'), 'v');
        await sleep(120);
        assert.equal(await r('get', 'a'), null);
        assert.equal(await r('get', 'b'), null);
        assert.equal(await r('exists', 'a', 'b'), 0);
      });

      it('SET with EX gives a TTL in seconds, and INCR keeps an existing TTL', async () => {
        r = fresh();
        await r('set', 'n', '1', 'EX', 60);
        assert.equal(await r('incr', 'n'), 2);
        const ttl = await r('ttl', 'n');
        assert.ok(typeof ttl === 'number' && ttl > 55 && ttl <= 60, `ttl ${String(ttl)}`);
      });
    });

    describe('hashes', () => {
      it('HSET, HGET, HMGET, HLEN, HKEYS, HVALS, HEXISTS and HDEL work on one hash', async () => {
        r = fresh();
        assert.equal(await r('hset', 'user', 'name', 'ana', 'level', 3), 2);
        assert.equal(await r('hset', 'user', 'level', 4), 0);
        assert.equal(await r('hget', 'user', 'name'), 'ana');
        assert.equal(await r('hget', 'user', 'nope'), null);
        assert.deepEqual(await r('hmget', 'user', 'level', 'nope'), ['4', null]);
        assert.equal(await r('hlen', 'user'), 2);
        assert.deepEqual([...(await r('hkeys', 'user')) as string[]].sort(), ['level', 'name']);
        assert.deepEqual([...(await r('hvals', 'user')) as string[]].sort(), ['4', 'ana']);
        assert.equal(await r('hexists', 'user', 'name'), 1);
        assert.equal(await r('hdel', 'user', 'name', 'nope'), 1);
        assert.equal(await r('hexists', 'user', 'name'), 0);
      });

      it('HGETALL returns an object of fields, and an empty object for a missing key', async () => {
        r = fresh();
        await r('hset', 'h', 'a', '1', 'b', '2');
        assert.deepEqual(await r('hgetall', 'h'), { a: '1', b: '2' });
        assert.deepEqual(await r('hgetall', 'missing'), {});
      });

      it('HINCRBY and HINCRBYFLOAT count inside a hash and refuse non-numbers', async () => {
        r = fresh();
        assert.equal(await r('hincrby', 'h', 'gold', 5), 5);
        assert.equal(await r('hincrby', 'h', 'gold', -2), 3);
        assert.equal(await r('hincrbyfloat', 'h', 'ratio', 0.5), '0.5');
        await r('hset', 'h', 'name', 'ana');
        await rejectsWith(r('hincrby', 'h', 'name', 1), 'E_REDIS_ERROR', /^ERR hash value is not an integer$/);
        await rejectsWith(r('hincrbyfloat', 'h', 'name', 1), 'E_REDIS_ERROR', /^ERR hash value is not a float$/);
      });
    });

    describe('lists', () => {
      it('LPUSH and RPUSH add at either end, and LRANGE, LINDEX and LLEN read with negative indexes', async () => {
        r = fresh();
        assert.equal(await r('rpush', 'l', 'b', 'c'), 2);
        assert.equal(await r('lpush', 'l', 'a', 'z'), 4);
        assert.deepEqual(await r('lrange', 'l', 0, -1), ['z', 'a', 'b', 'c']);
        assert.deepEqual(await r('lrange', 'l', -2, -1), ['b', 'c']);
        assert.equal(await r('lindex', 'l', -1), 'c');
        assert.equal(await r('lindex', 'l', 10), null);
        assert.equal(await r('llen', 'l'), 4);
      });

      it('LPOP and RPOP remove from either end, with an optional count', async () => {
        r = fresh();
        await r('rpush', 'l', 'a', 'b', 'c', 'd', 'e');
        assert.equal(await r('lpop', 'l'), 'a');
        assert.equal(await r('rpop', 'l'), 'e');
        assert.deepEqual(await r('lpop', 'l', 2), ['b', 'c']);
        assert.equal(await r('rpop', 'missing'), null);
        assert.equal(await r('llen', 'l'), 1);
      });

      it('LTRIM keeps a range and LREM removes matching elements', async () => {
        r = fresh();
        await r('rpush', 'l', 'x', 'a', 'x', 'b', 'x', 'c');
        assert.equal(await r('lrem', 'l', 2, 'x'), 2);
        assert.deepEqual(await r('lrange', 'l', 0, -1), ['a', 'b', 'x', 'c']);
        assert.equal(await r('ltrim', 'l', 0, 1), 'OK');
        assert.deepEqual(await r('lrange', 'l', 0, -1), ['a', 'b']);
      });
    });

    describe('sets', () => {
      it('SADD, SREM, SMEMBERS, SISMEMBER and SCARD keep unique members', async () => {
        r = fresh();
        assert.equal(await r('sadd', 's', 'a', 'b', 'a', 7), 3);
        assert.equal(await r('srem', 's', 'b', 'zz'), 1);
        assert.deepEqual([...(await r('smembers', 's')) as string[]].sort(), ['7', 'a']);
        assert.equal(await r('sismember', 's', 7), 1);
        assert.equal(await r('sismember', 's', 'b'), 0);
        assert.equal(await r('scard', 's'), 2);
        assert.deepEqual(await r('smembers', 'missing'), []);
      });
    });

    describe('sorted sets', () => {
      it('ZREVRANGE WITHSCORES lists the highest scores first as member/score pairs', async () => {
        r = fresh();
        assert.equal(await r('zadd', 'board', 10, 'ana', 30, 'bo', 20, 'cy'), 3);
        assert.deepEqual(await r('zrevrange', 'board', 0, -1, 'WITHSCORES'), ['bo', '30', 'cy', '20', 'ana', '10']);
        assert.deepEqual(await r('zrevrange', 'board', 0, 1), ['bo', 'cy']);
        assert.deepEqual(await r('zrange', 'board', 0, 0, 'withscores'), ['ana', '10']);
      });

      it('ZINCRBY adds to a member\'s score and returns the new score as a string', async () => {
        r = fresh();
        assert.equal(await r('zincrby', 'room:42:gifts', 5, 'alice'), '5');
        assert.equal(await r('zincrby', 'room:42:gifts', 2.5, 'alice'), '7.5');
        assert.equal(await r('zincrby', 'room:42:gifts', 1, 'bob'), '1');
        assert.deepEqual(await r('zrevrange', 'room:42:gifts', 0, -1, 'WITHSCORES'), ['alice', '7.5', 'bob', '1']);
      });

      it('scores come back in their shortest decimal form on every backend', async () => {
        r = fresh();
        assert.equal(await r('zincrby', 'z', 3, 'm'), '3');
        assert.equal(await r('zincrby', 'z', 0.1, 'm'), '3.1');
        await r('zadd', 'z', 3.7, 'n');
        assert.equal(await r('zscore', 'z', 'n'), '3.7');
        assert.deepEqual(await r('zmscore', 'z', 'm', 'n'), ['3.1', '3.7']);
        assert.deepEqual(await r('zrangebyscore', 'z', 3, 4, 'WITHSCORES'), ['m', '3.1', 'n', '3.7']);
      });

      it('members with equal scores are ordered by member, reversed by ZREVRANGE', async () => {
        r = fresh();
        await r('zadd', 'z', 1, 'b', 1, 'a', 1, 'c');
        assert.deepEqual(await r('zrange', 'z', 0, -1), ['a', 'b', 'c']);
        assert.deepEqual(await r('zrevrange', 'z', 0, -1), ['c', 'b', 'a']);
      });

      it('ZRANGEBYSCORE and ZREVRANGEBYSCORE honour fractional and exclusive bounds, LIMIT and WITHSCORES', async () => {
        r = fresh();
        await r('zadd', 'z', 1, 'a', 2.5, 'b', 3.7, 'c', 5, 'd');
        assert.deepEqual(await r('zrangebyscore', 'z', 2.5, 3.7), ['b', 'c']);
        assert.deepEqual(await r('zrangebyscore', 'z', '(2.5', '(5'), ['c']);
        assert.deepEqual(await r('zrangebyscore', 'z', '-inf', '+inf', 'WITHSCORES', 'LIMIT', 1, 2), ['b', '2.5', 'c', '3.7']);
        assert.deepEqual(await r('zrangebyscore', 'z', -Infinity, 3.6), ['a', 'b']);
        assert.deepEqual(await r('zrevrangebyscore', 'z', '+inf', '(3.7'), ['d']);
        assert.deepEqual(await r('zrevrangebyscore', 'z', 4, 1, 'WITHSCORES', 'LIMIT', 0, 2), ['c', '3.7', 'b', '2.5']);
        assert.equal(await r('zcount', 'z', '(1', 3.7), 2);
      });

      it('ZADD with NX, XX, GT, LT and CH updates only as told and counts changes with CH', async () => {
        r = fresh();
        await r('zadd', 'z', 10, 'a');
        assert.equal(await r('zadd', 'z', 'GT', 'CH', 5, 'a', 20, 'b'), 1);
        assert.equal(await r('zscore', 'z', 'a'), '10');
        assert.equal(await r('zadd', 'z', 'GT', 'CH', 15, 'a'), 1);
        assert.equal(await r('zscore', 'z', 'a'), '15');
        assert.equal(await r('zadd', 'z', 'LT', 12, 'b'), 0);
        assert.equal(await r('zscore', 'z', 'b'), '12');
        assert.equal(await r('zadd', 'z', 'NX', 1, 'a', 1, 'c'), 1);
        assert.equal(await r('zadd', 'z', 'XX', 'CH', 2, 'a', 2, 'd'), 1);
        assert.deepEqual(await r('zrange', 'z', 0, -1, 'WITHSCORES'), ['c', '1', 'a', '2', 'b', '12']);
      });

      it('ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZCARD and ZREM read and remove members', async () => {
        r = fresh();
        await r('zadd', 'z', 1, 'a', 2, 'b', 3, 'c');
        assert.equal(await r('zscore', 'z', 'b'), '2');
        assert.equal(await r('zscore', 'z', 'x'), null);
        assert.deepEqual(await r('zmscore', 'z', 'a', 'x', 'c'), ['1', null, '3']);
        assert.equal(await r('zrank', 'z', 'c'), 2);
        assert.equal(await r('zrevrank', 'z', 'c'), 0);
        assert.equal(await r('zrank', 'z', 'x'), null);
        assert.equal(await r('zrem', 'z', 'a', 'x'), 1);
        assert.equal(await r('zcard', 'z'), 2);
      });
    });

    describe('keys', () => {
      it('RENAME moves a key inside the app, and fails for a missing key', async () => {
        r = fresh();
        await r('set', 'old', 'v');
        assert.equal(await r('rename', 'old', 'new'), 'OK');
        assert.deepEqual([await r('get', 'old'), await r('get', 'new')], [null, 'v']);
        await rejectsWith(r('rename', 'missing', 'x'), 'E_REDIS_ERROR', /^ERR no such key$/);
      });
    });

    describe('namespacing', () => {
      it('two apps using the same key see different values', async () => {
        const a = as(newApp());
        const b = as(newApp());
        await a('set', 'score', 'from a');
        await b('set', 'score', 'from b');
        await a('zincrby', 'board', 3, 'me');
        assert.equal(await a('get', 'score'), 'from a');
        assert.equal(await b('get', 'score'), 'from b');
        assert.deepEqual(await b('zrange', 'board', 0, -1), []);
      });

      it('the backend holds the key under the app:{<app>}: prefix', async () => {
        const app = newApp();
        await as(app)('set', 'room:42', 'open');
        assert.equal(await backend.exec('GET', [`app:{${app}}:room:42`]), 'open');
        assert.equal(await backend.exec('GET', ['room:42']), null);
      });

      it('app a can never read or write a key of app b, whatever key string it sends', async () => {
        const appA = newApp();
        const appB = newApp();
        const a = as(appA);
        const b = as(appB);
        const hostile = [
          'x', `app:{${appB}}:x`, `{${appB}}:x`, `${appB}}:x`, `app:{${appB}}`, '../x', `../${appB}/x`, '}', '}:x', '{', ':x',
          `}:app:{${appB}}:x`, `\u0000app:{${appB}}:x`, 'ｘ', 'x\u0301', '🦊', `app:{${appB.toUpperCase()}}:x`, ' x', `app:{${appB}}:x\n`,
        ];
        await b('set', 'x', 'secret of b');
        await b('hset', 'h', 'f', 'secret of b');
        for (const key of hostile) {
          assert.equal(await a('get', key), null, `GET ${JSON.stringify(key)} from app a`);
          await a('set', key, 'written by a');
          await a('hset', key + 'h', 'f', 'written by a');
          await a('del', `app:{${appB}}:h`, 'h');
          assert.equal(await a('get', key), 'written by a');
          assert.equal(await backend.exec('GET', [`app:{${appA}}:${key}`]), 'written by a', `raw key of ${JSON.stringify(key)}`);
        }
        assert.equal(await b('get', 'x'), 'secret of b');
        assert.deepEqual(await b('hgetall', 'h'), { f: 'secret of b' });
        assert.equal(await backend.exec('GET', [`app:{${appB}}:x`]), 'secret of b');
      });

      it('multi-key commands namespace every key', async () => {
        const appB = newApp();
        const a = as(newApp());
        const b = as(appB);
        await b('mset', 'k1', 'b1', 'k2', 'b2');
        await a('mset', 'k1', 'a1', `app:{${appB}}:k2`, 'a2');
        assert.deepEqual(await a('mget', 'k1', 'k2', `app:{${appB}}:k2`), ['a1', null, 'a2']);
        assert.equal(await a('del', 'k1', 'k2', `app:{${appB}}:k1`), 1);
        assert.equal(await a('rename', `app:{${appB}}:k2`, 'k1'), 'OK');
        assert.deepEqual(await b('mget', 'k1', 'k2'), ['b1', 'b2']);
        assert.equal(await b('exists', 'k1', 'k2'), 2);
      });
    });

    describe('refused commands', () => {
      it('odd command names (empty, with separators, object properties) are refused too', async () => {
        r = fresh();
        for (const command of ['', 'config|get', 'get ', 'constructor', '__proto__', 'hasOwnProperty', 'toString', 'call']) {
          await rejectsWith(r(command, 'k'), 'E_REDIS_COMMAND_REFUSED', /is not allowed in ctx\.redis/);
        }
      });

      it('command names are case-insensitive', async () => {
        r = fresh();
        assert.equal(await r('SeT', 'k', 'v'), 'OK');
        assert.equal(await r('GET', 'k'), 'v');
      });

      it('the backend itself refuses commands off the allowlist, and MULTI/EXEC sent as single commands', async () => {
        await rejectsWith(backend.exec('FLUSHALL', []), 'E_REDIS_COMMAND_REFUSED', /FLUSHALL/);
        await rejectsWith(backend.exec('KEYS', ['*']), 'E_REDIS_COMMAND_REFUSED', /KEYS/);
        // A bare MULTI on the shared connection would pull other invocations' commands into it.
        await rejectsWith(backend.exec('MULTI', []), 'E_REDIS_COMMAND_REFUSED', /MULTI/);
        await rejectsWith(backend.exec('EXEC', []), 'E_REDIS_COMMAND_REFUSED', /EXEC/);
        await rejectsWith(backend.batch('multi', [{ command: 'FLUSHDB', args: [] }]), 'E_REDIS_COMMAND_REFUSED', /FLUSHDB/);
        await rejectsWith(backend.batch('pipeline', [{ command: 'MULTI', args: [] }]), 'E_REDIS_COMMAND_REFUSED', /cannot be nested/);
      });
    });

    describe('bad arguments', () => {
      it('a wrong number of arguments is refused with the usage line', async () => {
        r = fresh();
        await rejectsWith(r('get'), 'E_REDIS_BAD_ARGUMENTS', /^GET: wrong number of arguments \(got 0\) \(usage: GET key\)$/);
        await rejectsWith(r('get', 'a', 'b'), 'E_REDIS_BAD_ARGUMENTS', /GET: wrong number of arguments \(got 2\)/);
        await rejectsWith(r('mset', 'a'), 'E_REDIS_BAD_ARGUMENTS', /usage: MSET key value \[key value \.\.\.\]/);
        await rejectsWith(r('mset', 'a', '1', 'b'), 'E_REDIS_BAD_ARGUMENTS', /MSET: wrong number/);
        await rejectsWith(r('hset', 'h', 'f'), 'E_REDIS_BAD_ARGUMENTS', /HSET: wrong number/);
        await rejectsWith(r('zadd', 'z', 'GT'), 'E_REDIS_BAD_ARGUMENTS', /ZADD: wrong number/);
        await rejectsWith(r('lpop', 'l', 1, 2), 'E_REDIS_BAD_ARGUMENTS', /LPOP: wrong number/);
      });

      it('an object, boolean, null or NaN value is refused, with a hint for objects', async () => {
        r = fresh();
        await rejectsWith(r('set', 'k', { a: 1 }), 'E_REDIS_BAD_ARGUMENTS', /^SET argument 2 must be a string or a finite number, got an object \(use JSON\.stringify for objects\)$/);
        await rejectsWith(r('set', 'k', true), 'E_REDIS_BAD_ARGUMENTS', /got a boolean/);
        await rejectsWith(r('rpush', 'l', 'ok', null), 'E_REDIS_BAD_ARGUMENTS', /RPUSH argument 3 .* got null/);
        await rejectsWith(r('sadd', 's', Number.NaN), 'E_REDIS_BAD_ARGUMENTS', /got NaN/);
        assert.equal(await r('exists', 'k', 'l', 's'), 0);
      });

      it('an empty, non-string, over-long or malformed key is refused', async () => {
        r = fresh();
        await rejectsWith(r('get', ''), 'E_REDIS_BAD_ARGUMENTS', /^GET argument 1 is a key and must not be empty$/);
        await rejectsWith(r('get', 42), 'E_REDIS_BAD_ARGUMENTS', /GET argument 1 is a key and must be a string, got a number/);
        await rejectsWith(r('get', '€'.repeat(342)), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`key of 1026 bytes; keys are limited to ${MAX_KEY_BYTES} bytes`));
        await rejectsWith(r('mget', 'ok', '\ud800'), 'E_REDIS_BAD_ARGUMENTS', /MGET argument 2 is a key with a lone UTF-16 surrogate/);
        assert.equal(await r('set', 'k'.repeat(MAX_KEY_BYTES), 'fits'), 'OK');
      });

      it('an oversize value or request is refused before it reaches Redis', async () => {
        r = fresh();
        const limit = host.options.maxValueBytes;
        await rejectsWith(r('set', 'k', 'x'.repeat(limit + 1)), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`SET argument 2 is ${limit + 1} bytes; values are limited to ${limit} bytes`));
        const chunk = 'y'.repeat(limit);
        await rejectsWith(r('mset', 'a', chunk, 'b', chunk, 'c', chunk), 'E_REDIS_BAD_ARGUMENTS', /MSET: arguments exceed 1048576 bytes in total/);
        assert.equal(await r('exists', 'k', 'a', 'b', 'c'), 0);
        assert.equal(await r('set', 'k', 'x'.repeat(limit)), 'OK');
      });

      it('numeric arguments and options are checked with clear messages', async () => {
        r = fresh();
        await rejectsWith(r('incrby', 'n', 'abc'), 'E_REDIS_BAD_ARGUMENTS', /^INCRBY argument 2 must be an integer \(64-bit\), got "abc"$/);
        await rejectsWith(r('incrby', 'n', 1.5), 'E_REDIS_BAD_ARGUMENTS', /must be an integer/);
        await rejectsWith(r('lrange', 'l', 0, 'x'), 'E_REDIS_BAD_ARGUMENTS', /LRANGE argument 3 must be an integer/);
        await rejectsWith(r('zadd', 'z', 'nan', 'm'), 'E_REDIS_BAD_ARGUMENTS', /ZADD argument 2 must be a finite number/);
        await rejectsWith(r('zadd', 'z', Infinity, 'm'), 'E_REDIS_BAD_ARGUMENTS', /must be a finite number, got Infinity/);
        await rejectsWith(r('zrangebyscore', 'z', '(x', 1), 'E_REDIS_BAD_ARGUMENTS', /must be a score bound/);
        await rejectsWith(r('set', 'k', 'v', 'EX', 0), 'E_REDIS_BAD_ARGUMENTS', /SET argument 4 must be an integer ≥ 1/);
        await rejectsWith(r('set', 'k', 'v', 'KEEPTTL'), 'E_REDIS_BAD_ARGUMENTS', /unknown option "KEEPTTL" at argument 3; allowed options: EX, PX, NX, XX/);
        await rejectsWith(r('set', 'k', 'v', 'NX', 'XX'), 'E_REDIS_BAD_ARGUMENTS', /options NX and XX cannot be combined/);
        await rejectsWith(r('set', 'k', 'v', 'EX', 5, 'EX', 6), 'E_REDIS_BAD_ARGUMENTS', /option EX is given twice/);
        await rejectsWith(r('set', 'k', 'v', 'PX'), 'E_REDIS_BAD_ARGUMENTS', /option PX needs 1 argument/);
        await rejectsWith(r('zadd', 'z', 'NX', 'GT', 1, 'm'), 'E_REDIS_BAD_ARGUMENTS', /options NX and GT cannot be combined/);
        await rejectsWith(r('lpop', 'l', -1), 'E_REDIS_BAD_ARGUMENTS', /must be an integer ≥ 0/);
        assert.equal(await r('exists', 'k', 'z', 'n'), 0);
      });
    });

    describe('errors from Redis', () => {
      it('a command on a key of another type fails with WRONGTYPE as E_REDIS_ERROR', async () => {
        r = fresh();
        await r('set', 'str', 'v');
        await r('hset', 'hash', 'f', 'v');
        await r('rpush', 'list', 'v');
        await r('sadd', 'set', 'v');
        await r('zadd', 'zset', 1, 'v');
        const wrong: Array<[string, ...unknown[]]> = [
          ['lpush', 'str', 'x'], ['get', 'hash'], ['incr', 'hash'], ['append', 'list', 'x'], ['sadd', 'hash', 'm'],
          ['zadd', 'list', 1, 'm'], ['hget', 'set', 'f'], ['smembers', 'str'], ['zscore', 'str', 'm'], ['llen', 'zset'],
          ['zrangebyscore', 'hash', 0, 1], ['hincrby', 'str', 'f', 1], ['zincrby', 'set', 1, 'm'], ['strlen', 'zset'],
        ];
        for (const [command, ...args] of wrong) {
          await rejectsWith(r(command, ...args), 'E_REDIS_ERROR', /^WRONGTYPE Operation against a key holding the wrong kind of value$/);
        }
        assert.equal(await r('get', 'str'), 'v');
        assert.deepEqual(await r('lrange', 'list', 0, -1), ['v']);
      });
    });

    describe('lifecycle', () => {
      it('values reach the isolate as plain data: strings, numbers, null and arrays only', async () => {
        r = fresh();
        await r('rpush', 'l', 'a');
        const replies: RedisValue[] = [await r('lrange', 'l', 0, -1), await r('llen', 'l'), await r('get', 'nope'), await r('hgetall', 'nope')];
        const plain = (value: unknown): boolean =>
          value === null || typeof value === 'string' || typeof value === 'number' ||
          (Array.isArray(value) && value.every(plain)) ||
          (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(plain));
        assert.ok(replies.every(plain));
        assert.deepEqual(structuredClone(replies), replies);
      });
    });
  });
}

for (const [name, make] of CONTRACT_TARGETS) contract(name, make);

describe('backends', () => {
  it('each embedded backend has its own data', async () => {
    const one = createEmbeddedBackend();
    const two = createEmbeddedBackend();
    try {
      await one.exec('SET', ['app:{x}:k', 'one']);
      assert.equal(await two.exec('GET', ['app:{x}:k']), null);
      assert.equal(one.kind, 'embedded');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('a closed backend fails with E_REDIS_UNAVAILABLE, and close is idempotent', async () => {
    const backend = createEmbeddedBackend();
    await backend.close();
    await backend.close();
    await rejectsWith(backend.exec('GET', ['k']), 'E_REDIS_UNAVAILABLE', /closed/);
  });

  it('the embedded store refuses a hash field named __proto__ instead of losing it', async () => {
    const backend = createEmbeddedBackend();
    try {
      const host = createRedisHost(backend);
      await rejectsWith(host.execute('g', 'hset', ['h', '__proto__', 'x']), 'E_REDIS_ERROR', /cannot hold a hash field named "__proto__"/);
      assert.equal(await host.execute('g', 'hset', ['h', 'f', '__proto__']), 1);
      assert.deepEqual(await host.execute('g', 'hgetall', ['h']), { f: '__proto__' });
    } finally {
      await backend.close();
    }
  });

  it('a backend rejects arguments that are not an array of strings (they may arrive over IPC)', async () => {
    const backend = createEmbeddedBackend();
    try {
      await rejectsWith(backend.exec('GET', [42 as unknown as string]), 'E_REDIS_BAD_ARGUMENTS', /array of strings/);
    } finally {
      await backend.close();
    }
  });

  it('both backends reject a malformed batch before running any of it (it may arrive over IPC)', async () => {
    // Nothing listens on the ioredis backend's port: the shape check comes before any connection.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 1));
      });
    });
    const embedded = createEmbeddedBackend();
    const backends = [embedded, createIoredisBackend(`redis://127.0.0.1:${port}`)];
    const batch = (backend: RedisBackend, mode: unknown, commands: unknown): Promise<RedisBatchEntry[]> =>
      backend.batch(mode as RedisBatchMode, commands as RedisBatchCommand[]);
    try {
      for (const backend of backends) {
        const ok = [{ command: 'INCR', args: ['app:{g}:n'] }];
        await rejectsWith(batch(backend, 'exec', ok), 'E_REDIS_BAD_ARGUMENTS', /^a batch mode must be "multi" or "pipeline", got "exec"$/);
        await rejectsWith(batch(backend, 'MULTI', ok), 'E_REDIS_BAD_ARGUMENTS', /got "MULTI"/);
        await rejectsWith(batch(backend, 42, ok), 'E_REDIS_BAD_ARGUMENTS', /got number/);
        await rejectsWith(batch(backend, 'multi', []), 'E_REDIS_BAD_ARGUMENTS', /^MULTI: backend commands must be a non-empty array$/);
        await rejectsWith(batch(backend, 'pipeline', 'INCR'), 'E_REDIS_BAD_ARGUMENTS', /^PIPELINE: backend commands must be a non-empty array$/);
        await rejectsWith(batch(backend, 'multi', [...ok, 'INCR']), 'E_REDIS_BAD_ARGUMENTS', /^MULTI: each backend command must be \{ command, args \}$/);
        await rejectsWith(batch(backend, 'pipeline', [...ok, null]), 'E_REDIS_BAD_ARGUMENTS', /each backend command must be \{ command, args \}/);
        await rejectsWith(batch(backend, 'multi', [{ command: 'INCR', args: [42] }]), 'E_REDIS_BAD_ARGUMENTS', /^INCR: backend arguments must be an array of strings$/);
        await rejectsWith(batch(backend, 'multi', [{ command: 'INCR' }]), 'E_REDIS_BAD_ARGUMENTS', /array of strings/);
        await rejectsWith(batch(backend, 'multi', [{ command: 7, args: [] }]), 'E_REDIS_COMMAND_REFUSED', /the command name must be a string/);
        await rejectsWith(batch(backend, 'multi', [{ command: 'KEYS', args: ['*'] }]), 'E_REDIS_COMMAND_REFUSED', /KEYS is not allowed/);
      }
      // The embedded store still runs a well-formed batch afterwards: nothing was left half-done.
      assert.deepEqual(await embedded.batch('multi', [{ command: 'INCR', args: ['app:{g}:n'] }]), [1]);
    } finally {
      for (const backend of backends) await backend.close();
    }
  });
});

describe('faults on a real redis-server', () => {
  let server: TestRedis;
  let backend: RedisBackend;
  let host: RedisHost;
  before(async () => {
    server = await startRedis();
    backend = createIoredisBackend(server.url);
    host = createRedisHost(backend);
  });
  after(async () => {
    await backend.close();
    await server.stop();
  });

  it('a killed server makes commands fail with E_REDIS_UNAVAILABLE within 3 s, and they work again after a restart', async () => {
    assert.equal(await host.execute('game1', 'set', ['k', 'v']), 'OK');
    await server.kill();
    const started = Date.now();
    await rejectsWith(host.execute('game1', 'get', ['k']), 'E_REDIS_UNAVAILABLE', /^Redis is unavailable: .*retry later$/);
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    const again = Date.now();
    await rejectsWith(host.execute('game1', 'incr', ['n']), 'E_REDIS_UNAVAILABLE');
    assert.ok(Date.now() - again < 3000, `second failure took ${Date.now() - again} ms`);

    await server.restart();
    assert.equal(await untilUp(() => host.execute('game1', 'incr', ['n']), 5000), 1);
    assert.equal(await host.execute('game1', 'get', ['n']), '1');
  });

  it('a MULTI or a pipeline on a killed server fails with E_REDIS_UNAVAILABLE, and both work again after a restart', async () => {
    assert.deepEqual(await host.execute('game1', 'multi', [['set', 'm', '1'], ['get', 'm']]), ['OK', '1']);
    await server.kill();
    await rejectsWith(host.execute('game1', 'multi', [['incr', 'm'], ['get', 'm']]), 'E_REDIS_UNAVAILABLE', /^Redis is unavailable: .*retry later$/);
    await rejectsWith(host.execute('game1', 'pipeline', [['incr', 'm']]), 'E_REDIS_UNAVAILABLE', /^Redis is unavailable: /);
    await server.restart();
    assert.deepEqual(await untilUp(() => host.execute('game1', 'multi', [['incr', 'm'], ['incr', 'm']]), 5000), [1, 2]);
    assert.deepEqual(await host.execute('game1', 'pipeline', [['get', 'm'], ['scan', 0]]), ['2', ['0', ['m']]]);
  });

  it('a hung server makes a command fail with E_REDIS_UNAVAILABLE after about 2 s instead of hanging', async () => {
    assert.equal(await host.execute('game1', 'set', ['h', 'before']), 'OK');
    server.pause();
    try {
      const started = Date.now();
      await rejectsWith(host.execute('game1', 'get', ['h']), 'E_REDIS_UNAVAILABLE', /timed out|no answer within 2000 ms/);
      const took = Date.now() - started;
      assert.ok(took >= 1900 && took < 3000, `took ${took} ms`);
    } finally {
      server.resume();
    }
    assert.equal(await host.execute('game1', 'set', ['h', 'after']), 'OK');
    assert.equal(await host.execute('game1', 'get', ['h']), 'after');
  });

  it('a backend whose server never existed fails fast with E_REDIS_UNAVAILABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 1));
      });
    });
    const down = createIoredisBackend(`redis://127.0.0.1:${port}`);
    try {
      const started = Date.now();
      await rejectsWith(down.exec('GET', ['k']), 'E_REDIS_UNAVAILABLE', /^Redis is unavailable: not connected \(ECONNREFUSED\); the command may not have run, retry later$/);
      await rejectsWith(down.exec('SET', ['k', 'v']), 'E_REDIS_UNAVAILABLE', /not connected \(ECONNREFUSED\)/);
      assert.ok(Date.now() - started < 500, `took ${Date.now() - started} ms`);
    } finally {
      await down.close();
    }
  });
});

describe('host', () => {
  it('a backend that never answers fails with E_REDIS_UNAVAILABLE after commandTimeoutMs', async () => {
    const stuck = fakeBackend('embedded', () => new Promise<RedisReply>(() => {}));
    const host = createRedisHost(stuck, { commandTimeoutMs: 50 });
    const started = Date.now();
    await rejectsWith(host.execute('game1', 'get', ['k']), 'E_REDIS_UNAVAILABLE', /GET got no answer within 50 ms/);
    await rejectsWith(host.execute('game1', 'multi', [['incr', 'k']]), 'E_REDIS_UNAVAILABLE', /MULTI got no answer within 50 ms/);
    await rejectsWith(host.execute('game1', 'pipeline', [['incr', 'k']]), 'E_REDIS_UNAVAILABLE', /PIPELINE got no answer within 50 ms/);
    assert.ok(Date.now() - started < 1000);
  });

  it('a plain error from a backend is mapped: reply errors to E_REDIS_ERROR, others to E_REDIS_UNAVAILABLE', async () => {
    const replyError = Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError' });
    const failing = (err: Error): RedisBackend => fakeBackend('redis', async () => { throw err; });
    await rejectsWith(createRedisHost(failing(replyError)).execute('g', 'get', ['k']), 'E_REDIS_ERROR', /^WRONGTYPE/);
    await rejectsWith(createRedisHost(failing(new Error('Connection is closed.'))).execute('g', 'get', ['k']), 'E_REDIS_UNAVAILABLE', /the connection to Redis was lost/);
  });

  it('options are defaulted, frozen and validated', async () => {
    const backend = createEmbeddedBackend();
    try {
      const host = createRedisHost(backend, { maxValueBytes: 10 });
      assert.deepEqual({ ...host.options }, { maxValueBytes: 10, maxArgsBytes: 1048576, maxArgCount: 4096, commandTimeoutMs: 2000, maxBatchCommands: 1000 });
      assert.ok(Object.isFrozen(host.options));
      assert.throws(() => createRedisHost(backend, { commandTimeoutMs: 0 }), /commandTimeoutMs must be a positive integer/);
      assert.throws(() => createRedisHost(backend, { maxArgsBytes: 1.5 }), /maxArgsBytes/);
      assert.throws(() => createRedisHost(backend, { maxBatchCommands: -1 }), /maxBatchCommands must be a positive integer/);
    } finally {
      await backend.close();
    }
  });

  it('a command with more than maxArgCount arguments is refused', async () => {
    const backend = createEmbeddedBackend();
    try {
      const host = createRedisHost(backend, { maxArgCount: 3 });
      await rejectsWith(host.execute('g', 'mget', ['a', 'b', 'c', 'd']), 'E_REDIS_BAD_ARGUMENTS', /4 arguments; at most 3/);
    } finally {
      await backend.close();
    }
  });

  it('an invalid app name is a platform bug (E_INTERNAL), never a namespace', async () => {
    const backend = createEmbeddedBackend();
    try {
      const host = createRedisHost(backend);
      for (const app of ['', 'a}b', 'a{b', 'a b', 'x\n']) {
        await rejectsWith(host.execute(app, 'get', ['k']), 'E_INTERNAL', /invalid app name/);
      }
    } finally {
      await backend.close();
    }
  });

  it('a backend answering a batch with the wrong number of replies is a platform bug (E_INTERNAL)', async () => {
    const twoCommands = [['incr', 'a'], ['incr', 'b']];
    // fakeBackend answers every batch with one entry.
    await rejectsWith(createRedisHost(fakeBackend('redis', async () => 1)).execute('g', 'multi', twoCommands), 'E_INTERNAL', /^MULTI: the Redis backend answered 1 replies for 2 commands$/);
    const noArray: RedisBackend = { ...fakeBackend('redis', async () => 1), batch: async () => null as unknown as RedisBatchEntry[] };
    await rejectsWith(createRedisHost(noArray).execute('g', 'pipeline', twoCommands), 'E_INTERNAL', /^PIPELINE: the Redis backend answered no replies for 2 commands$/);
  });

  it('a batch passes the backend\'s error entries through and shapes the other replies', async () => {
    const seen: Array<[RedisBatchMode, readonly RedisBatchCommand[]]> = [];
    const backend: RedisBackend = {
      ...fakeBackend('redis', async () => null),
      batch: async (mode, commands) => {
        seen.push([mode, commands]);
        return [batchError('WRONGTYPE Operation against a key holding the wrong kind of value'), ['f', 'v'], ['0', ['app:{g}:k', 'app:{other}:x']]];
      },
    };
    const replies = await createRedisHost(backend).execute('g', 'PiPeLiNe', [['incr', 'a'], ['hgetall', 'h'], ['scan', 0]]);
    assert.deepEqual(replies, [
      { error: { code: 'E_REDIS_ERROR', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' } },
      { f: 'v' },
      ['0', ['k']],
    ]);
    assert.deepEqual(seen, [['pipeline', [
      { command: 'INCR', args: ['app:{g}:a'] },
      { command: 'HGETALL', args: ['app:{g}:h'] },
      { command: 'SCAN', args: ['0', 'MATCH', 'app:{g}:*'] },
    ]]]);
  });

  it('HGETALL keeps a field named __proto__ as an ordinary property', async () => {
    const fake = fakeBackend('embedded', async () => ['__proto__', 'x', 'a', '1']);
    const value = await createRedisHost(fake).execute('g', 'hgetall', ['h']);
    assert.deepEqual(Object.keys(value as object), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
  });
});

describe('namespace', () => {
  it('prefixes keys with app:{<app>}: so one app\'s keys share a cluster hash slot', () => {
    assert.equal(prefixKey('game1', 'room:42:gifts'), 'app:{game1}:room:42:gifts');
    assert.equal(keyPrefix('game1'), 'app:{game1}:');
  });

  it('prefixes of different apps are never prefixes of each other', () => {
    const apps = ['a', 'a:b', 'ab', 'a-b', 'b', 'A'];
    for (const x of apps) for (const y of apps) if (x !== y) assert.ok(!keyPrefix(y).startsWith(keyPrefix(x)), `${x} vs ${y}`);
  });

  it('unprefixKey returns the app\'s own key, and null for a key of another app', () => {
    assert.equal(unprefixKey('a', 'app:{a}:k'), 'k');
    assert.equal(unprefixKey('a', 'app:{ab}:k'), null);
    assert.equal(unprefixKey('a', 'app:{b}:app:{a}:k'), null);
  });
});

describe('command table', () => {
  it('lists the single commands plus MULTI and PIPELINE, and every key position is a key', () => {
    assert.equal(Object.keys(COMMANDS).length, 62);
    assert.deepEqual(BATCH_COMMANDS, ['MULTI', 'PIPELINE']);
    assert.equal(ALLOWED_COMMANDS.length, 64);
    assert.equal(new Set(ALLOWED_COMMANDS).size, 64, 'no name twice');
    for (const name of [...Object.keys(COMMANDS), 'MULTI', 'PIPELINE']) assert.ok(ALLOWED_COMMANDS.includes(name), name);
    assert.ok(ALLOWED_COMMANDS.every((name, i) => i === 0 || ALLOWED_COMMANDS[i - 1] < name), 'sorted');
    assert.ok(Object.isFrozen(ALLOWED_COMMANDS) && Object.isFrozen(BATCH_COMMANDS));
    // The isolate exposes ctx.redis.<name> for each name the registry hands it.
    const registry = createBuiltinHost({ redis: null, forward: async () => null });
    assert.deepEqual(registry.redisCommands, ALLOWED_COMMANDS.map((name) => name.toLowerCase()));
    for (const name of ['multi', 'pipeline', 'zincrby', 'scan']) assert.ok(registry.redisCommands.includes(name), name);
    assert.deepEqual(matchArgs(lookupCommand('scan'), ['0', 'count', '5', 'match', 'k*']), ['cursor', 'token', 'scancount', 'token', 'keypattern']);
    assert.deepEqual(matchArgs(lookupCommand('hscan'), ['h', '0', 'match', 'f*']), ['key', 'cursor', 'token', 'pattern']);
    assert.deepEqual(matchArgs(lookupCommand('mset'), ['a', '1', 'b', '2']), ['key', 'value', 'key', 'value']);
    assert.deepEqual(matchArgs(lookupCommand('del'), ['a', 'b', 'c']), ['key', 'key', 'key']);
    assert.deepEqual(matchArgs(lookupCommand('rename'), ['a', 'b']), ['key', 'key']);
    assert.deepEqual(matchArgs(lookupCommand('zadd'), ['z', 'gt', 'ch', '1', 'm']), ['key', 'token', 'token', 'float', 'value']);
    assert.deepEqual(matchArgs(lookupCommand('zrangebyscore'), ['z', '0', '1', 'limit', '0', '5', 'withscores']), ['key', 'bound', 'bound', 'token', 'count', 'int', 'token']);
    assert.ok(Object.isFrozen(COMMANDS) && Object.isFrozen(COMMANDS.GET));
  });

  it('batchCommand recognises MULTI and PIPELINE in any case, as the mode RedisBackend.batch takes', () => {
    assert.equal(batchCommand('multi'), 'multi');
    assert.equal(batchCommand('MuLtI'), 'multi');
    assert.equal(batchCommand('PIPELINE'), 'pipeline');
    for (const other of ['get', 'exec', 'multi ', 'xmulti', 'pipelines', '', 'MULTI|PIPELINE', 42, null, undefined, ['multi']]) {
      assert.equal(batchCommand(other), null, String(other));
    }
  });

  it('every allowed command exists in the embedded store\'s library', async () => {
    const { default: RedisMock } = await import('ioredis-mock');
    const mock = new RedisMock({ host: 'command-table-check', lazyConnect: true }) as unknown as Record<string, unknown>;
    for (const name of ALLOWED_COMMANDS) assert.equal(typeof mock[name.toLowerCase()], 'function', name);
  });
});

describe('error catalog', () => {
  it('every builtins code has an HTTP status, a user flag and a summary, and builtinError uses them', () => {
    for (const [code, spec] of Object.entries(BUILTIN_ERRORS)) {
      assert.ok(spec.status >= 400 && spec.status < 600, code);
      assert.ok(spec.summary.length > 20, code);
      const err = builtinError(code as keyof typeof BUILTIN_ERRORS, 'm', { command: 'GET' });
      assert.deepEqual(err.toJSON(), { error: { code, message: 'm', command: 'GET' } });
      assert.equal(err.status, spec.status);
    }
    assert.equal(BUILTIN_ERRORS.E_REDIS_UNAVAILABLE.status, 503);
    assert.equal(BUILTIN_ERRORS.E_REDIS_UNAVAILABLE.user, false);
  });
});
