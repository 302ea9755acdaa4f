// The HTTP front in-process: real HttpFront on port 0, real clients. Routing as Go's
// ServeMux answers it (the matching rules themselves are in servemux.test.ts), the
// responses the front makes itself, FrontResponse's header hook, route swaps, handlers
// that throw, and close(). Hostile clients and the socket caps: integration/http-hardening.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import { TLSSocket } from 'node:tls';
import { HttpFront, type FrontResponse, type Handler } from '../../../src/http/server.js';
import { RestreamerError } from '../../../src/errors.js';
import { capturedLogger, request, type LogLine } from '../../helpers/inproc.js';
import { until } from '../../helpers/wait.js';
import { TestCa } from '../../helpers/tls.js';
import { readTlsPair, secureOptions } from '../../../src/http/tls.js';

interface Front { front: HttpFront; base: string; port: number; lines: LogLine[] }

async function withFront(routes: Record<string, Handler>, fn: (f: Front) => Promise<void>, o: { wrap?: (h: Handler) => Handler } = {}): Promise<void> {
  const { log, lines } = capturedLogger();
  const front = new HttpFront(undefined, { log, ...o });
  for (const [pattern, h] of Object.entries(routes)) front.route(pattern, h);
  const { port } = await front.listen('127.0.0.1', 0);
  try {
    await fn({ front, base: `http://127.0.0.1:${port}`, port, lines });
  } finally {
    await front.close(0);
  }
}

/** GET, resolving with the status and body, or with the error that cut the response. */
function get(port: number, path: string): Promise<{ status?: number; body?: string; error?: Error }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', (error) => resolve({ status: res.statusCode, error }));
    });
    req.on('error', (error) => resolve({ error }));
  });
}

