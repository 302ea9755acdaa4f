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

export interface ConnectPhaseSummary {
  /** Profile time (ms since its start) of the first sample that accepts a connection. */
  firstConnectionAtMs: number;
  busyMs: number;
  /** Busy time by what the proxy was doing; `[syscall]` = inside the native write itself. */
  byActivity: { activity: string; ms: number; pct: number }[];
  /** Busy ms per 100 ms slice from the first connection. */
  slices: number[];
}

/**
 * What a proxy did while a crowd of clients connected: the `windowMs` from the first
 * sample that accepts a connection (after `skipMs` of start-up), each sample classified
 * by its whole stack (steady batches, the new clients' bursts, accept, request parsing,
 * logging, GC ...).
 */
export function summariseConnectPhase(path: string, windowMs: number, skipMs = 3000): ConnectPhaseSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number): string[] => {
    const out: string[] = [];
    for (let k: number | undefined = id; k !== undefined; k = parent.get(k)) {
      const cf = byId.get(k)!.callFrame;
      out.push(`${cf.functionName} ${cf.url}`);
    }
    return out;
  };
  const times: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) { t += d; times.push(t); }
  const start = p.samples.findIndex((id, i) => times[i]! - p.startTime > skipMs * 1000 && stackOf(id).some((s) => /onconnection|connectionListener/.test(s)));
  if (start < 0) return { firstConnectionAtMs: -1, busyMs: 0, byActivity: [], slices: [] };
  const t0 = times[start]!;
  const acts = new Map<string, number>();
  const slices = new Array<number>(Math.ceil(windowMs / 100)).fill(0);
  let busy = 0;
  for (let i = start; i < p.samples.length; i++) {
    const dt = (times[i]! - t0) / 1000;
    if (dt >= windowMs) break;
    const names = stackOf(p.samples[i]!);
    if (names[0]!.startsWith('(idle)')) continue;
    const us = p.timeDeltas[i] ?? 0;
    const st = names.join(' | ');
    let act = /onTimer|flush /.test(st) ? 'steady batches' : st.includes('drained') ? 'burst after drain'
      : st.includes('addClient') ? 'new client: hub' : /pino|sonic/.test(st) ? 'logging'
      : st.includes('stream.js') ? 'new client: endpoint' : /onconnection|connectionListener/.test(st) ? 'accept'
      : /_http_server|parserOn/.test(st) ? 'request parsing' : st.includes('garbage') ? 'GC' : 'other';
    if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String) /.test(names[0]!)) act += ' [syscall]';
    acts.set(act, (acts.get(act) ?? 0) + us);
    slices[Math.floor(dt / 100)]! += us / 1000;
    busy += us;
  }
  return {
    firstConnectionAtMs: Math.round((t0 - p.startTime) / 1000),
    busyMs: Math.round(busy / 1000),
    byActivity: [...acts].sort((a, b) => b[1] - a[1]).map(([activity, us]) => ({ activity, ms: Math.round(us / 1000), pct: Math.round((1000 * us) / busy) / 10 })),
    slices: slices.map((x) => Math.round(x)),
  };
}
