/**
 * The isolated-vm implementation of `Sandbox`: one V8 isolate + one context per function version.
 * The version-independent half of a cold start (isolate, hardened context, `faas` module) is
 * `prepared-isolate.ts`, done on the spot or ahead of need as the pool's spare; `start()` below is
 * the version's half.
 *
 * Limits (isolated-vm README, "Isolate" and "timeout"): `memoryLimit` is a guideline (a hostile
 * script may use 2–3× before V8 stops it), and `timeout` only covers the synchronous part of a call
 * (code resumed by an async host call's promise runs outside it). So user code never runs outside
 * a synchronous entry: the isolate has no async host call at all. A builtin call leaves in the
 * entry's outbox (taken right after the entry returns), the host serves it, and its reply enters in
 * a later entry (`flush`), which settles the call's promise; the code after the `await` runs as that
 * entry's microtasks, inside its `timeout`. An entry of one invocation is cut exactly where its
 * budget (CPU and wall) ends; a shared one at the full per-invocation budget, and an invocation
 * over its CPU limit after an entry is stopped, so CPU is enforced across awaits too. A watchdog disposes
 * the isolate when an invocation waiting on builtins passes `wallTimeMs`, or its CPU over all its
 * entries passes `cpuTimeMs`. A sandbox that hit any limit is poisoned and never reused.
 *
 * CPU is charged per invocation although invocations of one version interleave in one isolate: the
 * CPU of an entry is split evenly among the invocations it started or resumed (a log line charges
 * the CPU before it to the logging invocation), so one that waits on Redis is never charged for its
 * neighbours' work.
 */
import ivm from 'isolated-vm';
import { isPlatformError, runtimeError, type PlatformError } from '../errors.ts';
import type {
  BuiltinCallSample, BuiltinHost, CapturedLog, FunctionRequest, InvocationMeta, InvocationResult, Sandbox, SandboxProvider,
  SpareIsolate, VersionSpec,
} from './interface.ts';
import { decodeReply, REPLY_LIMITS } from './marshal.ts';
import { PreparedIsolate, prepareIsolate, prepareSpareIsolate } from './prepared-isolate.ts';

/** Options of the isolated-vm sandbox; see `sandboxOptions()` for defaults. */
export interface SandboxOptions {
  /** `ctx.log` lines kept per invocation. @default 100 */
  maxLogLines: number;
  /** Characters kept per log line. @default 4096 */
  maxLogLineChars: number;
  /** Called when isolated-vm reports that V8 lost control of an isolate; the process must end. */
  onCatastrophicError: (message: string) => void;
}

/** Validate and default sandbox options once (frozen). @throws TypeError on a non-positive limit. */
export function sandboxOptions(partial: Partial<SandboxOptions> = {}): Readonly<SandboxOptions> {
  const out: SandboxOptions = {
    maxLogLines: partial.maxLogLines ?? 100,
    maxLogLineChars: partial.maxLogLineChars ?? 4096,
    onCatastrophicError: partial.onCatastrophicError ?? ((message) => {
      process.stderr.write(`isolated-vm catastrophic error: ${message}\n`);
      process.abort();
    }),
  };
  for (const key of ['maxLogLines', 'maxLogLineChars'] as const) {
    if (!Number.isInteger(out[key]) || out[key] <= 0) throw new TypeError(`sandbox option ${key} must be a positive integer, got ${out[key]}`);
  }
  return Object.freeze(out);
}

interface Running {
  id: number;
  meta: InvocationMeta;
  /** The request as JSON, made when it was queued. */
  request: string;
  startMs: number;
  /** CPU time charged to this invocation so far, in ns (see `chargeBatch()`). */
  cpuNs: number;
  /** Builtin calls of this invocation being served now (an ended one drains until 0, see drainOrEnd). */
  waiting: number;
  builtins: BuiltinCallSample[];
  /** Builtin calls the host served for this invocation, and how many the isolate says it made. */
  callsSeen: number;
  callsMade: number;
  drainTimer?: NodeJS.Timeout;
  logs: CapturedLog[];
  killed: PlatformError | null;
  /** Created on the first builtin call only (an AbortController per invocation showed in profiles). */
  abort: AbortController | null;
  /** True once the invocation is over (answered and drained, or killed). */
  ended: boolean;
  /** Resolves the promise `invoke` returned; null once it has been settled. */
  settle: ((result: InvocationResult) => void) | null;
  /** The handler's reply, taken from the entry's outbox and held until the entry is accounted. */
  reply: unknown;
}

/**
 * The items of a bootstrap List (`{ n, 0: …, 1: … }`, see isolate-bootstrap.js), at most n of them;
 * anything else is an empty list.
 */
function listItems(list: unknown): unknown[] {
  if (list === null || typeof list !== 'object') return [];
  const { n } = list as { n?: unknown };
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return [];
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = (list as Record<number, unknown>)[i];
  return out;
}

/** A builtin call's reply on its way into the isolate (see `flush`). */
interface Resume {
  callId: number;
  replyJson: string;
  inv: Running;
}

