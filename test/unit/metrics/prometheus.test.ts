// The prometheus API in-process: PrometheusMetrics.handle on a real node:http server on
// port 0, scraped by a real client, the text parsed by a real exposition-format parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { PrometheusMetrics, type MetricsStream } from '../../../src/metrics/prometheus.js';
import { StatsCollector, StatusCounts, type StreamView } from '../../../src/metrics/stats.js';
import type { AnalyzerView, StreamHealthView } from '../../../src/stream/contracts.js';
import { INDICATORS, type Indicator } from '../../../src/ts/alarms.js';
import { capturedLogger, request, serve, type Answer } from '../../helpers/inproc.js';

interface Family { name: string; help: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }
// The parser ships no type declarations.
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

class FakeView implements StreamView {
  connected = true;
  offline = false;
  currentUrl: string | undefined = 'http://u:secret@main.example/a.ts';
  reconnects = 0;
  bytesIn = 0;
  aligner = { discardedBytes: 0 };
  hub = { packetsIn: 0, packetsSent: 0, packetsDropped: 0, clientCount: 0, ms: 0, clientMs(): number { return this.ms; } };
  analyzer: AnalyzerView | undefined;
  health: StreamHealthView | undefined;
  constructor(readonly name: string) {}
}

function setup(o: { profile?: boolean } = {}) {
  const view = new FakeView('/a.ts');
  const responses = new StatusCounts();
  const stream: MetricsStream = { view, remotes: ['http://u:secret@main.example/a.ts', 'http://backup.example/a.ts'], responses };
  const stats = new StatsCollector({ streams: [view], connections: () => 0, maxConnections: 0, fullConnections: 0, enabled: false });
  const notify = { stats: { sent: 0, failed: 0, dropped: 0 } };
  const { log } = capturedLogger();
  const metrics = new PrometheusMetrics({
    streams: [stream], stats, profile: o.profile ?? false, notifications: notify, log,
    redact: (u) => u.replace(/\/\/[^@/]*@/, '//'),
  });
  return { view, responses, metrics, notify };
}

async function scrape(metrics: PrometheusMetrics, headers: Record<string, string> = {}): Promise<Answer> {
  const s = await serve((req, res) => metrics.handle(req, res));
  try { return await request(`${s.base}/metrics`, { headers }); } finally { await s.close(); }
}

function families(text: string): Map<string, Family> {
  return new Map(parsePrometheus(text).map((f) => [f.name, f]));
}

/** The value of `name` with exactly `labels`. */
function value(fams: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const f = fams.get(name);
  const m = f?.metrics.find((x) => JSON.stringify(Object.entries(x.labels ?? {}).sort()) === JSON.stringify(Object.entries(labels).sort()));
  return m === undefined ? undefined : Number(m.value);
}

