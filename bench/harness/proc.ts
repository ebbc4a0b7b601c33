/**
 * Child processes for the benchmark: servers started as their own process trees (optionally pinned
 * to CPU cores with `taskset`), waiting for them, stopping them, and measuring the resident memory
 * of a whole process tree from /proc.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A started server process. */
export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far (for error messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of `startServer`. */
export interface StartOptions {
  /** Label used in error messages. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  /** CPU list for `taskset -c` (e.g. `'1'`); undefined → not pinned. */
  cpus?: string;
  cwd?: string;
}

/** True when `taskset` exists and this machine has at least 2 CPUs to split between load and server. */
export function canPin(cpuCount: number): boolean {
  if (cpuCount < 2) return false;
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Pin every thread of process `pid` to `cpus` (taskset -a -p -c). Threads created later inherit
 * the affinity of the thread that creates them.
 * @throws Error when taskset fails.
 */
export function pinProcess(pid: number, cpus: string): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${r.stderr}`);
}

/**
 * Spawn a server as its own process (through `taskset -c <cpus>` when `cpus` is set; taskset
 * execs the command, so the pid is the server's). Output is captured, not printed.
 */
export function startServer(options: StartOptions): ServerProcess {
  const [command, args] = options.cpus !== undefined
    ? ['taskset', ['-c', options.cpus, options.command, ...options.args]]
    : [options.command, options.args];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > 64 * 1024) out = out.slice(-32 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | null = null;
  return {
    name: options.name,
    child,
    pid: child.pid ?? 0,
    output: () => out,
    stop: (graceMs = 10_000) => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Poll `url` until it answers `expectStatus` (default 200).
 * @throws Error with the server's output when it exits first or `timeoutMs` passes.
 */
export async function waitHttp(server: ServerProcess, url: string, timeoutMs = 30_000, expectStatus = 200): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.name} exited before it was ready:\n${server.output()}`);
    }
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === expectStatus) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${server.name} was not ready at ${url} within ${timeoutMs} ms:\n${server.output()}`);
}

/** Resident memory of a process tree. */
export interface TreeMemory {
  /** Sum of VmRSS over the process and all its descendants, in bytes. */
  rssBytes: number;
  /** One entry per process: pid, name (the script it runs, e.g. `cli/main.ts`, or the command), VmRSS in bytes. */
  processes: Array<{ pid: number; name: string; rssBytes: number }>;
}

/**
 * Sum VmRSS of `rootPid` and every descendant, read from /proc (Linux only). Shared pages (the
 * node binary, shared libraries) are counted once per process, as `ps` does: an upper bound.
 */
export function treeMemory(rootPid: number): TreeMemory {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch { /* exited meanwhile */ }
  }
  const processes: TreeMemory['processes'] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const script = argv.find((a, i) => i > 0 && !a.startsWith('-'));
      const name = script !== undefined ? script.split('/').slice(-2).join('/') : (/Name:\s+(.*)/.exec(status)?.[1] ?? '?');
      processes.push({ pid, name, rssBytes: kb * 1024 });
    } catch { /* exited meanwhile */ }
    queue.push(...(children.get(pid) ?? []));
  }
  return { rssBytes: processes.reduce((s, p) => s + p.rssBytes, 0), processes };
}

/** A process tree whose CPU time is sampled; descendants are labelled `childRole`. */
export interface CpuRoot {
  role: string;
  pid: number;
  /** @default 'child' */
  childRole?: string;
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(r.stdout.trim()) || 100;
  }
  return clockTicks;
}

function statTimes(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
}

/** Thread group of a thread name (Linux `comm`), for the CPU breakdown. */
function threadGroup(pid: number, tid: number, comm: string): string {
  if (tid === pid) return 'main thread';
  if (comm === 'MainThread') return 'isolate threads'; // isolated-vm's pool threads inherit the name
  if (comm === 'V8Worker' || comm === 'DelayedTaskSche') return 'V8 helper threads';
  if (comm === 'libuv-worker') return 'libuv pool';
  return 'other threads';
}

/**
 * CPU time (user + system, seconds) used so far by each process tree in `roots`, split into
 * buckets `<role> <thread group>` (e.g. `worker isolate threads`). Time of threads that already
 * exited is in `<role> exited threads`. Resolution: one clock tick (10 ms).
 */
export function cpuSample(roots: readonly CpuRoot[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (key: string, ticks: number) => out.set(key, (out.get(key) ?? 0) + ticks / ticksPerSecond());
  for (const root of roots) {
    const tree = treeMemory(root.pid).processes.map((p) => p.pid);
    for (const pid of tree) {
      const role = pid === root.pid ? root.role : (root.childRole ?? 'child');
      try {
        const total = statTimes(`/proc/${pid}/stat`);
        let seen = 0;
        for (const t of readdirSync(`/proc/${pid}/task`)) {
          const tid = Number(t);
          try {
            const ticks = statTimes(`/proc/${pid}/task/${t}/stat`);
            const comm = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
            add(`${role} ${threadGroup(pid, tid, comm)}`, ticks);
            seen += ticks;
          } catch { /* thread exited meanwhile */ }
        }
        if (total > seen) add(`${role} exited threads`, total - seen);
      } catch { /* process exited meanwhile */ }
    }
  }
  return out;
}

/** `after − before` per bucket (buckets that did not grow are dropped). */
export function cpuDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, v] of after) {
    const d = v - (before.get(key) ?? 0);
    if (d > 0) out.set(key, d);
  }
  return out;
}
