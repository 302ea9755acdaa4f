import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { runOnce } from './lib/harness.js';
const dir = mkdtempSync(join(tmpdir(), 'rs-prof-'));
const n = Number(process.argv[2] ?? 1500);
const streamConfig = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const r = await runOnce({ upstream: 'http', bitrate: 4e6, clients: n, rampS: 1, measureS: 2, proxyConfig: {}, streamConfig, tsx: false, http: '1.1', cpuProfDir: dir });
console.log('ttfb', r.ttfbMs, 'connect', r.connectMs);
const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'))!;
const p = JSON.parse(readFileSync(join(dir, f), 'utf8'));
const byId = new Map(p.nodes.map((x: any) => [x.id, x]));
const parent = new Map<number, number>();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
// time of each sample
let t = p.startTime; const times: number[] = [];
for (const d of p.timeDeltas) { t += d; times.push(t); }
// find the first sample whose stack has onconnection after warm-up
const stackHas = (id: number, re: RegExp): boolean => { for (let k: number | undefined = id; k !== undefined; k = parent.get(k)) { const nn: any = byId.get(k); if (re.test(nn.callFrame.functionName + ' ' + nn.callFrame.url)) return true; } return false; };
let i0 = p.samples.findIndex((id: number, i: number) => times[i]! - p.startTime > 3e6 && stackHas(id, /onconnection|connectionListener/));
const tC = times[i0]!;
console.log('first connection at', ((tC - p.startTime) / 1e6).toFixed(2), 's into the profile');
const leafs = new Map<string, number>();
const buckets = new Map<number, { busy: number; fns: Map<string, number> }>();
for (let i = 0; i < p.samples.length; i++) {
  const dt = (times[i]! - tC) / 1000; if (dt < -100 || dt > 1500) continue;
  const b = Math.floor(dt / 100) * 100; const e = buckets.get(b) ?? { busy: 0, fns: new Map() }; buckets.set(b, e);
  const nn: any = byId.get(p.samples[i]); if (nn.callFrame.functionName === '(idle)') continue;
  const us = p.timeDeltas[i] ?? 0; e.busy += us;
  // attribute to a category by walking the stack
  const names: string[] = [];
  for (let k: number | undefined = p.samples[i]; k !== undefined; k = parent.get(k)) { const c: any = byId.get(k); names.push(c.callFrame.functionName + ' ' + c.callFrame.url); }
  const st = names.join(' | ');
  const leaf = names[0]!.split(' ')[0];
  let cat = /onTimer|flush /.test(st) ? 'steady flush' : /drained/.test(st) ? 'drain catch-up' : /addClient/.test(st) ? 'addClient' : /pino|sonic/.test(st) ? 'logging' : /stream\.js/.test(st) ? 'endpoint other' : /onconnection|connectionListener/.test(st) ? 'accept' : /_http_server|parserOn/.test(st) ? 'http req' : /garbage/.test(st) ? 'GC' : 'other:' + leaf;
  if (/^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(leaf)) cat += '[syscall]';
  e.fns.set(cat, (e.fns.get(cat) ?? 0) + us);
  if (!/steady|syscall/.test(cat)) { const key = cat + ' <- ' + names.slice(0, +(process.env.DEPTH ?? 3)).map((x) => x.split(' ')[0] + (x.includes('node:') ? '' : ':' + (x.split('/').pop() ?? ''))).join(' < '); leafs.set(key, (leafs.get(key) ?? 0) + us); }
}
const tot = new Map<string, number>(); let busy = 0;
for (const e of buckets.values()) { busy += e.busy; for (const [k, us] of e.fns) tot.set(k, (tot.get(k) ?? 0) + us); }
console.log('TOTAL busy', Math.round(busy / 1000), 'ms:', [...tot].sort((a, c) => c[1] - a[1]).slice(0, 14).map(([k, us]) => `${k} ${Math.round(us / 1000)}`).join(', '));
for (const [b, e] of [...buckets].sort((a, c) => a[0] - c[0])) {
  const top = [...e.fns].sort((a, c) => c[1] - a[1]).slice(0, 5).map(([k, us]) => `${k} ${Math.round(us / 1000)}`).join(', ');
  console.log(String(b).padStart(5), 'busy', Math.round(e.busy / 1000), 'ms |', top);
}

console.log([...leafs].sort((a, c) => c[1] - a[1]).slice(0, 40).map(([k, us]) => `${Math.round(us / 1000)} ${k}`).join('\n'));