test('text format: parses; the original\'s metrics count from the plain counters, URLs redacted, per-URL source figures', async () => {
  const { view, responses, metrics, notify } = setup();
  try {
    view.hub.packetsSent = 1000; view.hub.packetsDropped = 4; view.hub.packetsIn = 300; view.hub.clientCount = 3; view.hub.ms = 2500;
    view.bytesIn = 70_000; view.reconnects = 2; view.aligner.discardedBytes = 11;
    responses.add(200); responses.add(200); responses.add(404);
    notify.stats.sent = 5;
    const a = await scrape(metrics);
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], metrics.registry.contentType);
    assert.match(a.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(a.headers.vary, 'Accept-Encoding');
    assert.equal(a.headers['content-encoding'], undefined);
    const f = families(a.body.toString('utf8'));
    const L = { stream: '/a.ts' };
    assert.equal(f.get('streaming_packets_sent')?.type, 'COUNTER');
    assert.equal(f.get('streaming_packets_sent')?.help, 'Total number of MPEG-TS packets sent from the output queue.');
    assert.equal(value(f, 'streaming_packets_sent', L), 1000);
    assert.equal(value(f, 'streaming_bytes_sent', L), 1000 * 188);
    assert.equal(value(f, 'streaming_packets_dropped', L), 4);
    assert.equal(value(f, 'streaming_bytes_dropped', L), 4 * 188);
    assert.equal(value(f, 'streaming_connections', L), 3);
    assert.equal(value(f, 'streaming_duration', L), 2500 * 1e6);
    const main = { stream: '/a.ts', url: 'http://main.example/a.ts' };
    const backup = { stream: '/a.ts', url: 'http://backup.example/a.ts' };
    assert.equal(value(f, 'streaming_source_connected', main), 1);
    assert.equal(value(f, 'streaming_source_connected', backup), 0);
    assert.equal(value(f, 'streaming_packets_received', main), 300);
    assert.equal(value(f, 'streaming_packets_received', backup), 0);
    assert.equal(value(f, 'streaming_bytes_received', main), 300 * 188);
    assert.equal(value(f, 'streaming_source_reconnects_total', L), 2);
    assert.equal(value(f, 'streaming_source_bytes_read_total', L), 70_000);
    assert.equal(value(f, 'streaming_discarded_bytes_total', L), 11);
    assert.equal(value(f, 'streaming_offline', L), 0);
    assert.equal(value(f, 'streaming_responses_total', { stream: '/a.ts', code: '200' }), 2);
    assert.equal(value(f, 'streaming_responses_total', { stream: '/a.ts', code: '404' }), 1);
    assert.equal(value(f, 'restreamer_notifications_total', { result: 'sent' }), 5);
    assert.ok(f.has('process_cpu_user_seconds_total'), 'process metrics');
    assert.ok(![...f.keys()].some((n) => n.startsWith('nodejs_')), 'no runtime metrics without profile');
    assert.ok(!a.body.toString('utf8').includes('secret'), 'no password in any label');
  } finally { metrics.close(); }
});

test('counters advance by what happened between scrapes, never go down, and follow the URL in use after a failover', async () => {
  const { view, metrics } = setup();
  try {
    view.hub.packetsSent = 100; view.hub.packetsIn = 50;
    await scrape(metrics);
    view.hub.packetsSent = 250; view.hub.packetsIn = 80;
    view.currentUrl = 'http://backup.example/a.ts';
    let f = families((await scrape(metrics)).body.toString('utf8'));
    assert.equal(value(f, 'streaming_packets_sent', { stream: '/a.ts' }), 250);
    assert.equal(value(f, 'streaming_packets_received', { stream: '/a.ts', url: 'http://main.example/a.ts' }), 50);
    assert.equal(value(f, 'streaming_packets_received', { stream: '/a.ts', url: 'http://backup.example/a.ts' }), 30);
    assert.equal(value(f, 'streaming_source_connected', { stream: '/a.ts', url: 'http://backup.example/a.ts' }), 1);
    assert.equal(value(f, 'streaming_source_connected', { stream: '/a.ts', url: 'http://main.example/a.ts' }), 0);
    // A hub counter that starts over (a restarted stream) never takes a counter down.
    view.hub.packetsSent = 10;
    view.offline = true;
    f = families((await scrape(metrics)).body.toString('utf8'));
    assert.equal(value(f, 'streaming_packets_sent', { stream: '/a.ts' }), 250);
    assert.equal(value(f, 'streaming_offline', { stream: '/a.ts' }), 1);
  } finally { metrics.close(); }
});

