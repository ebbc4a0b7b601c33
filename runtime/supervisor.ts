/**
 * The supervisor: forks the isolate-host worker processes, routes each invocation to one of them,
 * and survives their deaths. Isolates never live in this process (DESIGN.md, Processes).
 *
 * Shape (a) of DESIGN.md: this process (the gateway) forwards invocations over IPC. Routing is
 * rendezvous hashing on the version key, so a version's isolate stays warm in one worker; when
 * that worker already has `spilloverInFlight` invocations running, the second-ranked worker takes
 * the call (a hot function warms a second isolate instead of queueing).
 *
 * Shape (b) (the `http` option): the workers serve `/fn` themselves on connections this process
 * hands them (`runtime/worker/http-gateway.ts`); this process serves their control-plane reads,
 * builtins, logs and invocations of versions they do not own, and supervises them the same way.
 *
 * A worker that exits fails only its in-flight invocations (E_WORKER_CRASHED, 503; in shape (b)
 * the connections it was serving close with it) and is restarted (with backoff when it keeps dying). A version that was in flight during
 * `quarantineAfterCrashes` crashes within `quarantineWindowMs` is quarantined (E_QUARANTINED).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { LogLine } from '../control-plane/core/types.ts';
import type { TracingConfig } from './tracing.ts';
import { runtimeError } from './errors.ts';
import type { FunctionRequest, InvocationMeta, InvocationResult, UserMetricSample } from './sandbox/interface.ts';
import { rendezvousScore as score } from './worker/routing.ts';
import type { ConnectionMessage, ControlPlaneRead, ForwardedCall, FromWorker, HttpSample, NodeMetricsSample, PoolSample, ResultTimings, TargetSpec, ToWorker } from './worker/protocol.ts';

/**
 * Shape (b): workers serve HTTP themselves. This process accepts every connection on the public
 * address and hands its socket to a worker (round robin over the live ones); each worker forwards
 * what is not `/fn` to `upstreamSocket`, and reaches this process over IPC for the rest.
 */
export interface SupervisorHttpOptions {
  host: string;
  /** 0 picks a free port (see `listen()`). */
  port: number;
  /** This process's private HTTP server (a Unix socket path) for `/api`, `/admin`, `/metrics`, `/readyz`. */
  upstreamSocket: string;
  tracing: TracingConfig;
  /** Control-plane reads of the workers' caches (`op` is a `RuntimeControlPlane` method or `appExists`). */
  read: (op: ControlPlaneRead, args: string[]) => Promise<unknown>;
  onLogs: (lines: LogLine[]) => void;
  onUserMetrics: (app: string, samples: UserMetricSample[]) => void;
  /** Per-function figures a worker counted since its last heartbeat (admin UI). */
  onStats: (stats: HttpSample['stats']) => void;
  /** Run an invocation a worker sends to the version's owner: register it for builtins, then `invoke`. */
  runForwarded: (target: TargetSpec, request: FunctionRequest, meta: InvocationMeta, invocation: ForwardedCall['invocation']) => Promise<SupervisedResult>;
  /** Invocations of worker `index` that made forwarded builtin calls ended (`requestIds`), or all of them (`null`: the worker exited). */
  onEnded: (index: number, requestIds: string[] | null) => void;
}

