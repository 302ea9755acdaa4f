// health, statistics, check and control through the real CLI, with and without
// streaming clients, compared with the Go restreamer's answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { startProxy, StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { sleep, until } from '../helpers/wait.js';
import { fixtureTs, PacedServer, tsByteRate } from '../helpers/upstream.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

interface Answer { status: number; type: string | undefined; text: string; json: () => Record<string, unknown> }

function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, type: res.headers['content-type'], text,
        json: () => JSON.parse(text) as Record<string, unknown>,
      }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url}`)));
  });
}

/** The original's statistics keys, in its order. */
const ORIGINAL_STATISTICS_KEYS = [
  'status', 'connections', 'max_connections', 'full_connections',
  'total_packets_received', 'total_packets_sent', 'total_packets_dropped',
  'total_bytes_received', 'total_bytes_sent', 'total_bytes_dropped', 'total_stream_time_ns',
  'packets_per_second_received', 'packets_per_second_sent', 'packets_per_second_dropped',
  'bytes_per_second_received', 'bytes_per_second_sent', 'bytes_per_second_dropped',
];

const rate = tsByteRate(fixtureTs());
let up: PacedServer;
let p: ProxyProcess;

async function setup(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the first call
  if (p) return;
  up = new PacedServer(readFileSync(fixtureTs()), rate);
  await up.start();
  cleanups.push(() => up.stop());
  p = await startProxy({
    reconnect: 1, timeout: 3, fullconnections: 2, maxconnections: 3,
    resources: [
      { type: 'stream', serve: '/live.ts', remote: up.url() },
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
      { type: 'api', api: 'check', serve: '/check', remote: '/live.ts' },
      { type: 'api', api: 'control', serve: '/control', remote: '/live.ts' },
    ],
  }, { waitStreams: true });
  cleanups.push(() => p.stop());
}

function within(actual: number, expected: number, lo: number, hi: number, what: string): void {
  assert.ok(actual >= expected * lo && actual <= expected * hi, `${what}: ${actual} not within [${lo}, ${hi}] x ${expected}`);
}

test('without clients: health, statistics, check and control answer as the original', async () => {
  await setup();
  const h = await get(p.url('/health'));
  assert.equal(h.status, 200);
  assert.equal(h.type, 'application/json');
  assert.deepEqual(h.json(), { status: 'ok', viewer: 0, limit: 2, max: 3, bandwidth: 0, offline: [], down: [], unhealthy: [] });

  const s = await get(p.url('/statistics'));
  assert.equal(s.status, 200);
  assert.equal(s.type, 'application/json');
  const st = s.json();
  assert.deepEqual(Object.keys(st).filter((k) => ORIGINAL_STATISTICS_KEYS.includes(k)), ORIGINAL_STATISTICS_KEYS, 'every original key, in order');
  for (const k of ORIGINAL_STATISTICS_KEYS.slice(1)) assert.equal(typeof st[k], 'number', k);
  assert.equal(st.status, 'ok');
  assert.equal(st.connections, 0);
  assert.equal(st.max_connections, 3);
  assert.equal(st.full_connections, 2);
  assert.equal(st.total_packets_sent, 0);
  assert.equal(st.total_bytes_sent, 0);
  assert.ok((st.total_packets_received as number) > 0, 'the upstream is being read');
  assert.equal(st.total_bytes_received, (st.total_packets_received as number) * 188);
  assert.equal(st.total_stream_time, st.total_stream_time_ns);
  const live = (st.streams as Record<string, Record<string, unknown>>)['/live.ts']!;
  assert.equal(live.url, up.url());
  assert.equal(live.connected, true);
  assert.equal(live.offline, false);
  assert.equal(live.clients, 0);
  assert.equal(live.reconnects, 0);
  assert.equal(live.packets_dropped, 0);
  assert.equal(live.discarded_bytes, 0);

  const c = await get(p.url('/check'));
  assert.deepEqual([c.status, c.type, c.text], [200, 'text/plain', '200 ok']);
  const bad = await get(p.url('/control'));
  assert.deepEqual([bad.status, bad.type, bad.text], [400, 'text/plain', '400 bad request']);
  const other = await get(p.url('/control?restart=1'));
  assert.equal(other.status, 400);
  assert.ok(p.logs.some((l) => l.evt === 'warning' && l.api === 'control' && l.resource === '/control'), 'control without authentication is warned about at startup');
});

test('with clients: viewer count, soft and hard limits, bandwidth and rates follow the load', async () => {
  await setup();
  const clients = [new StreamClient(p.url('/live.ts'), { keep: false }), new StreamClient(p.url('/live.ts'), { keep: false })];
  cleanups.push(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.responded));
  await sleep(3000); // time passing is the point: the rates and stream time below are measured over these 3 s
  const received = clients.reduce((n, c) => n + c.bytes, 0);
  const h = (await get(p.url('/health'))).json();
  assert.equal(h.status, 'full', 'soft limit (2) reached');
  assert.equal(h.viewer, 2);
  // Two clients at the stream's rate, in kbit/s; the window still holds some idle time.
  within(h.bandwidth as number, (2 * rate * 8) / 1024, 0.4, 1.5, 'health bandwidth');

  const st = (await get(p.url('/statistics'))).json();
  assert.equal(st.status, 'full');
  assert.equal(st.connections, 2);
  // Each client's start prefix (a fresh PAT and PMT, a few packets) is not counted as sent.
  assert.ok((st.total_bytes_sent as number) + 2 * 4 * 188 >= received, 'everything the clients got was counted as sent');
  assert.equal(st.total_bytes_sent, (st.total_packets_sent as number) * 188);
  within(st.bytes_per_second_sent as number, 2 * rate, 0.4, 1.5, 'bytes_per_second_sent');
  assert.equal(st.bytes_per_second_sent, (st.packets_per_second_sent as number) * 188);
  within(st.bytes_per_second_received as number, rate, 0.6, 1.5, 'bytes_per_second_received');
  within(st.total_stream_time_ns as number, 2 * 3e9, 0.9, 1.5, 'total_stream_time_ns');
  const live = (st.streams as Record<string, Record<string, number>>)['/live.ts']!;
  assert.equal(live.clients, 2);
  within(live.bitrate_out!, 2 * rate * 8, 0.4, 1.5, 'bitrate_out');
  within(live.bitrate_in!, rate * 8, 0.6, 1.5, 'bitrate_in');

  const third = new StreamClient(p.url('/live.ts'), { keep: false });
  cleanups.push(() => third.close());
  await third.responded;
  assert.equal(third.status, 200);
  const over = (await get(p.url('/statistics'))).json();
  assert.equal(over.status, 'overload', 'hard limit (3) reached');
  assert.equal((await get(p.url('/health'))).json().status, 'full');
  const refused = new StreamClient(p.url('/live.ts'));
  await refused.done;
  assert.equal(refused.status, 404);

  for (const c of [...clients, third]) c.close();
  await until(() => p.logs.filter((l) => l.evt === 'client_disconnect').length >= 3, 5000, 'disconnects');
  await until(() => p.logs.filter((l) => l.evt === 'access' && l.path === '/live.ts' && l.status === 200).length >= 3, 5000, 'access lines');
  for (const l of p.logs.filter((x) => x.evt === 'access' && x.path === '/live.ts' && x.status === 200)) {
    assert.equal(l.packetsDropped, 0, 'stream access lines carry the dropped packets');
    assert.ok((l.packetsSent as number) > 0);
    assert.ok((l.bytes as number) >= (l.packetsSent as number) * 188);
    assert.equal(l.aborted, true, 'the viewer left before the stream ended');
  }
  assert.ok(p.logs.some((l) => l.evt === 'access' && l.path === '/live.ts' && l.status === 404), 'refused viewers are logged too');
  const idle = (await get(p.url('/health'))).json();
  assert.equal(idle.status, 'ok');
  assert.equal(idle.viewer, 0);
});

test('control offline ends the clients, shows in check, health and statistics; online serves again', async () => {
  await setup();
  const viewer = new StreamClient(p.url('/live.ts'), { keep: false });
  cleanups.push(() => viewer.close());
  await viewer.responded;
  await until(() => viewer.bytes > 0, 5000, 'data');

  const off = await get(p.url('/control?offline'));
  assert.deepEqual([off.status, off.type, off.text], [202, 'text/plain', '202 accepted']);
  await until(() => viewer.ended, 5000, 'the streaming response to end');
  assert.deepEqual([(await get(p.url('/check'))).status, (await get(p.url('/check'))).text], [404, '404 not found']);
  const h = (await get(p.url('/health'))).json();
  assert.deepEqual(h.offline, ['/live.ts']);
  assert.equal(h.viewer, 0);
  const live = ((await get(p.url('/statistics'))).json().streams as Record<string, Record<string, unknown>>)['/live.ts']!;
  assert.equal(live.offline, true);
  assert.equal(live.connected, true, 'the upstream itself stays connected');
  const refused = new StreamClient(p.url('/live.ts'));
  await refused.done;
  assert.equal(refused.status, 404);
  assert.equal((await get(p.url('/control?offline'))).status, 202, 'repeating is harmless');

  const on = await get(p.url('/control?online'));
  assert.deepEqual([on.status, on.text], [202, '202 accepted']);
  assert.deepEqual([(await get(p.url('/check'))).status, (await get(p.url('/check'))).text], [200, '200 ok']);
  assert.deepEqual((await get(p.url('/health'))).json().offline, []);
  const back = new StreamClient(p.url('/live.ts'), { keep: false });
  cleanups.push(() => back.close());
  await back.responded;
  assert.equal(back.status, 200);
  await until(() => back.bytes > 0, 5000, 'data after online');

  // Both given: offline wins, as in the original.
  assert.equal((await get(p.url('/control?online&offline'))).status, 202);
  await until(() => back.ended, 5000, 'the streaming response to end (offline wins)');
  assert.equal((await get(p.url('/check'))).status, 404);
  assert.equal((await get(p.url('/control?online'))).status, 202);
});

test('check answers 404 while the upstream is down and 200 once it is back', async () => {
  await setup();
  const port = up.port;
  await up.stop();
  await until(() => p.logs.some((l) => l.evt === 'upstream_disconnect' || l.evt === 'upstream_error'), 5000, 'upstream loss');
  await until(async () => (await get(p.url('/check'))).status === 404, 5000, 'check to answer 404', 50);
  const c = await get(p.url('/check'));
  assert.deepEqual([c.status, c.text], [404, '404 not found']);
  const st = (await get(p.url('/statistics'))).json();
  assert.equal((st.streams as Record<string, Record<string, unknown>>)['/live.ts']!.connected, false);
  await up.start(port);
  await until(() => p.logs.filter((l) => l.evt === 'upstream_connect').length >= 2, 8000, 'reconnect');
  assert.equal((await get(p.url('/check'))).status, 200);
  const again = (await get(p.url('/statistics'))).json();
  assert.ok(((again.streams as Record<string, Record<string, number>>)['/live.ts']!.reconnects ?? 0) >= 1, 'reconnects counted');
});

test('nostats: statistics answers zeros like the original; health still counts viewers', async () => {
  const up2 = new PacedServer(readFileSync(fixtureTs()), rate);
  await up2.start();
  cleanups.push(() => up2.stop());
  const q = await startProxy({
    nostats: true, fullconnections: 1,
    resources: [
      { type: 'stream', serve: '/live.ts', remote: up2.url() },
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics' },
    ],
  }, { waitStreams: true });
  cleanups.push(() => q.stop());
  const viewer = new StreamClient(q.url('/live.ts'), { keep: false });
  cleanups.push(() => viewer.close());
  await viewer.responded;
  await until(() => viewer.bytes > 0, 5000, 'data');
  await sleep(1200); // time passing is the point: with statistics on, the 1 s rate sampler would show rates by now
  const st = (await get(q.url('/statistics'))).json();
  assert.equal(st.status, 'ok');
  for (const k of ORIGINAL_STATISTICS_KEYS.slice(1)) assert.equal(st[k], 0, k);
  assert.deepEqual(st.streams, {});
  assert.deepEqual((await get(q.url('/health'))).json(), { status: 'full', viewer: 1, limit: 1, max: 0, bandwidth: 0, offline: [], down: [], unhealthy: [] });
  viewer.close();
});