test('health checks: an alarm gauge (0/1) and an error counter per indicator, the counter never going down', async () => {
  const { view, metrics } = setup();
  try {
    const counts = Object.fromEntries(INDICATORS.map((i) => [i, 0])) as Record<Indicator, number>;
    const h = { alarms: [] as Indicator[], counts: () => ({ ...counts }) };
    view.health = h;
    counts.cc_error = 3;
    h.alarms = ['cc_error'];
    let f = families((await scrape(metrics)).body.toString('utf8'));
    assert.equal(value(f, 'restreamer_stream_alarm', { stream: '/a.ts', indicator: 'cc_error' }), 1);
    assert.equal(value(f, 'restreamer_stream_alarm', { stream: '/a.ts', indicator: 'pid_error' }), 0);
    assert.equal(value(f, 'restreamer_stream_tr101290_errors_total', { stream: '/a.ts', indicator: 'cc_error' }), 3);
    assert.equal(f.get('restreamer_stream_tr101290_errors_total')!.metrics.length, INDICATORS.length);
    counts.cc_error = 5;
    h.alarms = [];
    f = families((await scrape(metrics)).body.toString('utf8'));
    assert.equal(value(f, 'restreamer_stream_alarm', { stream: '/a.ts', indicator: 'cc_error' }), 0);
    assert.equal(value(f, 'restreamer_stream_tr101290_errors_total', { stream: '/a.ts', indicator: 'cc_error' }), 5);
    counts.cc_error = 1;
    f = families((await scrape(metrics)).body.toString('utf8'));
    assert.equal(value(f, 'restreamer_stream_tr101290_errors_total', { stream: '/a.ts', indicator: 'cc_error' }), 5);
  } finally { metrics.close(); }
});

test('stream analysis: keyframe age, GOP, continuity errors and one info series per elementary stream', async () => {
  const { view, metrics } = setup();
  try {
    view.analyzer = {
      programs: [{ program: 1, pmtPid: 0x1000, pcrPid: 0x100, streams: [{ pid: 0x100, streamType: 0x1b, codec: 'h264' }, { pid: 0x101, streamType: 0x0f, codec: 'aac' }] }],
      videoPid: 0x100, videoCodec: 'h264', continuityErrors: 7, rapTimeMs: -1, gopMs: 2000, gopPackets: 500,
    };
    const f = families((await scrape(metrics)).body.toString('utf8'));
    const L = { stream: '/a.ts' };
    assert.equal(value(f, 'streaming_source_continuity_errors_total', L), 7);
    assert.equal(value(f, 'streaming_keyframe_age_seconds', L), -1);
    assert.equal(value(f, 'streaming_gop_seconds', L), 2);
    assert.equal(value(f, 'streaming_elementary_stream_info', { stream: '/a.ts', program: '1', pid: '256', codec: 'h264' }), 1);
    assert.equal(value(f, 'streaming_elementary_stream_info', { stream: '/a.ts', program: '1', pid: '257', codec: 'aac' }), 1);
  } finally { metrics.close(); }
});

test('gzip when the scraper accepts it: the same exposition, compressed, with its length; not when refused (q=0)', async () => {
  const { view, metrics } = setup();
  try {
    view.hub.packetsSent = 42;
    const z = await scrape(metrics, { 'accept-encoding': 'gzip, deflate' });
    assert.equal(z.status, 200);
    assert.equal(z.headers['content-encoding'], 'gzip');
    assert.equal(z.headers.vary, 'Accept-Encoding');
    assert.equal(z.headers['content-length'], String(z.body.length));
    const text = gunzipSync(z.body).toString('utf8');
    assert.equal(value(families(text), 'streaming_packets_sent', { stream: '/a.ts' }), 42);
    const star = await scrape(metrics, { 'accept-encoding': '*' });
    assert.equal(star.headers['content-encoding'], 'gzip');
    const refused = await scrape(metrics, { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal(value(families(refused.body.toString('utf8')), 'streaming_packets_sent', { stream: '/a.ts' }), 42);
  } finally { metrics.close(); }
});

test('profile: the Node runtime metrics are added', async () => {
  const { metrics } = setup({ profile: true });
  try {
    const f = families((await scrape(metrics)).body.toString('utf8'));
    assert.ok([...f.keys()].some((n) => n.startsWith('nodejs_')));
    assert.ok(f.has('streaming_packets_sent'));
  } finally { metrics.close(); }
});

test('after close(): 503, and close() again is harmless', async () => {
  const { metrics } = setup();
  metrics.close();
  metrics.close();
  const a = await scrape(metrics);
  assert.equal(a.status, 503);
  assert.equal(a.body.toString(), '503 service unavailable');
});
