import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateSampler, StatsCollector, StatusCounts, type StreamView } from '../../../src/metrics/stats.js';

function clock(start = 1000) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('rate is per second from the oldest kept sample to now', () => {
  const c = clock();
  const s = new RateSampler({ samples: 3, now: c.now });
  let n = 0;
  const id = s.track(() => n);
  assert.equal(s.perSecond(id), 0, 'no sample yet');
  s.sample(); // t=1000, n=0
  c.t += 100;
  n = 50;
  assert.equal(s.perSecond(id), 0, 'a window under 0.2 s is not a rate');
  c.t += 900; // t=2000
  n = 100;
  assert.equal(s.perSecond(id), 100);
  s.sample(); // t=2000 n=100
  c.t += 1000;
  n = 400;
  s.sample(); // t=3000 n=400
  c.t += 500;
  n = 450; // t=3500: window from t=1000 (n=0)
  assert.equal(s.perSecond(id), 450 / 2.5);
  s.sample(); // t=3500 n=450; ring of 3 drops the t=1000 sample
  c.t += 500;
  n = 500; // t=4000: oldest kept is t=2000 (n=100)
  assert.equal(s.perSecond(id), 400 / 2);
});

test('a counter tracked late starts at rate 0; a counter that goes back reads 0, never negative', () => {
  const c = clock();
  const s = new RateSampler({ samples: 4, now: c.now });
  let a = 0;
  const ida = s.track(() => a);
  s.sample();
  c.t += 1000;
  a = 1000;
  s.sample();
  let b = 5000;
  const idb = s.track(() => b);
  c.t += 1000;
  assert.equal(s.perSecond(idb), 0);
  b = 5200;
  assert.equal(s.perSecond(idb), 100, 'back-filled with its value when tracked');
  a = 0;
  assert.equal(s.perSecond(ida), 0);
});

test('start() samples at once and on a timer that does not hold the process; close() is idempotent', async () => {
  const s = new RateSampler({ intervalMs: 100, samples: 3 });
  let n = 0;
  const id = s.track(() => n);
  s.start();
  s.start();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 550));
  n = 300;
  const r = s.perSecond(id);
  const windowS = (performance.now() - t0) / 1000;
  assert.ok(r > 300 / windowS, `rate ${r} uses a window shorter than the whole run (ring of 3 x 100 ms)`);
  s.close();
  s.close();
});

function fakeStream(name: string): StreamView & { hub: { packetsIn: number; packetsSent: number; packetsDropped: number; clientCount: number; ms: number } } {
  const hub = { packetsIn: 0, packetsSent: 0, packetsDropped: 0, clientCount: 0, ms: 0, clientMs() { return hub.ms; } };
  return { name, connected: true, offline: false, hub, aligner: { discardedBytes: 7 }, currentUrl: 'http://u:secret@h/x', reconnects: 2, bytesIn: 1234 };
}

test('collector: totals over streams, rates, per-stream figures, redacted URL', () => {
  const c = clock();
  const a = fakeStream('/a');
  const b = fakeStream('/b');
  const col = new StatsCollector({
    streams: [a, b], connections: () => 3, maxConnections: 10, fullConnections: 5, enabled: true,
    redact: (u) => u.replace('secret', '***'), sampler: { now: c.now, samples: 5 },
  });
  (col as unknown as { sampler: RateSampler }).sampler.sample();
  c.t += 2000;
  a.hub.packetsIn = 2000; a.hub.packetsSent = 4000; a.hub.packetsDropped = 10; a.hub.ms = 1500;
  b.hub.packetsIn = 1000; b.hub.packetsSent = 0; b.hub.clientCount = 2;
  const g = col.global();
  assert.equal(g.connections, 3);
  assert.equal(g.maxConnections, 10);
  assert.equal(g.fullConnections, 5);
  assert.equal(g.packetsReceived, 3000);
  assert.equal(g.packetsSent, 4000);
  assert.equal(g.packetsDropped, 10);
  assert.equal(g.streamTimeNs, 1500 * 1e6);
  assert.equal(g.packetsPerSecondReceived, 1500);
  assert.equal(g.packetsPerSecondSent, 2000);
  assert.equal(g.packetsPerSecondDropped, 5);
  assert.equal(col.bytesPerSecondSent(), 2000 * 188);
  const sa = col.stream('/a')!;
  assert.equal(sa.url, 'http://u:***@h/x');
  assert.equal(sa.bitrateIn, 1000 * 188 * 8);
  assert.equal(sa.bitrateOut, 2000 * 188 * 8);
  assert.equal(sa.discardedBytes, 7);
  assert.equal(sa.reconnects, 2);
  assert.equal(sa.bytesRead, 1234);
  assert.equal(col.stream('/b')!.clients, 2);
  assert.equal(col.stream('/nope'), undefined);
  assert.deepEqual(col.names(), ['/a', '/b']);
  col.close();
});

test('collector disabled (nostats): zeros everywhere, no sampler', () => {
  const a = fakeStream('/a');
  a.hub.packetsSent = 99;
  const col = new StatsCollector({ streams: [a], connections: () => 3, maxConnections: 10, fullConnections: 5, enabled: false });
  col.start();
  const g = col.global();
  for (const [k, v] of Object.entries(g)) assert.equal(v, 0, k);
  assert.equal(col.bytesPerSecondSent(), 0);
  assert.equal(col.stream('/a'), undefined);
  col.close();
});

test('status counts', () => {
  const s = new StatusCounts();
  s.add(200); s.add(404); s.add(200);
  assert.deepEqual([...s.entries()].sort(), [[200, 2], [404, 1]]);
});
