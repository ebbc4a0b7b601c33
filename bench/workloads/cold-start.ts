/**
 * Cold start: the first invocation of a version no isolate has run yet, timed from the client
 * (one request at a time, keep-alive connection, so the time includes one loopback HTTP round trip).
 * The second request to the same version is timed too, as the warm reference of the same client.
 *
 *  - platform: deploy N versions of `hello` (a comment varies so the content hash changes; the
 *    deploy is not timed), then invoke each pinned with `x-faas-version`; every first answer must
 *    carry `x-faas-cold-start: 1`.
 *  - workerd: N fresh dynamic Workers through the Worker Loader binding (`/cold/<id>`, same adapter
 *    and `hello` handler with a varying comment): a new isolate and module load inside a running
 *    workerd, the closest analogue of the platform's cold start.
 *  - workerd process: start `workerd serve` with the static Worker until its first answer — a
 *    fresh runtime process, for scale (few samples).
 */
import { readFile } from 'node:fs/promises';
import type { PlatformPeer } from '../peers/platform.ts';
import { startWorkerd } from '../peers/workerd.ts';

/** First and second invocation times of N fresh versions, in ms. */
export interface ColdStartResult {
  first: number[];
  second: number[];
}

async function timed(url: string, headers?: Record<string, string>): Promise<{ ms: number; res: Response; text: string }> {
  const t = performance.now();
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { ms: performance.now() - t, res, text };
}

/**
 * Deploy `n` fresh versions of the hello handler to `bench/hello-cold` and time their first and
 * second invocation.
 * @throws Error when an answer is not 200 or a first answer is not marked as a cold start.
 */
export async function platformColdStarts(platform: PlatformPeer, n: number): Promise<ColdStartResult> {
  const hello = await readFile(new URL('../peers/handlers/hello.js', import.meta.url), 'utf8');
  const out: ColdStartResult = { first: [], second: [] };
  const stamp = Date.now();
  for (let i = 0; i < n; i++) {
    const version = await platform.deploy('bench', 'hello-cold', `${hello}\n// cold start ${stamp}-${i}\n`);
    const url = `${platform.base}/fn/bench/hello-cold`;
    const first = await timed(url, { 'x-faas-version': version });
    if (first.res.status !== 200) throw new Error(`cold start ${i}: ${first.res.status} ${first.text}`);
    if (first.res.headers.get('x-faas-cold-start') !== '1') throw new Error(`cold start ${i}: the first invocation of ${version} was not a cold start`);
    const second = await timed(url, { 'x-faas-version': version });
    if (second.res.status !== 200) throw new Error(`warm ${i}: ${second.res.status} ${second.text}`);
    out.first.push(first.ms);
    out.second.push(second.ms);
  }
  return out;
}

/**
 * Time the first and second request to `n` fresh dynamic Workers of a running workerd.
 * @throws Error when an answer is not 200.
 */
export async function workerdColdStarts(base: string, n: number): Promise<ColdStartResult> {
  const out: ColdStartResult = { first: [], second: [] };
  const stamp = Date.now();
  for (let i = 0; i < n; i++) {
    const url = `${base}/cold/w${stamp}-${i}`;
    const first = await timed(url);
    if (first.res.status !== 200) throw new Error(`workerd cold start ${i}: ${first.res.status} ${first.text}`);
    const second = await timed(url);
    out.first.push(first.ms);
    out.second.push(second.ms);
  }
  return out;
}

/** Time from spawning `workerd serve` to its first 200 answer, `n` times, in ms. */
export async function workerdProcessStarts(binary: string, version: string, compatDate: string, n: number, cpus?: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const peer = await startWorkerd(binary, version, compatDate, cpus);
    out.push(performance.now() - t);
    await peer.stop();
  }
  return out;
}
