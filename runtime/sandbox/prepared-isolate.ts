/**
 * The version-independent half of a cold start: a V8 isolate with its context created, hardened by
 * `isolate-bootstrap.js`, and the platform's `faas` module compiled and evaluated. What is left for
 * a version — its response limit and filename (`configure`), compiling and evaluating its module,
 * binding its handler — is `IsolateSandbox.start()` in `isolate-sandbox.ts`.
 *
 * A cold start either prepares one on the spot or takes a **spare** prepared ahead of need in the
 * background (`prepareSpareIsolate`, kept by the pool). Either way a prepared isolate has never run user code and is
 * claimed by at most one sandbox: `claim()` refuses a second time, and after a dispose.
 *
 * The only thing a version cannot change afterwards is the heap limit: isolated-vm fixes
 * `memoryLimit` at `new ivm.Isolate` (isolated-vm README, "new ivm.Isolate(options)"), so a spare
 * only serves versions whose `memoryLimitMiB` equals its own.
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import type { BuiltinHost, SpareIsolate, SparePace } from './interface.ts';
import type { SandboxOptions } from './isolate-sandbox.ts';
import { REPLY_LIMITS } from './marshal.ts';

const BOOTSTRAP_SOURCE = readFileSync(new URL('./isolate-bootstrap.js', import.meta.url), 'utf8');
const FAAS_MODULE_SOURCE = readFileSync(new URL('./faas-module.js', import.meta.url), 'utf8');
/**
 * V8's code cache for the bootstrap script, made by the first isolate this process prepares and
 * consumed by every later one (the bootstrap's compile is then ~0.3 ms instead of ~0.7 ms on the
 * bench machine). isolated-vm README, "CachedDataOptions": cached data holds compiled code, so it
 * must never come from an untrusted source — this one is made here, from our own source, and never
 * leaves the process. V8 checks it against the source and its flags and rejects a mismatch
 * (`cachedDataRejected`), in which case the script is compiled as usual and a new cache is made.
 */
let bootstrapCache: ivm.ExternalCopy<ArrayBuffer> | null = null;
/** How the bootstrap was compiled in this process (for tests and diagnostics): caches made, uses, and rejections by V8. */
export const bootstrapCacheStats = { produced: 0, consumed: 0, rejected: 0 };

/**
 * Compile the bootstrap (with the code cache), run it in `context` and call it with the host's log
 * sink and the config copy. The script's completion value is the bootstrap function itself, so it
 * is never reachable from the context's globals.
 * @returns a Reference to the bootstrap's entry points (see `isolate-bootstrap.js`)
 */
function runBootstrap(isolate: ivm.Isolate, context: ivm.Context, hostLog: ivm.Reference, config: unknown): ivm.Reference {
  const cached = bootstrapCache;
  const script = isolate.compileScriptSync(BOOTSTRAP_SOURCE, cached === null
    ? { filename: 'faas:bootstrap', produceCachedData: true }
    : { filename: 'faas:bootstrap', cachedData: cached }) as ivm.Script & { cachedData?: ivm.ExternalCopy<ArrayBuffer>; cachedDataRejected?: boolean };
  if (cached === null) {
    if (script.cachedData !== undefined) {
      bootstrapCache = script.cachedData;
      bootstrapCacheStats.produced++;
    }
  } else if (script.cachedDataRejected === true) {
    bootstrapCacheStats.rejected++;
    if (bootstrapCache === cached) bootstrapCache = null; // the next isolate makes a new one
  } else {
    bootstrapCacheStats.consumed++;
  }
  try {
    const bootstrap = script.runSync(context, { reference: true }) as ivm.Reference;
    try {
      return bootstrap.applySync(undefined, [hostLog, config], { result: { reference: true } }) as ivm.Reference;
    } finally {
      bootstrap.release();
    }
  } finally {
    script.release();
  }
}

/** isolated-vm refuses a smaller `memoryLimit` (README: "minimum is 8"). */
const MIN_MEMORY_LIMIT_MIB = 8;

/**
 * Where the bootstrap's host callback goes once a sandbox has claimed the isolate. (Builtin calls
 * and answers do not call the host: they leave in the entry's outbox, see `takeOutbox`.)
 */
export interface HostRoute {
  /** The log sink (called synchronously from the isolate, during an entry). */
  log(invocationId: unknown, level: unknown, message: unknown): void;
}

/** Before a claim nothing runs in the isolate that could log. */
const UNCLAIMED: HostRoute = Object.freeze({
  log: () => { /* nowhere to go */ },
});