/** Abort reason for builtin calls of an ended invocation (preallocated: a DOMException per call is costly). */
const INVOCATION_ENDED = Object.freeze(runtimeError('E_CTX_REVOKED', 'the invocation ended'));
/** Builtin call samples kept per invocation for metrics. */
const MAX_BUILTIN_SAMPLES = 256;
/** How long an ended invocation keeps serving builtin calls it made but the host has not seen yet, in ms. */
const DRAIN_MS = 1000;
/** Invocations started or resumed by one isolate entry at most (see `flush`). */
const MAX_BATCH = 64;
/**
 * A batch starts no handler once this many ms have passed since its first (the isolate's Date.now,
 * whole ms), and its timeout is the per-invocation one plus this plus 1: every handler that starts
 * keeps its whole budget.
 */
const BATCH_SLICE_MS = 2;
/** Mean synchronous CPU per invocation above which a version is dispatched one at a time, in ns. */
const BATCH_MAX_SYNC_NS = 1_000_000;
/** CPU of one shared entry above which each of its invocations is charged all of it, in ns. */
const BATCH_MAX_ENTRY_NS = 10_000_000;
/** Timeout of the re-entries after a failed entry (naming the culprit, taking the outbox), in ms. */
const REENTRY_TIMEOUT_MS = 5;

/**
 * Cold-start a sandbox: create the isolate, harden its context (`prepared-isolate.ts`), then compile
 * and evaluate the module and bind its default export. Top-level code runs under the version's
 * CPU/wall limits. With `spare` (from `prepareSpareIsolate` with the same `host` and `options`) the
 * first half is already done and only the version's part runs; the spare is consumed either way.
 *
 * @throws PlatformError E_FUNCTION_ERROR (module fails to compile or evaluate, or the default
 *   export is not a function), E_TIMEOUT (top-level code too slow), E_MEMORY (top-level code over
 *   the memory limit); TypeError when `spare` is not an available spare of this `host`/`options`
 *   with `memoryLimitMiB === spec.limits.memoryLimitMiB`. The isolate is disposed on every failure.
 */
export async function createIsolateSandbox(
  spec: VersionSpec, host: BuiltinHost, options: Readonly<SandboxOptions> = sandboxOptions(), spare?: SpareIsolate | null,
): Promise<Sandbox> {
  let prepared: PreparedIsolate;
  if (spare === undefined || spare === null) {
    prepared = await prepareIsolate(spec.limits.memoryLimitMiB, host, options);
  } else {
    const misfit = !(spare instanceof PreparedIsolate) ? 'it was not made by prepareSpareIsolate'
      : !spare.available ? 'it is not available (already used, or disposed)'
        : spare.host !== host || spare.options !== options ? 'it was prepared for another builtin host or other sandbox options'
          : spare.memoryLimitMiB !== spec.limits.memoryLimitMiB ? `its memory limit is ${spare.memoryLimitMiB} MiB and the version's is ${spec.limits.memoryLimitMiB} MiB`
            : null;
    if (misfit !== null) {
      // An unavailable spare may be another sandbox's isolate now: leave it alone.
      if (spare instanceof PreparedIsolate && spare.available) spare.dispose();
      throw new TypeError(`cannot cold-start ${spec.key} on this spare isolate: ${misfit}`);
    }
    prepared = spare as PreparedIsolate;
  }
  let sandbox: IsolateSandbox;
  try {
    sandbox = new IsolateSandbox(spec, prepared);
  } catch (err) {
    prepared.dispose();
    throw err;
  }
  try {
    await sandbox.start();
    return sandbox;
  } catch (err) {
    sandbox.dispose('cold start failed');
    throw err;
  }
}

/**
 * The isolated-vm sandboxes as a pool's `SandboxProvider`: `create` cold-starts (taking a spare when
 * the pool hands one), `prepareSpare` prepares one in the background.
 * @example new IsolatePool(isolateSandboxProvider(builtins, sandboxOptions()), poolOptions({ spareCount: 2 }))
 */
export function isolateSandboxProvider(host: BuiltinHost, options: Readonly<SandboxOptions> = sandboxOptions()): SandboxProvider {
  return {
    create: (spec, spare) => createIsolateSandbox(spec, host, options, spare),
    prepareSpare: (memoryLimitMiB, pace) => prepareSpareIsolate(memoryLimitMiB, host, options, pace),
  };
}

