// Runs inside every isolate's context once, before any user code (evaluated by
// runtime/sandbox/isolate-sandbox.ts with `context.evalClosure`). It has no Node.js: only V8's
// built-ins and the three values handed in:
//   $0  hostCall  ivm.Reference to the host's async builtin dispatcher:
//                 (invocationId, builtin, op, argsJson) => Promise<string /* reply JSON */>
//   $1  hostLog   ivm.Reference to the host's log sink: (invocationId, level, message) => void
//   $2  config    { redisCommands: string[], maxLogLines: number, maxLogLineChars: number,
//                   maxResponseBytes: number, filename: string }
// It returns { dispatch, setHandler } (the host keeps References to both).
//
// The AST checker refuses eval & co. early with clear messages; this file is the boundary that
// holds when the checker is bypassed (`globalThis['ev' + 'al']`, `(() => {}).constructor`).
(function bootstrap(hostCall, hostLog, config) {
  'use strict';
  const ReflectApply = Reflect.apply;
  const hostCallApply = hostCall.apply;
  // Synchronous so lines are recorded before the invocation's result reaches the host.
  const hostLogApply = hostLog.applySync;
  const JSONstringify = JSON.stringify;
  const JSONparse = JSON.parse;
  const ObjectFreeze = Object.freeze;
  const ObjectDefine = Object.defineProperty;
  const StringCtor = String;
  const ErrorCtor = Error;
  const ArrayIsArray = Array.isArray;
  const PromiseCtor = Promise;
  const Uint8ArrayCtor = Uint8Array;
  const utf8Length = (s) => {
    // UTF-8 byte length without TextEncoder (not part of bare V8).
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; }
      else n += 3;
    }
    return n;
  };

  // --- 1. No code generation from strings -------------------------------------------------
  const refuse = function () {
    throw new EvalError('Code generation from strings is disabled on this platform (eval, Function constructors).');
  };
  const intrinsics = [
    Function,
    Object.getPrototypeOf(async function () {}).constructor,
    Object.getPrototypeOf(function* () {}).constructor,
    Object.getPrototypeOf(async function* () {}).constructor,
  ];
  let safeFunction = null;
  for (const Ctor of intrinsics) {
    const safe = function Function() { refuse(); };
    ObjectDefine(safe, 'prototype', { value: Ctor.prototype, writable: false, configurable: false });
    ObjectDefine(Ctor.prototype, 'constructor', { value: safe, writable: false, configurable: false });
    if (safeFunction === null) safeFunction = safe;
  }
  ObjectDefine(globalThis, 'Function', { value: safeFunction, writable: false, configurable: false, enumerable: false });
  const safeEval = function () { refuse(); };
  ObjectDefine(globalThis, 'eval', { value: safeEval, writable: false, configurable: false, enumerable: false });
  // Surfaces a function has no business with: wasm compiles code, shared memory and Atomics.wait
  // can block a thread outside our watchdog's view.
  for (const name of ['WebAssembly', 'SharedArrayBuffer', 'Atomics']) {
    try { delete globalThis[name]; } catch { /* non-configurable: leave it */ }
  }

  // --- 2. The `faas` module's exports ------------------------------------------------------
  const RESPONSE = Symbol('faas.response');
  /** An HTTP response with a status and headers: `return response(body, { status, headers })`. */
  class FaasResponse {
    constructor(body, init) {
      const i = init === undefined || init === null ? {} : init;
      this.body = body;
      this.status = i.status === undefined ? 200 : i.status;
      this.headers = i.headers === undefined ? {} : i.headers;
      ObjectDefine(this, RESPONSE, { value: true });
      ObjectFreeze(this);
    }
  }
  /** Throw to answer with an error status: `throw new HttpError(404, 'room not found', { code: 'ROOM_NOT_FOUND' })`. */
  class HttpError extends ErrorCtor {
    constructor(status, message, options) {
      super(message === undefined ? 'HTTP ' + status : StringCtor(message));
      this.name = 'HttpError';
      this.status = status;
      this.code = options && typeof options.code === 'string' ? options.code : 'HTTP_' + status;
      this.expose = true;
    }
  }
  const response = (body, init) => new FaasResponse(body, init);
  ObjectDefine(globalThis, '__faasModule', {
    value: ObjectFreeze({ response, HttpError }),
    writable: false, configurable: false, enumerable: false,
  });

  // --- 3. Host calls -----------------------------------------------------------------------
  const live = new Map(); // invocationId -> { revoked, logLines }

  // Errors raised by builtins carry this brand, so an uncaught one keeps its code and status.
  const BUILTIN = Symbol('faas.builtin-error');
  function builtinError(code, message) {
    const err = /** @type {Error & { code?: string }} */ (new ErrorCtor(message));
    err.code = code;
    ObjectDefine(err, BUILTIN, { value: true });
    return err;
  }
  const platformFrame = /faas:bootstrap|faas:module/;
  function withoutPlatformFrames(stack) {
    return stack.split('\n').filter((line) => !platformFrame.test(line)).join('\n');
  }

  function callHost(invocationId, builtin, op, args) {
    const state = live.get(invocationId);
    if (state === undefined || state.revoked) {
      return PromiseCtor.reject(builtinError('E_CTX_REVOKED', 'ctx.' + builtin + '.' + op + ' was called after its invocation ended; the call did nothing.'));
    }
    let argsJson;
    try {
      argsJson = JSONstringify(args);
    } catch (e) {
      return PromiseCtor.reject(builtinError('E_BAD_ARGUMENTS', 'ctx.' + builtin + '.' + op + ': arguments must be JSON-serialisable (' + StringCtor(e && e.message) + ')'));
    }
    const pending = ReflectApply(hostCallApply, hostCall, [undefined, [invocationId, builtin, op, argsJson], {
      arguments: { copy: true }, result: { promise: true, copy: true },
    }]);
    const result = pending.then((replyJson) => {
      const reply = JSONparse(replyJson);
      if (reply.ok) return reply.value;
      throw builtinError(reply.error.code, reply.error.message);
    });
    // A builtin call the function never awaited must not surface later as an unhandled rejection
    // (isolated-vm throws those out of whatever call runs next). Awaiting it still sees the error.
    result.catch(() => {});
    return result;
  }

  function formatLogArg(value) {
    if (typeof value === 'string') return value;
    if (value instanceof ErrorCtor) return withoutPlatformFrames(StringCtor(value.stack || value.message));
    try {
      const s = JSONstringify(value);
      return s === undefined ? StringCtor(value) : s;
    } catch {
      return StringCtor(value);
    }
  }

  function emitLog(invocationId, level, args) {
    const state = live.get(invocationId);
    if (state === undefined || state.revoked) return;
    state.logLines++;
    if (state.logLines > config.maxLogLines) {
      if (state.logLines === config.maxLogLines + 1) {
        ReflectApply(hostLogApply, hostLog, [undefined, [invocationId, 'warn', 'log limit of ' + config.maxLogLines + ' lines per invocation reached; further lines dropped'], { arguments: { copy: true } }]);
      }
      return;
    }
    let message = '';
    for (let i = 0; i < args.length; i++) message += (i === 0 ? '' : ' ') + formatLogArg(args[i]);
    if (message.length > config.maxLogLineChars) message = message.slice(0, config.maxLogLineChars) + '…[truncated]';
    ReflectApply(hostLogApply, hostLog, [undefined, [invocationId, level, message], { arguments: { copy: true } }]);
  }

  function makeCtx(invocationId, meta) {
    const redis = Object.create(null);
    for (const command of config.redisCommands) {
      redis[command] = (...args) => callHost(invocationId, 'redis', command, args);
    }
    const log = ObjectFreeze({
      debug: (...args) => emitLog(invocationId, 'debug', args),
      info: (...args) => emitLog(invocationId, 'info', args),
      warn: (...args) => emitLog(invocationId, 'warn', args),
      error: (...args) => emitLog(invocationId, 'error', args),
    });
    return ObjectFreeze({
      app: meta.app,
      function: meta.function,
      version: meta.version,
      alias: meta.alias,
      requestId: meta.requestId,
      deadline: meta.deadline,
      user: null,
      log,
      redis: ObjectFreeze(redis),
    });
  }

  // --- 4. Results --------------------------------------------------------------------------
  // The host receives one JSON string: { t: 'ok', status, headers, body, encoding } or
  // { t: 'error', kind: 'http' | 'function' | 'response', ... }. Only strings cross back.

  function userFrames(err) {
    const stack = err && typeof err.stack === 'string' ? err.stack : '';
    const lines = stack.split('\n');
    const out = [];
    for (let i = 1; i < lines.length; i++) if (lines[i].indexOf(config.filename) !== -1) out.push(lines[i].trim());
    return out.slice(0, 20).join('\n');
  }

  function encodeError(err) {
    try {
      if (err !== null && typeof err === 'object' && err[BUILTIN] === true) {
        return JSONstringify({ t: 'error', kind: 'builtin', code: StringCtor(err.code), message: StringCtor(err.message) });
      }
      if (err instanceof HttpError || (err && err.expose === true && typeof err.status === 'number')) {
        return JSONstringify({ t: 'error', kind: 'http', status: err.status, code: StringCtor(err.code), message: StringCtor(err.message) });
      }
      const message = err instanceof ErrorCtor ? (err.name && err.name !== 'Error' ? err.name + ': ' : '') + StringCtor(err.message) : 'non-Error thrown: ' + formatLogArg(err);
      return JSONstringify({ t: 'error', kind: 'function', message: message.slice(0, 4096), stack: userFrames(err) });
    } catch (e) {
      return JSONstringify({ t: 'error', kind: 'function', message: 'the function threw a value that cannot be described' });
    }
  }

  function toBase64(bytes) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63];
    }
    if (i < bytes.length) {
      const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
      out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : '=') + '=';
    }
    return out;
  }

  function encodeBody(body) {
    if (body === undefined) return { body: null, encoding: 'none' };
    if (typeof body === 'string') return { body, encoding: 'text' };
    if (body instanceof Uint8ArrayCtor) return { body: toBase64(body), encoding: 'base64' };
    if (body instanceof ArrayBuffer) return { body: toBase64(new Uint8ArrayCtor(body)), encoding: 'base64' };
    const json = JSONstringify(body);
    if (json === undefined) throw new TypeError('a ' + typeof body + ' cannot be sent as JSON');
    return { body: json, encoding: 'json' };
  }

  // Cheap bounds first: UTF-8 needs 1 to 3 bytes per UTF-16 unit, base64 carries 3 bytes per 4 chars.
  function tooLarge(body, encoding) {
    const max = config.maxResponseBytes;
    if (encoding === 'base64') return Math.floor((body.length * 3) / 4) > max;
    if (body.length > max) return true;
    if (body.length * 3 <= max) return false;
    return utf8Length(body) > max;
  }

  function encodeResult(result) {
    let status = 200;
    let headers = {};
    let payload;
    try {
      if (result !== null && typeof result === 'object' && result[RESPONSE] === true) {
        status = result.status;
        headers = result.headers;
        payload = encodeBody(result.body);
      } else if (result === undefined) {
        status = 204;
        payload = { body: null, encoding: 'none' };
      } else {
        const json = JSONstringify(result);
        if (json === undefined) throw new TypeError('a ' + typeof result + ' cannot be sent as JSON');
        payload = { body: json, encoding: 'json' };
      }
      if (payload.body !== null && tooLarge(payload.body, payload.encoding)) {
        return JSONstringify({ t: 'error', kind: 'too-large', message: 'response body exceeds ' + config.maxResponseBytes + ' bytes' });
      }
      const flatHeaders = {};
      if (headers !== null && typeof headers === 'object' && !ArrayIsArray(headers)) {
        for (const name of Object.keys(headers)) flatHeaders[StringCtor(name)] = StringCtor(headers[name]);
      }
      return JSONstringify({ t: 'ok', status, headers: flatHeaders, body: payload.body, encoding: payload.encoding });
    } catch (e) {
      return JSONstringify({ t: 'error', kind: 'response', message: 'the value returned by the handler cannot be sent: ' + StringCtor(e && e.message) });
    }
  }

  // --- 5. Entry points for the host --------------------------------------------------------
  let handler = null;

  function setHandler(fn) {
    if (typeof fn !== 'function') throw new TypeError('the module\'s default export is not a function (found ' + typeof fn + ')');
    handler = fn;
  }

  async function dispatch(invocationId, requestJson, metaJson) {
    const state = { revoked: false, logLines: 0 };
    live.set(invocationId, state);
    try {
      const request = JSONparse(requestJson);
      const ctx = makeCtx(invocationId, JSONparse(metaJson));
      const result = await handler(ObjectFreeze(request), ctx);
      return encodeResult(result);
    } catch (err) {
      return encodeError(err);
    } finally {
      state.revoked = true;
      live.delete(invocationId);
    }
  }

  return { dispatch, setHandler };
})
