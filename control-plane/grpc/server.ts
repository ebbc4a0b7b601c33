/**
 * The control plane's gRPC server for runtimes (`faas runtime`): a thin transport over a
 * `RuntimeControlPlane` (the same core the REST routes call), plus the numbered change feed
 * behind `WatchDeploys`. Contract: proto/control_plane.proto; protocol: proto/README.md.
 *
 * Every call must carry `authorization: Bearer <token>`. A server interceptor checks it (constant
 * time) before any handler runs, so a caller without the token gets UNAUTHENTICATED and nothing
 * else, on every method including the stream.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { RuntimeControlPlane } from '../core/types.ts';
import { ChangeFeed, type SequencedChange } from './change-feed.ts';
import {
  changeToWire, configToWire, controlPlaneService, keysToWire, logLineFromWire, settingsToWire, targetToWire, toGrpcStatus, versionToWire,
  type ControlPlaneMethods, type UnaryMethodName, type WireChangeEvent, type WireWatchDeploysRequest,
} from './proto.ts';
import { MIN_TOKEN_LENGTH } from './token.ts';

/** Where the server reports faults (a pino logger fits). */
export interface GrpcServerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Options of `startControlPlaneGrpc`. */
export interface ControlPlaneGrpcOptions {
  /** What the RPCs call; its `onChange` feeds `WatchDeploys`. Owned by the caller. */
  controlPlane: RuntimeControlPlane;
  /** Listen address. @default 127.0.0.1 */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Shared secret runtimes send as `authorization: Bearer <token>`; at least 16 characters. */
  token: string;
  /** Answers `AppExists` (only used to word a 404); absent → every app "exists". */
  appExists?: (app: string) => Promise<boolean>;
  /** Events kept for catch-up after a reconnect. @default 1024 */
  ringSize?: number;
  /** Events queued on one stream whose client does not read; past it the stream ends with RESOURCE_EXHAUSTED (the client reconnects and catches up). @default 1000 */
  maxStreamBacklog?: number;
  /** Most log lines in one `AppendLogs` call. @default 5000 */
  maxLogLinesPerCall?: number;
  /** Largest message accepted, in bytes. @default 16 MiB */
  maxReceiveBytes?: number;
  /** Fault reports; absent → process warnings. */
  log?: GrpcServerLog;
  /** Called when any call ends (also calls refused as UNAUTHENTICATED): the method's name (`GetVersion`; `OTHER` for a path outside the service), the status code's name and the duration in ms. For metrics. */
  onCall?: (method: string, code: string, ms: number) => void;
}