/** Supervisor options; defaulted by the constructor. */
export interface SupervisorOptions {
  /** Worker processes. @default os.availableParallelism() */
  workers: number;
  /** Extra environment for workers (e.g. REDIS_URL, FAAS_POOL_*). */
  env: Record<string, string | undefined>;
  /** Code of a version (the control plane), null when it does not exist. */
  getCode: (app: string, fn: string, versionId: string) => Promise<string | null>;
  /**
   * Builtins served by this (gateway) process: the embedded Redis store, sql, auth, fetch, rpc,
   * config. `call` names the invocation (app, function, version, request id, deadline) as the
   * worker's sandbox saw it. Rejects with a coded error.
   */
  builtin: (call: ForwardedCall, builtin: string, op: string, args: unknown[], worker: number) => Promise<unknown>;
  /** Crashes (with the version in flight) that quarantine a version. @default 3 */
  quarantineAfterCrashes: number;
  /** Window for counting those crashes, in ms. @default 600_000 */
  quarantineWindowMs: number;
  /** Grace beyond a version's limits before a silent worker is killed, in ms. @default 2_000 */
  graceMs: number;
  /** Time a worker may hold a call before its wall clock starts (pool queue, code fetch, cold start), in ms. Match FAAS_POOL_QUEUE_TIMEOUT_MS. @default 5_000 */
  queueAllowanceMs: number;
  /** Receives each worker's pool state (every 250 ms) and `null` when a worker dies (metrics). */
  onPoolSample?: (worker: number, sample: PoolSample | null) => void;
  /** A worker's Node.js metrics (about every 2 s); null when it exited. */
  onNodeMetrics?: (worker: number, sample: NodeMetricsSample | null) => void;
  /** In-flight count at which a call spills to the second-ranked worker (above the pool's per-isolate concurrency, so a burst on one version is not split). @default 128 */
  spilloverInFlight: number;
  /** Shape (b) (workers serve HTTP); absent → shape (a): this process's gateway calls `invoke`. */
  http?: SupervisorHttpOptions;
}

/** An invocation result plus where and how it ran. */
export type SupervisedResult = InvocationResult & ResultTimings & { workerPid: number };

interface Pending {
  target: TargetSpec;
  deadline: number;
  resolve: (r: SupervisedResult) => void;
}

interface WorkerSlot {
  index: number;
  child: ChildProcess | null;
  pid: number;
  ready: boolean;
  inFlight: Map<number, Pending>;
  restarts: number;
  crashTimes: number[];
  /** Set while the supervisor kills a hung worker. */
  killing: boolean;
  /** Date.now() of the last heartbeat; a worker whose event loop is blocked stops getting new calls. */
  lastBeat: number;
  /** Messages queued for the next flush (see `post`). */
  outbox: ToWorker[];
  /** Shape (b): the last heartbeat's HTTP part, and versions announced as running (key → epoch ms). */
  http: HttpSample | null;
  recent: Map<string, number>;
}

/** Versions announced as running this long before a worker died share the blame for it (4 heartbeats). */
const RECENT_MS = 1_000;

const WORKER_ENTRY = new URL('./worker/worker-main.ts', import.meta.url);
/** Workers send a heartbeat every 250 ms; one silent for this long gets no new invocations. */
const HEARTBEAT_STALE_MS = 1_000;

/**
 * The `reply` for a request a worker made that failed: a coded error keeps its code and message;
 * anything else (a platform fault, whose message may hold internals) becomes `fallbackCode` with
 * `fallbackMessage`.
 */
function failedReply(reqId: number, err: unknown, fallbackCode: string, fallbackMessage: string): Extract<ToWorker, { type: 'reply'; ok: false }> {
  const e = err as { code?: unknown; message?: unknown } | null;
  const coded = typeof e?.code === 'string';
  return { type: 'reply', reqId, ok: false, error: { code: coded ? String(e?.code) : fallbackCode, message: coded ? String(e?.message) : fallbackMessage } };
}

export class WorkerSupervisor {
  private readonly options: Readonly<SupervisorOptions>;
  private readonly slots: WorkerSlot[] = [];
  private readonly crashesByVersion = new Map<string, Array<{ at: number; weight: number }>>();
  /** Quarantined version key → epoch ms when the quarantine ends. */
  private readonly quarantined = new Map<string, number>();
  private readonly readyWaiters: Array<() => void> = [];
  /** `${workerIndex}:${versionKey}` for versions that completed an invocation on that worker. */
  private readonly warm = new Set<string>();
  /** `${workerIndex}:${versionKey}` whose code was sent with an invocation (see `invoke`). */
  private readonly codeSent = new Set<string>();
  /** Code fetches in flight for `${workerIndex}:${versionKey}`. */
  private readonly codeFetches = new Map<string, Promise<string | null>>();
  private readonly sweeper: NodeJS.Timeout;
  private nextId = 0;
  private closing = false;
  private server: Server | null = null;
  private nextConnection = 0;
  private nextScrape = 0;
  private readonly scrapes = new Map<number, (metrics: NodeMetricsSample) => void>();
  /** Quarantined keys last sent to the workers (shape (b)). */
  private quarantineSent = '';

