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
import { ROOT, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { parseConfig } from '../../src/config/load.js';
import { Scope } from '../helpers/scope.js';
import { freePort, PacedServer } from '../helpers/upstream.js';
import { ccErrors } from '../helpers/packets.js';

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

/** The whole topology, started: encoder, origin, two edges (with `edge1`/`edge2` config additions), HAProxy. */
class Tier {
  readonly scope = new Scope();
  readonly viewers: StreamClient[] = [];
  origin!: ProxyProcess;
  edge1!: ProxyProcess;
  edge2!: ProxyProcess;
  hp!: Haproxy;
  private dir = '';

  async start(edge1: Record<string, unknown>, edge2: Record<string, unknown>): Promise<void> {
    const scope = this.scope;
    // The encoder: the shipped demo clip (6 s of H.264 + AAC) served in a loop at its own
    // rate, with seamless continuity counters (no ffmpeg needed).
    const clip = readFileSync(join(ROOT, 'examples', 'demo', 'demo.ts'));
    const encoder = new PacedServer(clip, Math.round(clip.length / 6));
    await encoder.start();
    scope.defer(() => encoder.stop());
    this.origin = await scope.proxy(example('origin.json', 'http://encoder:8080/live.ts', encoder.url()));
    const fromOrigin = this.origin.url('/stream');
    this.edge1 = await scope.proxy(example('edge1.json', 'http://origin:8000/stream', fromOrigin, edge1));
    this.edge2 = await scope.proxy(example('edge2.json', 'http://origin:8000/stream', fromOrigin, edge2));

    const [port, statsPort] = [await freePort(), await freePort()];
    let cfg = readFileSync(join(EXAMPLES, 'haproxy.cfg'), 'utf8');
    cfg = replace(cfg, /^ {4}bind :80$/m, `    bind 127.0.0.1:${port}`);
    // The example's maxconn needs 2 x 20000 descriptors, more than a test machine may allow.
    cfg = replace(cfg, /^ {4}maxconn 20000$/m, '    maxconn 1000');
    cfg = replace(cfg, 'bind 127.0.0.1:8404', `bind 127.0.0.1:${statsPort}`);
    cfg = replace(cfg, 'server edge1 edge1:8000 check', `server edge1 127.0.0.1:${this.edge1.port} check`);
    cfg = replace(cfg, 'server edge2 edge2:8000 check', `server edge2 127.0.0.1:${this.edge2.port} check`);
    // Short check intervals so the test takes seconds; the check itself is the shipped one.
    cfg = replace(cfg, 'default-server inter 1s fall 1 rise 2', 'default-server inter 200ms fall 1 rise 1');
    this.dir = mkdtempSync(join(tmpdir(), 'rs-haproxy-'));
    const cfgPath = join(this.dir, 'haproxy.cfg');
    writeFileSync(cfgPath, cfg);
    const check = spawnSync('haproxy', ['-c', '-f', cfgPath], { encoding: 'utf8' });
    assert.equal(check.status, 0, `haproxy -c: ${check.stdout}${check.stderr}`);
    this.hp = new Haproxy(cfgPath, statsPort, port);
    scope.defer(() => this.hp.stop());
    await this.hp.waitState('edge1', 'UP');
    await this.hp.waitState('edge2', 'UP');
  }

  /** A viewer through HAProxy, once it has data; returns it with the edge that serves it. */
  async viewer(): Promise<{ c: StreamClient; edge: string }> {
    const c = new StreamClient(`http://127.0.0.1:${this.hp.port}/stream`);
    this.viewers.push(c);
    await c.responded;
    assert.equal(c.status, 200, `viewer answered ${c.status}; haproxy: ${this.hp.output.slice(-1500)}`);
    await until(() => c.bytes > 0, 10000, 'first bytes through haproxy');
    return { c, edge: String(c.headers['x-edge']) };
  }

  async close(): Promise<void> {
    for (const v of this.viewers) v.close();
    // SIGINT stops at once, also an edge that is draining.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if start() failed
    for (const p of [this.edge1, this.edge2]) if (p?.exitCode === null && p.exitSignal === null) p.proc.kill('SIGINT');
    await this.scope.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

const viewersOf = async (p: ProxyProcess) => (await getJson(p.url('/health'))).viewer as number;

/** Every packet boundary has a sync byte and no PID's continuity counter jumps. */
function assertClean(c: StreamClient, who: string): void {
  const all = c.body();
  const body = all.subarray(0, all.length - (all.length % 188));
  for (let o = 0; o < body.length; o += 188) assert.equal(body[o], 0x47, `${who}: sync byte at ${o}`);
  assert.equal(ccErrors(body), 0, `${who}: continuity errors`);
}

describe('edge tier: origin, two edges, HAProxy (examples/haproxy)', { skip, timeout: 120000 }, () => {
  const tier = new Tier();
  let origin: ProxyProcess;
  let edge1: ProxyProcess;
  let edge2: ProxyProcess;
  let hp: Haproxy;
  const viewer = () => tier.viewer();

  before(async () => {
    // edge1 is full at 2 viewers, so the test can fill it; edge2 keeps the example's limits.
    await tier.start({ fullconnections: 2 }, {});
    ({ origin, edge1, edge2, hp } = tier);
  });
  after(() => tier.close());

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
    await until(async () => (await viewersOf(edge1)) === 0, 5000, 'edge1 to stop counting viewers that left', 50);
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
      assertClean(c, 'edge2 viewer');
    }
    const s = await getJson(edge2.url('/statistics'));
    assert.equal(s.total_packets_dropped, 0);
  });
});

