// One measured run: paced source -> the real proxy CLI -> lean client processes.
// Ramp (everyone connects at once, then settles), then a measurement window in which
// proxy CPU, delivered bytes, losses and latency are counted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Netns } from '../../test/helpers/netns.js';
import { Child, start, sleep, type Line } from './procs.js';
import { TreeSampler } from './procfs.js';
import { ensureMedia, BENCH_DIR } from './media.js';
import { NODE_FLAGS } from '../../src/node-flags.js';

export const ROOT = resolve(BENCH_DIR, '..');
const TSX = import.meta.resolve('tsx');
const NODE = process.execPath;
const GROUP = '239.255.42.1:5000';

export interface RunOptions {
  upstream: 'http' | 'mcast';
  /** Stream bitrate, bit/s. */
  bitrate: number;
  clients: number;
  /** Extra clients that connect and never read. */
  stalled?: number;
  /** Client processes (default 2-4 by client count). */
  clientProcs?: number;
  rampS: number;
  measureS: number;
  /** Seconds between the upstream connecting and the clients connecting (default 2.5). */
  warmS?: number;
  /** Config keys merged over the bench config (batchms, outputbuffer, workers...). */
  proxyConfig?: Record<string, unknown>;
  /** Keys merged over the stream resource (start, ...). */
  streamConfig?: Record<string, unknown>;
  /** Run src/cli.ts through tsx instead of dist/src/cli.js. */
  tsx?: boolean;
  cliPath?: string;
  /** The proxy's node flags (default: src/node-flags.ts's) and extra environment. */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** Write a V8 CPU profile of the proxy into this directory. */
  cpuProfDir?: string;
  http?: '1.0' | '1.1';
  ns?: Netns;
  /** Serve a status page (api "status") and keep this many Server-Sent Events subscribers on it. */
  statusSubscribers?: number;
}

interface ClientReport {
  status: number; connectMs: number; ttfbMs: number; mediaMs: number; bytes: number; windowBytes: number;
  ccErrors: number; windowCcErrors: number; stampGaps: number; syncErrors: number; closed: boolean; error: string;
}

