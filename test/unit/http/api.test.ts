// The JSON and text APIs in-process: each handler on a real node:http server on port 0,
// asked by a real HTTP client, answering from a real StatsCollector over fake streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHandler, controlHandler, healthHandler, notFoundHandler, statisticsHandler, type ApiContext, type ControlledStream } from '../../../src/http/api.js';
import { StatsCollector, type StreamView } from '../../../src/metrics/stats.js';
import { request, serve, type Handler } from '../../helpers/inproc.js';
import { INDICATORS, type Indicator } from '../../../src/ts/alarms.js';

/** A stream as statistics and control see it, every figure settable. */
class FakeStream implements StreamView, ControlledStream {
  connected = true;
  offline = false;
  idleOnDemand = false;
  unhealthy = false;
  health: { alarms: Indicator[]; counts(): Record<Indicator, number> } | undefined;
  currentUrl: string | undefined = 'http://user:secret@up.example/live.ts';
  reconnects = 2;
  bytesIn = 5000;
  aligner = { discardedBytes: 17, packetSize: 188 };
  hub = { packetsIn: 0, packetsSent: 0, packetsDropped: 0, clientCount: 0, ms: 0, clientMs(): number { return this.ms; } };
  offlineCalls: boolean[] = [];
  constructor(readonly name: string) {}
  get available(): boolean { return this.connected && !this.offline; }
  setOffline(offline: boolean): void { this.offlineCalls.push(offline); this.offline = offline; }
}

interface World { a: FakeStream; b: FakeStream; clock: { t: number }; stats: StatsCollector; ctx: ApiContext; conns: { n: number; draining: boolean } }

function world(o: { max?: number; full?: number; enabled?: boolean } = {}): World {
  const a = new FakeStream('/a');
  const b = new FakeStream('/b');
  const clock = { t: 1_000_000 };
  const conns = { n: 0, draining: false };
  const stats = new StatsCollector({
    streams: [a, b], connections: () => conns.n, maxConnections: o.max ?? 0, fullConnections: o.full ?? 0,
    enabled: o.enabled ?? true, redact: (u) => u.replace('secret', 'xxxxx'), sampler: { now: () => clock.t },
  });
  stats.start();
  const ctx: ApiContext = {
    stats, connections: () => conns.n, maxConnections: o.max ?? 0, fullConnections: o.full ?? 0,
    streams: new Map([[a.name, a], [b.name, b]]), draining: () => conns.draining,
  };
  return { a, b, clock, stats, ctx, conns };
}

/** GET /health's answer as the original documents it, plus our `offline`, `down` and `draining`. */
interface HealthAnswer {
  status: string; viewer: number; limit: number; max: number; bandwidth: number;
  down: string[]; offline: string[]; draining?: boolean;
  unhealthy: string[];
}

/** GET /statistics's answer: the original's keys, plus our per-stream `streams`. */
interface StatisticsAnswer {
  status: string; connections: number; max_connections: number; full_connections: number;
  total_packets_received: number; total_packets_sent: number; total_packets_dropped: number;
  total_bytes_received: number; total_bytes_sent: number; total_bytes_dropped: number;
  total_stream_time_ns: number; total_stream_time: number;
  packets_per_second_received: number; packets_per_second_sent: number; packets_per_second_dropped: number;
  bytes_per_second_sent: number;
  streams: Record<string, unknown>;
}

// The shapes are claimed, not checked: each test asserts the figures (or the whole body) it reads.
const health = (r: { body: string }): HealthAnswer => JSON.parse(r.body) as HealthAnswer;
const statistics = (r: { body: string }): StatisticsAnswer => JSON.parse(r.body) as StatisticsAnswer;

async function ask(h: Handler, path = '/'): Promise<{ status: number; type: string | undefined; body: string }> {
  const s = await serve(h);
  try {
    const a = await request(`${s.base}${path}`);
    assert.equal(a.headers['content-length'], String(a.body.length), 'Content-Length matches the body');
    return { status: a.status, type: a.headers['content-type'], body: a.body.toString('utf8') };
  } finally { await s.close(); }
}

