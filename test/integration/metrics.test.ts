// The prometheus API through the real CLI, parsed by a real exposition-format parser:
// the original's metric names and labels, counters that agree with what the upstream
// sent and the clients received, our additions, and the process / runtime metric groups.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { startProxy, StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { fixtureTs, freePort, tsByteRate } from '../helpers/upstream.js';

interface Family { name: string; help: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }
// The parser ships no type declarations.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** A live-like HTTP upstream that counts every byte it writes and can pause. */
class CountingUpstream {
  written = 0;
  paused = false;
  port = 0;
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(data: Buffer, bytesPerSec: number) {
    const npk = Math.floor(data.length / 188);
    const perTick = Math.max(1, Math.round(bytesPerSec / 100 / 188));
    this.server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'video/mp2t' });
      let pk = 0;
      const t = setInterval(() => {
        if (this.paused) return;
        const out = Buffer.allocUnsafe(perTick * 188);
        for (let i = 0; i < perTick; i++) {
          data.copy(out, i * 188, pk * 188, pk * 188 + 188);
          pk = (pk + 1) % npk;
        }
        this.written += out.length;
        res.write(out);
      }, 10);
      this.timers.add(t);
      res.on('close', () => { clearInterval(t); this.timers.delete(t); });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(): string { return `http://127.0.0.1:${this.port}/live.ts`; }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | undefined; families: Map<string, Family> }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => {
        const families = new Map<string, Family>();
        if (res.statusCode === 200) for (const f of parsePrometheus(text)) families.set(f.name, f);
        resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], families });
      });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('scrape timed out')));
  });
}

/** The value of `name` with exactly these label values (undefined when absent). */
function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = fams.get(name);
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v) && Object.keys(x.labels ?? {}).length === Object.keys(labels).length);
  return m ? Number(m.value) : undefined;
}

/** Resolves once `sample()` has not changed for 300 ms (bounded: 5 s): quiet for a while is the condition. */
async function settled(sample: () => string): Promise<void> {
  let last = sample();
  let since = Date.now();
  await until(() => {
    const now = sample();
    if (now !== last) { last = now; since = Date.now(); }
    return Date.now() - since >= 300;
  }, 5000, 'the clients to settle', 50);
}

function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', reject);
  });
}

