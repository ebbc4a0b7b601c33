/**
 * The circuit breaker of one (app, target), on opossum: it counts failed attempts in a rolling
 * window, opens when more than `errorThresholdPercentage` of at least `volumeThreshold` attempts
 * failed, then fails calls at once; after `resetTimeoutMs` it half-opens and lets one trial
 * attempt through: success closes it, failure opens it again. Only failures that say the target is
 * unhealthy count (`isTargetFailure`); a status the server chose (NOT_FOUND, …) counts as a success.
 */
import CircuitBreaker from 'opossum';
import type { PlatformError } from '../../runtime/errors.ts';
import { builtinError } from '../errors.ts';
import { isTargetFailure } from './status.ts';

/** Breaker settings (units in the names). */
export interface BreakerSettings {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

/** A breaker around attempts: `fire(attempt)` runs `attempt()` unless the circuit is open. */
export interface TargetBreaker {
  /**
   * Run one attempt through the breaker.
   * @throws the attempt's own error, or an Error with `code` `EOPENBREAKER` (open: not run) or
   *   `ESHUTDOWN` (the breaker was shut down)
   */
  fire<T>(attempt: () => Promise<T>): Promise<T>;
  /** The error a call gets while the circuit is open (E_GRPC_UNAVAILABLE, details `circuit: "open"`). */
  openError(service: string, method: string): PlatformError;
  /** Stop the breaker's timers. Idempotent. */
  shutdown(): void;
}

/**
 * Create the breaker of one (app, target).
 * @param name for diagnostics, e.g. `game1 inv.example.com:443`
 * @param target the declared `host:port`, for messages
 */
export function createTargetBreaker(name: string, target: string, settings: BreakerSettings): TargetBreaker {
  const breaker = new CircuitBreaker((attempt: () => Promise<unknown>) => attempt(), {
    name,
    timeout: false, // deadlines are the call's own (grpc-js)
    resetTimeout: settings.resetTimeoutMs,
    errorThresholdPercentage: settings.errorThresholdPercentage,
    volumeThreshold: settings.volumeThreshold,
    rollingCountTimeout: settings.rollingWindowMs,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
    errorFilter: (err: unknown) => !isTargetFailure(err),
  });
  let openedAt = Date.now();
  breaker.on('open', () => { openedAt = Date.now(); });
  return {
    fire: <T>(attempt: () => Promise<T>) => breaker.fire(attempt) as Promise<T>,
    openError(service: string, method: string): PlatformError {
      const waitMs = Math.max(0, openedAt + settings.resetTimeoutMs - Date.now());
      const when = breaker.halfOpen ? 'a trial call is in flight now' : `one trial call will be let through in about ${Math.ceil(waitMs / 100) / 10} s`;
      return builtinError('E_GRPC_UNAVAILABLE', `gRPC service "${service}" at ${target} is unavailable: its circuit breaker is open after repeated failures (${breaker.stats.failures} failed calls in the last ${settings.rollingWindowMs / 1000} s), so ${service}.${method} failed at once without being sent; ${when}, and calls resume when it succeeds.`, { service, method, target, circuit: 'open' });
    },
    shutdown: () => breaker.shutdown(),
  };
}
