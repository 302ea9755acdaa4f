// Multi-process mode, trust boundary client -> worker -> primary: a client can shape
// nothing on the internal channel. Each attack here worked against the worker's old
// forwarding (client headers copied, Content-Length without its body, one reused
// internal connection): a smuggled control request set a protected stream offline, a
// smuggled statistics request leaked a protected body, one request starved another
// client's /health, and relayed keep-alive held HTTP/1.0 clients open.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { StreamClient, type ProxyProcess } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { Scope } from '../helpers/scope.js';
import type { PacedServer } from '../helpers/upstream.js';

const scope = new Scope();
after(() => scope.close());

const BEARER = 'Bearer s3cret-token';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
let up: PacedServer;
let p: ProxyProcess;

before(async () => {
  up = await scope.paced();
  p = await scope.proxy({
    workers: 2,
    reconnect: 1,
    userlist: { admin: { password: 's3cret-token' }, alice: { password: 'wonder' } },
    resources: [
      { type: 'stream', serve: '/live.ts', remote: up.url(), authentication: { type: 'bearer', user: 'admin' } },
      { type: 'api', api: 'health', serve: '/health' },
      { type: 'api', api: 'statistics', serve: '/statistics', authentication: { type: 'basic', realm: 'r', user: 'alice' } },
      { type: 'api', api: 'control', serve: '/control', remote: '/live.ts', authentication: { type: 'bearer', user: 'admin' } },
    ],
  });
});

/**
 * Send each request on one keep-alive connection only after the answer to the one before
 * it arrived (so the worker's internal connection is idle and reused between them), and
 * return every status line.
 */
function sequential(requests: string[], ms = 4000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p.port, '127.0.0.1');
    let got = '';
    let next = 0;
    const t = setTimeout(() => { s.destroy(); resolve(got); }, ms);
    const send = () => { if (next < requests.length) s.write(requests[next++]!); };
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      // Every answer here is a small JSON body with a Content-Length: one per send.
      if (statusLines(got).length >= next && /\}$|\r\n\r\n$/.test(got)) send();
    });
    s.on('close', () => { clearTimeout(t); resolve(got); });
    s.on('error', reject);
    send();
  });
}

/** Write `payload` on one raw connection; what comes back until the socket closes or `ms` pass, and whether the server closed it. */
function rawConn(payload: string, ms: number): Promise<{ got: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p.port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => { s.destroy(); resolve({ got, closedByServer: false }); }, ms);
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; });
    s.on('close', () => { clearTimeout(t); resolve({ got, closedByServer: true }); });
    s.on('error', reject);
    s.write(payload);
  });
}

function get(path: string, headers: Record<string, string> = {}, timeoutMs = 4000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(p.url(path), { agent: false, headers }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => { b += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const statusLines = (s: string) => s.match(/HTTP\/1\.[01] \d{3}/g) ?? [];

test('a pipelined request cannot smuggle an unauthenticated control request into the primary', async () => {
  const viewer = new StreamClient(p.url('/live.ts'), { headers: { Authorization: BEARER }, keep: false });
  await viewer.responded;
  assert.equal(viewer.status, 200);
  await until(() => viewer.bytes > 0, 5000, 'viewer data');

  // 27 filler bytes as the body of the first request; the second request's first header
  // line is 27 bytes into it as forwarded ("GET /health HTTP/1.1\r\n" + "x-a: "), so a
  // primary that waited for the first request's body would parse the control request.
  const filler = 'x'.repeat(27);
  const attack = [
    `GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 27\r\n\r\n${filler}`,
    `GET /health HTTP/1.1\r\nX-A: GET /control?offline HTTP/1.1\r\nHost: a\r\n\r\n`,
    `GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
  ];
  const answer = await sequential(attack);
  assert.deepEqual(statusLines(answer).map((l) => l.slice(9, 12)), ['200', '200', '200'], answer);
  assert.doesNotMatch(answer, /202 accepted/);

  // The stream is still online and its viewer still fed.
  const health = JSON.parse((await get('/health')).body) as { offline: string[] };
  assert.deepEqual(health.offline, []);
  const before = viewer.bytes;
  await until(() => viewer.bytes > before, 5000, 'viewer still fed');
  assert.equal(viewer.ended, false, 'the viewer was not cut');
  viewer.close();
});

test('a smuggled statistics request gets no protected body to an unauthenticated client', async () => {
  const attack = [
    `GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 27\r\n\r\n${'y'.repeat(27)}`,
    `GET /health HTTP/1.1\r\nX-A: GET /statistics HTTP/1.1\r\nHost: a\r\n\r\n`,
    `GET /health HTTP/1.1\r\nHost: a\r\n\r\n`,
    `GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
  ];
  const answer = await sequential(attack);
  assert.doesNotMatch(answer, /total_packets_received/, 'statistics leaked');
  // The real thing still needs credentials.
  assert.equal((await get('/statistics')).status, 401);
  assert.equal((await get('/statistics', { Authorization: basic('alice', 'wonder') })).status, 200);
});

test('a request announcing a body it never sends does not starve other clients', async () => {
  const hog = net.connect(p.port, '127.0.0.1');
  hog.on('error', () => {});
  hog.write('GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n');
  // Other clients land on either worker: every one of them is answered, and at once.
  for (let i = 0; i < 6; i++) {
    const r = await get('/health', {}, 3000);
    assert.equal(r.status, 200, r.body);
  }
  hog.destroy();
});

test('an HTTP/1.0 or Connection: close client is not held open by a relayed keep-alive', async () => {
  for (const req of ['GET /health HTTP/1.0\r\n\r\n', 'GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n']) {
    // The old relay held these open for the primary's keep-alive time (5 s and more).
    const { got, closedByServer } = await rawConn(req, 4000);
    assert.match(got, /^HTTP\/1\.[01] 200/);
    assert.doesNotMatch(got, /keep-alive/i);
    assert.ok(closedByServer, `the server closes the connection after the answer (${req.split('\r\n')[0]})`);
  }
});
