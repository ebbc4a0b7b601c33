/**
 * Error catalog of the builtins (`ctx.redis`, and later `ctx.sql`, `ctx.rpc`, `ctx.fetch`, …),
 * in the style of `runtime/errors.ts`: each code has an HTTP status, whether it is the user's
 * fault, and a one-line summary that `docs/errors.md` repeats. Codes are matched on `.code`
 * (errors cross the isolate and IPC boundaries as plain data), never with `instanceof`.
 * Retired codes are never reused.
 */
import { PlatformError, type ErrorSpec } from '../runtime/errors.ts';

/** Builtins error catalog. */
export const BUILTIN_ERRORS = {
  E_REDIS_COMMAND_REFUSED: {
    status: 400,
    user: true,
    summary: 'The function called a Redis command that `ctx.redis` does not allow (e.g. KEYS, EVAL, FLUSHALL); the message says why and lists the allowed commands.',
  },
  E_REDIS_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A `ctx.redis` call had the wrong number or type of arguments, an empty or over-long key (max 1024 bytes), or a value or request over the size limits.',
  },
  E_REDIS_UNAVAILABLE: {
    status: 503,
    user: false,
    summary: 'Redis could not be reached or did not answer within the command timeout (default 2000 ms); the command may not have run. Retry with backoff.',
  },
  E_REDIS_ERROR: {
    status: 500,
    user: true,
    summary: 'Redis rejected the command (e.g. `WRONGTYPE` when a list command meets a hash); the message is Redis\'s own.',
  },
  // --- ctx.fetch (builtins/fetch/) ---
  E_FETCH_REFUSED: {
    status: 403,
    user: true,
    summary: 'ctx.fetch refused the destination: host not on the app\'s fetch allowlist, a scheme other than http/https, a metadata or localhost name, or an address in a private, loopback, link-local or other non-public range.',
  },
  E_FETCH_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A ctx.fetch call had a malformed URL (or one with credentials), an unsupported method or init option, a refused or invalid header, or a body of the wrong type.',
  },
  E_FETCH_TIMEOUT: {
    status: 504,
    user: true,
    summary: 'A ctx.fetch request (all redirects and the body) took longer than its timeout (default 5000 ms) or ran into the invocation deadline.',
  },
  E_FETCH_TOO_LARGE: {
    status: 502,
    user: true,
    summary: 'A ctx.fetch request body or response body was larger than its limit (default 1 MiB each); the response was not read further.',
  },
  E_FETCH_LIMIT: {
    status: 500,
    user: true,
    summary: 'An invocation made more ctx.fetch calls than allowed per invocation (default 20).',
  },
  E_FETCH_FAILED: {
    status: 502,
    user: true,
    summary: 'A ctx.fetch request failed on the network: DNS lookup failure, connection refused or reset, TLS error, too many redirects, or a redirect with `redirect: "error"`.',
  },
  // --- ctx.auth and ctx.user (builtins/auth/) ---
  E_AUTH_REQUIRED: {
    status: 401,
    user: true,
    summary: 'The function declares `auth: required` and the request carried no `Authorization: Bearer <token>` header; no isolate ran.',
  },
  E_AUTH_INVALID: {
    status: 401,
    user: true,
    summary: 'A token was refused (expired, another app\'s, bad signature, wrong algorithm, unknown or retired key, malformed); the message and `reason` say which check failed.',
  },
  E_AUTH_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A `ctx.auth` call had a bad userId (1..256 characters), ttlS (60 s .. 30 days), claims (plain JSON object ≤ 4 KiB, no reserved names) or token argument.',
  },
  E_AUTH_UNAVAILABLE: {
    status: 503,
    user: false,
    summary: 'The app\'s signing keys could not be loaded from the control plane (or within 2000 ms), or the app has no active key; retry later.',
  },
  // --- ctx.rpc.grpc (builtins/grpc/) ---
  E_GRPC_UNKNOWN_SERVICE: {
    status: 400,
    user: true,
    summary: 'ctx.rpc.grpc named a gRPC service the app has not declared in its settings (`grpcServices`), or whose stored declaration no longer validates; the message lists the declared names.',
  },
  E_GRPC_UNKNOWN_METHOD: {
    status: 400,
    user: true,
    summary: 'ctx.rpc.grpc named a method the service\'s proto does not have (names are case-sensitive), or a streaming method (only unary methods are supported).',
  },
  E_GRPC_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'The ctx.rpc.grpc message does not fit the request type (unknown field, wrong type, out-of-range number, undeclared enum value, bad base64, two oneof members), is over the size limit, or the service/method/options arguments are malformed; details `field` names the path.',
  },
  E_GRPC_TARGET_REFUSED: {
    status: 403,
    user: true,
    summary: 'The declared gRPC target resolves to a non-public address (loopback, private, link-local, …) that the operator has not allowed; nothing was sent.',
  },
  E_GRPC_UNAVAILABLE: {
    status: 503,
    user: true,
    summary: 'The app\'s gRPC service could not be reached (connection refused, host name does not resolve, server answered UNAVAILABLE) after the allowed retries, or its circuit breaker is open after repeated failures (the call failed at once, unsent).',
  },
  E_GRPC_DEADLINE: {
    status: 504,
    user: true,
    summary: 'The gRPC call did not complete within its deadline: the service\'s `deadlineMs` (default 2000) or the invocation\'s remaining time, whichever is shorter.',
  },
  E_GRPC_STATUS: {
    status: 502,
    user: true,
    summary: 'The gRPC server answered with a non-OK status (e.g. NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED); the message has the status name and the server\'s details text.',
  },
  // --- ctx.rpc.call and ctx.config (runtime/builtin-dispatch.ts) ---
  E_RPC_NOT_FOUND: {
    status: 404,
    user: true,
    summary: '`ctx.rpc.call(name, payload)` named a function (or alias) of the app that does not exist; only functions of the same app can be called.',
  },
  E_RPC_CYCLE: {
    status: 508,
    user: true,
    summary: '`ctx.rpc.call` would call a function already in the call chain (A → B → A); the message shows the chain.',
  },
  E_RPC_DEPTH: {
    status: 508,
    user: true,
    summary: '`ctx.rpc.call` chains are limited to 8 nested calls; the message shows the chain.',
  },
  E_RPC_FAILED: {
    status: 502,
    user: true,
    summary: 'The called function answered with an error status; details `status` and `code` are the callee\'s (e.g. 504 E_TIMEOUT when it ran out of the caller\'s remaining time).',
  },
  E_RPC_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A `ctx.rpc.call` argument is wrong: the name is not a function name (optionally `name@alias`), the payload is over 1 MiB as JSON, or the options are unknown.',
  },
  E_CONFIG_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: '`ctx.config.get(name)` / `ctx.config.secret(name)` was given a name that is not a config name (letters, digits, `_`; 1–63 characters).',
  },
  E_CONFIG_UNAVAILABLE: {
    status: 503,
    user: false,
    summary: 'The function\'s config or secrets could not be loaded from the control plane; retry later.',
  },
  // --- ctx.sql (builtins/sql/) ---
  E_SQL_BAD_ARGUMENTS: {
    status: 400,
    user: true,
    summary: 'A `ctx.sql` call had a bad argument: SQL text not a string, empty or over 64 KiB; params not an array, a param that is not a string, finite number, boolean or null, more params than `?` placeholders (or fewer), over 4096 params or 4 MiB; an unknown operation or option.',
  },
  E_SQL_REFUSED: {
    status: 400,
    user: true,
    summary: 'The statement is not allowed in `ctx.sql`: more than one statement, USE, SET, GRANT, LOAD DATA, INTO OUTFILE, LOAD_FILE, ATTACH, VACUUM, transaction control, another app\'s database, a system schema, named placeholders, or denied by the database\'s own permissions; the message says what, where and why.',
  },
  E_SQL_ERROR: {
    status: 500,
    user: true,
    summary: 'The database rejected the statement (syntax error, unknown table, constraint violation, …); the message is the database\'s own, details `dbCode` and, for constraint violations, `constraint`.',
  },
  E_SQL_TIMEOUT: {
    status: 504,
    user: true,
    summary: 'A `ctx.sql` statement ran longer than the query timeout (2000 ms) or the invocation deadline, and was stopped; inside a transaction, the transaction was rolled back.',
  },
  E_SQL_TOO_MANY_ROWS: {
    status: 400,
    user: true,
    summary: 'A query returned more rows than one call may return (10000); nothing is returned rather than a silent part of the result.',
  },
  E_SQL_RESULT_TOO_LARGE: {
    status: 400,
    user: true,
    summary: 'A query result is larger than one call may return (8 MiB of JSON, approximately).',
  },
  E_SQL_TX: {
    status: 409,
    user: true,
    summary: 'A transaction operation failed: unknown or finished txId, a txId of another invocation, a second open transaction in one invocation, or a transaction that was rolled back (timeout, invocation end, deadlock, lost connection).',
  },
  E_SQL_UNAVAILABLE: {
    status: 503,
    user: false,
    summary: 'The app\'s SQL database could not be reached (MySQL down, connection lost, no connection within the timeout, the embedded executor failed); the statement may not have run.',
  },
} as const satisfies Record<string, ErrorSpec>;

/** A code of the builtins catalog. */
export type BuiltinErrorCode = keyof typeof BUILTIN_ERRORS;

/**
 * Build a PlatformError for a builtins catalog code, with the catalog's HTTP status.
 * @param code a key of `BUILTIN_ERRORS`
 * @param message what happened and how to fix it (shown to the function author)
 * @param details extra JSON-serialisable fields (e.g. `command`, `argument`)
 * @example throw builtinError('E_REDIS_COMMAND_REFUSED', 'KEYS is not allowed …', { command: 'KEYS' })
 */
export function builtinError(code: BuiltinErrorCode, message: string, details: Record<string, unknown> = {}): PlatformError {
  return new PlatformError(code, BUILTIN_ERRORS[code].status, message, details);
}
