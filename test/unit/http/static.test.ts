// The static resource in-process: a real StaticResource behind a node:http server on port
// 0, real upstream servers (and files), real clients; the cache's time is a fake clock.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { StaticResource, type StaticOptions } from '../../../src/http/static.js';
import { fnv1a64Hex } from '../../../src/http/fnv.js';
import { createLogger, silentLogger } from '../../../src/log/logger.js';
import { FakeClock } from '../../helpers/clock.js';
import { until } from '../../helpers/wait.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const servers = new Set<http.Server>();
after(async () => {
  for (const s of servers) await stop(s);
});

async function listen(handler: Handler, port = 0): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  servers.add(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

async function stop(server: http.Server): Promise<void> {
  servers.delete(server);
  if (!server.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** An upstream that counts its requests; `handler` may be swapped during a test. */
async function upstream(handler: Handler) {
  const u = { count: 0, handler, port: 0, server: undefined as unknown as http.Server };
  const l = await listen((req, res) => { u.count++; u.handler(req, res); });
  u.port = l.port;
  u.server = l.server;
  return u;
}

/** A front server handing every request to a StaticResource; `arrived` counts the requests it got. */
async function front(o: Omit<StaticOptions, 'log'> & { log?: StaticOptions['log'] }) {
  const resource = new StaticResource({ log: silentLogger(), ...o });
  const f = { resource, port: 0, server: undefined as unknown as http.Server, arrived: 0 };
  const l = await listen((req, res) => { f.arrived++; resource.handle(req, res); });
  f.port = l.port;
  f.server = l.server;
  return f;
}

interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function get(port: number, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/r', method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('test request timed out')));
    req.end();
  });
}

const BODY = Buffer.from('<html><body>hello hbbtv</body></html>\n');
const ETAG = `"${fnv1a64Hex(BODY)}"`;

function serveBody(body: Buffer, type = 'text/html; charset=utf-8'): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'X-Secret': 'no', 'Set-Cookie': 'a=b', ETag: '"upstream"' });
    res.end(body);
  };
}

test('serves the body with Content-Type passed through, FNV ETag and max-age', async () => {
  const up = await upstream(serveBody(BODY));
  const f = await front({ remote: `http://127.0.0.1:${up.port}/index.html`, cacheS: 60 });
  const r = await get(f.port);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, BODY);
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers.etag, ETAG);
  assert.match(r.headers.etag, /^"[0-9a-f]{16}"$/);
  assert.equal(r.headers['cache-control'], 'max-age=60');
  assert.equal(r.headers['content-length'], String(BODY.length));
  assert.equal(r.headers['x-secret'], undefined, 'only Content-Type comes from the upstream');
  assert.equal(r.headers['set-cookie'], undefined);
  f.resource.close();
});

test('If-None-Match: 304 with ETag and Cache-Control, no body; lists, weak, unquoted and *', async () => {
  const up = await upstream(serveBody(BODY));
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 30 });
  const unquoted = ETAG.slice(1, -1);
  for (const inm of [ETAG, `"x", ${ETAG}`, `W/${ETAG}`, unquoted, '*']) {
    const r = await get(f.port, { 'If-None-Match': inm });
    assert.equal(r.status, 304, inm);
    assert.equal(r.headers.etag, ETAG);
    assert.equal(r.headers['cache-control'], 'max-age=30');
    assert.equal(r.body.length, 0);
  }
  const miss = await get(f.port, { 'If-None-Match': '"0000000000000000"' });
  assert.equal(miss.status, 200);
  assert.deepEqual(miss.body, BODY);
  assert.equal(up.count, 1, 'all served from the cache');
  f.resource.close();
});

test('HEAD gives headers only; other methods get 405 with Allow', async () => {
  const up = await upstream(serveBody(BODY));
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 10 });
  const h = await get(f.port, {}, 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.headers.etag, ETAG);
  assert.equal(h.headers['content-length'], String(BODY.length));
  assert.equal(h.body.length, 0);
  for (const m of ['POST', 'PUT', 'DELETE']) {
    const r = await get(f.port, {}, m);
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET, HEAD');
  }
  f.resource.close();
});

test('cache expiry: cacheS=1 serves from the cache for a second, then refetches, with the new ETag', async () => {
  let body = Buffer.from('version 1');
  const up = await upstream((req, res) => serveBody(body, 'text/plain')(req, res));
  const clock = new FakeClock();
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 1, clock });
  const a = await get(f.port);
  body = Buffer.from('version 2');
  clock.tick(999);
  const b = await get(f.port);
  assert.equal(up.count, 1);
  assert.equal(b.headers.etag, a.headers.etag);
  assert.equal(b.body.toString(), 'version 1', 'still the cached body');
  clock.tick(1);
  const c = await get(f.port);
  assert.equal(up.count, 2, 'expired entry fetched again');
  assert.equal(c.body.toString(), 'version 2');
  assert.equal(c.headers.etag, `"${fnv1a64Hex(body)}"`);
  assert.notEqual(c.headers.etag, a.headers.etag);
  f.resource.close();
});

