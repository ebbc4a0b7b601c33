/**
 * The write-behind log queue over a real SQLite store: group commit, drops when the store refuses
 * a write, draining on close, and its bounds.
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/store.ts';
import { LogWriter } from './logs.ts';
import type { LogLine } from './types.ts';

const BOUNDS = { ringSize: 100, appMaxBytes: 1024 * 1024 };

function line(n: number, extra: Partial<LogLine> = {}): LogLine {
  return { app: 'writer', function: 'fn', versionId: 'v', requestId: `r${n}`, level: 'info', message: `line ${n}`, time: 1000 + n, ...extra };
}

/** The store, with its `appendLogs` calls counted (the calls still reach the real store). */
function counting(store: Store): { store: Store; calls: () => number } {
  let calls = 0;
  const wrapped = new Proxy(store, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (key === 'appendLogs') return (...args: Parameters<Store['appendLogs']>) => { calls += 1; return target.appendLogs(...args); };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, calls: () => calls };
}

function captureWarnings(): { messages: string[]; stop: () => void } {
  const messages: string[] = [];
  const listener = (warning: Error) => {
    if (warning.name === 'FaasLogWarning') messages.push(warning.message);
  };
  process.on('warning', listener);
  return { messages, stop: () => process.off('warning', listener) };
}

describe('LogWriter', () => {
  let dir: string;
  let store: Store;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'faas-logs-'));
    store = await openStore({ dataDir: dir });
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('appends made in the same turn are committed together in one store write; flushed() waits for them', async () => {
    const spy = counting(store);
    const writer = new LogWriter(spy.store, BOUNDS);
    writer.append([line(1)]);
    writer.append([line(2), line(3)]);
    writer.append([line(4)]);
    assert.equal(spy.calls(), 0, 'append only queues');
    assert.equal(writer.stats().pending, 4);
    await writer.flushed();
    assert.equal(spy.calls(), 1, 'one transaction for the three appends');
    assert.deepEqual((await store.readLogs('writer', 'fn', { limit: 10 })).map((l) => l.message), ['line 1', 'line 2', 'line 3', 'line 4']);
    assert.deepEqual(writer.stats(), { pending: 0, written: 4, dropped: 0 });
    await writer.close();
  });

  it('a write the store refuses drops its lines, counts them and warns once, and flushed() still resolves', async () => {
    const warnings = captureWarnings();
    try {
      const writer = new LogWriter(store, { ...BOUNDS, warnEveryMs: 60_000 });
      await store.close();
      writer.append([line(1), line(2)]);
      await writer.flushed();
      writer.append([line(3)]);
      await writer.flushed();
      assert.deepEqual(writer.stats(), { pending: 0, written: 0, dropped: 3 });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.messages.length, 1, 'one warning per warnEveryMs');
      assert.match(warnings.messages[0] ?? '', /dropped 2 captured log line\(s\) \(2 in all\): .*closed/);
      await writer.close();
    } finally {
      warnings.stop();
      store = await openStore({ dataDir: dir });
    }
  });

  it('close writes what is queued without a warning; lines appended after close are dropped, counted and warned about', async () => {
    const warnings = captureWarnings();
    try {
      const writer = new LogWriter(store, BOUNDS);
      writer.append([line(1), line(2)]);
      await writer.close();
      assert.equal((await store.readLogs('writer', 'fn', { limit: 10 })).length, 2, 'the queued lines were written before close resolved');
      // process.emitWarning reports on the next tick: let any warning from the close arrive first.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.messages, [], 'draining on close drops nothing, so it does not warn');
      writer.append([line(3)]);
      assert.deepEqual(writer.stats(), { pending: 0, written: 2, dropped: 1 });
      await writer.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(warnings.messages.length, 1, 'the line appended after close is reported once');
      assert.match(warnings.messages[0] ?? '', /dropped 1 captured log line\(s\) \(1 in all\): the control plane is closing/);
    } finally {
      warnings.stop();
    }
  });

  it('lines past maxPendingLines are dropped instead of growing the queue', async () => {
    const warnings = captureWarnings();
    try {
      const writer = new LogWriter(store, { ...BOUNDS, maxPendingLines: 3 });
      writer.append([line(1), line(2)]);
      writer.append([line(3), line(4)]);
      writer.append([line(5)]);
      await writer.flushed();
      assert.deepEqual(writer.stats(), { pending: 0, written: 3, dropped: 2 });
      assert.deepEqual((await store.readLogs('writer', 'fn', { limit: 10 })).map((l) => l.message), ['line 1', 'line 2', 'line 5']);
      assert.match(warnings.messages[0] ?? '', /more than 3 lines are waiting/);
      await writer.close();
    } finally {
      warnings.stop();
    }
  });

  it('maxLinesPerWrite splits a large backlog into several writes without splitting an append', async () => {
    const spy = counting(store);
    const writer = new LogWriter(spy.store, { ...BOUNDS, maxLinesPerWrite: 3 });
    writer.append([line(1), line(2)]);
    writer.append([line(3), line(4)]);
    writer.append([line(5)]);
    await writer.flushed();
    assert.equal(spy.calls(), 2, '[1, 2] then [3, 4, 5]');
    assert.equal((await store.readLogs('writer', 'fn', { limit: 10 })).length, 5);
    await writer.close();
  });

  it('flushed() waits only for what was appended before it, not for appends made while it waits', async () => {
    // Each store write waits for a release, so a second append is still queued when the first is written.
    const releases: Array<() => void> = [];
    const gated = new Proxy(store, {
      get(target, key) {
        if (key === 'appendLogs') {
          return async (...args: Parameters<Store['appendLogs']>) => {
            await new Promise<void>((resolve) => releases.push(resolve));
            return target.appendLogs(...args);
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const writer = new LogWriter(gated, BOUNDS);
    writer.append([line(1)]);
    const first = writer.flushed();
    while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve));
    writer.append([line(2)]);
    const second = writer.flushed();
    releases.shift()?.();
    await first;
    assert.deepEqual((await store.readLogs('writer', 'fn', { limit: 10 })).map((l) => l.message), ['line 1']);
    assert.equal(writer.stats().pending, 1, 'line 2 is still waiting, and first did not wait for it');
    while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve));
    releases.shift()?.();
    await second;
    assert.equal((await store.readLogs('writer', 'fn', { limit: 10 })).length, 2);
    await writer.close();
  });

  it('refuses bounds and limits that are not positive integers', () => {
    assert.throws(() => new LogWriter(store, { ringSize: 0, appMaxBytes: 1 }), { code: 'ERR_INVALID_ARG_VALUE', message: /ringSize must be a positive integer, got 0/ });
    assert.throws(() => new LogWriter(store, { ringSize: 1, appMaxBytes: 1.5 }), { code: 'ERR_INVALID_ARG_VALUE', message: /appMaxBytes/ });
    assert.throws(() => new LogWriter(store, { ...BOUNDS, maxPendingLines: -1 }), { code: 'ERR_INVALID_ARG_VALUE', message: /maxPendingLines/ });
    assert.throws(() => new LogWriter(store, { ...BOUNDS, maxLinesPerWrite: 20_000 }), { code: 'ERR_INVALID_ARG_VALUE', message: /maxLinesPerWrite must be at most 10000/ });
  });
});