type State = 'preparing' | 'ready' | 'claimed' | 'disposed';

/** See the module comment. Created by `prepareIsolate` / `prepareSpareIsolate`, used by `isolate-sandbox.ts`. */
export class PreparedIsolate implements SpareIsolate {
  readonly memoryLimitMiB: number;
  /** The builtin host and sandbox options the bootstrap was given (a sandbox must use the same). */
  readonly host: BuiltinHost;
  readonly options: Readonly<SandboxOptions>;
  readonly isolate: ivm.Isolate;
  /** Context, callbacks, bootstrap entry points and the `faas` module: released with the isolate. */
  private readonly references: Array<{ release(): void }> = [];
  private route: HostRoute = UNCLAIMED;
  private state: State = 'preparing';
  #warmedUp = false;
  private parts: {
    context: ivm.Context; dispatchBatch: ivm.Reference; current: ivm.Reference; takeOutbox: ivm.Reference; setHandler: ivm.Reference; configure: ivm.Reference; platformModule: ivm.Module;
  } | null = null;

  /** @throws TypeError when `memoryLimitMiB` is not an integer ≥ 8; isolated-vm's own error when V8 cannot create an isolate. */
  constructor(memoryLimitMiB: number, host: BuiltinHost, options: Readonly<SandboxOptions>) {
    if (!Number.isInteger(memoryLimitMiB) || memoryLimitMiB < MIN_MEMORY_LIMIT_MIB) {
      throw new TypeError(`an isolate's memory limit must be an integer of at least ${MIN_MEMORY_LIMIT_MIB} MiB, got ${String(memoryLimitMiB)}`);
    }
    this.memoryLimitMiB = memoryLimitMiB;
    this.host = host;
    this.options = options;
    this.isolate = new ivm.Isolate({
      memoryLimit: memoryLimitMiB,
      onCatastrophicError: (message: string) => options.onCatastrophicError(message),
    });
  }

  /** True once `prepare` ran the dispatch warm-up (a spare that was not hurried). */
  get warmedUp(): boolean { return this.#warmedUp; }

  /** True while the isolate is prepared and unclaimed (what a cold start may take). */
  get available(): boolean { return this.state === 'ready'; }

  /** The context and entry points; only for the sandbox that claimed the isolate. @throws TypeError otherwise. */
  get claimed(): NonNullable<PreparedIsolate['parts']> {
    if (this.state !== 'claimed' || this.parts === null) throw new TypeError(`the prepared isolate is ${this.state}, not claimed`);
    return this.parts;
  }

  /**
   * Create the context, run the bootstrap, compile and evaluate the `faas` module, with isolated-vm's
   * synchronous calls (the isolate is private to this call, so nothing else can hold its lock; the
   * async variants were measured slower and blocked this thread as long). With a `pace` (a spare,
   * off the request path) it gives the event loop a turn after `new ivm.Isolate`, after the bootstrap
   * and after the `faas` module, so other work waits at most one step (about 1 ms) instead of the
   * whole ~2 ms, and ends with a warm-up of the dispatch path — both only while `pace.hurried` is
   * false (a cold start waiting for this spare sets it). `null`: on the request path, in one go.
   * Called once.
   * @throws whatever isolated-vm throws (a platform fault: the bootstrap has no user input), or
   *   Error when the isolate was disposed meanwhile. The caller disposes on failure.
   */
  async prepare(pace: SparePace | null): Promise<void> {
    if (this.state !== 'preparing' || this.parts !== null) throw new TypeError('prepare() is called once, on a new isolate');
    const step = async (): Promise<void> => {
      if (pace !== null && !pace.hurried) await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.state !== 'preparing') throw new Error('the isolate was disposed while it was being prepared');
    };
    await step();
    const context = this.isolate.createContextSync();
    this.references.push(context);
    const hostLog = new ivm.Reference((id: unknown, level: unknown, message: unknown) => this.route.log(id, level, message));
    this.references.push(hostLog);
    const config = new ivm.ExternalCopy({
      redisCommands: [...this.host.redisCommands],
      maxLogLines: this.options.maxLogLines,
      maxLogLineChars: this.options.maxLogLineChars,
      maxMetricSamples: REPLY_LIMITS.maxMetricSamples,
    }).copyInto({ release: true });
    const entry = runBootstrap(this.isolate, context, hostLog, config);
    this.references.push(entry);
    const dispatchBatch = entry.getSync('dispatchBatch', { reference: true }) as ivm.Reference;
    const current = entry.getSync('current', { reference: true }) as ivm.Reference;
    const takeOutbox = entry.getSync('takeOutbox', { reference: true }) as ivm.Reference;
    const setHandler = entry.getSync('setHandler', { reference: true }) as ivm.Reference;
    const configure = entry.getSync('configure', { reference: true }) as ivm.Reference;
    this.references.push(dispatchBatch, current, takeOutbox, setHandler, configure);

    await step();
    const platformModule = this.isolate.compileModuleSync(FAAS_MODULE_SOURCE, { filename: 'faas:module' });
    this.references.push(platformModule);
    platformModule.instantiateSync(context, (specifier: string) => {
      throw new Error(`the faas module has no imports (asked for ${specifier})`);
    });
    platformModule.evaluateSync({ timeout: 1000 });
    await step();
    // Checked after the turn: a cold start may have started waiting for this spare meanwhile.
    if (pace !== null && !pace.hurried) this.warmUp(entry, takeOutbox);
    this.parts = { context, dispatchBatch, current, takeOutbox, setHandler, configure, platformModule };
    this.state = 'ready';
  }