test('counters agree with the bytes streamed; original names, labels and types; additions; process metrics only', async () => {
  const fixture = fixtureTs();
  const rate = tsByteRate(fixture);
  const up = new CountingUpstream(readFileSync(fixture), rate);
  await up.start();
  cleanups.push(() => up.stop());
  const refused = `http://127.0.0.1:${await freePort()}/gone.ts`;
  const p = await startProxy({
    reconnect: 1, timeout: 2,
    userlist: { alice: { password: 'pw' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: up.url(), remotes: [refused] },
      { type: 'stream', serve: '/down.ts', remote: refused },
      { type: 'stream', serve: '/auth.ts', remote: refused, authentication: { type: 'basic', realm: 'r', user: 'alice' } },
      { type: 'api', api: 'prometheus', serve: '/metrics' },
    ],
  });
  cleanups.push(() => p.stop());
  await p.waitLog((l) => l.evt === 'upstream_connect' && l.url === up.url(), 10000);

  const started = Date.now();
  const clients = [0, 1, 2].map(() => new StreamClient(p.url('/live.ts'), { keep: false }));
  cleanups.push(() => clients.forEach((c) => c.close()));
  await Promise.all(clients.map((c) => c.responded));
  const allStreaming = Date.now();
  // A second or more of streaming at the upstream's rate.
  const mark = up.written;
  await until(() => clients.every((c) => c.bytes > 100 * 188) && up.written - mark > rate, 10000, 'a second of data');
  // Stop the upstream's data (the connection stays up), wait until the last batch has
  // reached the clients (their byte counts stop moving), then scrape: every counter must
  // account for exactly what moved.
  up.paused = true;
  await settled(() => clients.map((c) => c.bytes).join(','));
  const scrapedAt = Date.now();
  const s = await scrape(p.url('/metrics'));
  const elapsedNs = (Date.now() - started) * 1e6;
  // Every client streamed at least from its answer to the scrape (100 ms slack each).
  const minDurationNs = 3 * Math.max(0, scrapedAt - allStreaming - 100) * 1e6;
  assert.equal(s.status, 200);
  assert.match(s.type ?? '', /^text\/plain; version=0\.0\.4/);
  const f = s.families;
  const live = { stream: '/live.ts' };
  const good = { stream: '/live.ts', url: up.url() };

  const received = value(f, 'streaming_packets_received', good)!;
  const upPackets = up.written / 188;
  // The aligner holds up to three packets until the bytes after them prove them whole.
  assert.ok(Math.abs(received - upPackets) <= 3, `packets received ${received} vs upstream wrote ${upPackets}`);
  assert.equal(value(f, 'streaming_bytes_received', good), received * 188);
  assert.equal(value(f, 'streaming_packets_received', { stream: '/live.ts', url: refused }), 0);

  const clientBytes = clients.reduce((n, c) => n + c.bytes, 0);
  const sent = value(f, 'streaming_packets_sent', live)!;
  assert.ok(Math.abs(sent * 188 - clientBytes) <= 348 * 188, `packets sent ${sent} x 188 vs clients received ${clientBytes}`);
  assert.equal(value(f, 'streaming_bytes_sent', live), sent * 188);
  assert.equal(value(f, 'streaming_packets_dropped', live), 0);
  assert.equal(value(f, 'streaming_bytes_dropped', live), 0);
  assert.equal(value(f, 'streaming_connections', live), 3);
  const duration = value(f, 'streaming_duration', live)!;
  assert.ok(duration >= minDurationNs && duration > 0 && duration <= 3 * elapsedNs, `streaming_duration ${duration} ns for 3 clients over ${elapsedNs} ns`);
  assert.equal(value(f, 'streaming_source_connected', good), 1);
  assert.equal(value(f, 'streaming_source_connected', { stream: '/live.ts', url: refused }), 0);
  assert.equal(value(f, 'streaming_source_connected', { stream: '/down.ts', url: refused }), 0);

  for (const [name, type] of Object.entries({
    streaming_packets_sent: 'COUNTER', streaming_bytes_sent: 'COUNTER', streaming_packets_dropped: 'COUNTER',
    streaming_bytes_dropped: 'COUNTER', streaming_connections: 'GAUGE', streaming_duration: 'COUNTER',
    streaming_source_connected: 'GAUGE', streaming_packets_received: 'COUNTER', streaming_bytes_received: 'COUNTER',
  })) assert.equal(f.get(name)?.type, type, name);

  // Additions.
  const bitsIn = value(f, 'streaming_bitrate_in_bits_per_second', live)!;
  const bitsOut = value(f, 'streaming_bitrate_out_bits_per_second', live)!;
  assert.ok(bitsIn > rate * 8 * 0.3 && bitsIn < rate * 8 * 1.5, `bitrate in ${bitsIn} vs ${rate * 8}`);
  assert.ok(bitsOut > 3 * rate * 8 * 0.3 && bitsOut < 3 * rate * 8 * 1.5, `bitrate out ${bitsOut} vs ${3 * rate * 8}`);
  assert.equal(value(f, 'streaming_discarded_bytes_total', live), 0);
  assert.equal(value(f, 'streaming_source_bytes_read_total', live), up.written);
  assert.ok(value(f, 'streaming_source_reconnects_total', { stream: '/down.ts' })! >= 1, 'a refused upstream is retried');
  assert.equal(value(f, 'streaming_offline', live), 0);
  assert.equal(value(f, 'streaming_responses_total', { stream: '/live.ts', code: '200' }), 3);

  // Process metrics yes, Node runtime metrics no (profile is off).
  assert.ok(value(f, 'process_cpu_user_seconds_total')! > 0);
  assert.ok(value(f, 'process_resident_memory_bytes')! > 10e6);
  assert.ok(value(f, 'process_start_time_seconds')! > 1.6e9);
  const runtime = [...f.keys()].filter((n) => n.startsWith('nodejs_'));
  assert.deepEqual(runtime, []);

  // Responses by status; the counters keep counting after the clients leave.
  assert.equal(await get(p.url('/down.ts')), 404);
  assert.equal(await get(p.url('/down.ts')), 404);
  assert.equal(await get(p.url('/auth.ts')), 401);
  assert.equal(await get(p.url('/auth.ts'), { Authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` }), 404);
  for (const c of clients) c.close();
  await until(() => p.logs.filter((l) => l.evt === 'client_disconnect').length >= 3, 5000, 'disconnects');
  up.paused = false;
  // Data flows again: scrape until the upstream side has counted some of it.
  let f2 = new Map<string, Family>();
  await until(async () => {
    f2 = (await scrape(p.url('/metrics'))).families;
    return value(f2, 'streaming_packets_received', good)! > received;
  }, 5000, 'packets received after the pause', 50);
  assert.equal(value(f2, 'streaming_connections', live), 0);
  assert.equal(value(f2, 'streaming_packets_sent', live), sent, 'no client, nothing sent');
  assert.ok(value(f2, 'streaming_packets_received', good)! > received, 'received keeps counting');
  assert.ok(value(f2, 'streaming_duration', live)! >= duration);
  assert.equal(value(f2, 'streaming_responses_total', { stream: '/down.ts', code: '404' }), 2);
  assert.equal(value(f2, 'streaming_responses_total', { stream: '/auth.ts', code: '401' }), 1);
  assert.equal(value(f2, 'streaming_responses_total', { stream: '/auth.ts', code: '404' }), 1);
});

test('profile: true adds the Node runtime metrics', async () => {
  const p = await startProxy({
    profile: true,
    resources: [
      { type: 'stream', serve: '/live.ts', remote: `http://127.0.0.1:${await freePort()}/x.ts` },
      { type: 'api', api: 'prometheus', serve: '/metrics' },
    ],
  });
  cleanups.push(() => p.stop());
  const s = await scrape(p.url('/metrics'));
  assert.equal(s.status, 200);
  assert.ok(s.families.has('nodejs_heap_size_total_bytes'));
  assert.ok(s.families.has('nodejs_eventloop_lag_seconds'));
  assert.ok(s.families.has('process_cpu_user_seconds_total'));
  assert.ok(s.families.has('streaming_packets_sent'));
});