test('cacheS=0 fetches on every request', async () => {
  const up = await upstream(serveBody(BODY));
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 0 });
  for (let i = 1; i <= 3; i++) {
    const r = await get(f.port);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'max-age=0');
    assert.equal(up.count, i);
  }
  f.resource.close();
});

test('50 concurrent requests on a cold cache share one upstream fetch', async () => {
  const big = Buffer.alloc(200_000, 7);
  const fronts: { arrived: number }[] = [];
  // The upstream answers only once all 50 requests have reached the resource, so every
  // one of them arrives while the fetch is in flight.
  const up = await upstream((req, res) => {
    void until(() => fronts[0]!.arrived >= 50, 10_000, 'all 50 requests at the resource').then(() => serveBody(big, 'application/octet-stream')(req, res));
  });
  // cacheS=0: sharing must come from the single flight, not from the cache
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 0 });
  fronts.push(f);
  const all = await Promise.all(Array.from({ length: 50 }, () => get(f.port)));
  assert.equal(up.count, 1);
  for (const r of all) {
    assert.equal(r.status, 200);
    assert.equal(r.body.length, big.length);
    assert.equal(r.headers.etag, `"${fnv1a64Hex(big)}"`);
  }
  await get(f.port);
  assert.equal(up.count, 2, 'the next request after the flight fetches again');
  f.resource.close();
});

test('size limit: Content-Length over the limit, and chunked over/under/at the limit', async () => {
  const size = { n: 0 };
  const up = await upstream((req, res) => {
    const body = Buffer.alloc(size.n, 0x41);
    if (req.url === '/length') {
      res.writeHead(200, { 'Content-Length': body.length });
      res.end(body);
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // chunked: no length
      for (let i = 0; i < body.length; i += 100) res.write(body.subarray(i, i + 100));
      res.end();
    }
  });
  const withLen = await front({ remote: `http://127.0.0.1:${up.port}/length`, cacheS: 0, maxBytes: 1000 });
  const chunked = await front({ remote: `http://127.0.0.1:${up.port}/chunked`, cacheS: 0, maxBytes: 1000 });

  size.n = 1001;
  for (const f of [withLen, chunked]) {
    const r = await get(f.port);
    assert.equal(r.status, 502);
    assert.equal(r.headers['cache-control'], 'no-cache');
  }
  for (const n of [999, 1000]) {
    size.n = n;
    for (const f of [withLen, chunked]) {
      const r = await get(f.port);
      assert.equal(r.status, 200, `${n} bytes`);
      assert.equal(r.body.length, n);
    }
  }
  size.n = 5000;
  assert.equal((await get(chunked.port)).status, 502);
  withLen.resource.close();
  chunked.resource.close();
});

test('an announced length over the limit is refused from the header, without reading the body', async () => {
  let hungUp!: () => void;
  const upstreamClosed = new Promise<void>((resolve) => { hungUp = resolve; });
  const up = await upstream((_req, res) => {
    // Announce 50 MB, send nothing: a fetcher that read the body would wait for its timeout.
    res.writeHead(200, { 'Content-Length': 50_000_000 });
    res.flushHeaders();
    res.on('close', () => hungUp());
  });
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 0, timeoutMs: 60_000 });
  const r = await get(f.port);
  assert.equal(r.status, 502);
  await upstreamClosed; // we hung up on the upstream
  f.resource.close();
});

test('upstream down: 502 no-cache, logged, not cached; recovers when the upstream returns', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const log = createLogger({ stream: sink, level: 'info' }).logger;
  const up = await upstream(serveBody(BODY));
  const port = up.port;
  await stop(up.server);
  const f = await front({ remote: `http://127.0.0.1:${port}/`, cacheS: 60, log });
  const r = await get(f.port);
  assert.equal(r.status, 502);
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.match(r.headers['content-type']!, /^text\/plain/);
  assert.match(r.body.toString(), /502/);
  assert.equal(r.headers.etag, undefined);
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.evt === 'static_error');
  assert.ok(logged, 'failure logged as static_error');
  assert.equal(logged.code, 'UPSTREAM_REFUSED');

  const back = await listen(serveBody(BODY), port);
  const ok = await get(f.port);
  assert.equal(ok.status, 200, 'the error was not cached');
  assert.deepEqual(ok.body, BODY);
  await stop(back.server);
  f.resource.close();
});

