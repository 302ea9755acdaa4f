// The HLS handler over a real socket with a fake source: status codes, caching headers,
// validators, HEAD, byte ranges, CORS, offline and on-demand streams.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { hlsHandler, type HlsSource, type HlsStream } from '../../../src/http/hls.js';
import type { Handler } from '../../../src/http/server.js';
import { until } from '../../helpers/wait.js';

const servers: http.Server[] = [];
after(() => { for (const s of servers) s.close(); });

const SEGMENT = Buffer.alloc(188 * 4, 7);
const source: HlsSource = {
  targetS: 4,
  lastListedAt: 1000,
  playlist: () => ({ body: Buffer.from('#EXTM3U\n'), etag: '"e-p1"' }),
  segment: (name) => (name === 'e-1.ts' ? { data: SEGMENT, etag: '"e-1"' } : undefined),
  onListed: () => () => undefined,
};

class FakeStream implements HlsStream {
  available = true;
  offline = false;
  ondemand = false;
  demands = 0;
  polls = 0;
  demand(): Promise<boolean> { this.demands++; this.available = true; return Promise.resolve(true); }
  viewerJoined(): void { this.polls++; }
  viewerLeft(): void { /* counted on join */ }
}

let clock = 0;

async function serve(stream: HlsStream, cors = true, src = source, firstSegmentWaitMs = 0): Promise<string> {
  const h: Handler = hlsHandler({ path: '/news.m3u8', stream, source: src, cors, authenticated: !cors, now: () => clock, firstSegmentWaitMs });
  const s = http.createServer(h as http.RequestListener);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test('playlist: type, half a target of caching, ETag and 304, CORS', async () => {
  const stream = new FakeStream();
  const base = await serve(stream);
  const r = await fetch(`${base}/news.m3u8?x=1`);
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '#EXTM3U\n');
  assert.equal(r.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  assert.equal(r.headers.get('cache-control'), 'public, max-age=2');
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  assert.equal((await fetch(`${base}/news.m3u8`, { headers: { 'If-None-Match': 'W/"e-p1", "x"' } })).status, 304);
  assert.equal(stream.polls, 2, 'each poll keeps an on-demand upstream');
  const pre = await fetch(`${base}/news.m3u8`, { method: 'OPTIONS' });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /Range/);
  assert.equal((await fetch(`${base}/news.m3u8`, { method: 'POST' })).status, 405);
});

test('segments: immutable caching, HEAD, ranges (206, suffix, 416), unknown names 404', async () => {
  const base = await serve(new FakeStream(), false);
  const r = await fetch(`${base}/news.m3u8/e-1.ts`);
  assert.equal(r.status, 200);
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), SEGMENT);
  assert.equal(r.headers.get('cache-control'), 'private, max-age=86400, immutable', 'authenticated: no shared cache');
  assert.equal(r.headers.get('accept-ranges'), 'bytes');
  assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS where the resource has authentication');
  const head = await fetch(`${base}/news.m3u8/e-1.ts`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(SEGMENT.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const part = await fetch(`${base}/news.m3u8/e-1.ts`, { headers: { Range: 'bytes=-100' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes ${SEGMENT.length - 100}-${SEGMENT.length - 1}/${SEGMENT.length}`);
  assert.equal((await part.arrayBuffer()).byteLength, 100);
  const open = await fetch(`${base}/news.m3u8/e-1.ts`, { headers: { Range: 'bytes=700-' } });
  assert.equal(open.headers.get('content-range'), `bytes 700-751/752`);
  const bad = await fetch(`${base}/news.m3u8/e-1.ts`, { headers: { Range: 'bytes=5000-' } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), 'bytes */752');
  assert.equal((await fetch(`${base}/news.m3u8/e-2.ts`)).status, 404);
  assert.equal((await fetch(`${base}/news.m3u8/`)).status, 404);
});

test('upstream gone: served for three target durations after the last segment, then 404; set offline: 404 at once', async () => {
  const off = new FakeStream();
  off.available = false;
  const base = await serve(off);
  clock = 1000 + 3 * 4000;
  assert.equal((await fetch(`${base}/news.m3u8`)).status, 200, 'players poll through an upstream switch');
  assert.equal((await fetch(`${base}/news.m3u8/e-1.ts`)).status, 200);
  clock++;
  assert.equal((await fetch(`${base}/news.m3u8`)).status, 404);
  assert.equal((await fetch(`${base}/news.m3u8/e-1.ts`)).status, 404);
  assert.equal(off.demands, 0);
  clock = 1000;
  off.offline = true;
  assert.equal((await fetch(`${base}/news.m3u8`)).status, 404);
});

test('on demand: the playlist request starts the upstream, a segment request does not', async () => {
  clock = 1e9;

  const od = new FakeStream();
  od.available = false;
  od.ondemand = true;
  const base2 = await serve(od);
  assert.equal((await fetch(`${base2}/news.m3u8/e-1.ts`)).status, 404);
  assert.equal(od.demands, 0);
  assert.equal((await fetch(`${base2}/news.m3u8`)).status, 200);
  assert.equal(od.demands, 1);

  const empty = await serve(new FakeStream(), true, { ...source, lastListedAt: -1, playlist: () => undefined });
  assert.equal((await fetch(`${empty}/news.m3u8`)).status, 404, 'no segment yet, no wait: no playlist');
});

test('before the first segment a playlist request waits for it, bounded', async () => {
  let listed = false;
  const waiting = new Set<() => void>();
  const starting: HlsSource = {
    ...source, lastListedAt: -1,
    playlist: () => (listed ? source.playlist() : undefined),
    onListed: (fn) => { waiting.add(fn); return () => { waiting.delete(fn); }; },
  };
  const base = await serve(new FakeStream(), true, starting, 60_000);
  const pending = fetch(`${base}/news.m3u8`);
  await until(() => waiting.size === 1, 5000, 'the request waits');
  listed = true;
  for (const fn of waiting) fn();
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(await r.text(), '#EXTM3U\n');

  listed = false;
  waiting.clear();
  const short = await serve(new FakeStream(), true, starting, 20);
  assert.equal((await fetch(`${short}/news.m3u8`)).status, 404, 'no segment in time');
  assert.equal(waiting.size, 0, 'the wait was cancelled');
});
