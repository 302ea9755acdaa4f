// The edge tier of examples/haproxy/ run for real on loopback: an origin restreamer, two
// edge restreamers pulling from it (the shipped configs, addresses replaced) and Debian's
// HAProxy with the shipped haproxy.cfg (addresses and check intervals replaced). Shows
// what docs/scaling.md promises: viewers spread over the edges, the origin serves one
// connection per edge, a full edge gets no new viewers, a stopped edge's new viewers go
// to the other edge, and the other edge's viewers lose nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, StreamClient, until, type ProxyProcess } from '../helpers/proxy.js';
import { Scope } from '../helpers/scope.js';
import { freePort, PacedServer } from '../helpers/upstream.js';
import { ccErrors } from '../helpers/ts.js';

const EXAMPLES = join(ROOT, 'examples', 'haproxy');

function haproxyMissing(): string | false {
  const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    return 'haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)';
  }
  return false;
}
const skip = haproxyMissing();

/** A shipped example config without its listen address (the helper binds 127.0.0.1:0). */
function example(name: string, remoteWas: string, remote: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cfg = JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8')) as Record<string, unknown>;
  delete cfg.listen;
  delete cfg.$schema;
  const streams = (cfg.resources as { type: string; remote?: string }[]).filter((r) => r.type === 'stream');
  assert.equal(streams.length, 1, `${name}: one stream`);
  assert.equal(streams[0]!.remote, remoteWas, `${name}: the stream's remote`);
  streams[0]!.remote = remote;
  return { ...cfg, ...extra };
}

/** Replace `from` by `to` in `text`, insisting that `from` is there (the example changed otherwise). */
function replace(text: string, from: string | RegExp, to: string): string {
  assert.ok(typeof from === 'string' ? text.includes(from) : from.test(text), `haproxy.cfg no longer contains ${String(from)}`);
  return text.replace(from, to);
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return (await r.json()) as Record<string, unknown>;
}

class Haproxy {
  readonly proc: ChildProcess;
  output = '';
  exited = false;
  constructor(cfgPath: string, readonly statsPort: number, readonly port: number) {
    this.proc = spawn('haproxy', ['-f', cfgPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => { this.output += d; });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => { this.output += d; });
    this.proc.once('exit', () => { this.exited = true; });
  }