test('health: ok with connection figures, then full at the soft limit, at the hard limit, and while draining', async () => {
  const w = world({ max: 10, full: 5 });
  try {
    w.conns.n = 4;
    const r = await ask(healthHandler(w.ctx));
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/json');
    assert.deepEqual(JSON.parse(r.body), { status: 'ok', viewer: 4, limit: 5, max: 10, bandwidth: 0, down: [], offline: [], unhealthy: [] });
    w.conns.n = 5;
    assert.equal(health(await ask(healthHandler(w.ctx))).status, 'full');
    const hard = world({ max: 3 });
    hard.conns.n = 3;
    assert.equal(health(await ask(healthHandler(hard.ctx))).status, 'full');
    hard.stats.close();
    w.conns.n = 0;
    w.conns.draining = true;
    const d = health(await ask(healthHandler(w.ctx)));
    assert.equal(d.status, 'full');
    assert.equal(d.draining, true);
  } finally { w.stats.close(); }
});

test('health: bandwidth in kbit/s (1024) from the packets sent; streams offline and down listed apart', async () => {
  const w = world();
  try {
    w.clock.t += 2000;
    w.a.hub.packetsSent = 2000; // 1000 packets/s
    w.b.connected = false;
    w.a.offline = true;
    const h = health(await ask(healthHandler(w.ctx)));
    assert.equal(h.bandwidth, Math.floor((1000 * 188 * 8) / 1024));
    assert.deepEqual(h.offline, ['/a']);
    assert.deepEqual(h.down, ['/b']);
    assert.equal(h.draining, undefined);
    // An idle on-demand stream is servable, not down.
    w.b.idleOnDemand = true;
    assert.deepEqual(health(await ask(healthHandler(w.ctx))).down, []);
  } finally { w.stats.close(); }
});

test('statistics: the original\'s keys and totals in whole packets, per-stream entries, ok/full/overload', async () => {
  const w = world({ max: 4, full: 2 });
  try {
    w.clock.t += 2000;
    w.a.hub.packetsIn = 4000; w.a.hub.packetsSent = 6000; w.a.hub.packetsDropped = 20; w.a.hub.ms = 1500; w.a.hub.clientCount = 1;
    w.b.hub.packetsIn = 1000;
    w.conns.n = 1;
    const r = await ask(statisticsHandler(w.ctx));
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/json');
    const s = statistics(r);
    assert.equal(s.status, 'ok');
    assert.equal(s.connections, 1);
    assert.equal(s.max_connections, 4);
    assert.equal(s.full_connections, 2);
    assert.equal(s.total_packets_received, 5000);
    assert.equal(s.total_packets_sent, 6000);
    assert.equal(s.total_packets_dropped, 20);
    assert.equal(s.total_bytes_received, 5000 * 188);
    assert.equal(s.total_bytes_sent, 6000 * 188);
    assert.equal(s.total_bytes_dropped, 20 * 188);
    assert.equal(s.total_stream_time_ns, 1500 * 1e6);
    assert.equal(s.total_stream_time, s.total_stream_time_ns);
    assert.equal(s.packets_per_second_received, 2000 + 500);
    assert.equal(s.packets_per_second_sent, 3000);
    assert.equal(s.packets_per_second_dropped, 10);
    assert.equal(s.bytes_per_second_sent, 3000 * 188);
    assert.deepEqual(Object.keys(s.streams), ['/a', '/b']);
    assert.deepEqual(s.streams['/a'], {
      url: 'http://user:xxxxx@up.example/live.ts', connected: true, offline: false, clients: 1,
      bitrate_in: 2000 * 188 * 8, bitrate_out: 3000 * 188 * 8,
      packets_received: 4000, packets_sent: 6000, packets_dropped: 20,
      packets_per_second_received: 2000, packets_per_second_sent: 3000, packets_per_second_dropped: 10,
      bytes_read: 5000, discarded_bytes: 17, packet_size: 188, reconnects: 2,
    });
    w.conns.n = 2;
    assert.equal(statistics(await ask(statisticsHandler(w.ctx))).status, 'full');
    w.conns.n = 4;
    assert.equal(statistics(await ask(statisticsHandler(w.ctx))).status, 'overload');
  } finally { w.stats.close(); }
});

