/**
 * The platform's error model: every error that reaches a client carries a stable `code`
 * (never reused once retired), an HTTP status, and a message that says what happened and how
 * to fix it. Codes are matched on `.code`, never with `instanceof`, because errors cross
 * process and isolate boundaries as plain data.
 *
 * Each area keeps its own catalog (runtime here, `control-plane/errors.ts`,
 * `builtins/errors.ts`); `docs/errors.md` documents every code and a test keeps the two in sync.
 */

/** One catalog entry: the HTTP status the gateway answers with, and whether it is the user's fault. */
export interface ErrorSpec {
  /** HTTP status code sent to the client. */
  readonly status: number;
  /** `true` when the caller or the function's code caused it (no alert, no host stack logged). */
  readonly user: boolean;
  /** One line describing when the code is used (copied into docs/errors.md). */
  readonly summary: string;
}

/** Brand recognised across realms (the same trick undici uses), so `isPlatformError` works after structured clone. */
const BRAND = Symbol.for('faas.platform-error');

/** The JSON shape of an error in every HTTP response: `{ error: PlatformErrorBody }`. */
export interface PlatformErrorBody {
  code: string;
  message: string;
  [detail: string]: unknown;
}

/**
 * An error with a stable code and HTTP status. `details` are extra JSON fields merged into the
 * response body (e.g. `line`, `column`, `frame` for syntax errors).
 */
export class PlatformError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>>;
  readonly [BRAND] = true;

  /**
   * @param code a code from one of the catalogs (e.g. `E_TIMEOUT`)
   * @param status HTTP status to answer with
   * @param message what happened, where, and how to fix it
   * @param details extra JSON-serialisable fields for the response body
   */
  constructor(code: string, status: number, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'PlatformError';
    this.code = code;
    this.status = status;
    this.details = Object.freeze({ ...details });
  }

  /** The response body, `{ error: { code, message, ...details } }`. */
  toJSON(): { error: PlatformErrorBody } {
    return { error: { ...this.details, code: this.code, message: this.message } };
  }
}

/** True for a PlatformError from any realm or after being rebuilt from IPC data. */
export function isPlatformError(value: unknown): value is PlatformError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/** Runtime error catalog: invocation, limits, workers and deploy-time checks. */
export const RUNTIME_ERRORS = {
  E_APP_NOT_FOUND: { status: 404, user: true, summary: 'The app in the URL does not exist.' },
  E_FUNCTION_NOT_FOUND: { status: 404, user: true, summary: 'The function in the URL does not exist in that app, or has no version on the requested alias.' },
  E_BODY_TOO_LARGE: { status: 413, user: true, summary: 'The request body is larger than the function\'s `maxBodyBytes` limit.' },
  E_BAD_REQUEST: { status: 400, user: true, summary: 'The request could not be read (e.g. a body declared as JSON that does not parse).' },
  E_TIMEOUT: { status: 504, user: true, summary: 'The invocation exceeded its CPU-time or wall-clock limit; the isolate was disposed.' },
  E_MEMORY: { status: 500, user: true, summary: 'The isolate exceeded its memory limit; it was disposed and will be replaced.' },
  E_FUNCTION_ERROR: { status: 500, user: true, summary: 'The function threw (or rejected with) an error; the message is the function\'s own.' },
  E_RESPONSE_TOO_LARGE: { status: 502, user: true, summary: 'The function returned a response larger than its `maxResponseBytes` limit.' },
  E_BAD_RESPONSE: { status: 502, user: true, summary: 'The function returned something that cannot be sent as an HTTP response (e.g. a cyclic object or an invalid status).' },
  E_BAD_ARGUMENTS: { status: 500, user: true, summary: 'A builtin was called with arguments that cannot cross into the host (not JSON-serialisable).' },
  E_CTX_REVOKED: { status: 500, user: true, summary: 'A builtin was called after its invocation ended (from a leftover promise or timer); the call did nothing.' },
  E_WORKER_CRASHED: { status: 503, user: false, summary: 'The worker process running the invocation died (e.g. V8 aborted on an allocation); only its in-flight invocations fail.' },
  E_QUARANTINED: { status: 503, user: true, summary: 'This version crashed worker processes repeatedly and is quarantined; deploy a fixed version.' },
  E_OVERLOADED: { status: 503, user: false, summary: 'No isolate became free before the queue deadline; retry with backoff.' },
  E_SYNTAX: { status: 400, user: true, summary: 'The uploaded module does not parse; the body gives line, column and a code frame.' },
  E_CHECK: { status: 400, user: true, summary: 'The uploaded module parses but breaks a platform rule; `diagnostics` lists each finding with rule and location.' },
  E_CODE_TOO_LARGE: { status: 413, user: true, summary: 'The uploaded module is larger than the code size limit (default 1 MiB).' },
  E_INTERNAL: { status: 500, user: false, summary: 'A platform fault; it is logged with its stack and counted. Not caused by the request.' },
  // Runtime role (`faas runtime`, runtime/remote/): the control plane is reached over gRPC.
  E_CONTROL_PLANE_UNAVAILABLE: { status: 503, user: false, summary: 'The runtime could not reach the control plane over gRPC for something it had not cached yet (an alias, a version, config); cached functions keep running.' },
} as const satisfies Record<string, ErrorSpec>;

export type RuntimeErrorCode = keyof typeof RUNTIME_ERRORS;

/**
 * Build a PlatformError for a runtime catalog code.
 * @example throw runtimeError('E_TIMEOUT', 'CPU time limit of 200 ms exceeded')
 */
export function runtimeError(code: RuntimeErrorCode, message: string, details: Record<string, unknown> = {}): PlatformError {
  return new PlatformError(code, RUNTIME_ERRORS[code].status, message, details);
}
