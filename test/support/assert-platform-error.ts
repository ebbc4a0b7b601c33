/**
 * Test assertion for the platform's coded errors (`PlatformError`, runtime/errors.ts).
 */
import assert from 'node:assert/strict';
import { isPlatformError } from '../../runtime/errors.ts';

/**
 * Assert that `promise` rejects with a PlatformError of `code` whose message matches `message`.
 * @returns a copy of the error's `details`, for further assertions
 * @throws AssertionError when it resolves, rejects with something else, or the code/message differ
 */
export async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<Record<string, unknown>> {
  let details: Record<string, unknown> = {};
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isPlatformError(err), `expected a PlatformError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (message !== undefined) assert.match(err.message, message);
    details = { ...err.details };
    return true;
  });
  return details;
}