/** A started server. */
export interface ControlPlaneGrpcServer {
  /** The bound port (the real one when 0 was asked). */
  port: number;
  /** The change feed (epoch, last sequence) — exposed for tests and /readyz. */
  feed: ChangeFeed;
  /** Open `WatchDeploys` streams. */
  streams(): number;
  /** Stop accepting calls, end open streams and wait for in-flight calls (at most 5 s, then force). Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_LOG: GrpcServerLog = {
  warn: (obj, msg) => process.emitWarning(`${msg} ${JSON.stringify(obj)}`, 'FaasGrpcWarning'),
  error: (obj, msg) => process.emitWarning(`${msg} ${JSON.stringify(obj)}`, 'FaasGrpcWarning'),
};

/** Validate once, into a frozen object (CONVENTIONS habit 5). */
function resolveOptions(opts: ControlPlaneGrpcOptions): Readonly<Required<Omit<ControlPlaneGrpcOptions, 'appExists' | 'onCall'>> & Pick<ControlPlaneGrpcOptions, 'appExists' | 'onCall'>> {
  const invalid = (message: string) => Object.assign(new TypeError(`startControlPlaneGrpc: ${message}`), { code: 'ERR_INVALID_ARG_VALUE' });
  if (typeof opts !== 'object' || opts === null) throw invalid('options are required');
  if (typeof opts.controlPlane !== 'object' || opts.controlPlane === null || typeof opts.controlPlane.onChange !== 'function') throw invalid('controlPlane must implement RuntimeControlPlane');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw invalid(`port must be an integer 0..65535, got ${opts.port}`);
  if (typeof opts.token !== 'string' || opts.token.length < MIN_TOKEN_LENGTH || /\s/.test(opts.token)) {
    throw invalid(`token must be a string of at least ${MIN_TOKEN_LENGTH} characters without whitespace (set FAAS_GRPC_TOKEN, or unset it to have one generated)`);
  }
  const positive = (name: string, value: number | undefined, fallback: number) => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer, got ${v}`);
    return v;
  };
  return Object.freeze({
    controlPlane: opts.controlPlane,
    host: opts.host ?? '127.0.0.1',
    port: opts.port,
    token: opts.token,
    appExists: opts.appExists,
    ringSize: positive('ringSize', opts.ringSize, 1024),
    maxStreamBacklog: positive('maxStreamBacklog', opts.maxStreamBacklog, 1000),
    maxLogLinesPerCall: positive('maxLogLinesPerCall', opts.maxLogLinesPerCall, 5000),
    maxReceiveBytes: positive('maxReceiveBytes', opts.maxReceiveBytes, 16 * 1024 * 1024),
    log: opts.log ?? DEFAULT_LOG,
    onCall: opts.onCall,
  });
}

/** Status code number → name (`16` → `UNAUTHENTICATED`). */
const STATUS_NAMES = new Map<number, string>(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

/**
 * A server interceptor that reports every call's method, final status and duration to `onCall`.
 * Method names come from the path `/faas.controlplane.v1.ControlPlane/<Method>`; names outside
 * `known` are reported as `OTHER` so a client cannot create label values.
 */
function callInterceptor(known: ReadonlySet<string>, onCall: (method: string, code: string, ms: number) => void): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const started = performance.now();
    const name = descriptor.path.slice(descriptor.path.lastIndexOf('/') + 1);
    const method = known.has(name) ? name : 'OTHER';
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withSendStatus((status, next) => {
      onCall(method, STATUS_NAMES.get(status.code) ?? String(status.code), performance.now() - started);
      next(status);
    }).build());
  };
}

/** A server interceptor that ends every call without `authorization: Bearer <token>` with UNAUTHENTICATED. */
function authInterceptor(token: string): grpc.ServerInterceptor {
  const expected = createHash('sha256').update(`Bearer ${token}`).digest();
  const authorized = (metadata: grpc.Metadata): boolean => {
    const values = metadata.get('authorization');
    if (values.length !== 1 || typeof values[0] !== 'string') return false;
    // Hashing first gives equal lengths, so timingSafeEqual never throws and leaks no length.
    return timingSafeEqual(createHash('sha256').update(values[0]).digest(), expected);
  };
  return (_method, call) => {
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (authorized(metadata)) next(metadata);
        else call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: 'missing or wrong token: send metadata "authorization: Bearer <FAAS_GRPC_TOKEN>"', metadata: new grpc.Metadata() });
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  };
}

type UnaryHandler<M extends UnaryMethodName> = (request: ControlPlaneMethods[M][0]) => Promise<ControlPlaneMethods[M][1]>;

/**
 * Start the gRPC server of the control plane.
 * @param opts see `ControlPlaneGrpcOptions`
 * @returns the bound port, the change feed and `close()`
 * @throws TypeError (ERR_INVALID_ARG_VALUE) for invalid options; the bind error (e.g. EADDRINUSE)
 *   when the address cannot be bound (nothing is left running)
 * @example
 *   const grpcServer = await startControlPlaneGrpc({ controlPlane, port: 9090, token });
 *   // … later
 *   await grpcServer.close();
 */
export async function startControlPlaneGrpc(opts: ControlPlaneGrpcOptions): Promise<ControlPlaneGrpcServer> {
  const options = resolveOptions(opts);
  const { controlPlane, log } = options;
  const feed = new ChangeFeed(options.ringSize);
  const unsubscribe = controlPlane.onChange((change) => feed.publish(change));
  const streams = new Set<grpc.ServerWritableStream<WireWatchDeploysRequest, WireChangeEvent>>();

  const unary = <M extends UnaryMethodName>(name: M, handler: UnaryHandler<M>): grpc.handleUnaryCall<ControlPlaneMethods[M][0], ControlPlaneMethods[M][1]> =>
    (call, callback) => {
      handler(call.request).then((response) => callback(null, response), (err: unknown) => fail(callback, err, name));
    };
  const notFound = (what: string) => ({ code: grpc.status.NOT_FOUND, details: what, metadata: new grpc.Metadata() });

  const handlers: grpc.UntypedServiceImplementation = {
    GetVersion: ((call, callback) => {
      const { app, function: fn, version_id: versionId } = call.request;
      controlPlane.getVersion(app, fn, versionId).then(
        (version) => version === null ? callback(notFound(`no version ${versionId} of ${app}/${fn}`)) : callback(null, versionToWire(version)),
        (err: unknown) => fail(callback, err, 'GetVersion'),
      );
    }) satisfies grpc.handleUnaryCall<ControlPlaneMethods['GetVersion'][0], ControlPlaneMethods['GetVersion'][1]>,
    ResolveAlias: ((call, callback) => {
      const { app, function: fn, alias } = call.request;
      controlPlane.resolve(app, fn, alias).then(
        (target) => target === null ? callback(notFound(`no alias ${alias} of ${app}/${fn}`)) : callback(null, targetToWire(target)),
        (err: unknown) => fail(callback, err, 'ResolveAlias'),
      );
    }) satisfies grpc.handleUnaryCall<ControlPlaneMethods['ResolveAlias'][0], ControlPlaneMethods['ResolveAlias'][1]>,
    GetFunctionConfig: unary('GetFunctionConfig', async (r) => configToWire(await controlPlane.getFunctionConfig(r.app, r.function))),
    GetAppSettings: unary('GetAppSettings', async (r) => settingsToWire(await controlPlane.getAppSettings(r.app))),
    GetSigningKeys: unary('GetSigningKeys', async (r) => keysToWire(await controlPlane.getSigningKeys(r.app))),
    AppExists: unary('AppExists', async (r) => ({ exists: options.appExists === undefined ? true : await options.appExists(r.app) })),
    AppendLogs: ((call, callback) => {
      const lines = call.request.lines;
      if (lines.length > options.maxLogLinesPerCall) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `AppendLogs takes at most ${options.maxLogLinesPerCall} lines per call, got ${lines.length}; send smaller batches`, metadata: new grpc.Metadata() });
        return;
      }
      const parsed = [];
      for (let i = 0; i < lines.length; i++) {
        const line = logLineFromWire(lines[i]);
        if (typeof line === 'string') {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `AppendLogs: lines[${i}]: ${line}`, metadata: new grpc.Metadata() });
          return;
        }
        parsed.push(line);
      }
      controlPlane.appendLogs(parsed).then(
        () => callback(null, { accepted: parsed.length }),
        (err: unknown) => fail(callback, err, 'AppendLogs'),
      );
    }) satisfies grpc.handleUnaryCall<ControlPlaneMethods['AppendLogs'][0], ControlPlaneMethods['AppendLogs'][1]>,
    WatchDeploys: ((call) => watch(call)) satisfies grpc.handleServerStreamingCall<WireWatchDeploysRequest, WireChangeEvent>,
  };

  function fail(callback: (status: grpc.StatusObject) => void, err: unknown, method: string): void {
    const status = toGrpcStatus(err);
    if (status.code === grpc.status.INTERNAL) log.error({ err, method }, 'gRPC call failed');
    callback(status);
  }

  function message(event: SequencedChange): WireChangeEvent {
    return { epoch: feed.epoch, sequence: event.sequence, time_ms: event.timeMs, ...changeToWire(event.change) };
  }

  function watch(call: grpc.ServerWritableStream<WireWatchDeploysRequest, WireChangeEvent>): void {
    const { epoch, from_sequence: from } = call.request;
    const fresh = epoch === '' && from === 0;
    // Subscribe before reading the ring and hold live events until the replay is written, so an
    // event is neither lost nor sent twice (the replay is synchronous today; this keeps it correct
    // if it ever awaits). `send` also skips any sequence already sent.
    const pending: SequencedChange[] = [];
    let replaying = true;
    let lastSent = 0;
    const send = (event: SequencedChange) => {
      if (event.sequence <= lastSent) return;
      lastSent = event.sequence;
      if (call.writableLength > options.maxStreamBacklog) {
        log.warn({ peer: call.getPeer(), backlog: call.writableLength }, 'WatchDeploys client is not reading; ending its stream (it will reconnect and catch up)');
        stop();
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${options.maxStreamBacklog} events queued for this stream; reconnect and resume from the last sequence you saw`, metadata: new grpc.Metadata() });
        return;
      }
      call.write(message(event));
    };
    const unsubscribeStream = feed.subscribe((event) => {
      if (replaying) pending.push(event);
      else send(event);
    });
    const stop = () => {
      unsubscribeStream();
      streams.delete(call);
    };
    streams.add(call);
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);

    const missed = fresh ? [] : feed.since(epoch, from);
    const head = { epoch: feed.epoch, sequence: feed.lastSequence, time_ms: Date.now() };
    if (missed === null) {
      const reason = epoch !== feed.epoch
        ? `the control plane restarted (epoch ${epoch === '' ? '(none)' : epoch} is not ${feed.epoch}): events may have been missed`
        : `sequence ${from} is no longer in the last ${options.ringSize} events (or was never reached)`;
      call.write({ ...head, reset: { reason } } satisfies WireChangeEvent);
      lastSent = head.sequence;
    } else {
      call.write({ ...head, hello: { resumed: !fresh } } satisfies WireChangeEvent);
      lastSent = fresh ? head.sequence : from;
      for (const event of missed) send(event);
    }
    replaying = false;
    for (const event of pending) send(event);
    pending.length = 0;
  }

  const server = new grpc.Server({
    interceptors: options.onCall === undefined ? [authInterceptor(options.token)] : [callInterceptor(new Set(Object.keys(handlers)), options.onCall), authInterceptor(options.token)],
    'grpc.max_receive_message_length': options.maxReceiveBytes,
    'grpc.max_send_message_length': options.maxReceiveBytes,
    // Ping idle runtimes so a vanished one's stream is freed; runtimes ping every 10 s themselves.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(controlPlaneService(), handlers);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
  } catch (err) {
    unsubscribe();
    server.forceShutdown();
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    port,
    feed,
    streams: () => streams.size,
    close: () => {
      closing ??= (async () => {
        unsubscribe();
        for (const call of [...streams]) call.end();
        streams.clear();
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => { server.forceShutdown(); resolve(); }, 5_000);
          force.unref();
          server.tryShutdown(() => { clearTimeout(force); resolve(); });
        });
      })();
      return closing;
    },
  };
}