  /** @throws TypeError when `workers` is not a positive integer. */
  constructor(options: Pick<SupervisorOptions, 'getCode' | 'builtin'> & Partial<SupervisorOptions>) {
    this.options = Object.freeze({
      workers: options.workers ?? 2,
      env: options.env ?? {},
      getCode: options.getCode,
      builtin: options.builtin,
      quarantineAfterCrashes: options.quarantineAfterCrashes ?? 3,
      quarantineWindowMs: options.quarantineWindowMs ?? 600_000,
      graceMs: options.graceMs ?? 2_000,
      queueAllowanceMs: options.queueAllowanceMs ?? 5_000,
      spilloverInFlight: options.spilloverInFlight ?? 128,
      onPoolSample: options.onPoolSample,
      onNodeMetrics: options.onNodeMetrics,
      http: options.http,
    });
    if (!Number.isInteger(this.options.workers) || this.options.workers < 1) {
      throw new TypeError(`workers must be a positive integer, got ${this.options.workers}`);
    }
    this.sweeper = setInterval(() => this.sweepDeadlines(), 250);
    this.sweeper.unref();
  }

  /** Fork every worker and wait until each reports ready. @throws Error when a worker fails to start within 15 s. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.workers; i++) {
      this.slots.push({ index: i, child: null, pid: 0, ready: false, inFlight: new Map(), restarts: 0, crashTimes: [], killing: false, lastBeat: 0, outbox: [], http: null, recent: new Map() });
    }
    await Promise.all(this.slots.map((slot) => this.spawn(slot)));
  }

  /**
   * Shape (b): accept connections on the public address and hand them to the workers (call after
   * `start()`, once the private upstream server listens). @throws Error when the address cannot be bound.
   */
  async listen(): Promise<AddressInfo> {
    const http = this.options.http;
    if (http === undefined) throw new Error('listen() is for workers serving HTTP (the http option)');
    const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => this.handOver(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: http.host, port: http.port }, () => { server.off('error', reject); resolve(); });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  /**
   * Shape (b): the invocation series of every live worker for one scrape (prom-client JSON); a
   * worker that does not answer within `timeoutMs` is left out of this scrape.
   */
  async scrape(timeoutMs = 1_000): Promise<NodeMetricsSample[]> {
    if (this.options.http === undefined) return [];
    const asked = this.slots.filter((s) => s.ready && s.child !== null).map((slot) => new Promise<NodeMetricsSample | null>((resolve) => {
      const reqId = ++this.nextScrape;
      const timer = setTimeout(() => { this.scrapes.delete(reqId); resolve(null); }, timeoutMs);
      this.scrapes.set(reqId, (metrics) => { clearTimeout(timer); resolve(metrics); });
      this.post(slot, { type: 'scrape', reqId });
    }));
    return (await Promise.all(asked)).filter((m): m is NodeMetricsSample => m !== null);
  }

  /** Shape (b): tell every worker (their caches drop stale entries); a no-op in shape (a). */
  broadcast(msg: Extract<ToWorker, { type: 'change' }>): void {
    if (this.options.http === undefined) return;
    for (const slot of this.slots) if (slot.ready) this.post(slot, msg);
  }