/** One raw request on a fresh connection; every byte the server sent until it closed. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text));
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
  });
}

const ok: Handler = (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end('ok'); };

test('requests reach the route Go\'s ServeMux picks; unknown paths get Go\'s 404 body', async () => {
  const reached: string[] = [];
  const named = (name: string): Handler => (req, res) => { reached.push(`${name} ${req.url}`); ok(req, res); };
  await withFront({ '/live.ts': named('exact'), '/tv/': named('tree'), 'localhost/health': named('host') }, async ({ base }) => {
    assert.equal((await request(`${base}/live.ts?x=1`)).status, 200);
    assert.equal((await request(`${base}/tv/hd/one.ts`)).status, 200);
    assert.equal((await request(`${base}/health`, { headers: { host: 'localhost:8080' } })).status, 200);
    assert.deepEqual(reached, ['exact /live.ts?x=1', 'tree /tv/hd/one.ts', 'host /health']);
    const nf = await request(`${base}/health`);
    assert.equal(nf.status, 404);
    assert.equal(nf.body.toString(), '404 page not found\n');
    assert.equal(nf.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(nf.headers['x-content-type-options'], 'nosniff');
  });
});

test('the front\'s own answers: 301 with Location (a short HTML body for GET only), 400 for a target no route can be looked up for; both through `wrap`', async () => {
  const wrapped: string[] = [];
  const wrap = (h: Handler): Handler => (req, res) => { wrapped.push(req.url ?? ''); h(req, res); };
  await withFront({ '/tv/': ok }, async ({ base, port }) => {
    const g = await request(`${base}/tv?q=1`);
    assert.equal(g.status, 301);
    assert.equal(g.headers.location, '/tv/?q=1');
    assert.equal(g.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(g.body.toString(), '<a href="/tv/?q=1">Moved Permanently</a>.\n\n');
    const h = await request(base, { method: 'HEAD', path: '/a/../x' }); // as sent, not normalised by a URL parser
    assert.equal(h.status, 301);
    assert.equal(h.headers.location, '/x', 'an unclean path goes to its clean form');
    assert.equal(h.headers['content-type'], 'text/html; charset=utf-8');
    const p = await request(`${base}/tv`, { method: 'POST' });
    assert.equal(p.status, 301);
    assert.equal(p.headers['content-type'], undefined);
    assert.equal(p.body.length, 0);
    for (const target of ['*', '/%zz']) {
      const bad = await raw(port, `OPTIONS ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/, target);
      assert.match(bad, /\r\nConnection: close\r\n/i);
      assert.match(bad, /\r\n\r\n400 Bad Request$/);
    }
    assert.deepEqual(wrapped, ['/tv?q=1', '/a/../x', '/tv', '*', '/%zz']);
  }, { wrap });
});

test('setRoutes replaces the whole table at once', async () => {
  const said = (word: string): Handler => (_req, res) => { res.end(word); };
  await withFront({ '/a': said('old a'), '/b': said('old b') }, async ({ front, base }) => {
    assert.equal((await request(`${base}/a`)).body.toString(), 'old a');
    front.setRoutes([['/a', said('new a')], ['/c/', said('new c')]]);
    assert.equal((await request(`${base}/a`)).body.toString(), 'new a');
    assert.equal((await request(`${base}/b`)).status, 404, 'a route left out is gone');
    assert.equal((await request(`${base}/c/x`)).body.toString(), 'new c');
  });
});

test('FrontResponse.onHeaders: told once, with the status, when the headers go out explicitly or implicitly; never when none were sent', async () => {
  const told: string[] = [];
  const hook = (name: string, res: FrontResponse): void => {
    res.onHeaders((s) => told.push(`${name} ${s}`));
    res.onHeaders((s) => told.push(`${name} again ${s}`));
  };
  let held: FrontResponse | undefined;
  await withFront({
    '/explicit': (_req, res) => { hook('explicit', res); res.writeHead(201, 'Made', { 'Content-Length': 0 }); res.end(); },
    '/end': (_req, res) => { hook('end', res); res.statusCode = 204; res.end(); },
    '/write': (_req, res) => { hook('write', res); res.statusCode = 202; res.write('x'); res.write('y'); res.end(); },
    '/flush': (_req, res) => { hook('flush', res); res.flushHeaders(); res.end('z'); },
    '/hold': (_req, res) => { hook('hold', res); held = res; },
  }, async ({ base, port }) => {
    const explicit = await request(`${base}/explicit`);
    assert.equal(explicit.status, 201);
    assert.equal((await request(`${base}/end`)).status, 204);
    assert.equal((await request(`${base}/write`)).body.toString(), 'xy');
    assert.equal((await request(`${base}/flush`)).status, 200);
    assert.deepEqual(told, ['explicit 201', 'explicit again 201', 'end 204', 'end again 204', 'write 202', 'write again 202', 'flush 200', 'flush again 200']);
    const sock = net.connect(port, '127.0.0.1', () => sock.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(() => held !== undefined, 5_000, 'the held request');
    const closed = new Promise((r) => held!.once('close', r));
    sock.destroy();
    await closed;
    assert.equal(told.length, 8, 'a client gone before any header: not told');
  });
});

test('a handler that throws before answering: 500, and one http_error line with the resource, code and stack', async () => {
  await withFront({ '/boom': () => { throw new RestreamerError('UPSTREAM_IO', 'handler exploded'); } }, async ({ port, lines }) => {
    const r = await get(port, '/boom?x=1');
    assert.equal(r.status, 500);
    assert.match(r.body ?? '', /500 internal server error/);
    const logged = lines.filter((l) => l.evt === 'http_error');
    assert.equal(logged.length, 1, JSON.stringify(lines));
    assert.equal(logged[0]!.resource, '/boom');
    assert.equal(logged[0]!.path, '/boom?***', 'the query is redacted: tokens travel there');
    assert.equal(logged[0]!.code, 'UPSTREAM_IO');
    assert.equal(logged[0]!.err, 'handler exploded');
    assert.match(String(logged[0]!.stack), /handler exploded\n\s+at /);
    assert.equal(logged[0]!.level, 50);
  });
});

test('a handler that throws after its response began: the connection is cut (no 500 written into the body), and it is logged', async () => {
  const late: Handler = (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('partial');
    throw new TypeError('late failure');
  };
  await withFront({ '/late/': late }, async ({ port, lines }) => {
    const r = await get(port, '/late/x');
    // Whether the headers reached the client before the cut is up to the kernel.
    assert.ok(r.error, `the response must not end normally, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.notEqual(r.status, 500);
    const logged = lines.find((l) => l.evt === 'http_error');
    assert.ok(logged, JSON.stringify(lines));
    assert.equal(logged.resource, '/late/');
    assert.equal(logged.code, undefined);
    assert.match(String(logged.stack), /TypeError: late failure/);
  });
});

test('socketCounts: open connections and those without a request in progress', async () => {
  let held: FrontResponse | undefined;
  await withFront({ '/hold': (_req, res) => { held = res; } }, async ({ front, port }) => {
    const idle = net.connect(port, '127.0.0.1');
    await until(() => front.socketCounts.open === 1, 5_000, 'the idle connection');
    assert.deepEqual(front.socketCounts, { open: 1, idle: 1 });
    const busy = net.connect(port, '127.0.0.1', () => busy.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n'));
    await until(() => held !== undefined, 5_000, 'the held request');
    assert.deepEqual(front.socketCounts, { open: 2, idle: 1 }, 'a request in progress is not idle');
    held!.end();
    await until(() => front.socketCounts.idle === 2, 5_000, 'idle again once answered (keep-alive)');
    idle.destroy();
    busy.destroy();
    await until(() => front.socketCounts.open === 0, 5_000, 'both gone');
  });
});

test('close(): stops accepting, cuts what is still running after the grace time, and is idempotent', async () => {
  const { log } = capturedLogger();
  const front = new HttpFront(undefined, { log });
  front.route('/long', (_req, res) => { res.writeHead(200); res.write('x'); });
  const { port } = await front.listen('127.0.0.1', 0);
  const got = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port, path: '/long', agent: false }, resolve));
  const cut = new Promise<void>((resolve) => got.once('close', () => resolve()));
  const first = front.close(50);
  assert.equal(front.close(50), first, 'the same closing');
  await first;
  await cut;
  assert.equal(got.complete, false, 'the running response was cut, not ended');
  await assert.rejects(request(`http://127.0.0.1:${port}/long`), { code: 'ECONNREFUSED' });
});

test('listen rejects with the error when the address is taken', async () => {
  const { log } = capturedLogger();
  const a = new HttpFront(undefined, { log });
  const b = new HttpFront(undefined, { log });
  const { port } = await a.listen('127.0.0.1', 0);
  try {
    await assert.rejects(b.listen('127.0.0.1', port), { code: 'EADDRINUSE' });
  } finally {
    await a.close(0);
    await b.close(0);
  }
});

test('HTTPS beside HTTP: the same routes; setSecureContext serves new connections the new pair; a handshake not done in time is dropped; close() ends both', async () => {
  const ca = new TestCa();
  const { log } = capturedLogger();
  const front = new HttpFront(undefined, { log, handshakeTimeoutMs: 300 });
  try {
    front.route('/x', ok);
    const { port } = await front.listen('127.0.0.1', 0);
    const first = ca.issue('first');
    const tls = await front.listenTls('127.0.0.1', 0, secureOptions(readTlsPair(first), 'TLSv1.2'));
    const viaTls = (path: string) => new Promise<{ status?: number; cn: unknown }>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: tls.port, path, ca: ca.pem, agent: false }, (res) => {
        const cn = res.socket instanceof TLSSocket ? res.socket.getPeerCertificate().subject.CN : undefined;
        res.resume().on('end', () => resolve({ status: res.statusCode, cn }));
      }).on('error', reject);
    });
    assert.deepEqual(await viaTls('/x'), { status: 200, cn: 'first' });
    assert.equal((await viaTls('/nope')).status, 404);
    assert.equal((await get(port, '/x')).status, 200, 'plain HTTP still served');
    front.setSecureContext(secureOptions(readTlsPair(ca.issue('second')), 'TLSv1.2'));
    assert.deepEqual(await viaTls('/x'), { status: 200, cn: 'second' });
    // A TCP connection that never starts its handshake is closed after handshakeTimeoutMs.
    const started = Date.now();
    const silent = net.connect(tls.port, '127.0.0.1');
    silent.on('error', () => { /* reset by the server: what is tested */ });
    await new Promise((r) => silent.once('close', r));
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 5000, `dropped after ${took} ms`);
    // One that is still in its handshake does not hold close() up.
    const stuck = net.connect(tls.port, '127.0.0.1');
    stuck.on('error', () => { /* closed by close() */ });
    await new Promise((r) => stuck.once('connect', r));
    const closing = Date.now();
    await front.close(0);
    assert.ok(Date.now() - closing < 250, 'close() did not wait for the handshake timeout');
    await assert.rejects(viaTls('/x'));
  } finally {
    await front.close(0);
    ca.close();
  }
});
