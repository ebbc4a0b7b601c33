/**
 * When a warm sandbox should be retired instead of handed out again. Kept apart from the pool's
 * hand-out policy (CONVENTIONS.md, habit 2): the pool asks `recycleReason()` after every release.
 */
import type { Sandbox } from '../sandbox/interface.ts';

/** Why a sandbox left the pool; also the `reason` label of eviction counts. */
export type EvictionReason = 'poisoned' | 'heap' | 'invocations' | 'idle' | 'lru' | 'shutdown';

/** Recycle thresholds. */
export interface RecycleOptions {
  /** Retire after this many invocations (bounds slow leaks in user code). @default 100_000 */
  maxInvocations: number;
  /** Retire when heap in use exceeds this fraction of the version's memory limit. @default 0.8 */
  maxHeapRatio: number;
  /** Sample the heap every N invocations (V8 heap statistics are not free). @default 64 */
  heapSampleEvery: number;
}

export const DEFAULT_RECYCLE: Readonly<RecycleOptions> = Object.freeze({ maxInvocations: 100_000, maxHeapRatio: 0.8, heapSampleEvery: 64 });

/**
 * Decide whether `sandbox` must be retired now.
 * @returns the reason, or null to keep it warm.
 */
export function recycleReason(sandbox: Sandbox, options: Readonly<RecycleOptions> = DEFAULT_RECYCLE): EvictionReason | null {
  if (sandbox.poisoned) return 'poisoned';
  if (sandbox.invocations >= options.maxInvocations) return 'invocations';
  if (sandbox.invocations % options.heapSampleEvery === 0) {
    const limitBytes = sandbox.spec.limits.memoryLimitMiB * 1024 * 1024;
    if (sandbox.heapUsedBytes() > limitBytes * options.maxHeapRatio) return 'heap';
  }
  return null;
}