test('an upstream error status is passed on with its body (as the original), never cached', async () => {
  const up = await upstream((_req, res) => { res.writeHead(500, { 'Content-Type': 'text/plain' }).end('boom'); });
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 60 });
  const r = await get(f.port);
  assert.equal(r.status, 500);
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.equal(r.headers['content-type'], 'text/plain');
  assert.equal(r.headers.etag, undefined);
  assert.equal(r.body.toString(), 'boom');
  up.handler = (_req, res) => { res.writeHead(404).end('gone'); };
  const nf = await get(f.port);
  assert.equal(nf.status, 404, 'the 500 was not cached for cacheS');
  assert.equal(nf.body.toString(), 'gone');
  assert.equal((await get(f.port, {}, 'HEAD')).body.length, 0);
  up.handler = serveBody(BODY);
  assert.equal((await get(f.port)).status, 200);
  up.handler = (_req, res) => { res.writeHead(404).end(); };
  assert.equal((await get(f.port)).status, 200, 'a good body is kept for cacheS');
  assert.equal(up.count, 4);
  f.resource.close();
});

test('timeouts: no answer, and a body that stalls', async () => {
  const up = await upstream((req, res) => {
    if (req.url === '/stall') {
      res.writeHead(200, { 'Content-Length': 100 });
      res.write('partial');
    } // else: never answer
  });
  for (const path of ['/silent', '/stall']) {
    const f = await front({ remote: `http://127.0.0.1:${up.port}${path}`, cacheS: 0, timeoutMs: 300 });
    const r = await get(f.port);
    assert.equal(r.status, 502, path);
    assert.equal(r.headers['cache-control'], 'no-cache');
    f.resource.close();
  }
});

test('redirects: followed up to 5, never to file://', async () => {
  const up = await upstream((req, res) => {
    const m = /^\/hop(\d+)$/.exec(req.url!);
    if (m) {
      const n = Number(m[1]);
      res.writeHead(302, { Location: n > 0 ? `/hop${n - 1}` : '/final' }).end();
    } else if (req.url === '/tofile') {
      res.writeHead(301, { Location: 'file:///etc/passwd' }).end();
    } else {
      serveBody(BODY, 'text/plain')(req, res);
    }
  });
  const five = await front({ remote: `http://127.0.0.1:${up.port}/hop4`, cacheS: 0 });
  const r = await get(five.port);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, BODY);
  const six = await front({ remote: `http://127.0.0.1:${up.port}/hop5`, cacheS: 0 });
  assert.equal((await get(six.port)).status, 502);
  const file = await front({ remote: `http://127.0.0.1:${up.port}/tofile`, cacheS: 0 });
  const bad = await get(file.port);
  assert.equal(bad.status, 502);
  assert.doesNotMatch(bad.body.toString(), /root:/);
  for (const f of [five, six, file]) f.resource.close();
});

test('file:// resources: content type from the extension, limit, missing file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'restreamer-static-'));
  try {
    const json = Buffer.from('{"hello":"world"}');
    await writeFile(join(dir, 'app.json'), json);
    await writeFile(join(dir, 'blob.weird'), Buffer.from([1, 2, 3]));
    await writeFile(join(dir, 'big.txt'), Buffer.alloc(2000, 0x61));
    const url = (name: string) => pathToFileURL(join(dir, name)).href;

    const a = await front({ remote: url('app.json'), cacheS: 5 });
    const r = await get(a.port);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, json);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.etag, `"${fnv1a64Hex(json)}"`);
    assert.equal((await get(a.port, { 'If-None-Match': r.headers.etag })).status, 304);

    const b = await front({ remote: url('blob.weird'), cacheS: 0 });
    assert.equal((await get(b.port)).headers['content-type'], 'application/octet-stream');

    const c = await front({ remote: url('big.txt'), cacheS: 0, maxBytes: 1000 });
    assert.equal((await get(c.port)).status, 502);

    // A missing file is 404 with an empty body (the original's answer), and not cached.
    const d = await front({ remote: url('missing.html'), cacheS: 60 });
    const missing = await get(d.port);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.length, 0);
    assert.equal(missing.headers['cache-control'], 'no-cache');
    await writeFile(join(dir, 'missing.html'), '<p>now here</p>');
    const later = await get(d.port);
    assert.equal(later.status, 200);
    assert.equal(later.headers['content-type'], 'text/html; charset=utf-8');
    for (const f of [a, b, c, d]) f.resource.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('close() fails waiting requests, later requests get 503, and is idempotent', async () => {
  const up = await upstream(() => { /* never answers */ });
  const f = await front({ remote: `http://127.0.0.1:${up.port}/`, cacheS: 0, timeoutMs: 20_000 });
  const waiting = Promise.all([get(f.port), get(f.port)]);
  await until(() => up.count > 0, 10_000, 'the fetch at the upstream');
  f.resource.close();
  f.resource.close();
  for (const r of await waiting) assert.equal(r.status, 502);
  assert.equal((await get(f.port)).status, 503);
});

test('invalid remote URLs are rejected at construction', () => {
  assert.throws(() => new StaticResource({ remote: 'not a url', cacheS: 0, log: silentLogger() }), { code: 'CONFIG_INVALID' });
  assert.throws(() => new StaticResource({ remote: 'tcp://127.0.0.1:1/', cacheS: 0, log: silentLogger() }), { code: 'CONFIG_INVALID' });
});