class IsolateSandbox implements Sandbox {
  readonly spec: VersionSpec;
  private readonly host: BuiltinHost;
  private readonly options: Readonly<SandboxOptions>;
  /** The isolate with its context and bootstrap, claimed by this sandbox alone. */
  private readonly prepared: PreparedIsolate;
  private readonly isolate: ivm.Isolate;
  private readonly filename: string;
  private readonly running = new Map<number, Running>();
  /** Ended invocations whose not-awaited builtin calls are still arriving (see drainOrEnd). */
  private readonly draining = new Map<number, Running>();
  /** CPU used by code of no running invocation (leftover promises), in ns, over the isolate's life. */
  private leftoverNs = 0;
  private readonly references: Array<{ release(): void }> = [];
  private dispatchRef: ivm.Reference | null = null;
  /** Invocations waiting for the next flush (one isolate entry for all of them). */
  private readonly queue: Running[] = [];
  /** Builtin replies waiting for the next flush (they enter before new invocations). */
  private readonly resumes: Resume[] = [];
  private flushScheduled = false;
  /** Isolate entries made (`flush` calls that entered). */
  private batchSeq = 0;
  /** Cleared after an unhandled rejection surfaced in a batch of several (see `batchFailed`). */
  private batching = true;
  /** One invocation per entry with both replies and new invocations waiting: whose turn is next. */
  private resumeTurn = false;
  /** Moving mean of the synchronous CPU per invocation, in ns (batching stops above BATCH_MAX_SYNC_NS). */
  private syncNsMean = 0;
  private seq = 0;
  private served = 0;
  /** `served` when the last heap sample started (see `heapUsedBytes`). */
  private heapSampledAt = -1;
  private disposed = false;
  private watchdog: NodeJS.Timeout | null = null;
  private lastActive = 0;
  /** isolate.cpuTime already charged by `charge()`. */
  private accountedCpu = 0n;
  private heapBytes = 0;

  /** @throws TypeError when `prepared` is not available (see PreparedIsolate.claim). */
  constructor(spec: VersionSpec, prepared: PreparedIsolate) {
    this.spec = spec;
    this.host = prepared.host;
    this.options = prepared.options;
    this.prepared = prepared;
    this.isolate = prepared.isolate;
    this.filename = `file:///functions/${spec.app}/${spec.function}/index.js`;
    prepared.claim({ log: this.onHostLog });
  }

  get inFlight(): number { return this.running.size; }
  get poisoned(): boolean { return this.disposed; }
  get invocations(): number { return this.served; }
  get entries(): number { return this.batchSeq; }

  /**
   * The version's half of a cold start (the isolate is already prepared, see createIsolateSandbox):
   * configure the bootstrap, compile, link and evaluate the module, bind its default export. Every
   * step uses isolated-vm's synchronous variant: the isolate is private to this call, so nothing
   * else can hold its lock, and each async step would cost a hop to isolated-vm's thread. Top-level
   * code is bounded by `timeout` like the synchronous part of an invocation.
   */
  async start(): Promise<void> {
    const { limits } = this.spec;
    const started = performance.now();
    const cpuStart = this.isolate.cpuTime;
    const { context, dispatchBatch, setHandler, configure, platformModule } = this.prepared.claimed;
    configure.applySync(undefined, [limits.maxResponseBytes, this.filename], { timeout: 1000 });
    this.dispatchRef = dispatchBatch;

    try {
      const userModule = this.isolate.compileModuleSync(this.spec.code, { filename: this.filename });
      this.references.push(userModule);
      userModule.instantiateSync(context, (specifier: string) => {
        if (specifier === 'faas') return platformModule;
        throw new Error(`cannot import '${specifier}': only the platform module 'faas' can be imported`);
      });
      const remainingWall = Math.max(1, Math.ceil(limits.wallTimeMs - (performance.now() - started)));
      userModule.evaluateSync({ timeout: Math.min(remainingWall, Math.max(limits.cpuTimeMs, 50)) });
      const cpuMs = Number(this.isolate.cpuTime - cpuStart) / 1e6;
      if (cpuMs > Math.max(limits.cpuTimeMs, 50) * 2) {
        throw runtimeError('E_TIMEOUT', `module top-level code used ${Math.round(cpuMs)} ms of CPU time at cold start; limit ${limits.cpuTimeMs} ms`);
      }
      const defaultExport = userModule.namespace.getSync('default', { reference: true }) as ivm.Reference;
      this.references.push(defaultExport);
      setHandler.applySync(undefined, [defaultExport.derefInto()], { timeout: 1000 });
      this.accountedCpu = this.readCpuTime(); // cold-start CPU is nobody's invocation
    } catch (err) {
      throw this.classifyColdStartError(err);
    }
  }

