/**
 * Reads V8 `.cpuprofile` files (written by `node --cpu-prof`) and ranks functions by self time.
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One row of a self-time ranking. */
export interface SelfTime {
  /** `functionName (file:line)`, the file relative to the repo or `node:`/`node_modules` shortened. */
  name: string;
  selfMs: number;
  /** Share of the profile's non-idle time, 0–1. */
  share: number;
}

/** Self-time ranking of one or more profiles. */
export interface ProfileSummary {
  /** Wall time covered by the profiles, in ms (summed over profiles). */
  totalMs: number;
  /** Time sampled as `(idle)`, in ms. */
  idleMs: number;
  /** Time in `(garbage collector)`, in ms. */
  gcMs: number;
  top: SelfTime[];
}

function shortUrl(url: string, root: string): string {
  if (url === '') return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm);
  return u;
}

/**
 * Merge the profiles in `files` and rank functions (by name and location) by self time.
 * @param root absolute repo path (with trailing slash) to shorten file names
 * @param topN rows to keep
 */
export async function summarizeProfiles(files: readonly string[], root: string, topN = 12): Promise<ProfileSummary> {
  const selfByName = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  let gcMs = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const byId = new Map<number, ProfileNode>();
    for (const node of profile.nodes) byId.set(node.id, node);
    totalMs += (profile.endTime - profile.startTime) / 1000;
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i] as number);
      // timeDeltas[i] is the time before sample i; attribute the gap after it to sample i.
      const dt = ((profile.timeDeltas[i + 1] ?? 0) as number) / 1000;
      if (node === undefined) continue;
      const f = node.callFrame;
      if (f.functionName === '(idle)') { idleMs += dt; continue; }
      if (f.functionName === '(garbage collector)') gcMs += dt;
      const where = shortUrl(f.url, root);
      const name = `${f.functionName || '(anonymous)'}${where ? ` (${where}:${f.lineNumber + 1})` : ''}`;
      selfByName.set(name, (selfByName.get(name) ?? 0) + dt);
    }
  }
  const busy = Math.max(1e-9, totalMs - idleMs);
  const top = [...selfByName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([name, selfMs]) => ({ name, selfMs, share: selfMs / busy }));
  return { totalMs, idleMs, gcMs, top };
}