test('statistics with nostats: every figure zero and no streams, as the original\'s dummy collector', async () => {
  const w = world({ max: 4, full: 2, enabled: false });
  w.a.hub.packetsSent = 99;
  w.conns.n = 3;
  const s = statistics(await ask(statisticsHandler(w.ctx)));
  assert.equal(s.status, 'ok');
  assert.equal(s.connections, 0);
  assert.equal(s.total_packets_sent, 0);
  assert.deepEqual(s.streams, {});
  // health still counts connections live (a load balancer must see "full").
  const h = health(await ask(healthHandler(w.ctx)));
  assert.equal(h.viewer, 3);
  assert.equal(h.status, 'full');
});

test('check: "200 ok" while servable (or idle on demand), "404 not found" otherwise, as text/plain', async () => {
  const w = world();
  try {
    let r = await ask(checkHandler(w.a));
    assert.deepEqual(r, { status: 200, type: 'text/plain', body: '200 ok' });
    w.a.connected = false;
    r = await ask(checkHandler(w.a));
    assert.deepEqual(r, { status: 404, type: 'text/plain', body: '404 not found' });
    w.a.idleOnDemand = true;
    assert.equal((await ask(checkHandler(w.a))).status, 200);
    w.a.offline = true;
    assert.equal((await ask(checkHandler(w.a))).status, 404, 'offline wins over on demand');
  } finally { w.stats.close(); }
});

test('health failover: check fails while the remote in use has a priority-1 alarm, health lists the stream as unhealthy, statistics show alarms and counts', async () => {
  const w = world();
  try {
    const counts = Object.fromEntries(INDICATORS.map((i) => [i, 0])) as Record<Indicator, number>;
    w.a.health = { alarms: ['pid_error'], counts: () => ({ ...counts, pid_error: 2 }) };
    w.a.unhealthy = true;
    assert.equal((await ask(checkHandler(w.a))).status, 404);
    assert.deepEqual(health(await ask(healthHandler(w.ctx))).unhealthy, ['/a']);
    const st = JSON.parse((await ask(statisticsHandler(w.ctx))).body) as { streams: Record<string, { alarms?: string[]; tr101290_errors?: Record<string, number> }> };
    assert.deepEqual(st.streams['/a']!.alarms, ['pid_error']);
    assert.equal(st.streams['/a']!.tr101290_errors!.pid_error, 2);
    assert.equal(st.streams['/b']!.alarms, undefined, 'no checks, no keys');
    w.a.unhealthy = false;
    assert.equal((await ask(checkHandler(w.a))).status, 200);
    assert.deepEqual(health(await ask(healthHandler(w.ctx))).unhealthy, []);
  } finally { w.stats.close(); }
});

test('control: ?offline and ?online answer 202 and switch the stream; offline wins over online; anything else 400', async () => {
  const w = world();
  try {
    const h = controlHandler(w.a);
    assert.deepEqual(await ask(h, '/control?offline'), { status: 202, type: 'text/plain', body: '202 accepted' });
    assert.equal(w.a.offline, true);
    assert.deepEqual(await ask(h, '/control?online'), { status: 202, type: 'text/plain', body: '202 accepted' });
    assert.equal(w.a.offline, false);
    assert.equal((await ask(h, '/control?online&offline')).status, 202);
    assert.equal(w.a.offline, true);
    assert.deepEqual(w.a.offlineCalls, [true, false, true]);
    assert.deepEqual(await ask(h, '/control'), { status: 400, type: 'text/plain', body: '400 bad request' });
    assert.deepEqual(await ask(h, '/control?other=1'), { status: 400, type: 'text/plain', body: '400 bad request' });
    assert.deepEqual(w.a.offlineCalls, [true, false, true], 'a bad request changes nothing');
  } finally { w.stats.close(); }
});

test('an API whose target is missing: 404 not found', async () => {
  assert.deepEqual(await ask(notFoundHandler(), '/x'), { status: 404, type: 'text/plain', body: '404 not found' });
});