  /**
   * Queue the invocation; `flush` starts every invocation queued in this event-loop turn with one
   * isolate entry (one isolated-vm call and one timeout timer for all: per call, the timer thread's
   * wake-up cost more than the handler on a loaded core). Never rejects.
   */
  invoke(request: FunctionRequest, meta: InvocationMeta): Promise<InvocationResult> {
    const inv: Running = {
      id: ++this.seq,
      meta,
      request: JSON.stringify(request),
      startMs: performance.now(),
      cpuNs: 0,
      waiting: 0,
      builtins: [],
      callsSeen: 0,
      callsMade: 0,
      logs: [],
      killed: null,
      abort: null,
      ended: false,
      settle: null,
      reply: undefined,
    };
    if (this.poisoned || this.dispatchRef === null) {
      return Promise.resolve(this.failed(inv, runtimeError('E_INTERNAL', 'sandbox used after it was disposed')));
    }
    const answered = new Promise<InvocationResult>((resolve) => { inv.settle = resolve; });
    this.running.set(inv.id, inv);
    this.served++;
    this.armWatchdog();
    this.queue.push(inv);
    this.scheduleFlush();
    return answered;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /**
   * Enter the isolate once for what is waiting: builtin replies and queued invocations, MAX_BATCH
   * in all (at least half of it for new invocations while any wait, so a stream of replies cannot
   * starve them; one at a time, the two alternate), in one `applySync` of the bootstrap's
   * `dispatchBatch` (~5 µs per entry; a hop to isolated-vm's thread pool, which `apply` and async
   * host calls take, costs ~50 µs and runs the code outside `timeout`). Nothing else ever runs code
   * in the isolate, so its lock is always free here and this thread never waits for it.
   *
   * The timeout: an entry with one invocation gets exactly the budget it has left (CPU and wall);
   * a shared entry gets `min(cpuTimeMs, wallTimeMs)` + BATCH_SLICE_MS + 1 (the bootstrap starts no
   * handler after that slice), so every handler that starts keeps its whole budget whatever its
   * neighbours have left. A participant over its CPU limit after the entry is stopped; each
   * participant of a shared entry over BATCH_MAX_ENTRY_NS is charged all of it, so no invocation
   * can spread its CPU over its neighbours. A version whose CPU per invocation and entry averages over
   * BATCH_MAX_SYNC_NS gets one entry per invocation, so the even split of an entry's CPU stays fair.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    // A dispose fails and clears the queue; `invoke` queues nothing before `start` set dispatchRef.
    if (this.disposed || this.dispatchRef === null) return;
    const size = this.batching && this.syncNsMean <= BATCH_MAX_SYNC_NS ? MAX_BATCH : 1;
    let forNew = Math.min(this.queue.length, Math.ceil(size / 2));
    if (size === 1 && this.resumes.length > 0 && this.queue.length > 0) forNew = this.resumeTurn ? 0 : 1;
    this.resumeTurn = forNew === 0;
    const resumed = this.resumes.splice(0, size - forNew).filter((r) => !r.inv.ended && this.running.has(r.inv.id));
    const batch = this.queue.splice(0, size - resumed.length);
    if (this.queue.length > 0 || this.resumes.length > 0) this.scheduleFlush();
    if (batch.length === 0 && resumed.length === 0) return;
    this.batchSeq++;
    const { cpuTimeMs, wallTimeMs } = this.spec.limits;
    let timeout: number;
    let bound: 'cpu' | 'wall';
    if (batch.length + resumed.length > 1) {
      timeout = Math.min(cpuTimeMs, wallTimeMs) + BATCH_SLICE_MS + 1;
      bound = cpuTimeMs <= wallTimeMs ? 'cpu' : 'wall';
    } else {
      const inv = resumed[0]?.inv ?? batch[0] as Running;
      const cpuLeft = cpuTimeMs - inv.cpuNs / 1e6;
      const wallLeft = wallTimeMs - (resumed.length > 0 ? performance.now() - inv.startMs : 0);
      timeout = Math.max(1, Math.ceil(Math.min(cpuLeft, wallLeft)));
      bound = cpuLeft <= wallLeft ? 'cpu' : 'wall';
    }
    const args = [
      batch.map((inv) => inv.id), batch.map((inv) => inv.request), batch.map((inv) => JSON.stringify(inv.meta)), BATCH_SLICE_MS,
      resumed.map((r) => r.callId), resumed.map((r) => r.replyJson),
    ];
    let err: unknown = null;
    let culprit: number | null = null;
    try {
      this.dispatchRef.applySync(undefined, args, { arguments: { copy: true }, result: { copy: true }, timeout });
    } catch (e) {
      err = e;
      if (/timed out/i.test(e instanceof Error ? e.message : String(e))) {
        // Whose synchronous part was running (0: the settling of promises after the handlers
        // started). Entering again also settles what the termination interrupted (the answers
        // given before the runaway), and runs what is left of its code: hence a short timeout.
        try { culprit = Number(this.prepared.claimed.current.applySync(undefined, [], { timeout: REENTRY_TIMEOUT_MS })); } catch { culprit = null; }
      }
    }
    this.entryEnded(batch, resumed, err, culprit, bound);
  };

  /**
   * An entry returned (`err` null) or threw. Take its outbox, charge its CPU, serve the builtin
   * calls it made, queue again what it did not start, and settle the answers it produced; on a
   * failure fail what it started or resumed and has not answered. `bound`: the limit the entry's
   * timeout stood for.
   */
  private entryEnded(batch: Running[], resumed: Resume[], err: unknown, culprit: number | null, bound: 'cpu' | 'wall'): void {
    const outbox = this.takeOutbox(err !== null);
    const count = Math.max(0, Math.min(batch.length, outbox.started ?? batch.length));
    const ran = batch.slice(0, count);
    const participants = [...new Set([...resumed.map((r) => r.inv), ...ran])];
    // Who used how much of the entry is not visible: split evenly.
    const before = this.accountedCpu;
    this.chargeBatch(participants);
    const entryNs = Number(this.accountedCpu - before);
    // The first entry also compiles the bootstrap's dispatch path and the handler: not a sample.
    if (participants.length > 0 && !this.disposed && this.batchSeq > 1) {
      const perInvocation = entryNs / participants.length;
      this.syncNsMean = this.syncNsMean === 0 ? perInvocation : this.syncNsMean * 0.9 + perInvocation * 0.1;
    }
    if (participants.length > 1 && entryNs > BATCH_MAX_ENTRY_NS) {
      // Who used it is not visible: each participant is charged the whole entry, so none can
      // spread its CPU over its neighbours (a GC pause costs the others a little budget).
      for (const inv of participants) inv.cpuNs += entryNs - entryNs / participants.length;
    }
    const rest = batch.slice(count);
    if (rest.length > 0) {
      // Not started within the entry's slice: first in line for the next one.
      this.queue.unshift(...rest);
      this.scheduleFlush();
    }
    // Calls before answers: an invocation that answers in the entry that made a call it did not
    // await has that call counted as seen (see drainOrEnd).
    for (let i = 0; i + 4 < outbox.calls.length; i += 5) {
      const c = outbox.calls;
      this.serveCall(c[i], c[i + 1], c[i + 2], c[i + 3], c[i + 4]);
    }
    const answered: Running[] = [];
    for (let i = 0; i + 1 < outbox.answers.length; i += 2) {
      const inv = this.running.get(outbox.answers[i] as number);
      if (inv === undefined || inv.settle === null) continue;
      inv.reply = outbox.answers[i + 1];
      answered.push(inv);
    }
    // A shared entry's timeout does not see a budget spent over several entries: check it here.
    const over = err === null ? participants.find((inv) => inv.cpuNs / 1e6 > this.spec.limits.cpuTimeMs) : undefined;
    if (over !== undefined) over.killed = this.cpuError(over.cpuNs / 1e6);
    if (err !== null) this.batchFailed(participants, err, culprit, bound);
    for (const inv of answered) {
      if (inv.reply !== undefined) this.answer(inv, inv.reply);
    }
    // The others that answered keep their answers; what is still running fails with the isolate.
    if (over?.killed != null) this.kill(over, over.killed);
  }

  /**
   * The entry threw (the answers it produced are held in `reply`). A limit (timeout, memory) or a
   * disposed isolate: invocations whose handler had already settled keep their answer, the one
   * whose synchronous part was running (`culprit`, see flush) gets the error (or the only one in
   * the entry), the rest the bystander's, and the isolate is disposed. A rejection nobody handled
   * (isolated-vm throws it out of the call in which it surfaced, after the answers were given):
   * see below.
   */
  private batchFailed(ran: Running[], err: unknown, culprit: number | null, bound: 'cpu' | 'wall'): void {
    const message = err instanceof Error ? err.message : String(err);
    const offender = ran.find((inv) => inv.id === culprit) ?? (ran.length === 1 ? ran[0] : undefined);
    if (/memory limit|timed out|disposed/i.test(message)) {
      for (const inv of ran) if (inv !== offender && inv.reply !== undefined) this.answer(inv, inv.reply);
    }
    const error = this.classifyInvokeError(err, offender, bound);
    if (error.code === 'E_FUNCTION_ERROR') {
      // The isolate is fine, but which handler left the rejection is not visible: every invocation
      // the entry answered fails with it, and this isolate has one invocation per entry from now on.
      if (ran.length > 1) this.batching = false;
      const suffix = ran.length > 1 ? ` (in one of ${ran.length} invocations run together; this isolate now runs them one at a time)` : '';
      for (const inv of ran) {
        if (inv.reply === undefined) continue;
        inv.reply = undefined;
        this.finish(inv, this.failed(inv, runtimeError('E_FUNCTION_ERROR', `${error.message}${suffix}`.slice(0, 4096))));
      }
      return;
    }
    // Not disposed (cannot happen with isolated-vm's errors, but never leave a caller waiting).
    for (const inv of ran) this.finish(inv, this.failed(inv, inv.killed ?? error));
  }

  /**
   * What the last entry left in the bootstrap's outbox: builtin calls as [callId, invocationId,
   * builtin, op, argsJson, …], answers as [invocationId, replyJson, …] (shapes are checked where
   * they are used) and how many handlers it started (null when unknown). After a normal entry the
   * isolate's microtask queue is empty, so this runs only bootstrap code and needs no timeout;
   * after a failed one (`afterFailure`) what is left of the interrupted code may run: a short one.
   * An outbox that cannot be read disposes the sandbox (its invocations fail with E_INTERNAL
   * rather than wait for their wall limit).
   */
  private takeOutbox(afterFailure: boolean): { calls: unknown[]; answers: unknown[]; started: number | null } {
    const none = { calls: [], answers: [], started: null };
    if (this.disposed) return none;
    let out: unknown;
    try {
      out = this.prepared.claimed.takeOutbox.applySync(undefined, [], afterFailure ? { result: { copy: true }, timeout: REENTRY_TIMEOUT_MS } : { result: { copy: true } });
    } catch (err) {
      if (!afterFailure) this.dispose('unreadable outbox', runtimeError('E_INTERNAL', `the isolate's answers could not be read (${(err as Error)?.message ?? String(err)}); it was disposed`));
      return none;
    }
    if (!Array.isArray(out)) return none;
    return { calls: listItems(out[0]), answers: listItems(out[1]), started: typeof out[2] === 'number' ? out[2] : null };
  }

  private answer(inv: Running, replyJson: unknown): void {
    inv.reply = undefined;
    if (inv.killed !== null) {
      this.finish(inv, this.failed(inv, inv.killed));
      return;
    }
    let result: InvocationResult;
    try {
      result = this.decode(inv, replyJson);
    } catch (err) {
      result = this.failed(inv, isPlatformError(err) ? err : runtimeError('E_INTERNAL', 'the answer from the isolate could not be read'));
    }
    this.finish(inv, result);
  }

  /** Settle `inv` once and take it out of the running set (its leftover builtin calls may drain). */
  private finish(inv: Running, result: InvocationResult): void {
    const settle = inv.settle;
    if (settle === null) return;
    inv.settle = null;
    this.running.delete(inv.id);
    this.lastActive = performance.now();
    this.drainOrEnd(inv);
    settle(result);
  }

  /**
   * Builtin calls made during an invocation but not awaited may reach the host after its result:
   * keep serving them (up to the count the isolate reported) for DRAIN_MS, then revoke.
   */
  private drainOrEnd(inv: Running): void {
    if (inv.killed !== null || this.disposed || (inv.callsSeen >= inv.callsMade && inv.waiting === 0)) {
      this.end(inv);
      return;
    }
    this.draining.set(inv.id, inv);
    const timer = setTimeout(() => this.endDrain(inv), DRAIN_MS);
    timer.unref();
    inv.drainTimer = timer;
  }

  /** Mark an invocation over and abort what its builtin calls still wait for. */
  private end(inv: Running): void {
    inv.ended = true;
    inv.abort?.abort(INVOCATION_ENDED);
  }

  private endDrain(inv: Running): void {
    if (inv.drainTimer !== undefined) clearTimeout(inv.drainTimer);
    this.draining.delete(inv.id);
    this.end(inv);
  }

  /**
   * The heap in use, sampled with isolated-vm's synchronous call when invocations ran since the
   * last sample. Never the asynchronous one: it wakes the isolate on isolated-vm's thread pool,
   * where V8 runs pending platform tasks (a FinalizationRegistry callback would be function code
   * under no timeout), and code never runs in the isolate outside the host's entries, so the
   * synchronous call never waits for its lock.
   */
  heapUsedBytes(refresh = true): number {
    if (this.disposed) return 0;
    // No code ran since the last sample → nothing new to learn (the pool asks after every release,
    // and several releases of one entry see the same invocation count).
    if (refresh && this.served !== this.heapSampledAt) {
      this.heapSampledAt = this.served;
      try {
        const stats = this.isolate.getHeapStatisticsSync();
        this.heapBytes = stats.used_heap_size + stats.externally_allocated_size;
      } catch { /* disposed meanwhile */ }
    }
    return this.heapBytes;
  }

  dispose(reason = 'disposed', bystanders?: PlatformError): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const inv of [...this.running.values()]) {
      inv.killed ??= bystanders ?? runtimeError('E_INTERNAL', `the isolate was disposed during the invocation (${reason})`);
      this.end(inv);
      this.finish(inv, this.failed(inv, inv.killed));
    }
    this.queue.length = 0;
    for (const ref of this.references.splice(0)) {
      try { ref.release(); } catch { /* already gone with the isolate */ }
    }
    this.prepared.dispose();
  }

  // --- host callbacks (called from inside the isolate; arguments are copies) -----------------

  /**
   * Serve one builtin call from an entry's outbox (arguments are copies, checked here). Its reply
   * enters the isolate with the next entry while the invocation runs; an ended invocation's call is
   * still served while it drains (see drainOrEnd), and its reply dropped.
   */
  private serveCall(callId: unknown, invocationId: unknown, builtin: unknown, op: unknown, argsJson: unknown): void {
    const inv = typeof invocationId === 'number' ? (this.running.get(invocationId) ?? this.draining.get(invocationId)) : undefined;
    // A call the isolate made for an invocation that is over: its promise was dropped with it.
    if (inv === undefined || typeof callId !== 'number' || inv.killed !== null || inv.ended || this.disposed) return;
    inv.waiting++;
    inv.callsSeen++;
    const started = performance.now();
    const startedAt = performance.timeOrigin + started;
    let failedCode: string | undefined;
    const serve = async (): Promise<string> => {
      try {
        const args: unknown = typeof argsJson === 'string' ? JSON.parse(argsJson) : null;
        if (!Array.isArray(args) || typeof builtin !== 'string' || typeof op !== 'string') throw runtimeError('E_INTERNAL', 'malformed builtin call');
        const value = await this.host.call({
          app: this.spec.app,
          function: this.spec.function,
          versionId: this.spec.versionId,
          requestId: inv.meta.requestId,
          deadline: inv.meta.deadline,
          signal: (inv.abort ??= new AbortController()).signal,
        }, builtin, op, args);
        return JSON.stringify({ ok: true, value: value ?? null });
      } catch (err) {
        const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'E_INTERNAL';
        failedCode = code;
        const message = code === 'E_INTERNAL' ? `ctx.${String(builtin)}.${String(op)} failed because of a platform fault` : String((err as Error).message);
        if (code === 'E_INTERNAL') process.stderr.write(`builtin ${String(builtin)}.${String(op)} fault: ${(err as Error)?.stack ?? String(err)}\n`);
        return JSON.stringify({ ok: false, error: { code, message } });
      }
    };
    void serve().then((replyJson) => {
      inv.waiting--;
      const ms = performance.now() - started;
      if (inv.builtins.length < MAX_BUILTIN_SAMPLES) {
        inv.builtins.push({ builtin: String(builtin), op: String(op), startedAt, ms, ...(failedCode === undefined ? {} : { code: failedCode }) });
      }
      if (!this.disposed && !inv.ended && this.running.has(inv.id)) {
        this.resumes.push({ callId, replyJson, inv });
        this.scheduleFlush();
      } else if (this.draining.has(inv.id) && inv.callsSeen >= inv.callsMade && inv.waiting === 0) {
        this.endDrain(inv);
      }
    });
  }

  private readonly onHostLog = (invocationId: unknown, level: unknown, message: unknown): void => {
    const inv = typeof invocationId === 'number' ? this.running.get(invocationId) : undefined;
    if (inv === undefined || inv.logs.length > this.options.maxLogLines) return;
    this.charge(inv);
    const lvl = level === 'debug' || level === 'warn' || level === 'error' ? level : 'info';
    inv.logs.push({ level: lvl, message: String(message).slice(0, this.options.maxLogLineChars + 16), time: Date.now() });
  };

  // --- watchdog ------------------------------------------------------------------------------

  private armWatchdog(): void {
    if (this.watchdog !== null) return;
    const { cpuTimeMs, wallTimeMs } = this.spec.limits;
    const tickMs = Math.max(2, Math.min(25, Math.floor(Math.min(cpuTimeMs, wallTimeMs) / 8)));
    this.watchdog = setInterval(this.tick, tickMs);
    this.watchdog.unref();
  }

  /**
   * Charge the CPU used since the previous event to `inv`; null charges it to the isolate's
   * leftover budget (code of no running invocation), which disposes the isolate past the CPU limit.
   */
  private charge(inv: Running | null): void {
    const now = this.readCpuTime();
    if (now <= this.accountedCpu) return;
    const delta = Number(now - this.accountedCpu);
    this.accountedCpu = now;
    if (inv !== null) {
      inv.cpuNs += delta;
      return;
    }
    this.leftoverNs += delta;
    if (this.leftoverNs / 1e6 > this.spec.limits.cpuTimeMs) {
      this.dispose('leftover code', runtimeError('E_TIMEOUT', `the isolate was stopped: code left running by earlier invocations used more than ${this.spec.limits.cpuTimeMs} ms of CPU`));
    }
  }

  /** Charge the CPU since the previous event evenly to `ran` (a batch's synchronous parts); none → leftover. */
  private chargeBatch(ran: Running[]): void {
    if (ran.length <= 1) {
      this.charge(ran[0] ?? null);
      return;
    }
    const now = this.readCpuTime();
    if (now <= this.accountedCpu) return;
    const share = Number(now - this.accountedCpu) / ran.length;
    this.accountedCpu = now;
    for (const inv of ran) inv.cpuNs += share;
  }

  /**
   * Between entries nothing runs in the isolate (see `flush`), so a tick checks what entries cannot:
   * the wall time of invocations waiting on builtins, and the CPU an invocation used over all its
   * entries. Code outside an invocation (a leftover promise of an ended one settling in a later
   * entry) is charged with that entry's invocations; CPU nobody was charged for goes to `charge(null)`.
   */
  private readonly tick = (): void => {
    if (this.disposed) return;
    const now = performance.now();
    const { cpuTimeMs, wallTimeMs } = this.spec.limits;
    if (this.running.size === 0) {
      // Stay armed through short gaps so busy sandboxes don't pay for a timer per invocation.
      if (now - this.lastActive > 1000 && this.watchdog !== null) {
        this.charge(null);
        clearInterval(this.watchdog);
        this.watchdog = null;
      }
      return;
    }
    for (const inv of this.running.values()) {
      const cpuMs = inv.cpuNs / 1e6;
      if (cpuMs > cpuTimeMs) {
        this.kill(inv, this.cpuError(cpuMs));
        return;
      }
      const wallMs = now - inv.startMs;
      if (wallMs > wallTimeMs) {
        this.kill(inv, runtimeError('E_TIMEOUT', `wall-clock limit of ${wallTimeMs} ms exceeded; the isolate was stopped`, { limit: 'wallTimeMs', limitMs: wallTimeMs }));
        return;
      }
    }
  };

  private cpuError(usedMs: number): PlatformError {
    const { cpuTimeMs } = this.spec.limits;
    return runtimeError('E_TIMEOUT', `CPU time limit of ${cpuTimeMs} ms exceeded (used ${Math.round(usedMs)} ms); the isolate was stopped`, { limit: 'cpuTimeMs', limitMs: cpuTimeMs });
  }

  private kill(offender: Running, error: PlatformError): void {
    offender.killed = error;
    this.dispose('limit exceeded', runtimeError('E_TIMEOUT', `the isolate was stopped because a concurrent invocation (${offender.meta.requestId}) exceeded its limit: ${error.message}`));
  }

  private readCpuTime(): bigint {
    try { return this.isolate.cpuTime; } catch { return 0n; }
  }

  // --- results ------------------------------------------------------------------------------

  private cpuMs(inv: Running): number {
    return inv.cpuNs / 1e6;
  }

  private failed(inv: Running, error: PlatformError): InvocationResult {
    return { ok: false, status: error.status, error: error.toJSON().error, cpuTimeMs: this.cpuMs(inv), logs: inv.logs, builtins: inv.builtins, metrics: [] };
  }

  private decode(inv: Running, replyJson: unknown): InvocationResult {
    const reply = decodeReply(replyJson, this.spec.limits.maxResponseBytes);
    inv.callsMade = reply.calls;
    const common = { cpuTimeMs: this.cpuMs(inv), builtins: inv.builtins, metrics: reply.metrics };
    const logs = [...inv.logs];
    if (reply.metricsDropped > 0) logs.push({ level: 'warn', message: `ctx.metrics: ${reply.metricsDropped} sample(s) were malformed or over the limit of ${REPLY_LIMITS.maxMetricSamples} per invocation and were dropped`, time: Date.now() });
    if (reply.ok) return { ok: true, status: reply.status, headers: reply.headers, body: reply.body, encoding: reply.encoding, ...common, logs };
    if (reply.stack) logs.push({ level: 'error', message: `${reply.error.message}\n${reply.stack}`, time: Date.now() });
    return { ok: false, status: reply.status, error: reply.error, ...common, logs };
  }

  /**
   * Classify an error thrown out of an isolate call. For a limit or a dispose the isolate is
   * disposed (failing what runs in it); `offender` (when known) gets the limit's error, the others
   * the bystander's.
   */
  private classifyInvokeError(err: unknown, offender: Running | undefined, bound: 'cpu' | 'wall'): PlatformError {
    const message = err instanceof Error ? err.message : String(err);
    if (/memory limit/i.test(message)) {
      const error = runtimeError('E_MEMORY', `the isolate exceeded its memory limit of ${this.spec.limits.memoryLimitMiB} MiB and was disposed`, { limitMiB: this.spec.limits.memoryLimitMiB });
      if (offender !== undefined) offender.killed ??= error;
      this.dispose('memory limit', runtimeError('E_MEMORY', `the isolate was disposed because a concurrent invocation exceeded its memory limit: ${error.message}`));
      return error;
    }
    if (/timed out/i.test(message)) {
      // The entry ran past the budget its timeout stood for (`bound`, see flush): CPU time on this
      // thread, or what was left of the wall clock of an invocation that had been waiting.
      const { cpuTimeMs, wallTimeMs } = this.spec.limits;
      const error = bound === 'cpu'
        ? runtimeError('E_TIMEOUT', `CPU time limit of ${cpuTimeMs} ms exceeded; the isolate was stopped`, { limit: 'cpuTimeMs', limitMs: cpuTimeMs })
        : runtimeError('E_TIMEOUT', `wall-clock limit of ${wallTimeMs} ms exceeded; the isolate was stopped`, { limit: 'wallTimeMs', limitMs: wallTimeMs });
      if (offender !== undefined) offender.killed ??= error;
      this.dispose('timeout', runtimeError('E_TIMEOUT', `the isolate was stopped because a concurrent invocation exceeded its limit: ${error.message}`));
      return error;
    }
    if (/isolate is disposed|was disposed/i.test(message)) {
      const error = runtimeError('E_INTERNAL', 'the isolate was disposed during the invocation');
      this.dispose('disposed', error);
      return error;
    }
    // What is left is a value thrown out of the isolate: a promise rejection that the function's
    // code never handled (isolated-vm rethrows it from the task in which it surfaced). The isolate
    // itself is fine, so it stays warm.
    const firstLine = message.split('\n')[0] ?? message;
    return runtimeError('E_FUNCTION_ERROR', `unhandled promise rejection in the function: ${firstLine}`.slice(0, 4096));
  }

  private classifyColdStartError(err: unknown): PlatformError {
    if (isPlatformError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (/memory limit/i.test(message)) {
      return runtimeError('E_MEMORY', `module top-level code exceeded the memory limit of ${this.spec.limits.memoryLimitMiB} MiB at cold start`);
    }
    if (/timed out/i.test(message)) {
      return runtimeError('E_TIMEOUT', `module top-level code did not finish within the limit at cold start`);
    }
    return runtimeError('E_FUNCTION_ERROR', `the module failed to load: ${message}`);
  }
}

