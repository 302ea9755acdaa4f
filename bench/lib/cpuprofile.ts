// Summarise a V8 .cpuprofile (node --cpu-prof): self time per function and per file.
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  /** Sampled time excluding (idle); percentages are of this. */
  busyMs: number;
  idleMs: number;
  top: { fn: string; where: string; selfMs: number; pct: number }[];
  byFile: { file: string; selfMs: number; pct: number }[];
}

function shortUrl(url: string): string {
  if (!url) return '(native/V8)';
  const m = /\/(dist\/src\/.*|src\/.*|node_modules\/[^/]+)/.exec(url);
  if (m) return m[1]!;
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

export function summariseProfile(path: string, topN = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const fn = new Map<string, { fn: string; where: string; us: number }>();
  const file = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') { idle += us; continue; }
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const name = cf.functionName || '(anonymous)';
    const key = `${name}@${where}`;
    const e = fn.get(key) ?? { fn: name, where, us: 0 };
    e.us += us;
    fn.set(key, e);
    const f = cf.url ? shortUrl(cf.url) : name.startsWith('(') ? name : '(native/V8)';
    file.set(f, (file.get(f) ?? 0) + us);
    total += us;
  }
  const pct = (us: number): number => Math.round((1000 * us) / total) / 10;
  return {
    busyMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    top: [...fn.values()].sort((a, b) => b.us - a.us).slice(0, topN).map((e) => ({ fn: e.fn, where: e.where, selfMs: Math.round(e.us / 1000), pct: pct(e.us) })),
    byFile: [...file.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([f, us]) => ({ file: f, selfMs: Math.round(us / 1000), pct: pct(us) })),
  };
}