  /** Hand a new connection to a live worker, round robin; none live → 503 and close. */
  private handOver(socket: Socket): void {
    const now = Date.now();
    const live = this.slots.filter((s) => s.ready && s.child !== null && now - s.lastBeat <= HEARTBEAT_STALE_MS);
    const candidates = live.length > 0 ? live : this.slots.filter((s) => s.ready && s.child !== null);
    const slot = candidates[this.nextConnection++ % Math.max(1, candidates.length)];
    if (slot === undefined || slot.child === null) {
      const body = JSON.stringify(runtimeError('E_OVERLOADED', 'no worker process is available (they are restarting); retry with backoff').toJSON());
      socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    const message: ConnectionMessage = { type: 'connection' };
    slot.child.send(message, socket, (err) => {
      if (err) socket.destroy();
    });
  }

  private broadcastReady(): void {
    if (this.options.http === undefined) return;
    const ready = this.slots.filter((s) => s.ready).map((s) => s.index);
    for (const slot of this.slots) if (slot.ready) this.post(slot, { type: 'workers', ready });
    this.quarantineSent = '';
    this.sendQuarantined();
  }

  /** Shape (b): send the quarantined keys to every worker when they changed. */
  private sendQuarantined(): void {
    if (this.options.http === undefined) return;
    const keys = this.quarantinedVersions();
    const text = keys.join('\n');
    if (text === this.quarantineSent) return;
    this.quarantineSent = text;
    for (const slot of this.slots) if (slot.ready) this.post(slot, { type: 'quarantined', keys });
  }

  /**
   * Run one invocation in a worker. Never rejects: failures (including a crashed worker, a
   * quarantined version, no live worker) come back as results with a catalog error.
   */
  async invoke(target: TargetSpec, request: FunctionRequest, meta: InvocationMeta): Promise<SupervisedResult> {
    if (this.isQuarantined(target.key)) {
      return this.failure(runtimeError('E_QUARANTINED', `version ${target.versionId} of ${target.app}/${target.function} crashed worker processes ${this.options.quarantineAfterCrashes} times and is quarantined; deploy a fixed version`));
    }
    let slot = this.route(target.key);
    if (slot === null) {
      await this.waitForReady(5_000);
      slot = this.route(target.key);
      if (slot === null) return this.failure(runtimeError('E_OVERLOADED', 'no worker process is available (they are restarting); retry with backoff'));
    }
    // The first invocation of a version on a worker carries its code, so the worker need not ask
    // for it (one IPC round trip less on a cold start). Later ones, or a failed fetch, do not.
    // Invocations arriving while that fetch runs wait for it, so they reach the worker after the
    // one carrying the code (continuations of one promise run in the order they were attached).
    let code: string | undefined;
    const sentKey = `${slot.index}:${target.key}`;
    const fetching = this.codeFetches.get(sentKey);
    if (fetching !== undefined || (!this.warm.has(sentKey) && !this.codeSent.has(sentKey))) {
      if (fetching !== undefined) {
        await fetching;
      } else {
        if (this.codeSent.size >= 100_000) this.codeSent.clear();
        this.codeSent.add(sentKey);
        const fetch = this.options.getCode(target.app, target.function, target.versionId).catch(() => null);
        this.codeFetches.set(sentKey, fetch);
        code = (await fetch) ?? undefined;
        this.codeFetches.delete(sentKey);
        if (code === undefined) this.codeSent.delete(sentKey);
      }
      // The worker may have exited meanwhile: route again (the code is valid for any worker).
      if (!slot.ready) {
        slot = this.route(target.key);
        if (slot === null) return this.failure(runtimeError('E_OVERLOADED', 'no worker process is available (they are restarting); retry with backoff'));
      }
    }
    const id = ++this.nextId;
    const chosen = slot;
    return new Promise<SupervisedResult>((resolve) => {
      // The worker may queue the call (pool) and cold-start the version before the wall clock starts.
      const deadline = Date.now() + target.limits.wallTimeMs + this.options.queueAllowanceMs + this.options.graceMs;
      chosen.inFlight.set(id, { target, deadline, resolve });
      this.post(chosen, code === undefined ? { type: 'invoke', id, target, request, meta } : { type: 'invoke', id, target, request, meta, code });
    });
  }

  /** Quarantined version keys (`app/function@version`). */
  quarantinedVersions(): string[] {
    return [...this.quarantined.keys()].filter((key) => this.isQuarantined(key));
  }

  /** Worker pids, restarts and in-flight counts (for /readyz and tests). */
  workers(): Array<{ index: number; pid: number; ready: boolean; inFlight: number; restarts: number }> {
    return this.slots.map((s) => ({ index: s.index, pid: s.pid, ready: s.ready, inFlight: s.inFlight.size, restarts: s.restarts }));
  }

  /** Stop all workers (they drain for up to 2 s); in-flight invocations still resolve. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.sweeper);
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(this.slots.map((slot) => new Promise<void>((resolve) => {
      const child = slot.child;
      if (child === null || child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 4_000);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      this.post(slot, { type: 'shutdown' });
    })));
  }

  // --- internals -----------------------------------------------------------------------------

  private route(key: string): WorkerSlot | null {
    let first: WorkerSlot | null = null;
    let second: WorkerSlot | null = null;
    let s1 = -1;
    let s2 = -1;
    const now = Date.now();
    let fallback: WorkerSlot | null = null;
    for (const slot of this.slots) {
      if (!slot.ready) continue;
      if (now - slot.lastBeat > HEARTBEAT_STALE_MS) { fallback ??= slot; continue; }
      const s = score(key, slot.index);
      if (s > s1) { second = first; s2 = s1; first = slot; s1 = s; }
      else if (s > s2) { second = slot; s2 = s; }
    }
    // Spill only once the version is warm on its first worker, so a burst on a cold version
    // waits for one cold start instead of paying one per worker.
    if (first !== null && second !== null && first.inFlight.size >= this.options.spilloverInFlight
      && second.inFlight.size < first.inFlight.size && this.warm.has(`${first.index}:${key}`)) {
      return second;
    }
    return first ?? fallback;
  }

  private spawn(slot: WorkerSlot): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const child = fork(WORKER_ENTRY, [], {
        execArgv: ['--no-node-snapshot'],
        env: {
          ...process.env,
          ...this.options.env,
          ...(this.options.http === undefined ? {} : {
            FAAS_WORKER_HTTP: this.options.http.upstreamSocket,
            FAAS_WORKER_INDEX: String(slot.index),
            FAAS_WORKER_TRACING: JSON.stringify(this.options.http.tracing),
          }),
        },
        serialization: 'json',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      slot.child = child;
      slot.pid = child.pid ?? 0;
      const startTimer = setTimeout(() => reject(new Error(`worker ${slot.index} did not start within 15 s`)), 15_000);
      const onMessage = (msg: FromWorker) => {
        if (msg.type === 'heartbeat') {
          slot.lastBeat = Date.now();
          this.options.onPoolSample?.(slot.index, msg.pool);
          return;
        }
        if (msg.type === 'node-metrics') {
          this.options.onNodeMetrics?.(slot.index, msg.metrics);
          return;
        }
        if (msg.type === 'http-heartbeat') {
          slot.http = msg.http;
          if (msg.http.stats.length > 0) this.options.http?.onStats(msg.http.stats);
          return;
        }
        if (msg.type === 'running') {
          slot.recent.set(msg.key, Date.now());
          return;
        }
        if (msg.type === 'ready') {
          clearTimeout(startTimer);
          slot.ready = true;
          slot.lastBeat = Date.now();
          for (const wake of this.readyWaiters.splice(0)) wake();
          this.broadcastReady();
          resolve();
          return;
        }
        this.onMessage(slot, msg);
      };
      // Workers send arrays: everything one event-loop turn produced, as one IPC write.
      child.on('message', (msg: FromWorker | FromWorker[]) => {
        if (Array.isArray(msg)) for (const m of msg) onMessage(m);
        else onMessage(msg);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(startTimer);
        this.onExit(slot, child, code, signal);
      });
      child.on('error', (err) => process.stderr.write(`worker ${slot.index}: ${err.message}\n`));
    });
  }

  private onMessage(slot: WorkerSlot, msg: FromWorker): void {
    switch (msg.type) {
      case 'result': {
        const pending = slot.inFlight.get(msg.id);
        if (pending === undefined) return; // already failed by the deadline sweeper
        slot.inFlight.delete(msg.id);
        if (msg.timings.coldStart) {
          if (this.warm.size >= 100_000) this.warm.clear();
          this.warm.add(`${slot.index}:${pending.target.key}`);
        }
        pending.resolve({ ...msg.result, ...msg.timings, workerPid: slot.pid });
        return;
      }
      case 'get-code':
        this.options.getCode(msg.app, msg.function, msg.versionId).then(
          (code) => this.post(slot, { type: 'code', reqId: msg.reqId, code }),
          () => this.post(slot, { type: 'code', reqId: msg.reqId, code: null }),
        );
        return;
      case 'builtin':
        this.options.builtin(msg.call, msg.builtin, msg.op, msg.args, slot.index).then(
          (value) => this.post(slot, { type: 'reply', reqId: msg.reqId, ok: true, value }),
          (err: unknown) => this.post(slot, failedReply(msg.reqId, err, 'E_INTERNAL', 'builtin failed because of a platform fault')),
        );
        return;
      case 'cp': {
        const http = this.options.http;
        if (http === undefined) return;
        http.read(msg.op, msg.args).then(
          (value) => this.post(slot, { type: 'reply', reqId: msg.reqId, ok: true, value: value ?? null }),
          (err: unknown) => this.post(slot, failedReply(msg.reqId, err, 'E_CONTROL_PLANE_UNAVAILABLE', 'the control plane failed')),
        );
        return;
      }
      case 'forward-invoke': {
        const http = this.options.http;
        if (http === undefined) return;
        http.runForwarded(msg.target, msg.request, msg.meta, msg.invocation).then(
          (value) => this.post(slot, { type: 'reply', reqId: msg.reqId, ok: true, value }),
          () => this.post(slot, { type: 'reply', reqId: msg.reqId, ok: true, value: this.failure(runtimeError('E_INTERNAL', 'the invocation could not be handed to its worker')) }),
        );
        return;
      }
      case 'logs':
        this.options.http?.onLogs(msg.lines);
        return;
      case 'user-metrics':
        this.options.http?.onUserMetrics(msg.app, msg.samples);
        return;
      case 'ended':
        this.options.http?.onEnded(slot.index, msg.requestIds);
        return;
      case 'scraped': {
        const done = this.scrapes.get(msg.reqId);
        this.scrapes.delete(msg.reqId);
        done?.(msg.metrics);
        return;
      }
      default:
        return;
    }
  }

  private onExit(slot: WorkerSlot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.ready = false;
    slot.child = null;
    slot.outbox.length = 0;
    this.options.onPoolSample?.(slot.index, null);
    this.options.onNodeMetrics?.(slot.index, null);
    for (const k of this.warm) if (k.startsWith(`${slot.index}:`)) this.warm.delete(k);
    for (const k of this.codeSent) if (k.startsWith(`${slot.index}:`)) this.codeSent.delete(k);
    const how = signal !== null ? `signal ${signal}` : `exit code ${code}`;
    const failed = [...slot.inFlight.values()];
    slot.inFlight.clear();
    const now = Date.now();
    // Shape (b): what the worker ran itself — in flight at its last heartbeat, or announced since.
    const ranHere = [...(slot.http?.inFlight ?? [])];
    for (const [key, at] of slot.recent) if (now - at <= RECENT_MS) ranHere.push(key);
    slot.http = null;
    slot.recent.clear();
    if (this.options.http !== undefined) this.options.http.onEnded(slot.index, null);
    this.blame([...failed.map((p) => p.target.key), ...ranHere], now);
    this.broadcastReady();
    for (const p of failed) {
      const error = now > p.deadline
        ? runtimeError('E_TIMEOUT', `the invocation did not finish within its wall-clock limit of ${p.target.limits.wallTimeMs} ms and its worker stopped responding; the worker was restarted`)
        : runtimeError('E_WORKER_CRASHED', `the worker process running this invocation died (${how}); only its in-flight invocations failed — the worker is being restarted`);
      p.resolve(this.failure(error, slot.pid));
    }
    slot.killing = false;
    if (this.closing) return;
    process.stderr.write(`worker ${slot.index} (pid ${slot.pid}) died (${how}) with ${failed.length} invocation(s) in flight; restarting\n`);
    slot.crashTimes = slot.crashTimes.filter((t) => now - t < 10_000);
    slot.crashTimes.push(now);
    slot.restarts++;
    const delay = slot.crashTimes.length <= 3 ? 0 : Math.min(5_000, 100 * 2 ** (slot.crashTimes.length - 3));
    setTimeout(() => {
      if (!this.closing) this.spawn(slot).catch((err: Error) => process.stderr.write(`worker ${slot.index} restart failed: ${err.message}\n`));
    }, delay).unref();
  }

  /**
   * Count a crash against the versions that were in flight: each of n distinct versions gets 1/n,
   * so a version alone in flight when workers die reaches the threshold fastest, and a busy
   * neighbour of a crasher needs many more crashes. Blame older than the window is forgotten, and
   * so is a quarantine after one window (a wrongly accused version recovers by itself).
   */
  private blame(keys: string[], now: number): void {
    const distinct = [...new Set(keys)];
    for (const key of distinct) {
      const marks = (this.crashesByVersion.get(key) ?? []).filter((m) => now - m.at < this.options.quarantineWindowMs);
      marks.push({ at: now, weight: 1 / distinct.length });
      this.crashesByVersion.set(key, marks);
      const score = marks.reduce((sum, m) => sum + m.weight, 0);
      if (score >= this.options.quarantineAfterCrashes - 1e-9) this.quarantined.set(key, now + this.options.quarantineWindowMs);
    }
    this.sendQuarantined();
    if (this.crashesByVersion.size > 10_000) {
      for (const [key, marks] of this.crashesByVersion) if (marks.every((m) => now - m.at >= this.options.quarantineWindowMs)) this.crashesByVersion.delete(key);
    }
  }

  /** True while `key` is quarantined; an expired quarantine is dropped. */
  private isQuarantined(key: string): boolean {
    const until = this.quarantined.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    this.quarantined.delete(key);
    this.crashesByVersion.delete(key);
    return false;
  }

  /**
   * A worker that lets an invocation run past its wall limit plus grace is hung (its own watchdog
   * could not run: e.g. V8 stuck in a last-resort GC on the worker's main thread). Kill it; the
   * exit handler fails what it had in flight and counts the crash against those versions.
   */
  private sweepDeadlines(): void {
    const now = Date.now();
    this.sendQuarantined(); // drops expired quarantines from the workers' copies
    for (const slot of this.slots) for (const [key, at] of slot.recent) if (now - at > RECENT_MS) slot.recent.delete(key);
    for (const slot of this.slots) {
      if (slot.child === null || slot.killing) continue;
      // A synchronous stretch may block the worker's thread (and its heartbeat) for up to the CPU
      // limit of what it runs; silent for longer than that plus grace, it is stuck.
      let maxCpuMs = 0;
      let overdue: Pending | null = null;
      for (const p of slot.inFlight.values()) {
        maxCpuMs = Math.max(maxCpuMs, p.target.limits.cpuTimeMs);
        if (now > p.deadline) overdue ??= p;
      }
      const silentMs = now - slot.lastBeat;
      const busy = slot.inFlight.size > 0 || (slot.http !== null && slot.http.inFlight.length > 0);
      if (slot.http !== null) maxCpuMs = Math.max(maxCpuMs, slot.http.maxCpuMs);
      const stuck = busy && silentMs > maxCpuMs + this.options.graceMs;
      if (overdue === null && !stuck) continue;
      slot.killing = true;
      slot.ready = false;
      process.stderr.write(`worker ${slot.index} (pid ${slot.pid}) is hung (${stuck ? `no heartbeat for ${silentMs} ms` : `past the deadline of ${overdue?.target.key}`}); killing it\n`);
      slot.child.kill('SIGKILL');
    }
  }

  /**
   * Queue a message for a worker; everything queued in one event-loop turn leaves as one IPC
   * write (one JSON.stringify and one syscall instead of one per invocation — the per-message
   * write was the gateway's largest cost in profiles).
   */
  private post(slot: WorkerSlot, msg: ToWorker): void {
    slot.outbox.push(msg);
    if (slot.outbox.length === 1) setImmediate(() => this.flush(slot));
  }

  private flush(slot: WorkerSlot): void {
    const batch = slot.outbox.splice(0);
    if (batch.length === 0 || slot.child === null) return;
    try {
      slot.child.send(batch);
    } catch {
      // One message could not be serialised or the channel closed: send one by one, so only the
      // message that cannot be sent fails (an invocation answers E_INTERNAL; the worker lives on).
      for (const msg of batch) {
        try {
          slot.child?.send([msg]);
        } catch (err) {
          if (msg.type !== 'invoke') continue;
          const pending = slot.inFlight.get(msg.id);
          slot.inFlight.delete(msg.id);
          pending?.resolve(this.failure(runtimeError('E_INTERNAL', `the invocation could not be handed to a worker: ${(err as Error).message}`)));
        }
      }
    }
  }

  private waitForReady(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.readyWaiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  private failure(error: ReturnType<typeof runtimeError>, workerPid = 0): SupervisedResult {
    return { ok: false, status: error.status, error: error.toJSON().error, cpuTimeMs: 0, logs: [], builtins: [], metrics: [], coldStart: false, coldStartMs: 0, queueMs: 0, acquiredFrom: 0, workerPid };
  }
}
