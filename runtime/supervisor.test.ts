/**
 * WorkerSupervisor with real worker processes: how a version's code reaches a worker.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FunctionLimits } from '../control-plane/core/types.ts';
import type { InvocationMeta } from './sandbox/interface.ts';
import { WorkerSupervisor } from './supervisor.ts';
import type { TargetSpec } from './worker/protocol.ts';

const LIMITS: FunctionLimits = { memoryLimitMiB: 128, cpuTimeMs: 200, wallTimeMs: 2000, maxBodyBytes: 1 << 20, maxResponseBytes: 1 << 20 };
const codes = new Map<string, string>();
/** Each getCode call: the version and how many invocations its worker already held at that moment. */
const fetches: Array<{ versionId: string; inFlightAtFetch: number }> = [];
let supervisor: WorkerSupervisor;

const target = (versionId: string): TargetSpec => ({ key: `sup/fn@${versionId}`, app: 'sup', function: 'fn', versionId, limits: LIMITS });
let seq = 0;
const meta = (versionId: string): InvocationMeta => ({ app: 'sup', function: 'fn', version: versionId, alias: 'prod', requestId: `r${++seq}`, deadline: Date.now() + 2000 });
const invoke = (versionId: string) => supervisor.invoke(target(versionId), { method: 'GET', path: '/', query: {}, headers: {}, body: null, bodyIsJson: false }, meta(versionId));

before(async () => {
  supervisor = new WorkerSupervisor({
    workers: 1,
    getCode: async (_app, _fn, versionId) => {
      fetches.push({ versionId, inFlightAtFetch: supervisor.workers()[0]?.inFlight ?? -1 });
      return codes.get(versionId) ?? null;
    },
    builtin: async () => { throw new Error('no builtins in this test'); },
  });
  await supervisor.start();
});
after(() => supervisor?.close());

describe('code delivery', () => {
  test('the first invocation of a version carries its code: fetched before the worker holds the invocation, once per worker', async () => {
    codes.set('v1', 'export default () => ({ v: 1 });');
    const first = await invoke('v1');
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.deepEqual(fetches.filter((f) => f.versionId === 'v1'), [{ versionId: 'v1', inFlightAtFetch: 0 }], 'fetched by the supervisor before posting, not asked for by the worker');
    for (let i = 0; i < 3; i++) assert.equal((await invoke('v1')).ok, true);
    assert.equal(fetches.filter((f) => f.versionId === 'v1').length, 1, 'later invocations carry no code and the worker asks for none');
  });

  test('a burst on a new version fetches its code once; every invocation answers', async () => {
    codes.set('v2', 'export default () => ({ v: 2 });');
    const results = await Promise.all(Array.from({ length: 8 }, () => invoke('v2')));
    assert.ok(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok)));
    assert.equal(fetches.filter((f) => f.versionId === 'v2').length, 1);
  });

  test('a version whose code is gone answers E_FUNCTION_NOT_FOUND, and works once the code exists', async () => {
    const gone = await invoke('v3');
    assert.equal(gone.ok, false);
    if (!gone.ok) assert.equal(gone.error.code, 'E_FUNCTION_NOT_FOUND');
    codes.set('v3', 'export default () => ({ v: 3 });');
    const again = await invoke('v3');
    assert.equal(again.ok, true, JSON.stringify(again));
  });
});