  /** Server name -> { status, scur } from the stats page's CSV. */
  async servers(): Promise<Map<string, { status: string; scur: number }>> {
    const r = await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`);
    const lines = (await r.text()).trim().split('\n');
    const head = lines[0]!.replace(/^# /, '').split(',');
    const col = (n: string) => head.indexOf(n);
    const out = new Map<string, { status: string; scur: number }>();
    for (const l of lines.slice(1)) {
      const f = l.split(',');
      if (f[col('pxname')] !== 'edges' || f[col('svname')] === 'BACKEND') continue;
      out.set(f[col('svname')]!, { status: f[col('status')]!, scur: Number(f[col('scur')]) });
    }
    return out;
  }

  /** Poll until server `name`'s check state starts with `state` (UP / DOWN). */
  async waitState(name: string, state: 'UP' | 'DOWN', ms = 10000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      if (this.exited) throw new Error(`haproxy exited: ${this.output}`);
      let s: string | undefined;
      try { s = (await this.servers()).get(name)?.status; } catch { /* not listening yet */ }
      if (s?.startsWith(state)) return;
      if (Date.now() > end) throw new Error(`haproxy: ${name} is ${s}, not ${state}, after ${ms} ms\n${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(t);
  }
}

describe('edge tier: origin, two edges, HAProxy (examples/haproxy)', { skip, timeout: 120000 }, () => {
  const scope = new Scope();
  const viewers: StreamClient[] = [];
  let origin: ProxyProcess;
  let edge1: ProxyProcess;
  let edge2: ProxyProcess;
  let hp: Haproxy;
  let dir: string;

  /** A viewer through HAProxy, once it has data; returns it with the edge that serves it. */
  async function viewer(): Promise<{ c: StreamClient; edge: string }> {
    const c = new StreamClient(`http://127.0.0.1:${hp.port}/stream`);
    viewers.push(c);
    await c.responded;
    assert.equal(c.status, 200, `viewer answered ${c.status}; haproxy: ${hp.output.slice(-1500)}`);
    await until(() => c.bytes > 0, 10000, 'first bytes through haproxy');
    return { c, edge: String(c.headers['x-edge']) };
  }

  const viewersOf = async (p: ProxyProcess) => (await getJson(p.url('/health'))).viewer as number;

  before(async () => {
    // The encoder: the shipped demo clip (6 s of H.264 + AAC) served in a loop at its own
    // rate, with seamless continuity counters (no ffmpeg needed).
    const clip = readFileSync(join(ROOT, 'examples', 'demo', 'demo.ts'));
    const encoder = new PacedServer(clip, Math.round(clip.length / 6));
    await encoder.start();
    scope.defer(() => encoder.stop());
    origin = await scope.proxy(example('origin.json', 'http://encoder:8080/live.ts', encoder.url()));
    const fromOrigin = origin.url('/stream');
    // edge1 is full at 2 viewers, so the test can fill it; edge2 keeps the example's limits.
    edge1 = await scope.proxy(example('edge1.json', 'http://origin:8000/stream', fromOrigin, { fullconnections: 2 }));
    edge2 = await scope.proxy(example('edge2.json', 'http://origin:8000/stream', fromOrigin));

    const [port, statsPort] = [await freePort(), await freePort()];
    let cfg = readFileSync(join(EXAMPLES, 'haproxy.cfg'), 'utf8');
    cfg = replace(cfg, /^ {4}bind :80$/m, `    bind 127.0.0.1:${port}`);
    // The example's maxconn needs 2 x 20000 descriptors, more than a test machine may allow.
    cfg = replace(cfg, /^ {4}maxconn 20000$/m, '    maxconn 1000');
    cfg = replace(cfg, 'bind 127.0.0.1:8404', `bind 127.0.0.1:${statsPort}`);
    cfg = replace(cfg, 'server edge1 edge1:8000 check', `server edge1 127.0.0.1:${edge1.port} check`);
    cfg = replace(cfg, 'server edge2 edge2:8000 check', `server edge2 127.0.0.1:${edge2.port} check`);
    // Short check intervals so the test takes seconds; the check itself is the shipped one.
    cfg = replace(cfg, 'default-server inter 1s fall 1 rise 2', 'default-server inter 200ms fall 1 rise 1');
    dir = mkdtempSync(join(tmpdir(), 'rs-haproxy-'));
    const cfgPath = join(dir, 'haproxy.cfg');
    writeFileSync(cfgPath, cfg);
    const check = spawnSync('haproxy', ['-c', '-f', cfgPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
    hp = new Haproxy(cfgPath, statsPort, port);
    scope.defer(() => hp.stop());
    await hp.waitState('edge1', 'UP');
    await hp.waitState('edge2', 'UP');
  });

  after(async () => {
    for (const v of viewers) v.close();
    await scope.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let onEdge2: StreamClient[] = [];
  let onEdge1: StreamClient[] = [];

  it('spreads viewers over both edges (leastconn), and the origin serves one connection per edge', async () => {
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await viewer());
    onEdge1 = got.filter((v) => v.edge === 'edge1').map((v) => v.c);
    onEdge2 = got.filter((v) => v.edge === 'edge2').map((v) => v.c);
    assert.equal(onEdge1.length, 2, `X-Edge headers: ${got.map((v) => v.edge).join(',')}`);
    assert.equal(onEdge2.length, 2);
    assert.equal(await viewersOf(edge1), 2);
    assert.equal(await viewersOf(edge2), 2);
    // Four viewers, two edges: the origin has two clients, the edges.
    assert.equal(await viewersOf(origin), 2);
    assert.equal((await getJson(origin.url('/statistics'))).connections, 2);
  });

  it('takes a full edge out of rotation: new viewers all go to the other edge', async () => {
    const h = await getJson(edge1.url('/health'));
    assert.equal(h.status, 'full');
    await hp.waitState('edge1', 'DOWN');
    for (let i = 0; i < 4; i++) {
      const v = await viewer();
      assert.equal(v.edge, 'edge2', 'a viewer went to the full edge');
      onEdge2.push(v.c);
    }
    assert.equal(await viewersOf(edge1), 2, 'the full edge got a new viewer');
    assert.equal(await viewersOf(edge2), 6);
    // The full edge's own viewers keep streaming.
    const before = onEdge1.map((c) => c.bytes);
    await until(() => onEdge1.every((c, i) => c.bytes > before[i]! + 20 * 188), 10000, 'the full edge\'s viewers to keep getting data');
    assert.equal(await viewersOf(origin), 2, 'eight viewers, still one origin connection per edge');
  });

  it('puts an edge back once it is no longer full', async () => {
    for (const c of onEdge1) c.close();
    await Promise.all(onEdge1.map((c) => c.done));
    const end = Date.now() + 5000;
    while ((await viewersOf(edge1)) !== 0) {
      assert.ok(Date.now() < end, 'edge1 still counts viewers that left');
      await new Promise((r) => setTimeout(r, 50));
    }
    await hp.waitState('edge1', 'UP');
    const v = await viewer();
    assert.equal(v.edge, 'edge1', 'leastconn sends the next viewer to the emptier edge');
    onEdge1 = [v.c];
  });

  it('moves new viewers to the other edge when one stops, and the other edge\'s viewers lose nothing', async () => {
    const bytesAtStop = onEdge2.map((c) => c.bytes);
    await edge1.stop();
    await onEdge1[0]!.done;
    // Straight away, before (or whether or not) a health check has seen it: HAProxy's
    // retry/redispatch sends the viewer to the edge that is still there.
    const first = await viewer();
    assert.equal(first.edge, 'edge2');
    await hp.waitState('edge1', 'DOWN');
    const second = await viewer();
    assert.equal(second.edge, 'edge2');
    assert.equal(await viewersOf(edge2), 8);
    assert.equal(await viewersOf(origin), 1, 'one edge left, one origin connection');

    // The viewers that were on edge2 all along: still connected, data flowing after the
    // stop, and not one continuity error in everything they received.
    await until(() => onEdge2.every((c, i) => c.bytes > bytesAtStop[i]! + 100 * 188), 10000, 'edge2 viewers to get data after the stop');
    for (const c of onEdge2) {
      assert.equal(c.ended, false, 'an edge2 viewer was cut');
      const all = c.body();
      const body = all.subarray(0, all.length - (all.length % 188));
      for (let o = 0; o < body.length; o += 188) assert.equal(body[o], 0x47, `sync byte at ${o}`);
      assert.equal(ccErrors(body), 0, 'continuity errors at an edge2 viewer');
    }
    const s = await getJson(edge2.url('/statistics'));
    assert.equal(s.total_packets_dropped, 0);
  });
});