export interface RunResult {
  clients: number; stalled: number; upstream: string; bitrateMbps: number; proxyConfig: Record<string, unknown>; streamConfig: Record<string, unknown>;
  connectS: number; connectCpuS: { proxy: number; loadgen: number }; windowS: number;
  proxyCpuS: { user: number; sys: number; total: number };
  deliveredGbit: number; deliveredGbps: number; expectedGbps: number;
  cpuSPerGbit: number;
  clientsWithLossWindow: number; clientsWithLossTotal: number; ccErrors: number; stampGaps: number; syncErrors: number;
  failedClients: number; failures: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
  connectMs: { p50: number; max: number }; ttfbMs: { p50: number; p90: number; max: number }; firstMediaMs: { p50: number; max: number };
  /** Peaks over the run, summed over the proxy's processes: RSS, private memory (RssAnon) and PSS. */
  proxyPeakRssMB: number; proxyPeakRssAnonMB: number; proxyPeakPssMB: number; proxyProcs: number;
  /** CC errors every client saw (min over clients): losses upstream of the fan-out. */
  commonCcErrors: number;
  /** Namespace UDP counters over the whole run (multicast): receive-buffer drops at the proxy. */
  udp?: Record<string, number>;
  stalledClients?: { connected: number; closedByProxy: number };
  /** Status page subscribers during the window: messages and bytes they received in all. */
  statusPage?: { subscribers: number; messages: number; bytes: number };
  loadgenCpuS: number;
  /** 1-minute load average at the start and end of the run (other tenants of the machine). */
  loadavg: [number, number];
  /** Longest the paced source ran late: > 100 ms means the machine was too busy to trust the run. */
  sourceMaxLateMs: number;
  source: Line | undefined;
  proxyEvents: Record<string, number>;
  perClient: { windowMbps: number[]; ccErrors: number[]; connectMs: number[]; ttfbMs: number[]; firstMediaMs: number[] };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function histPct(hist: Map<number, number>, binUs: number, p: number): number {
  const bins = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const total = bins.reduce((s, [, n]) => s + n, 0);
  let acc = 0;
  for (const [bin, n] of bins) { acc += n; if (acc >= p * total) return ((bin + 1) * binUs) / 1000; }
  return NaN;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The namespace's UDP counters (InDatagrams, RcvbufErrors, ...) from /proc/net/snmp. */
async function udpCounters(ns: Netns): Promise<Record<string, number> | undefined> {
  const r = await ns.run('cat', ['/proc/net/snmp'], 5000);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('Udp:'));
  if (rows.length < 2) return undefined;
  const keys = rows[0]!.split(/\s+/).slice(1);
  const vals = rows[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
}

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const media = ensureMedia(o.bitrate);
  const tsxArgs = ['--import', TSX];
  const children: Child[] = [];
  const load0 = loadavg()[0]!;
  let sse: ReturnType<typeof statusSubscribers> | undefined;
  try {
    // 1. Source.
    const srcOpts = { mode: o.upstream, file: media, bitrate: o.bitrate, group: GROUP };
    const source = start('source', NODE, [...tsxArgs, join(BENCH_DIR, 'source.ts'), JSON.stringify(srcOpts)], o.ns);
    children.push(source);
    const up = await source.next((l) => l.type === 'listening' || l.type === 'sending', 20000, 'source start');
    const remote = o.upstream === 'http' ? `http://127.0.0.1:${String(up.port)}/bench.ts` : `udp://${GROUP}`;

    // 2. Proxy: the real CLI with a config file.
    const status = o.statusSubscribers !== undefined ? [{ type: 'api', api: 'status', serve: '/status' }] : [];
    const cfg = { listen: '127.0.0.1:0', resources: [{ type: 'stream', serve: '/bench.ts', remote, ...o.streamConfig }, ...status], ...o.proxyConfig };
    const cfgPath = join(mkdtempSync(join(tmpdir(), 'rs-bench-')), 'restreamer.json');
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    const prof = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
    const cli = o.tsx ? [...tsxArgs, join(ROOT, 'src', 'cli.ts')] : [o.cliPath ?? join(ROOT, 'dist', 'src', 'cli.js')];
    // The proxy runs with the V8 flags its launchers use (src/node-flags.ts).
    const proxy = start('proxy', NODE, [...(o.nodeFlags ?? NODE_FLAGS), ...prof, ...cli, cfgPath], o.ns, { cwd: ROOT, env: { ...process.env, ...o.env } });
    proxy.keep = (l) => l.evt !== 'client_connect' && l.evt !== 'client_disconnect';
    children.push(proxy);
    const listen = await proxy.next((l) => l.evt === 'listen', 20000, 'proxy listen');
    await proxy.next((l) => l.evt === 'upstream_connect', 20000, 'upstream connect');
    // Let the proxy see a first keyframe (GOP = 2 s), so keyframe starts are immediate.
    await sleep((o.warmS ?? 2.5) * 1000);
    const proxySampler = new TreeSampler(() => [proxy.pid]);
    if (o.statusSubscribers) sse = statusSubscribers(listen.port as number, o.statusSubscribers);
    const udpA = o.ns ? await udpCounters(o.ns) : undefined;

    // 3. Clients: all connect at once.
    const procs = o.clientProcs ?? Math.min(4, Math.max(2, Math.ceil(o.clients / 300)));
    const base = { host: '127.0.0.1', port: listen.port as number, path: '/bench.ts', http: o.http ?? '1.1' };
    const clientProcs: Child[] = [];
    for (let i = 0; i < procs; i++) {
      const count = Math.floor(o.clients / procs) + (i < o.clients % procs ? 1 : 0);
      if (count === 0) continue;
      const c = start(`client${i}`, NODE, [...tsxArgs, join(BENCH_DIR, 'client.ts'), JSON.stringify({ ...base, count })], o.ns);
      clientProcs.push(c);
    }
    let stalledProc: Child | undefined;
    if (o.stalled) {
      stalledProc = start('stalled', NODE, [...tsxArgs, join(BENCH_DIR, 'client.ts'), JSON.stringify({ ...base, count: o.stalled, stall: true })], o.ns);
    }
    children.push(...clientProcs, ...(stalledProc ? [stalledProc] : []));
    // Every client process boots first; then all connect in the same moment.
    const allClients = [...clientProcs, ...(stalledProc ? [stalledProc] : [])];
    await Promise.all(allClients.map((c) => c.next((l) => l.type === 'booted', 30000, 'client boot')));
    await sleep(200);
    const loadSampler = new TreeSampler(() => [source.pid, ...clientProcs.map((c) => c.pid)]);
    const cpuC0 = proxySampler.cpu();
    const loadC0 = loadSampler.cpu();
    const t0 = performance.now();
    for (const c of allClients) c.send('go');
    await Promise.all([...clientProcs, ...(stalledProc ? [stalledProc] : [])].map((c) => c.next((l) => l.type === 'ready', 60000, 'clients ready')));
    const connectS = (performance.now() - t0) / 1000;
    const cpuC1 = proxySampler.cpu();
    const loadC1 = loadSampler.cpu();
    // CPU used while the clients connected (proxy, and source + clients): who had the cores.
    const connectCpuS = {
      proxy: r3(cpuC1.user + cpuC1.sys - cpuC0.user - cpuC0.sys),
      loadgen: r3(loadC1.user + loadC1.sys - loadC0.user - loadC0.sys),
    };

    // 4. Ramp, then the measurement window.
    await sleep(o.rampS * 1000);
    const cpuA = proxySampler.cpu();
    const loadA = loadSampler.cpu();
    const w0 = performance.now();
    for (const c of clientProcs) c.send('window');
    const sse0 = sse ? { messages: sse.messages, bytes: sse.bytes } : undefined;
    await sleep(o.measureS * 1000);
    for (const c of clientProcs) c.send('report');
    const sseInfo = sse && sse0 ? { subscribers: sse.connected, messages: sse.messages - sse0.messages, bytes: sse.bytes - sse0.bytes } : undefined;
    const cpuB = proxySampler.cpu();
    const loadB = loadSampler.cpu();
    const windowS = (performance.now() - w0) / 1000;
    source.send('report');
    const reports = await Promise.all(clientProcs.map((c) => c.next((l) => l.type === 'report', 30000, 'client report')));
    const srcReport = await source.next((l) => l.type === 'report', 5000, 'source report').catch(() => undefined);
    const stalledInfo = stalledProc ? await (async () => {
      stalledProc.send('report');
      const r = await stalledProc.next((l) => l.type === 'report', 10000, 'stalled report');
      const cs = r.clients as ClientReport[];
      return { connected: cs.filter((c) => c.ttfbMs >= 0).length, closedByProxy: cs.filter((c) => c.closed).length };
    })() : undefined;
    const udpB = o.ns ? await udpCounters(o.ns) : undefined;
    proxySampler.sample();
    proxySampler.stop();
    loadSampler.stop();

    // 5. Tally.
    const cs = reports.flatMap((r) => r.clients as ClientReport[]);
    const hist = new Map<number, number>();
    let binUs = 100;
    for (const r of reports) {
      binUs = r.binUs as number;
      for (const [b, n] of r.latHist as [number, number][]) hist.set(b, (hist.get(b) ?? 0) + n);
    }
    const samples = [...hist.values()].reduce((s, n) => s + n, 0);
    const bytes = cs.reduce((s, c) => s + c.windowBytes, 0);
    const gbit = (bytes * 8) / 1e9;
    const cpu = { user: r3(cpuB.user - cpuA.user), sys: r3(cpuB.sys - cpuA.sys), total: r3(cpuB.user + cpuB.sys - cpuA.user - cpuA.sys) };
    const failures: Record<string, number> = {};
    for (const c of cs) {
      const why = c.status !== 200 ? (c.error || `status ${c.status}`) : c.closed ? `closed${c.error ? ' ' + c.error : ''}` : '';
      if (why) failures[why] = (failures[why] ?? 0) + 1;
    }
    const conn = cs.map((c) => c.connectMs).filter((x) => x >= 0).sort((a, b) => a - b);
    const ttfb = cs.map((c) => c.ttfbMs).filter((x) => x >= 0).sort((a, b) => a - b);
    const media1 = cs.map((c) => c.mediaMs).filter((x) => x >= 0).sort((a, b) => a - b);
    const maxBin = Math.max(-1, ...hist.keys());
    return {
      clients: o.clients, stalled: o.stalled ?? 0, upstream: o.upstream, bitrateMbps: o.bitrate / 1e6, proxyConfig: o.proxyConfig ?? {}, streamConfig: o.streamConfig ?? {},
      connectS: r3(connectS), connectCpuS, windowS: r3(windowS),
      proxyCpuS: cpu,
      deliveredGbit: r3(gbit), deliveredGbps: r3(gbit / windowS), expectedGbps: r3((o.clients * o.bitrate) / 1e9),
      cpuSPerGbit: r3(cpu.total / gbit),
      clientsWithLossWindow: cs.filter((c) => c.windowCcErrors > 0).length,
      clientsWithLossTotal: cs.filter((c) => c.ccErrors > 0 || c.stampGaps > 0).length,
      ccErrors: cs.reduce((s, c) => s + c.ccErrors, 0), stampGaps: cs.reduce((s, c) => s + c.stampGaps, 0),
      syncErrors: cs.reduce((s, c) => s + c.syncErrors, 0),
      failedClients: Object.values(failures).reduce((s, n) => s + n, 0), failures,
      latencyMs: { p50: histPct(hist, binUs, 0.5), p99: histPct(hist, binUs, 0.99), max: ((maxBin + 1) * binUs) / 1000, samples },
      connectMs: { p50: pct(conn, 0.5), max: conn.at(-1) ?? NaN },
      ttfbMs: { p50: pct(ttfb, 0.5), p90: pct(ttfb, 0.9), max: ttfb.at(-1) ?? NaN }, firstMediaMs: { p50: pct(media1, 0.5), max: media1.at(-1) ?? NaN },
      proxyPeakRssMB: Math.round(proxySampler.peakRssKb / 102.4) / 10,
      proxyPeakRssAnonMB: Math.round(proxySampler.peakAnonKb / 102.4) / 10,
      proxyPeakPssMB: Math.round(proxySampler.peakPssKb / 102.4) / 10,
      commonCcErrors: cs.length ? Math.min(...cs.map((c) => c.ccErrors)) : 0,
      udp: udpA && udpB ? Object.fromEntries(Object.keys(udpB).map((k) => [k, udpB[k]! - (udpA[k] ?? 0)])) : undefined,
      proxyProcs: proxySampler.maxProcs,
      stalledClients: stalledInfo,
      statusPage: sseInfo,
      loadgenCpuS: r3(loadB.user + loadB.sys - loadA.user - loadA.sys),
      loadavg: [+load0.toFixed(2), +loadavg()[0]!.toFixed(2)],
      sourceMaxLateMs: Math.round(Number(srcReport?.maxLateMs ?? NaN)),
      source: srcReport,
      proxyEvents: Object.fromEntries(proxy.evtCounts),
      perClient: {
        windowMbps: cs.map((c) => Math.round((c.windowBytes * 8) / windowS / 1e4) / 100),
        ccErrors: cs.map((c) => c.ccErrors),
        connectMs: cs.map((c) => c.connectMs),
        ttfbMs: cs.map((c) => c.ttfbMs),
        firstMediaMs: cs.map((c) => c.mediaMs),
      },
    };
  } finally {
    sse?.close();
    // Proxy first (gracefully, so a CPU profile gets written), then everything else.
    const proxy = children.find((c) => c.name === 'proxy');
    if (proxy) await proxy.stop(o.cpuProfDir ? 15000 : 5000);
    await Promise.all(children.map((c) => c.stop(2000)));
  }
}

/** `n` status page viewers (Server-Sent Events), in this process; counts what they get. */
function statusSubscribers(port: number, n: number): { readonly messages: number; readonly bytes: number; readonly connected: number; close(): void } {
  const reqs: http.ClientRequest[] = [];
  const st = { messages: 0, bytes: 0, connected: 0, close: () => { for (const r of reqs) r.destroy(); } };
  for (let i = 0; i < n; i++) {
    const req = http.get({ host: '127.0.0.1', port, path: '/status?events', agent: false }, (res) => {
      st.connected++;
      res.on('data', (d: Buffer) => {
        st.bytes += d.length;
        for (let j = d.indexOf(10); j >= 0 && j + 1 < d.length; j = d.indexOf(10, j + 1)) if (d[j + 1] === 10) st.messages++;
      });
      res.on('error', () => {});
    });
    req.on('error', () => {});
    reqs.push(req);
  }
  return st;
}