  /**
   * Run the bootstrap's warm-up (one invocation of a platform handler through the dispatch path)
   * and drop what it left in the outbox, so a version's first invocation skips V8's lazy
   * compilation of that path (measured ~0.40 → ~0.16 ms on the bench machine).
   */
  private warmUp(entry: ivm.Reference, takeOutbox: ivm.Reference): void {
    const warmUp = entry.getSync('warmUp', { reference: true }) as ivm.Reference;
    try {
      warmUp.applySync(undefined, [], { timeout: 1000 });
      takeOutbox.applySync(undefined, [], { timeout: 1000, result: { copy: true } });
    } finally {
      warmUp.release();
    }
    this.#warmedUp = true;
  }

  /**
   * Hand the isolate to one sandbox: from now on the bootstrap's host calls go to `route`.
   * @throws TypeError when the isolate is not ready (still preparing, already claimed, or disposed):
   *   a prepared isolate serves at most one version, once.
   */
  claim(route: HostRoute): void {
    if (this.state !== 'ready') throw new TypeError(`a prepared isolate can be claimed once, when ready; this one is ${this.state}`);
    this.state = 'claimed';
    this.route = route;
  }

  /** Release every reference and dispose the isolate. Idempotent; safe while `prepare` is running. */
  dispose(): void {
    if (this.state === 'disposed') return;
    this.state = 'disposed';
    this.route = UNCLAIMED;
    for (const ref of this.references.splice(0)) {
      try { ref.release(); } catch { /* already gone with the isolate */ }
    }
    try { this.isolate.dispose(); } catch { /* already disposed (memory limit) */ }
  }
}

/**
 * Prepare an isolate on the request path for a cold start with no spare (in one go).
 * @throws TypeError on a bad `memoryLimitMiB`; isolated-vm's error on a platform fault (the isolate is disposed).
 */
export async function prepareIsolate(memoryLimitMiB: number, host: BuiltinHost, options: Readonly<SandboxOptions>): Promise<PreparedIsolate> {
  return prepareWith(memoryLimitMiB, host, options, null);
}

/**
 * Prepare a spare in the background: the same work as a cold start's first half (~2 ms of this
 * thread) plus a warm-up of the dispatch path (~0.4 ms), in steps with an event-loop turn between
 * them (`new ivm.Isolate`; context and bootstrap; `faas` module; warm-up), so no step blocks other
 * work for more than about 1 ms. Setting `pace.hurried` meanwhile runs the rest at once, without
 * the warm-up (see `PreparedIsolate.prepare`).
 * @param memoryLimitMiB the heap limit, in MiB (integer ≥ 8); the spare serves only versions with this limit.
 * @throws TypeError on a bad `memoryLimitMiB`; isolated-vm's error on a platform fault (the isolate is disposed).
 */
export async function prepareSpareIsolate(memoryLimitMiB: number, host: BuiltinHost, options: Readonly<SandboxOptions>, pace: SparePace = { hurried: false }): Promise<PreparedIsolate> {
  return prepareWith(memoryLimitMiB, host, options, pace);
}

async function prepareWith(memoryLimitMiB: number, host: BuiltinHost, options: Readonly<SandboxOptions>, pace: SparePace | null): Promise<PreparedIsolate> {
  const prepared = new PreparedIsolate(memoryLimitMiB, host, options);
  try {
    await prepared.prepare(pace);
    return prepared;
  } catch (err) {
    prepared.dispose();
    throw err;
  }
}
