// Runs inside every isolate's context once, before any user code (compiled as a script, from V8's
// code cache after the first time, by runtime/sandbox/prepared-isolate.ts: its completion value is
// this function, which the host calls). It has no Node.js: only V8's built-ins and its arguments:
//   hostLog   ivm.Reference to the host's log sink: (invocationId, level, message) => void
//   config    { redisCommands: string[], maxLogLines: number, maxLogLineChars: number,
//               maxMetricSamples: number }  (the same for every version a worker runs)
// It returns { dispatchBatch, current, takeOutbox, setHandler, configure, warmUp } (the host keeps
// References to them).
//
// Code in this isolate runs only inside the host's synchronous entries (`dispatchBatch`, with
// isolated-vm's `timeout`): a builtin call does not call the host; it leaves in the entry's outbox
// (`takeOutbox`, taken by the host right after the entry returns), and its reply comes back in a
// later entry, which settles the call's promise, so the code after an `await` also runs inside an
// entry, under its timeout. An invocation's answer leaves the same way.
// Nothing here depends on a version: a worker may run it ahead of need in a spare isolate. The
// version's own values arrive once, through `configure(maxResponseBytes, filename)`, before its
// module is compiled; `setHandler` and `dispatch` refuse to run before that.
//
// The AST checker refuses eval & co. early with clear messages; this file is the boundary that
// holds when the checker is bypassed (`globalThis['ev' + 'al']`, `(() => {}).constructor`).
//
// User code runs in this same realm and may replace any prototype method (String.prototype.slice,
// Map.prototype.get, Object.prototype.toJSON, …). So every built-in this file relies on after
// start-up is captured here first, and what it hands to the host is built from null-prototype
// objects. The host still validates every reply: nothing here is trusted.
(function bootstrap(hostLog, config) {
  'use strict';
  // The version's values (see `configure` in section 5): the response size limit in bytes, and the
  // module's filename, which marks the user's frames in a stack.
  let configured = false;
  let maxResponseBytes = 0;
  let filename = '';
  // --- 0. Intrinsics, captured before any user code exists --------------------------------
  const uncurry = (fn) => Function.prototype.call.bind(fn);
  const ReflectApply = Reflect.apply;
  // Synchronous so lines are recorded before the invocation's result reaches the host.
  const hostLogApply = hostLog.applySync;
  const DateNow = Date.now;
  const JSONstringify = JSON.stringify;
  const JSONparse = JSON.parse;
  const ObjectFreeze = Object.freeze;
  const ObjectDefine = Object.defineProperty;
  const ObjectCreate = Object.create;
  const ObjectKeys = Object.keys;
  const ObjectGetPrototypeOf = Object.getPrototypeOf;
  const MathFloor = Math.floor;
  const StringCtor = String;
  const ErrorCtor = Error;
  const ArrayIsArray = Array.isArray;
  const PromiseCtor = Promise;
  const PromiseReject = Promise.reject.bind(Promise);
  const Uint8ArrayCtor = Uint8Array;
  const ArrayBufferCtor = ArrayBuffer;
  const strSlice = uncurry(String.prototype.slice);
  const strSplit = uncurry(String.prototype.split);
  const strIndexOf = uncurry(String.prototype.indexOf);
  const strTrim = uncurry(String.prototype.trim);
  const strCharCodeAt = uncurry(String.prototype.charCodeAt);
  const strToLower = uncurry(String.prototype.toLowerCase);
  const StringFromCodePoint = String.fromCodePoint;
  const arrPush = uncurry(Array.prototype.push);
  const arrJoin = uncurry(Array.prototype.join);
  const reTest = uncurry(RegExp.prototype.test);
  const promiseThen = uncurry(Promise.prototype.then);

  /** A plain record with no prototype: JSON.stringify finds no (user-patched) toJSON on it. */
  const record = () => ObjectCreate(null);
  // The same guarantee for records with a fixed set of fields, without the dictionary mode V8 gives
  // an Object.create(null) object: instances of a private constructor whose prototype is frozen
  // and has no prototype.
  function Plain() {}
  Plain.prototype = ObjectFreeze(ObjectCreate(null));
  /**
   * A list the host reads (the outbox) or the bootstrap relies on (an invocation's call ids):
   * `{ n, 0: …, 1: … }` on Plain's prototype. An array would not do: writing its next index calls
   * a setter user code put on Array.prototype, which could rewrite or drop what the host gets.
   */
  function List() { this.n = 0; }
  List.prototype = Plain.prototype;
  const add = (list, value) => { list[list.n++] = value; };
  const envelope = (fields, calls, metrics) => {
    const out = new Plain();
    const keys = ObjectKeys(fields);
    for (let i = 0; i < keys.length; i++) out[keys[i]] = fields[keys[i]];
    out.calls = calls;
    out.metrics = metrics;
    return JSONstringify(out);
  };
  const utf8Length = (s) => {
    // UTF-8 byte length without TextEncoder (not part of bare V8).
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = strCharCodeAt(s, i);
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
    ObjectGetPrototypeOf(async function () {}).constructor,
    ObjectGetPrototypeOf(function* () {}).constructor,
    ObjectGetPrototypeOf(async function* () {}).constructor,
  ];
  let safeFunction = null;
  for (let i = 0; i < intrinsics.length; i++) {
    const Ctor = intrinsics[i];
    const safe = function Function() { refuse(); };
    ObjectDefine(safe, 'prototype', { value: Ctor.prototype, writable: false, configurable: false });
    ObjectDefine(Ctor.prototype, 'constructor', { value: safe, writable: false, configurable: false });
    if (safeFunction === null) safeFunction = safe;
  }
  ObjectDefine(globalThis, 'Function', { value: safeFunction, writable: false, configurable: false, enumerable: false });
  const safeEval = function () { refuse(); };
  ObjectDefine(globalThis, 'eval', { value: safeEval, writable: false, configurable: false, enumerable: false });
  // Surfaces a function has no business with: wasm compiles code, shared memory and Atomics.wait
  // can block a thread outside our watchdog's view, and a FinalizationRegistry callback is a V8
  // platform task that isolated-vm runs whenever the isolate is next woken asynchronously (on its
  // thread pool, under no timeout): function code must only ever run inside the host's entries.
  const removed = ['WebAssembly', 'SharedArrayBuffer', 'Atomics', 'FinalizationRegistry'];
  for (let i = 0; i < removed.length; i++) {
    try { delete globalThis[removed[i]]; } catch { /* non-configurable: leave it */ }
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
  /** invocationId → { revoked, logLines, calls, callIds, … }; a null-prototype record, not a (patchable) Map. */
  const live = record();
  /** callId → the settle function of a builtin call waiting for its reply (settled by `dispatchBatch`). */
  const pendingCalls = record();
  let nextCallId = 0;
  // The entry's outbox, taken by the host when the entry returns (`takeOutbox`): Lists of
  // builtin calls as callId, invocationId, builtin, op, argsJson, … and answers as
  // invocationId, replyJson, ….
  let outCalls = new List();
  let outAnswers = new List();

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
    const kept = [];
    const lines = strSplit(stack, '\n');
    for (let i = 0; i < lines.length; i++) if (!reTest(platformFrame, lines[i])) arrPush(kept, lines[i]);
    return arrJoin(kept, '\n');
  }

  function callHost(invocationId, builtin, op, args) {
    const state = live[invocationId];
    if (state === undefined || state.revoked) {
      return PromiseReject(builtinError('E_CTX_REVOKED', 'ctx.' + builtin + '.' + op + ' was called after its invocation ended; the call did nothing.'));
    }
    let argsJson;
    try {
      argsJson = JSONstringify(args);
    } catch (e) {
      return PromiseReject(builtinError('E_BAD_ARGUMENTS', 'ctx.' + builtin + '.' + op + ': arguments must be JSON-serialisable (' + StringCtor(e && e.message) + ')'));
    }
    // Counted so the host serves every call made during the invocation, awaited or not, even
    // when the invocation answers in the same entry.
    state.calls++;
    const callId = ++nextCallId;
    add(state.callIds, callId);
    const pending = new PromiseCtor((settle) => { pendingCalls[callId] = settle; });
    add(outCalls, callId);
    add(outCalls, invocationId);
    add(outCalls, builtin);
    add(outCalls, op);
    add(outCalls, argsJson);
    const result = promiseThen(pending, (replyJson) => {
      // Settled in the same entry as the invocation's end (several replies enter together) but
      // after it: what awaits this call belongs to an ended invocation and is not resumed.
      if (state.revoked) return new PromiseCtor(() => {});
      const reply = JSONparse(replyJson);
      if (reply.ok) return reply.value;
      throw builtinError(reply.error.code, reply.error.message);
    });
    // A builtin call the function never awaited must not surface later as an unhandled rejection
    // (isolated-vm throws those out of whatever call runs next). Awaiting it still sees the error.
    promiseThen(result, undefined, () => {});
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
    const state = live[invocationId];
    if (state === undefined || state.revoked) return;
    state.logLines++;
    if (state.logLines > config.maxLogLines) {
      if (state.logLines === config.maxLogLines + 1) {
        ReflectApply(hostLogApply, hostLog, [undefined, [invocationId, 'warn', 'log limit of ' + config.maxLogLines + ' lines per invocation reached; further lines dropped'], { arguments: { copy: true } }]);
      }
      return;
    }
    let message = '';
    for (let i = 0; i < args.length; i++) {
      message += (i === 0 ? '' : ' ') + formatLogArg(args[i]);
      if (message.length > config.maxLogLineChars) break;
    }
    if (message.length > config.maxLogLineChars) message = strSlice(message, 0, config.maxLogLineChars) + '…[truncated]';
    ReflectApply(hostLogApply, hostLog, [undefined, [invocationId, level, message], { arguments: { copy: true } }]);
  }

  // ctx.metrics: samples are collected per invocation and leave with the answer (no host call per
  // sample); the host validates names, labels and values and applies its per-app caps.
  const METRIC_KINDS = ['counter', 'gauge', 'histogram'];
  function recordMetric(invocationId, kind, name, value, labels) {
    const state = live[invocationId];
    if (state === undefined || state.revoked) return;
    if (state.metrics.length >= config.maxMetricSamples) { state.metricsDropped++; return; }
    const sample = new Plain();
    sample.kind = kind;
    sample.name = StringCtor(name);
    sample.value = typeof value === 'number' ? value : Number(value);
    const flat = record();
    if (labels !== null && typeof labels === 'object') {
      const keys = ObjectKeys(labels);
      for (let i = 0; i < keys.length && i < 8; i++) flat[StringCtor(keys[i])] = StringCtor(labels[keys[i]]);
    }
    sample.labels = flat;
    arrPush(state.metrics, sample);
  }

  // --- Response of ctx.fetch -----------------------------------------------------------------
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  function base64Bytes(text) {
    const clean = strSplit(text, '=')[0];
    const out = new Uint8ArrayCtor(MathFloor(clean.length * 3 / 4));
    let bits = 0, value = 0, j = 0;
    for (let i = 0; i < clean.length; i++) {
      const v = strIndexOf(B64, clean[i]);
      if (v < 0) continue;
      value = (value << 6) | v;
      bits += 6;
      if (bits >= 8) { bits -= 8; out[j++] = (value >> bits) & 0xff; }
    }
    return out;
  }
  function utf8Text(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const b = bytes[i];
      let cp = 0xfffd, n = 1;
      if (b < 0x80) { cp = b; }
      else if (b >= 0xc2 && b < 0xe0 && i + 1 < bytes.length) { cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f); n = 2; }
      else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length) { cp = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f); n = 3; }
      else if (b >= 0xf0 && b < 0xf5 && i + 3 < bytes.length) { cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f); n = 4; }
      out += StringFromCodePoint(cp);
      i += n;
    }
    return out;
  }
  /** A read-only subset of the Fetch API's Response over the host's plain reply. */
  function fetchResponse(reply) {
    const headers = record();
    const names = ObjectKeys(reply.headers);
    for (let i = 0; i < names.length; i++) headers[names[i]] = StringCtor(reply.headers[names[i]]);
    const binary = reply.bodyEncoding === 'base64';
    const body = reply.body === null || reply.body === undefined ? '' : StringCtor(reply.body);
    let used = false;
    const consume = () => {
      if (used) throw new TypeError('Body has already been consumed.');
      used = true;
    };
    const text = () => { consume(); return binary ? utf8Text(base64Bytes(body)) : body; };
    return ObjectFreeze({
      status: reply.status,
      statusText: StringCtor(reply.statusText || ''),
      ok: reply.status >= 200 && reply.status < 300,
      url: StringCtor(reply.url || ''),
      redirected: reply.redirected === true,
      headers: ObjectFreeze({
        get: (name) => { const v = headers[strToLower(StringCtor(name))]; return v === undefined ? null : v; },
        has: (name) => headers[strToLower(StringCtor(name))] !== undefined,
        entries: () => { const out = []; for (let i = 0; i < names.length; i++) arrPush(out, [names[i], headers[names[i]]]); return out; },
      }),
      get bodyUsed() { return used; },
      text: async () => text(),
      json: async () => JSONparse(text()),
      arrayBuffer: async () => {
        consume();
        if (binary) return base64Bytes(body).buffer;
        const bytes = new Uint8ArrayCtor(utf8Length(body));
        // Encode UTF-16 → UTF-8 without TextEncoder.
        let j = 0;
        for (let i = 0; i < body.length; i++) {
          let c = strCharCodeAt(body, i);
          if (c >= 0xd800 && c <= 0xdbff && i + 1 < body.length) { c = 0x10000 + ((c - 0xd800) << 10) + (strCharCodeAt(body, ++i) - 0xdc00); }
          if (c < 0x80) bytes[j++] = c;
          else if (c < 0x800) { bytes[j++] = 0xc0 | (c >> 6); bytes[j++] = 0x80 | (c & 63); }
          else if (c < 0x10000) { bytes[j++] = 0xe0 | (c >> 12); bytes[j++] = 0x80 | ((c >> 6) & 63); bytes[j++] = 0x80 | (c & 63); }
          else { bytes[j++] = 0xf0 | (c >> 18); bytes[j++] = 0x80 | ((c >> 12) & 63); bytes[j++] = 0x80 | ((c >> 6) & 63); bytes[j++] = 0x80 | (c & 63); }
        }
        return bytes.buffer;
      },
    });
  }

  /** A deep-frozen copy of the verified player, or null. */
  function userOf(meta) {
    const u = meta.user;
    if (u === null || u === undefined || typeof u !== 'object') return null;
    const claims = u.claims !== null && typeof u.claims === 'object' ? u.claims : record();
    const freezeDeep = (v) => {
      if (v !== null && typeof v === 'object') {
        const keys = ObjectKeys(v);
        for (let i = 0; i < keys.length; i++) freezeDeep(v[keys[i]]);
        ObjectFreeze(v);
      }
      return v;
    };
    return ObjectFreeze({ id: StringCtor(u.id), claims: freezeDeep(claims) });
  }

  // ctx is built per invocation, so its builtin objects are made on first use: most handlers touch
  // one or two of them, and building all of them (58 Redis methods, sql, auth, …) cost more than
  // the rest of a small invocation. Each getter caches what it made, so `ctx.redis === ctx.redis`.
  function makeRedis(invocationId) {
    const redis = record();
    const commands = config.redisCommands;
    for (let i = 0; i < commands.length; i++) {
      const command = commands[i];
      redis[command] = (...args) => callHost(invocationId, 'redis', command, args);
    }
    return ObjectFreeze(redis);
  }

  function makeLog(invocationId) {
    return ObjectFreeze({
      debug: (...args) => emitLog(invocationId, 'debug', args),
      info: (...args) => emitLog(invocationId, 'info', args),
      warn: (...args) => emitLog(invocationId, 'warn', args),
      error: (...args) => emitLog(invocationId, 'error', args),
    });
  }

  const hostMethod = (invocationId, builtin, op) => (...args) => callHost(invocationId, builtin, op, args);

  function makeSql(invocationId) {
    const sqlQuery = hostMethod(invocationId, 'sql', 'query');
    const sqlExecute = hostMethod(invocationId, 'sql', 'execute');
    return ObjectFreeze({
      query: (text, params) => sqlQuery(text, params === undefined ? [] : params),
      execute: (text, params) => sqlExecute(text, params === undefined ? [] : params),
      /** Run `fn(tx)` in one transaction: committed when it resolves, rolled back when it throws. */
      transaction: async (fn) => {
        if (typeof fn !== 'function') throw new TypeError('ctx.sql.transaction(fn): fn must be an async function (tx) => …');
        const begun = await callHost(invocationId, 'sql', 'begin', []);
        const txId = begun.txId;
        let open = true;
        const guard = (op) => (text, params) => {
          if (!open) return PromiseReject(builtinError('E_SQL_TX', 'ctx.sql.transaction: the transaction already ended; use tx only inside its callback'));
          const options = record();
          options.txId = txId;
          return callHost(invocationId, 'sql', op, [text, params === undefined ? [] : params, options]);
        };
        const tx = ObjectFreeze({ query: guard('query'), execute: guard('execute') });
        let result;
        try {
          result = await fn(tx);
        } catch (err) {
          open = false;
          try { await callHost(invocationId, 'sql', 'rollback', [txId]); } catch { /* the original error matters more */ }
          throw err;
        }
        open = false;
        await callHost(invocationId, 'sql', 'commit', [txId]);
        return result;
      },
    });
  }

  function makeFetch(invocationId) {
    const fetchCall = hostMethod(invocationId, 'fetch', 'fetch');
    return (url, init) => promiseThen(fetchCall(url, init), fetchResponse);
  }

  function makeMetrics(invocationId) {
    return ObjectFreeze({
      counter: (name, value, labels) => recordMetric(invocationId, METRIC_KINDS[0], name, value === undefined ? 1 : value, labels),
      gauge: (name, value, labels) => recordMetric(invocationId, METRIC_KINDS[1], name, value, labels),
      histogram: (name, value, labels) => recordMetric(invocationId, METRIC_KINDS[2], name, value, labels),
    });
  }

  // One class for every ctx: its builtin objects are getters on a shared (frozen) prototype over
  // private fields, so a ctx costs one small frozen object; an object literal with nine accessors
  // of its own (a closure and an accessor pair each, frozen into a dictionary-mode object) cost
  // more than the rest of a small invocation. The data fields are its own keys.
  class Ctx {
    #id; #meta; #user; #log; #redis; #sql; #auth; #rpc; #fetch; #config; #metrics;
    constructor(invocationId, meta) {
      this.#id = invocationId;
      this.#meta = meta;
      this.app = meta.app;
      this.function = meta.function;
      this.version = meta.version;
      this.alias = meta.alias;
      this.requestId = meta.requestId;
      this.deadline = meta.deadline;
      ObjectFreeze(this);
    }
    get user() { if (this.#user === undefined) this.#user = userOf(this.#meta); return this.#user; }
    get log() { return this.#log === undefined ? (this.#log = makeLog(this.#id)) : this.#log; }
    get redis() { return this.#redis === undefined ? (this.#redis = makeRedis(this.#id)) : this.#redis; }
    get sql() { return this.#sql === undefined ? (this.#sql = makeSql(this.#id)) : this.#sql; }
    get auth() {
      const id = this.#id;
      return this.#auth === undefined ? (this.#auth = ObjectFreeze({ issue: hostMethod(id, 'auth', 'issue'), verify: hostMethod(id, 'auth', 'verify') })) : this.#auth;
    }
    get rpc() {
      const id = this.#id;
      return this.#rpc === undefined ? (this.#rpc = ObjectFreeze({ call: hostMethod(id, 'rpc', 'call'), grpc: hostMethod(id, 'grpc', 'call') })) : this.#rpc;
    }
    get fetch() { return this.#fetch === undefined ? (this.#fetch = makeFetch(this.#id)) : this.#fetch; }
    get config() {
      const id = this.#id;
      return this.#config === undefined
        ? (this.#config = ObjectFreeze({ get: hostMethod(id, 'config', 'get'), secret: hostMethod(id, 'config', 'secret'), all: hostMethod(id, 'config', 'all') }))
        : this.#config;
    }
    get metrics() { return this.#metrics === undefined ? (this.#metrics = makeMetrics(this.#id)) : this.#metrics; }
  }
  ObjectFreeze(Ctx.prototype);
  ObjectFreeze(Ctx);

  // --- 4. Results --------------------------------------------------------------------------
  // The host receives one JSON string: { t: 'ok', status, headers, body, encoding, calls } or
  // { t: 'error', kind: 'http' | 'function' | 'builtin' | 'response' | 'too-large' | 'bad-request', ..., calls }.

  function userFrames(err) {
    const stack = err && typeof err.stack === 'string' ? err.stack : '';
    const out = [];
    const lines = strSplit(stack, '\n');
    for (let i = 1; i < lines.length && out.length < 20; i++) {
      if (strIndexOf(lines[i], filename) !== -1) arrPush(out, strTrim(lines[i]));
    }
    return arrJoin(out, '\n');
  }

  function encodeError(err) {
    try {
      if (err !== null && typeof err === 'object' && err[BUILTIN] === true) {
        return { t: 'error', kind: 'builtin', code: StringCtor(err.code), message: StringCtor(err.message) };
      }
      if (err instanceof HttpError || (err && err.expose === true && typeof err.status === 'number')) {
        return { t: 'error', kind: 'http', status: err.status, code: StringCtor(err.code), message: strSlice(StringCtor(err.message), 0, 4096) };
      }
      const message = err instanceof ErrorCtor ? (err.name && err.name !== 'Error' ? err.name + ': ' : '') + StringCtor(err.message) : 'non-Error thrown: ' + formatLogArg(err);
      return { t: 'error', kind: 'function', message: strSlice(message, 0, 4096), stack: userFrames(err) };
    } catch (e) {
      return { t: 'error', kind: 'function', message: 'the function threw a value that cannot be described' };
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
    if (body instanceof ArrayBufferCtor) return { body: toBase64(new Uint8ArrayCtor(body)), encoding: 'base64' };
    const json = JSONstringify(body);
    if (json === undefined) throw new TypeError('a ' + typeof body + ' cannot be sent as JSON');
    return { body: json, encoding: 'json' };
  }

  // Cheap bounds first: UTF-8 needs 1 to 3 bytes per UTF-16 unit, base64 carries 3 bytes per 4 chars.
  function tooLarge(body, encoding) {
    const max = maxResponseBytes;
    if (encoding === 'base64') return MathFloor((body.length * 3) / 4) > max;
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
        return { t: 'error', kind: 'too-large', message: 'response body exceeds ' + maxResponseBytes + ' bytes' };
      }
      const flatHeaders = record();
      if (headers !== null && typeof headers === 'object' && !ArrayIsArray(headers)) {
        const names = ObjectKeys(headers);
        for (let i = 0; i < names.length; i++) flatHeaders[StringCtor(names[i])] = StringCtor(headers[names[i]]);
      }
      return { t: 'ok', status, headers: flatHeaders, body: payload.body, encoding: payload.encoding };
    } catch (e) {
      return { t: 'error', kind: 'response', message: 'the value returned by the handler cannot be sent: ' + StringCtor(e && e.message) };
    }
  }

  // --- 5. Entry points for the host --------------------------------------------------------
  let handler = null;

  /** The version's values, set once by the host before the version's module is compiled. */
  function configure(responseLimitBytes, moduleFilename) {
    if (configured) throw new TypeError('this isolate is already configured for a version');
    if (typeof responseLimitBytes !== 'number' || !(responseLimitBytes >= 0) || typeof moduleFilename !== 'string' || moduleFilename === '') {
      throw new TypeError('configure(maxResponseBytes, filename) needs a non-negative number and a non-empty string');
    }
    maxResponseBytes = responseLimitBytes;
    filename = moduleFilename;
    configured = true;
  }

  function setHandler(fn) {
    if (!configured) throw new TypeError('setHandler before configure: the isolate has no version yet');
    if (typeof fn !== 'function') throw new TypeError('the module\'s default export is not a function (found ' + typeof fn + ')');
    handler = fn;
  }

  // The request arrives as JSON text whose `body` is still text (`bodyIsJson` says whether to
  // parse it): the host never re-serialises a client's JSON, however deeply nested.
  async function dispatch(invocationId, requestJson, metaJson) {
    // The answer is put in the outbox here (not by a `then` on this function's promise: `then`
    // reads Promise.prototype.constructor, which user code can make throw).
    const state = new Plain();
    state.revoked = false;
    state.logLines = 0;
    state.calls = 0;
    state.callIds = new List();
    state.metrics = [];
    state.metricsDropped = 0;
    live[invocationId] = state;
    let reply;
    try {
      const raw = JSONparse(requestJson);
      let body = raw.body;
      if (raw.bodyIsJson && typeof body === 'string') {
        try {
          body = JSONparse(body);
        } catch (e) {
          reply = { t: 'error', kind: 'bad-request', message: 'the request body is declared as JSON but does not parse: ' + StringCtor(e && e.message) };
        }
      }
      if (reply === undefined) {
        const request = ObjectFreeze({ method: raw.method, path: raw.path, query: raw.query, headers: raw.headers, body });
        const ctx = new Ctx(invocationId, JSONparse(metaJson));
        reply = encodeResult(await handler(request, ctx));
      }
    } catch (err) {
      reply = encodeError(err);
    } finally {
      state.revoked = true;
      delete live[invocationId];
      // Replies to calls still pending are dropped: what awaits them is never resumed.
      for (let i = 0; i < state.callIds.n; i++) delete pendingCalls[state.callIds[i]];
    }
    let json;
    try {
      json = envelope(reply, state.calls, state.metrics);
    } catch {
      json = DISPATCH_FAILED;
    }
    add(outAnswers, invocationId);
    add(outAnswers, json);
  }

  // The invocation whose handler is being started by dispatchBatch (0 between handlers and while
  // promises settle), so the host can name the one whose synchronous part ran past the timeout.
  let current = 0;
  const DISPATCH_FAILED = '{"t":"error","kind":"response","message":"the answer could not be encoded","calls":0,"metrics":[]}';
  // Handlers the last dispatchBatch started (the one running included), read with the outbox: an
  // entry that throws returns nothing.
  let startedCount = 0;

  /**
   * The host's one entry (isolated-vm's applySync with a timeout): settle builtin calls with their
   * replies (`callIds[i]` gets `replies[i]`; the code after each `await` runs when this function
   * returns, as the entry's microtasks, still under its timeout), then start the handlers of new
   * invocations. Each answer goes to the outbox when its handler settles. No handler starts once
   * `sliceMs` have passed since the first one started, so every handler that starts has the whole
   * per-invocation budget of the entry's timeout; the host dispatches the rest again. Replies to
   * calls of ended invocations are ignored. Returns how many handlers were started.
   */
  function dispatchBatch(ids, requestJsons, metaJsons, sliceMs, callIds, replies) {
    startedCount = 0;
    for (let i = 0; i < callIds.length; i++) {
      const settle = pendingCalls[callIds[i]];
      if (settle === undefined) continue;
      delete pendingCalls[callIds[i]];
      settle(replies[i]);
    }
    const started = DateNow();
    let i = 0;
    for (; i < ids.length; i++) {
      if (i > 0 && DateNow() - started >= sliceMs) break;
      current = ids[i];
      startedCount = i + 1;
      dispatch(ids[i], requestJsons[i], metaJsons[i]);
    }
    current = 0;
    return i;
  }

  /**
   * What the last entry left for the host: [calls, answers, startedCount] (Lists, see the outbox above),
   * one copy for all of them; the host takes it right after every entry.
   */
  function takeOutbox() {
    const out = [outCalls, outAnswers, startedCount];
    outCalls = new List();
    outAnswers = new List();
    return out;
  }

  /**
   * Run one invocation of a platform-owned handler through the whole dispatch path (request and
   * meta parsing, ctx, result encoding, outbox) so V8 compiles it now — in a spare, off the request
   * path — rather than during a version's first invocation. Only before `configure`: no user code
   * exists yet, and nothing is left behind (the host takes and drops the outbox after the entry).
   */
  function warmUp() {
    if (configured) throw new TypeError('warmUp() runs before an isolate is configured for a version');
    handler = async (request, ctx) => ({ method: request.method, app: ctx.app, n: request.query.n });
    // So the answer (encoded in this entry's microtasks, after the call below returns) takes the path
    // a successful one takes, not the too-large one; `configure` sets the version's own limit.
    maxResponseBytes = 1024;
    try {
      dispatchBatch([-1], ['{"method":"GET","path":"/","query":{"n":"1"},"headers":{},"body":null,"bodyIsJson":false}'],
        ['{"app":"-","function":"-","version":"-","alias":"-","requestId":"-","deadline":0}'], 1000, [], []);
    } finally {
      handler = null;
    }
  }

  return { dispatchBatch, current: () => current, takeOutbox, setHandler, configure, warmUp };
})
