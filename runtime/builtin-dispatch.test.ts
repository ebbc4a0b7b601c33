import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvocationRegistry } from './builtin-dispatch.ts';

const invocation = (requestId: string) => ({
  app: 'game1', function: 'follow', versionId: 'v1', requestId, deadline: Date.now() + 1000, user: null, chain: ['follow'], traceparent: '',
});

test('an invocation is live until end(), and end() aborts its signal with E_CTX_REVOKED', () => {
  const registry = new InvocationRegistry();
  const live = registry.begin(invocation('r1'));
  assert.equal(registry.get('r1'), live.context);
  const signal = live.context.signal;
  assert.equal(signal.aborted, false);
  live.end();
  assert.equal(registry.get('r1'), undefined);
  assert.equal(registry.size, 0);
  assert.equal(signal.aborted, true);
  assert.equal((signal.reason as { code?: string }).code, 'E_CTX_REVOKED');
});

test('a signal first read after end() is already aborted, and reads return the same signal', () => {
  const registry = new InvocationRegistry();
  const live = registry.begin(invocation('r2'));
  live.end();
  const late = live.context.signal;
  assert.equal(late.aborted, true);
  assert.equal(live.context.signal, late);
});

test('the same x-request-id twice gets #2, and ending the first leaves the second live', () => {
  const registry = new InvocationRegistry();
  const first = registry.begin(invocation('dup'));
  const second = registry.begin(invocation('dup'));
  assert.equal(second.context.requestId, 'dup#2');
  first.end();
  assert.equal(registry.get('dup#2'), second.context);
  assert.equal(second.context.signal.aborted, false);
  const third = registry.begin(invocation('dup'));
  assert.equal(third.context.requestId, 'dup', 'the freed id is used again');
  assert.throws(() => { (third.context as { requestId: string }).requestId = 'x'; }, TypeError, 'the context is frozen');
});
