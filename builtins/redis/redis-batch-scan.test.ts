/**
 * `ctx.redis` contract, part two: MULTI, pipelines, the SCAN family and every refusal, run against a
 * throwaway redis-server and the embedded store (`CONTRACT_TARGETS`). Part one is `redis.test.ts`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RedisBackend } from './backend.ts';
import { MAX_PATTERN_BYTES } from './commands.ts';
import { rejectsWith } from '../../test/support/assert-platform-error.ts';
import { CONTRACT_TARGETS, newApp, type ContractTarget } from './contract-support.ts';
import { globMatch } from './embedded-scan.ts';
import { createRedisHost, type RedisHost, type RedisValue } from './host.ts';
import { escapeGlob, prefixKey } from './namespace.ts';

type Call = (command: string, ...args: unknown[]) => Promise<RedisValue>;

/**
 * Every refusal `ctx.redis` makes of a command by name, with why. The closing note of issue 3
 * lists these (one `it` each, on both backends).
 */
const REFUSALS: ReadonlyArray<readonly [command: string, args: readonly unknown[], reason: RegExp]> = [
  ['KEYS', ['*'], /walks the whole Redis keyspace, which every app shares; use SCAN/],
  ['RANDOMKEY', [], /walks the whole Redis keyspace/],
  ['DBSIZE', [], /walks the whole Redis keyspace/],
  ['EVAL', ['return redis.call("flushall")', 0], /scripts could reach keys outside your app's namespace/],
  ['EVALSHA', ['e0e1f9fabfc9d4800c877a703b823ac0578ff8db', 0], /scripts could reach keys/],
  ['EVAL_RO', ['return 1', 0], /scripts could reach keys/],
  ['SCRIPT', ['LOAD', 'return 1'], /scripts could reach keys/],
  ['FUNCTION', ['LIST'], /scripts could reach keys/],
  ['FCALL', ['f', 0], /scripts could reach keys/],
  ['CONFIG', ['SET', 'maxmemory', '1'], /administers or inspects the Redis server that every app shares/],
  ['FLUSHALL', [], /administers or inspects/],
  ['FLUSHDB', [], /administers or inspects/],
  ['SELECT', [1], /administers or inspects/],
  ['SWAPDB', [0, 1], /administers or inspects/],
  ['MOVE', ['k', 1], /administers or inspects/],
  ['MIGRATE', ['127.0.0.1', 6379, 'k', 0, 1000], /administers or inspects/],
  ['CLIENT', ['LIST'], /administers or inspects/],
  ['DEBUG', ['SLEEP', 10], /administers or inspects/],
  ['SHUTDOWN', [], /administers or inspects/],
  ['MONITOR', [], /administers or inspects/],
  ['INFO', [], /administers or inspects/],
  ['ACL', ['LIST'], /administers or inspects/],
  ['OBJECT', ['ENCODING', 'k'], /administers or inspects/],
  ['CLUSTER', ['NODES'], /administers or inspects/],
  ['AUTH', ['secret'], /administers or inspects/],
  ['SORT', ['k', 'BY', 'app:{other}:*'], /its BY and GET patterns name other keys, which are not namespaced/],
  ['SUBSCRIBE', ['news'], /pub\/sub channels are not namespaced per app/],
  ['PSUBSCRIBE', ['*'], /pub\/sub channels are not namespaced/],
  ['PUBLISH', ['news', 'hi'], /pub\/sub channels are not namespaced/],
  ['EXEC', [], /ctx\.redis\.multi\(\['incr', 'a'\], \['get', 'a'\]\) sends MULTI and EXEC for you/],
  ['DISCARD', [], /sends MULTI and EXEC for you/],
  ['WATCH', ['k'], /WATCH needs a connection of its own, and ctx\.redis shares connections between invocations/],
  ['UNWATCH', [], /WATCH needs a connection of its own/],
  ['BLPOP', ['k', 0], /blocking commands would hold a shared connection/],
  ['BRPOP', ['k', 0], /blocking commands/],
  ['BZPOPMIN', ['k', 0], /blocking commands/],
  ['XREAD', ['BLOCK', 0, 'STREAMS', 'k', '$'], /blocking commands/],
  ['GETSET', ['k', 'v'], /it is not on the ctx\.redis allowlist/],
  ['COPY', ['k', 'app:{other}:k'], /it is not on the ctx\.redis allowlist/],
  ['TYPE', ['k'], /it is not on the ctx\.redis allowlist/],
  ['FOO', [], /it is not on the ctx\.redis allowlist/],
];

/** Collect every page of a SCAN-family iteration (COUNT `count`), checking cursor shapes. */
async function scanAll(r: Call, command: string, head: unknown[], options: unknown[] = []): Promise<{ items: string[]; calls: number }> {
  const items: string[] = [];
  let cursor: unknown = 0;
  let calls = 0;
  do {
    const reply = await r(command, ...head, cursor, ...options);
    assert.ok(Array.isArray(reply) && reply.length === 2 && typeof reply[0] === 'string' && Array.isArray(reply[1]), `${command} reply ${JSON.stringify(reply)}`);
    assert.match(reply[0] as string, /^\d+$/);
    items.push(...(reply[1] as string[]));
    cursor = reply[0];
    calls += 1;
    assert.ok(calls < 10_000, 'the iteration must end');
  } while (cursor !== '0');
  return { items, calls };
}

const sorted = (items: Iterable<string>): string[] => [...new Set(items)].sort();

for (const [name, makeTarget] of CONTRACT_TARGETS) {
  describe(`ctx.redis batches, SCAN and refusals on ${name}`, () => {
    let target: ContractTarget;
    let backend: RedisBackend;
    let host: RedisHost;
    const as = (app: string): Call => (command, ...args) => host.execute(app, command, args);
    const fresh = (): Call => as(newApp());

    before(async () => {
      target = await makeTarget();
      backend = target.backend;
      host = createRedisHost(backend);
    });
    after(async () => {
      await target.close();
    });

    describe('MULTI', () => {
      it('runs the commands and resolves to their replies, converted like single commands', async () => {
        const r = fresh();
        const replies = await r('multi',
          ['incr', 'a'], ['expire', 'a', 60], ['get', 'a'], ['hset', 'h', 'f', 'v'], ['hgetall', 'h'],
          ['zadd', 'z', 3.7, 'm'], ['zscore', 'z', 'm'], ['zrange', 'z', 0, -1, 'WITHSCORES'], ['GET', 'missing']);
        assert.deepEqual(replies, [1, 1, '1', 1, { f: 'v' }, 1, '3.7', ['m', '3.7'], null]);
        const ttl = await r('ttl', 'a');
        assert.ok(typeof ttl === 'number' && ttl > 0 && ttl <= 60, `ttl ${ttl}`);
      });

      it('is atomic: a reader on another connection never sees part of a MULTI across 200 runs', async () => {
        const app = newApp();
        const r = as(app);
        const reader = createRedisHost(target.reader);
        let done = false;
        const seen: string[] = [];
        const read = async (): Promise<void> => {
          while (!done) {
            const values = await reader.execute(app, 'mget', ['x', 'y', 'z']);
            assert.ok(Array.isArray(values));
            const [x, y, z] = values;
            assert.ok(x === y && y === z, `partial MULTI seen: x=${String(x)} y=${String(y)} z=${String(z)}`);
            seen.push(String(x));
          }
        };
        const readers = [read(), read(), read()];
        try {
          for (let i = 1; i <= 200; i++) {
            assert.deepEqual(await r('multi', ['incr', 'x'], ['incr', 'y'], ['incr', 'z']), [i, i, i]);
          }
        } finally {
          done = true;
          await Promise.all(readers);
        }
        // The readers ran between the transactions, not only before or after them all.
        assert.ok(seen.some((v) => v !== 'null' && v !== '200'), `readers saw only ${[...new Set(seen)].join(', ')}`);
        assert.deepEqual(await r('mget', 'x', 'y', 'z'), ['200', '200', '200']);
      });

      it('reports a command Redis refuses at run time (WRONGTYPE) in its entry, and runs the others, as Redis does', async () => {
        const r = fresh();
        await r('set', 'str', 'v');
        const replies = await r('multi', ['incr', 'n'], ['sadd', 'str', 'x'], ['incr', 'n'], ['get', 'str']);
        assert.ok(Array.isArray(replies));
        assert.deepEqual(replies[1], { error: { code: 'E_REDIS_ERROR', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' } });
        assert.deepEqual([replies[0], replies[2], replies[3]], [1, 2, 'v']);
        assert.equal(await r('get', 'n'), '2');
      });

      it('a MULTI that Redis discards (EXECABORT) rejects with E_REDIS_ERROR, and none of it runs', async () => {
        const app = newApp();
        const key = prefixKey(app, 'n');
        await rejectsWith(
          backend.batch('multi', [{ command: 'INCR', args: [key] }, { command: 'GET', args: [key, 'extra'] }]),
          'E_REDIS_ERROR',
          /^MULTI was aborted and none of its commands ran: EXECABORT Transaction discarded because of previous errors \(GET: ERR wrong number of arguments for 'get' command\)$/,
        );
        assert.equal(await backend.exec('GET', [key]), null);
        // In a pipeline the same command is only its own error entry.
        const entries = await backend.batch('pipeline', [{ command: 'INCR', args: [key] }, { command: 'GET', args: [key, 'extra'] }]);
        assert.deepEqual(entries, [1, { error: { code: 'E_REDIS_ERROR', message: "ERR wrong number of arguments for 'get' command" } }]);
      });

      it('keys inside a MULTI are namespaced like single commands', async () => {
        const appA = newApp();
        const appB = newApp();
        await as(appB)('set', 'x', 'secret of b');
        const replies = await as(appA)('multi', ['get', `app:{${appB}}:x`], ['set', `app:{${appB}}:x`, 'by a'], ['del', 'x'], ['rename', `app:{${appB}}:x`, 'y']);
        assert.deepEqual(replies, [null, 'OK', 0, 'OK']);
        assert.equal(await as(appB)('get', 'x'), 'secret of b');
        assert.equal(await backend.exec('GET', [`app:{${appA}}:y`]), 'by a');
      });
    });

    describe('PIPELINE', () => {
      it('resolves to one entry per command: the reply, or { error: { code, message } } for a command Redis refused', async () => {
        const r = fresh();
        await r('set', 'str', 'v');
        const replies = await r('pipeline', ['incr', 'n'], ['lpush', 'str', 'x'], ['incrbyfloat', 'n', 0.5], ['hgetall', 'nope'], ['incr', 'str'], ['zadd', 'z', 1, 'a'], ['zmscore', 'z', 'a', 'b']);
        assert.deepEqual(replies, [
          1,
          { error: { code: 'E_REDIS_ERROR', message: 'WRONGTYPE Operation against a key holding the wrong kind of value' } },
          '1.5',
          {},
          { error: { code: 'E_REDIS_ERROR', message: 'ERR value is not an integer or out of range' } },
          1,
          ['1', null],
        ]);
        assert.equal(await r('get', 'n'), '1.5');
      });

      it('runs the commands in order, each seeing the ones before it', async () => {
        const r = fresh();
        const commands = Array.from({ length: 50 }, (_, i) => ['rpush', 'l', `e${i}`]);
        const replies = await r('pipeline', ...commands, ['lrange', 'l', 0, 2], ['llen', 'l']);
        assert.deepEqual(replies, [...Array.from({ length: 50 }, (_, i) => i + 1), ['e0', 'e1', 'e2'], 50]);
      });
    });

    describe('batch checks (MULTI and PIPELINE alike)', () => {
      for (const batch of ['multi', 'pipeline']) {
        const upper = batch.toUpperCase();

        it(`${batch}: an invalid inner command refuses the whole batch before anything is sent, naming its index`, async () => {
          const r = fresh();
          await rejectsWith(r(batch, ['incr', 'a'], ['incrby', 'a', 'x']), 'E_REDIS_BAD_ARGUMENTS',
            new RegExp(`^${upper}: command at index 1 \\(INCRBY\\) of 2 was refused, nothing was sent: INCRBY argument 2 must be an integer \\(64-bit\\), got "x"$`));
          await rejectsWith(r(batch, ['set', 'a', '1'], ['get']), 'E_REDIS_BAD_ARGUMENTS', /command at index 1 \(GET\) of 2 was refused, nothing was sent: GET: wrong number of arguments/);
          await rejectsWith(r(batch, ['set', 'a', '1'], ['set', 'b', { x: 1 }]), 'E_REDIS_BAD_ARGUMENTS', /index 1 \(SET\).*use JSON\.stringify/);
          await rejectsWith(r(batch, ['incr', 'a'], ['keys', '*']), 'E_REDIS_COMMAND_REFUSED', /^[A-Z]+: command at index 1 \(KEYS\) of 2 was refused, nothing was sent: Redis command KEYS is not allowed/);
          await rejectsWith(r(batch, ['incr', 'a'], ['eval', 'return 1', 0]), 'E_REDIS_COMMAND_REFUSED', /index 1 \(EVAL\).*scripts could reach keys/);
          assert.equal(await r('exists', 'a', 'b'), 0);
        });

        it(`${batch}: MULTI and PIPELINE cannot be nested inside it`, async () => {
          const r = fresh();
          await rejectsWith(r(batch, ['incr', 'a'], ['multi', ['incr', 'a']]), 'E_REDIS_COMMAND_REFUSED', /index 1 \(MULTI\).*MULTI and PIPELINE cannot be nested/);
          await rejectsWith(r(batch, ['PIPELINE']), 'E_REDIS_COMMAND_REFUSED', /index 0 \(PIPELINE\).*cannot be nested/);
          await rejectsWith(r(batch, ['exec']), 'E_REDIS_COMMAND_REFUSED', /index 0 \(EXEC\).*sends MULTI and EXEC for you/);
          assert.equal(await r('exists', 'a'), 0);
        });

        it(`${batch}: each command must be an array starting with its name`, async () => {
          const r = fresh();
          await rejectsWith(r(batch, 'incr', 'a'), 'E_REDIS_BAD_ARGUMENTS', /index 0 of 2 was refused, nothing was sent: each command is an array \[name, \.\.\.args\] starting with the command name; got a string/);
          await rejectsWith(r(batch, [['incr', 'a'], ['incr', 'b']]), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`got an array starting with an array \\(use ctx\\.redis\\.${batch}\\(\\['incr', 'visits'\\], .*pass a list as ctx\\.redis\\.${batch}\\(\\.\\.\\.commands\\)\\)`));
          await rejectsWith(r(batch, ['incr', 'a'], []), 'E_REDIS_BAD_ARGUMENTS', /index 1 of 2 .*got an empty array/);
          await rejectsWith(r(batch, [42, 'a']), 'E_REDIS_BAD_ARGUMENTS', /got an array starting with a number/);
          await rejectsWith(host.execute('g', batch, 'oops' as unknown as unknown[]), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`^${upper}: arguments must be an array`));
          assert.equal(await r('exists', 'a', 'b'), 0);
        });

        it(`${batch}: an empty batch resolves to []`, async () => {
          assert.deepEqual(await fresh()(batch), []);
        });

        it(`${batch}: at most 1000 commands, and their arguments together within the single-command limits`, async () => {
          const r = fresh();
          const incrs = Array.from({ length: 1000 }, () => ['incr', 'n']);
          const replies = await r(batch, ...incrs);
          assert.ok(Array.isArray(replies) && replies.length === 1000 && replies[999] === 1000);
          await rejectsWith(r(batch, ...incrs, ['incr', 'n']), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`^${upper}: 1001 commands; at most 1000 are allowed in one batch$`));
          const chunk = 'y'.repeat(host.options.maxValueBytes);
          await rejectsWith(r(batch, ['set', 'a', chunk], ['set', 'b', chunk], ['set', 'c', chunk]), 'E_REDIS_BAD_ARGUMENTS',
            new RegExp(`^${upper}: its commands' arguments exceed 1048576 bytes together \\(reached at index 1\\); split the batch$`));
          const hsets = Array.from({ length: 900 }, (_, i) => ['hset', 'h', `f${i}`, 'v', `g${i}`, 'v']);
          await rejectsWith(r(batch, ...hsets), 'E_REDIS_BAD_ARGUMENTS', new RegExp(`^${upper}: more than 4096 arguments in all its commands together \\(reached at index 819\\); split the batch$`));
          assert.deepEqual(await r('mget', 'n', 'a', 'b', 'c'), ['1000', null, null, null]);
          assert.equal(await r('exists', 'h'), 0);
        });
      }
    });

    describe('SCAN', () => {
      it('walks every key of the app and none of another app\'s, with or without MATCH, even with glob tricks', async () => {
        const appA = newApp('scan-a');
        const appB = newApp('scan-b');
        const a = as(appA);
        const b = as(appB);
        const keysA = Array.from({ length: 300 }, (_, i) => `k:${i}`);
        const tricky = ['*', ']', '[', '\\', 'a]b', '[x]', '?', 'é', `app:{${appB}}:k:1`, '}:k:1', 'K:1'];
        await a('mset', ...[...keysA, ...tricky].flatMap((k) => [k, 'a']));
        await b('mset', ...Array.from({ length: 300 }, (_, i) => [`k:${i}`, 'b', `x${i}`, 'b']).flat());
        const all = [...keysA, ...tricky];

        const plain = await scanAll(a, 'scan', [], ['COUNT', 50]);
        assert.deepEqual(sorted(plain.items), sorted(all));
        assert.ok(plain.calls > 1, 'COUNT 50 over 600+ keys takes several calls');
        const patterns = ['*', 'k:*', 'k:1?', 'k:[12]*', '[^k]*', ']', '[', '\\\\', '\\*', '\\[x\\]', '*]*', '[]]', '[a-z]*', '?', '??', `app:{${appB}}*`, `*{${appB}}*`, '*:k:1', 'K:*', '[k', 'k:1\\'];
        for (const pattern of patterns) {
          const { items } = await scanAll(a, 'scan', [], ['MATCH', pattern, 'COUNT', 1000]);
          const expected = all.filter((k) => globMatch(pattern, k));
          assert.deepEqual(sorted(items), sorted(expected), `MATCH ${JSON.stringify(pattern)}`);
        }
        // Spot checks that the expectations above mean something:
        assert.deepEqual(sorted((await scanAll(a, 'scan', [], ['MATCH', '\\*'])).items), ['*']);
        assert.deepEqual(sorted((await scanAll(a, 'scan', [], ['MATCH', '[\\]]'])).items), [']']);
        assert.deepEqual(sorted((await scanAll(a, 'scan', [], ['MATCH', '[]]'])).items), [], '[] is an empty class in Redis: it matches nothing');
        assert.deepEqual(sorted((await scanAll(a, 'scan', [], ['MATCH', '??'])).items), ['é'], 'a ? matches one byte, é has two');
        assert.deepEqual(sorted((await scanAll(a, 'scan', [], ['MATCH', `app:{${appB}}*`])).items), [`app:{${appB}}:k:1`]);
        assert.deepEqual(sorted((await scanAll(b, 'scan', [])).items), sorted(Array.from({ length: 300 }, (_, i) => [`k:${i}`, `x${i}`]).flat()));
      });

      it('an app whose name holds glob metacharacters sees only its own keys', async () => {
        const base = newApp('glob');
        const apps = [`${base}*`, `${base}?`, `${base}[ab]`, `${base}\\`, `${base}a`, `${base}b`, `${base}]`];
        for (const app of apps) await as(app)('set', 'mine', app);
        for (const app of apps) {
          for (const pattern of [undefined, '*', 'mine', '*e']) {
            const { items } = await scanAll(as(app), 'scan', [], pattern === undefined ? ['COUNT', 1000] : ['MATCH', pattern, 'COUNT', 1000]);
            assert.deepEqual(items, ['mine'], `app ${app}, MATCH ${String(pattern)}`);
          }
        }
        assert.equal(escapeGlob(`app:{${base}[ab]}:`), `app:{${base}\\[ab\\]}:`);
      });

      it('returns the cursor as a string, takes it back as a string or a number, and keeps working while keys change', async () => {
        const r = fresh();
        await r('mset', ...Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v']).flat());
        const first = await r('scan', 0, 'COUNT', 10);
        assert.ok(Array.isArray(first) && typeof first[0] === 'string');
        const again = await r('scan', '0', 'count', '10');
        assert.deepEqual(again, first);
        // Keys present from start to end are all returned, even when others are deleted meanwhile.
        const seen = new Set<string>();
        let cursor: unknown = 0;
        let deleted = 0;
        do {
          const reply = await r('scan', cursor, 'COUNT', 7);
          assert.ok(Array.isArray(reply));
          for (const key of reply[1] as string[]) seen.add(key);
          cursor = reply[0];
          if (deleted < 40) await r('del', `k${deleted++}`);
        } while (cursor !== '0');
        for (let i = 40; i < 100; i++) assert.ok(seen.has(`k${i}`), `k${i} was present throughout but not returned`);
      });

      it('caps COUNT at 1000 and bounds cursors and MATCH patterns, with clear errors', async () => {
        const r = fresh();
        await rejectsWith(r('scan', 0, 'COUNT', 1001), 'E_REDIS_BAD_ARGUMENTS', /^SCAN argument 3 is a COUNT of 1001; at most 1000 is allowed \(iterate with the returned cursor instead\)$/);
        await rejectsWith(r('scan', 0, 'COUNT', 0), 'E_REDIS_BAD_ARGUMENTS', /SCAN argument 3 must be an integer ≥ 1/);
        await rejectsWith(r('scan', -1), 'E_REDIS_BAD_ARGUMENTS', /^SCAN argument 1 is a cursor: pass 0 to start, then the cursor the previous call returned \(a decimal string\); got a number$/);
        await rejectsWith(r('scan', 'abc'), 'E_REDIS_BAD_ARGUMENTS', /SCAN argument 1 is a cursor.*got "abc"/);
        await rejectsWith(r('scan', '18446744073709551616'), 'E_REDIS_BAD_ARGUMENTS', /SCAN argument 1 is a cursor/);
        await rejectsWith(r('scan', 0, 'MATCH', ''), 'E_REDIS_BAD_ARGUMENTS', /SCAN argument 3 is a MATCH pattern and must not be empty \(use "\*" for everything\)/);
        await rejectsWith(r('scan', 0, 'MATCH', 'x'.repeat(MAX_PATTERN_BYTES + 1)), 'E_REDIS_BAD_ARGUMENTS', /MATCH pattern of 257 bytes; patterns are limited to 256 bytes/);
        await rejectsWith(r('scan', 0, 'MATCH', 'a*'.repeat(9)), 'E_REDIS_BAD_ARGUMENTS', /MATCH pattern with 9 "\*" wildcards; at most 8 are allowed/);
        await rejectsWith(r('scan', 0, 'MATCH', 42), 'E_REDIS_BAD_ARGUMENTS', /MATCH pattern and must be a string, got a number/);
        await rejectsWith(r('scan', 0, 'TYPE', 'string'), 'E_REDIS_BAD_ARGUMENTS', /^SCAN: unknown option "TYPE" at argument 2; allowed options: MATCH, COUNT \(usage: SCAN cursor \[MATCH pattern\] \[COUNT count\]\)$/);
        await rejectsWith(r('scan', 0, 'MATCH', '*', 'MATCH', '*'), 'E_REDIS_BAD_ARGUMENTS', /option MATCH is given twice/);
        await rejectsWith(r('scan'), 'E_REDIS_BAD_ARGUMENTS', /SCAN: wrong number of arguments/);
        assert.deepEqual(await r('scan', '18446744073709551615', 'MATCH', 'a*'.repeat(8), 'COUNT', 1000), ['0', []]);
      });

      it('the backend itself answers Redis\'s errors for a cursor or options the host refuses first (it is an IPC target)', async () => {
        const app = newApp();
        const hash = prefixKey(app, 'h');
        const set = prefixKey(app, 's');
        // Redis answers a missing key's SSCAN before it reads the options: the set must exist.
        assert.equal(await backend.exec('SADD', [set, 'm']), 1);
        for (const args of [['abc'], ['18446744073709551616'], ['1.5'], [' 1']]) {
          await rejectsWith(backend.exec('SCAN', args), 'E_REDIS_ERROR', /^ERR invalid cursor$/);
          await rejectsWith(backend.exec('HSCAN', [hash, ...args]), 'E_REDIS_ERROR', /^ERR invalid cursor$/);
        }
        for (const options of [['COUNT', '0'], ['MATCH'], ['COUNT'], ['BOGUS', 'x'], ['MATCH', '*', 'COUNT']]) {
          await rejectsWith(backend.exec('SCAN', ['0', ...options]), 'E_REDIS_ERROR', /^ERR syntax error$/);
          await rejectsWith(backend.exec('SSCAN', [set, '0', ...options]), 'E_REDIS_ERROR', /^ERR syntax error$/);
        }
      });

      it('works inside MULTI and PIPELINE, with keys returned without the prefix', async () => {
        const r = fresh();
        const replies = await r('multi', ['set', 'one', '1'], ['scan', 0, 'MATCH', 'o*', 'COUNT', 1000]);
        assert.ok(Array.isArray(replies));
        assert.equal(replies[0], 'OK');
        const page = replies[1];
        assert.ok(Array.isArray(page));
        // One page of COUNT 1000 over a store that may hold more keys: the key may come later.
        const rest = page[0] === '0' ? [] : (await scanAll(r, 'scan', [], ['MATCH', 'o*', 'COUNT', 1000])).items;
        assert.deepEqual(sorted([...(page[1] as string[]), ...rest]), ['one']);
        assert.deepEqual(await fresh()('pipeline', ['scan', '18446744073709551615']), [['0', []]]);
      });
    });

    describe('HSCAN, SSCAN, ZSCAN', () => {
      it('iterate the fields, members and scores of a key of the app, with MATCH', async () => {
        const r = fresh();
        const fields = Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`]);
        await r('hset', 'h', ...fields.flat());
        await r('sadd', 's', ...Array.from({ length: 300 }, (_, i) => `m${i}`));
        await r('zadd', 'z', ...Array.from({ length: 300 }, (_, i) => [i + 0.7, `z${i}`]).flat());

        const hash = (await scanAll(r, 'hscan', ['h'], ['COUNT', 25])).items;
        const hashMap = new Map<string, string>();
        for (let i = 0; i < hash.length; i += 2) hashMap.set(hash[i], hash[i + 1]);
        assert.deepEqual([...hashMap].sort(), fields.map(([f, v]) => [f, v] as [string, string]).sort());
        assert.deepEqual(sorted((await scanAll(r, 'hscan', ['h'], ['MATCH', 'f2?', 'COUNT', 1000])).items.filter((_, i) => i % 2 === 0)), sorted(Array.from({ length: 10 }, (_, i) => `f2${i}`)));

        assert.deepEqual(sorted((await scanAll(r, 'sscan', ['s'], ['COUNT', 40])).items), sorted(Array.from({ length: 300 }, (_, i) => `m${i}`)));
        assert.deepEqual(sorted((await scanAll(r, 'sscan', ['s'], ['MATCH', '*99'])).items), ['m199', 'm299', 'm99']);

        const zset = (await scanAll(r, 'zscan', ['z'], ['MATCH', 'z1?', 'COUNT', 1000])).items;
        const scores = new Map<string, string>();
        for (let i = 0; i < zset.length; i += 2) scores.set(zset[i], zset[i + 1]);
        assert.deepEqual([...scores].sort(), Array.from({ length: 10 }, (_, i) => [`z1${i}`, String(10 + i + 0.7)] as [string, string]).sort());
      });

      it('answer an empty page for a missing key, WRONGTYPE for another type, and check their arguments', async () => {
        const r = fresh();
        assert.deepEqual(await r('hscan', 'nope', 0), ['0', []]);
        assert.deepEqual(await r('sscan', 'nope', 0, 'MATCH', '*'), ['0', []]);
        await r('set', 'str', 'v');
        for (const command of ['hscan', 'sscan', 'zscan']) {
          await rejectsWith(r(command, 'str', 0), 'E_REDIS_ERROR', /^WRONGTYPE/);
        }
        await rejectsWith(r('zscan', 'z', 0, 'COUNT', 5000), 'E_REDIS_BAD_ARGUMENTS', /ZSCAN argument 4 is a COUNT of 5000; at most 1000/);
        await rejectsWith(r('hscan', '', 0), 'E_REDIS_BAD_ARGUMENTS', /HSCAN argument 1 is a key and must not be empty/);
        await rejectsWith(r('sscan', 's'), 'E_REDIS_BAD_ARGUMENTS', /SSCAN: wrong number of arguments/);
      });

      it('HSCAN cannot reach another app\'s hash, whatever key it names', async () => {
        const appB = newApp();
        await as(appB)('hset', 'h', 'secret', 'of b');
        assert.deepEqual(await fresh()('hscan', `app:{${appB}}:h`, 0), ['0', []]);
      });
    });

    describe('refusals', () => {
      for (const [command, args, reason] of REFUSALS) {
        it(`refuses ${command}`, async () => {
          const r = fresh();
          await r('set', 'keep', 'me');
          await rejectsWith(r(command.toLowerCase(), ...args), 'E_REDIS_COMMAND_REFUSED', new RegExp(`^Redis command ${command} is not allowed in ctx\\.redis: .*${reason.source}.*\\. Allowed commands: APPEND, .*MULTI, .*PIPELINE, .*SCAN, .*ZSCORE\\.$`));
          await rejectsWith(r('pipeline', ['get', 'keep'], [command, ...args]), 'E_REDIS_COMMAND_REFUSED', new RegExp(`^PIPELINE: command at index 1 \\(${command}\\) of 2 was refused, nothing was sent: .*${reason.source}`));
          assert.equal(await r('get', 'keep'), 'me');
        });
      }
    });
  });
}

describe('Redis glob matching of the embedded store', () => {
  it('follows Redis\'s rules: escapes, classes, ranges, negation, bytes', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', 'x', true], ['?', '', false], ['a?c', 'abc', true], ['a?c', 'ac', false], ['k1?', 'k1', false],
      ['a\\*c', 'a*c', true], ['a\\*c', 'abc', false], ['[abc]', 'b', true], ['[^abc]', 'b', false],
      ['[a-c]x', 'bx', true], ['[c-a]x', 'bx', true], ['[\\]]', ']', true], ['[]]', ']', false], ['[', '', false],
      ['[ab', 'a', true], ['a\\', 'a\\', true], ['??', 'é', true], ['?', 'é', false], ['*é', 'café', true],
      ['app:\\{a\\*\\}:*', 'app:{a*}:x', true], ['app:{a\\*}:*', 'app:{ab}:x', false],
    ];
    for (const [pattern, subject, expected] of cases) assert.equal(globMatch(pattern, subject), expected, `${pattern} vs ${subject}`);
  });

  it('answers a pattern of many stars that does not match without exponential backtracking (CVE-2022-36021)', { timeout: 10_000 }, () => {
    // Without Redis's skipLongerMatches cut this takes exponential time; with it, a few ms.
    assert.equal(globMatch('a*'.repeat(30) + 'b', 'a'.repeat(60)), false);
  });
});