/** Why the drain scenario cannot run with this build's loader, or false when it can. */
async function drainUnknown(): Promise<string | false> {
  const why = 'this build does not know the "drain" key (the SIGTERM drain)';
  const warnings: { path: string }[] = [];
  try {
    await parseConfig(JSON.stringify({ drain: 1, resources: [{ type: 'stream', serve: '/s', remote: 'http://127.0.0.1:1/s' }] }), ROOT, { onWarning: (w) => warnings.push(w) });
  } catch {
    return why;
  }
  return warnings.some((w) => w.path === 'drain') ? why : false;
}
const noDrain = skip || (await drainUnknown());

describe('edge tier: an edge that drains (SIGTERM with "drain")', { skip: noDrain, timeout: 120000 }, () => {
  const tier = new Tier();
  after(() => tier.close());

  it('gets no new viewers while its own keep streaming, then exits when they have left', async () => {
    await tier.start({ drain: 30 }, { drain: 30 });
    const { edge1, hp } = tier;
    const a = await tier.viewer();
    const b = await tier.viewer();
    assert.notEqual(a.edge, b.edge, 'one viewer on each edge');
    const [mine, other] = a.edge === 'edge1' ? [a.c, b.c] : [b.c, a.c];

    edge1.proc.kill('SIGTERM');
    const end = Date.now() + 5000;
    for (;;) {
      const h = await getJson(edge1.url('/health'));
      if (h.draining === true) { assert.equal(h.status, 'full'); break; }
      assert.ok(Date.now() < end, `edge1 health while draining: ${JSON.stringify(h)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await hp.waitState('edge1', 'DOWN');
    for (let i = 0; i < 2; i++) assert.equal((await tier.viewer()).edge, 'edge2', 'a new viewer went to the draining edge');

    // The draining edge's viewer keeps streaming, and the edge keeps running for it.
    const at = mine.bytes;
    await until(() => mine.bytes > at + 100 * 188, 10000, 'the draining edge\'s viewer to keep getting data');
    assert.equal(edge1.exitCode, null, 'edge1 exited while a viewer was still watching');
    assert.equal(await viewersOf(edge1), 1);

    // Its last viewer leaves: the drain ends early and the edge exits cleanly.
    mine.close();
    await mine.done;
    const exited = await Promise.race([edge1.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10000))]);
    assert.ok(exited, 'edge1 did not exit after its last viewer left');
    assert.equal(edge1.exitCode, 0);
    assertClean(mine, 'the drained viewer');
    assertClean(other, 'the other edge\'s viewer');
    assert.equal(other.ended, false);
  });
});