for (const workers of [1, 2]) {
  test(`workers: ${workers}: gzip when the scraper sends Accept-Encoding: gzip (as the original) or "*", plain text otherwise`, async () => {
    const p = await startProxy({
      workers,
      resources: [
        { type: 'stream', serve: '/live.ts', remote: `http://127.0.0.1:${await freePort()}/x.ts` },
        { type: 'api', api: 'prometheus', serve: '/metrics' },
      ],
    });
    cleanups.push(() => p.stop());
    const fetchRaw = (headers: Record<string, string>) => new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      // http.get does not decode: the bytes on the wire are what we check.
      const req = http.get(p.url('/metrics'), { agent: false, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('scrape timed out')));
    });
    const zipped = await fetchRaw({ 'Accept-Encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.match(zipped.headers.vary ?? '', /Accept-Encoding/i);
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    assert.deepEqual([...zipped.body.subarray(0, 2)], [0x1f, 0x8b], 'a gzip stream');
    const text = gunzipSync(zipped.body).toString('utf8');
    const fams = new Map(parsePrometheus(text).map((f) => [f.name, f]));
    assert.ok(fams.has('streaming_packets_sent'));
    assert.equal(value(fams, 'streaming_source_connected', { stream: '/live.ts', url: fams.get('streaming_source_connected')!.metrics[0]!.labels!.url! }), 0);

    // What Prometheus itself sends; and a refusal by q=0.
    const prom = await fetchRaw({ 'Accept-Encoding': 'gzip, deflate;q=0.5' });
    assert.equal(prom.headers['content-encoding'], 'gzip');
    // "*" accepts gzip (RFC 9110 12.5.3), in one process as with workers.
    for (const ae of ['*', 'identity, *;q=0.5']) {
      const star = await fetchRaw({ 'Accept-Encoding': ae });
      assert.equal(star.headers['content-encoding'], 'gzip', ae);
      assert.deepEqual([...star.body.subarray(0, 2)], [0x1f, 0x8b], ae);
    }
    for (const ae of [undefined, 'identity', 'gzip;q=0', 'br', '*;q=0', 'gzip;q=0, *']) {
      const plain = await fetchRaw(ae === undefined ? {} : { 'Accept-Encoding': ae });
      assert.equal(plain.headers['content-encoding'], undefined, String(ae));
      assert.match(plain.body.toString('utf8'), /^# HELP /m);
    }
  });
}
