import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ServeMux, cleanPath, escapePath, percentDecode, stripHostPort, type Route } from '../../../src/http/servemux.js';
import { HttpFront } from '../../../src/http/server.js';

// Go http.ServeMux semantics (pattern syntax before Go 1.22), rule by rule.

function mux(...patterns: string[]): ServeMux<string> {
  const m = new ServeMux<string>();
  for (const p of patterns) m.handle(p, p);
  return m;
}

/** The pattern that serves `target`, or "301 <location>", "404", "400". */
function route(m: ServeMux<string>, target: string, host = 'example.com'): string {
  const r: Route<string> = m.resolve(target, host);
  switch (r.kind) {
    case 'handler': return r.handler;
    case 'redirect': return `301 ${r.location}`;
    case 'notFound': return '404';
    case 'badRequest': return '400';
  }
}

test('exact patterns match only their path; the query string is ignored', () => {
  const m = mux('/live.ts', '/health');
  assert.equal(route(m, '/live.ts'), '/live.ts');
  assert.equal(route(m, '/live.ts?token=1&x'), '/live.ts');
  assert.equal(route(m, '/health'), '/health');
  assert.equal(route(m, '/live.ts/x'), '404');
  assert.equal(route(m, '/live'), '404');
  assert.equal(route(m, '/'), '404');
});

test('a pattern ending in / matches its whole subtree; the longest pattern wins', () => {
  const m = mux('/', '/tv/', '/tv/hd/');
  assert.equal(route(m, '/tv/'), '/tv/');
  assert.equal(route(m, '/tv/one.ts'), '/tv/');
  assert.equal(route(m, '/tv/a/b/c'), '/tv/');
  assert.equal(route(m, '/tv/hd/'), '/tv/hd/');
  assert.equal(route(m, '/tv/hd/one.ts'), '/tv/hd/');
  assert.equal(route(m, '/tv/hdx'), '/tv/');
  assert.equal(route(m, '/other'), '/');
  assert.equal(route(m, '/'), '/');
  // Registration order does not matter.
  const r = mux('/tv/hd/', '/', '/tv/');
  assert.equal(route(r, '/tv/hd/x'), '/tv/hd/');
  assert.equal(route(r, '/tv/x'), '/tv/');
});

test('an exact pattern beats every subtree pattern, even a longer one', () => {
  const m = mux('/tv/', '/tv/hd/', '/tv/hd/one.ts', '/tv/list');
  assert.equal(route(m, '/tv/hd/one.ts'), '/tv/hd/one.ts');
  assert.equal(route(m, '/tv/hd/two.ts'), '/tv/hd/');
  assert.equal(route(m, '/tv/list'), '/tv/list');
  assert.equal(route(m, '/tv/list/x'), '/tv/');
  // The subtree root itself is an exact match of the subtree pattern.
  assert.equal(route(m, '/tv/hd/'), '/tv/hd/');
});

test('/dir answers 301 to /dir/ when only the subtree is registered, keeping the query', () => {
  const m = mux('/dir/', '/both/', '/both');
  assert.equal(route(m, '/dir'), '301 /dir/');
  assert.equal(route(m, '/dir?a=1&b'), '301 /dir/?a=1&b');
  // Registered without the slash too: no redirect.
  assert.equal(route(m, '/both'), '/both');
  assert.equal(route(m, '/both/x'), '/both/');
  // Only the subtree root is redirected.
  assert.equal(route(m, '/di'), '404');
  assert.equal(route(m, '/dir/x'), '/dir/');
  // An unclean path to a subtree root goes straight to the clean root.
  assert.equal(route(m, '//dir'), '301 /dir/');
  assert.equal(route(m, '/x/../dir?q'), '301 /dir/?q');
});

test('unclean paths answer 301 to the cleaned path (Go cleanPath rules), query kept', () => {
  const m = mux('/x', '/a/b', '/a/', '/');
  assert.equal(route(m, '//x'), '301 /x');
  assert.equal(route(m, '/a/../x'), '301 /x');
  assert.equal(route(m, '/a/./b'), '301 /a/b');
  assert.equal(route(m, '/a//b'), '301 /a/b');
  assert.equal(route(m, '/a/b/.'), '301 /a/b');
  // Cleans to /a, which only exists as the subtree /a/: one redirect straight there.
  assert.equal(route(m, '/a/b/..'), '301 /a/');
  assert.equal(route(m, '/../../x'), '301 /x');
  assert.equal(route(m, '/a/../x?k=v'), '301 /x?k=v');
  assert.equal(route(m, '/a//c/'), '301 /a/c/');
  // Clean paths are served as they are.
  assert.equal(route(m, '/a/c/'), '/a/');
  assert.equal(route(m, '/a/b'), '/a/b');
  // Never an open redirect: "//host" paths are cleaned to "/host".
  assert.equal(route(m, '//evil.example/x'), '301 /evil.example/x');
});

test('cleanPath follows Go', () => {
  const cases: [string, string][] = [
    ['', '/'], ['/', '/'], ['//', '/'], ['/..', '/'], ['/../', '/'], ['/a/..', '/'], ['/a/../', '/'],
    ['a', '/a'], ['/a/', '/a/'], ['/a//', '/a/'], ['/a/b/../c/', '/a/c/'], ['/a/./b/./', '/a/b/'],
    ['/./', '/'], ['/a/b/c/../../d', '/a/d'], ['/...', '/...'], ['/a/.../b', '/a/.../b'],
  ];
  for (const [input, want] of cases) assert.equal(cleanPath(input), want, input);
});

test('matching is on the decoded path', () => {
  const m = mux('/live.ts', '/tv/', '/\u20ac');
  assert.equal(route(m, '/live%2Ets'), '/live.ts');
  assert.equal(route(m, '/live%2ets'), '/live.ts');
  assert.equal(route(m, '/%6Cive.ts'), '/live.ts');
  assert.equal(route(m, '/tv%2Fone.ts'), '/tv/');
  assert.equal(route(m, '/%E2%82%AC'), '/\u20ac');
  // A decoded "/../" is cleaned like a literal one; the redirect target is escaped.
  assert.equal(route(m, '/a%2F..%2Flive.ts'), '301 /live.ts');
  assert.equal(route(m, '/a/../x%20y%3F'), '301 /x%20y%3F');
  // "+" is not a space in a path.
  assert.equal(percentDecode('/a+b%20c'), '/a+b c');
});

test('malformed request targets are 400', () => {
  const m = mux('/');
  assert.equal(route(m, '/%zz'), '400');
  assert.equal(route(m, '/%4'), '400');
  assert.equal(route(m, '*'), '400');
  assert.equal(route(m, 'live.ts'), '400');
});

test('host patterns match only their Host (port ignored) and, where they match the path too, take precedence over general ones', () => {
  const m = mux('localhost/health', '/health', 'tv.example/', '/tv/', 'tv.example/tv/hd.ts', '/');
  assert.equal(route(m, '/health', 'localhost'), 'localhost/health');
  assert.equal(route(m, '/health', 'localhost:8080'), 'localhost/health');
  assert.equal(route(m, '/health', 'example.com'), '/health');
  assert.equal(route(m, '/health', ''), '/health');
  // Host names compare as Go compares them: exactly.
  assert.equal(route(m, '/health', 'LOCALHOST'), '/health');
  // A host subtree beats even an exact general pattern for that host.
  assert.equal(route(m, '/health', 'tv.example'), 'tv.example/');
  assert.equal(route(m, '/tv/sd.ts', 'tv.example'), 'tv.example/');
  assert.equal(route(m, '/tv/hd.ts', 'tv.example:80'), 'tv.example/tv/hd.ts');
  assert.equal(route(m, '/tv/sd.ts', 'other'), '/tv/');
  // A host pattern takes precedence only where it matches the path too: for another path
  // on that host the general patterns answer (docs/configuration.md, serve paths).
  assert.equal(route(m, '/tv/sd.ts', 'localhost'), '/tv/');
  assert.equal(route(m, '/x', 'localhost'), '/');
  // The absolute form carries its own host (what a proxy sends).
  assert.equal(route(m, 'http://localhost:8000/health', 'example.com'), 'localhost/health');
  assert.equal(route(m, 'http://localhost/tv', 'example.com'), '301 /tv/');
});

test('a pattern without any "/" is a bare host name and matches nothing, as in Go', () => {
  const m = mux('health', '/');
  assert.equal(route(m, '/health', 'health'), '/');
  assert.equal(route(m, '/', 'health'), '/');
});

test('host subtree roots redirect too; a host pattern alone does not match other hosts', () => {
  const m = mux('cams.example/cams/');
  assert.equal(route(m, '/cams', 'cams.example:8000'), '301 /cams/');
  assert.equal(route(m, '/cams/1', 'cams.example'), 'cams.example/cams/');
  assert.equal(route(m, '/cams/1', 'other.example'), '404');
  assert.equal(route(m, '/cams', 'other.example'), '404');
});

test('stripHostPort and escapePath follow Go', () => {
  assert.equal(stripHostPort('localhost'), 'localhost');
  assert.equal(stripHostPort('localhost:80'), 'localhost');
  assert.equal(stripHostPort('127.0.0.1:8000'), '127.0.0.1');
  assert.equal(stripHostPort('[::1]:8000'), '::1');
  assert.equal(stripHostPort('[::1]'), '[::1]');
  assert.equal(stripHostPort('a:b:c'), 'a:b:c');
  assert.equal(escapePath('/a b/c?d#e/$&+,:;=@~-_.'), '/a%20b/c%3Fd%23e/$&+,:;=@~-_.');
  assert.equal(escapePath('/\u20ac'), '/%E2%82%AC');
});

// The same rules through a real server on port 0, as a client sees them.

async function withFront(patterns: string[], fn: (port: number) => Promise<void>): Promise<void> {
  const front = new HttpFront();
  for (const p of patterns) front.route(p, (_req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }).end(p); });
  const addr: AddressInfo = await front.listen('127.0.0.1', 0);
  try {
    await fn(addr.port);
  } finally {
    await front.close(0);
  }
}

interface Got { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(port: number, path: string, o: { method?: string; host?: string } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.host !== undefined) headers.host = o.host;
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

/** Send raw bytes and read until the server closes (for targets http.request would refuse). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(bytes));
    let got = '';
    s.setEncoding('latin1').on('data', (d: string) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('raw request timed out')));
  });
}

test('HttpFront: 301 responses as Go writes them, and the routes behind them', async () => {
  await withFront(['/dir/', '/live.ts', 'localhost/health', '/health'], async (port) => {
    const r = await request(port, '/dir?x=1');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/dir/?x=1');
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.body, '<a href="/dir/?x=1">Moved Permanently</a>.\n\n');
    const head = await request(port, '/dir', { method: 'HEAD' });
    assert.equal(head.status, 301);
    assert.equal(head.headers.location, '/dir/');
    assert.equal((await request(port, '/dir/sub/x')).body, '/dir/');
    const unclean = await request(port, '/a/../live.ts');
    assert.equal(unclean.status, 301);
    assert.equal(unclean.headers.location, '/live.ts');
    assert.equal((await request(port, '/live%2Ets')).body, '/live.ts');
    assert.equal((await request(port, '/health', { host: 'localhost:1234' })).body, 'localhost/health');
    assert.equal((await request(port, '/health', { host: 'example.com' })).body, '/health');
    const nf = await request(port, '/nothing');
    assert.equal(nf.status, 404);
    assert.equal(nf.body, '404 page not found\n');
  });
});

test('HttpFront: "//x" (which http.request cannot send) and bad escapes, over a raw socket', async () => {
  await withFront(['/x'], async (port) => {
    const r = await raw(port, 'GET //x?q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 301 /);
    assert.match(r, /\r\nLocation: \/x\?q\r\n/);
    const bad = await raw(port, 'GET /%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    const star = await raw(port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(star, /^HTTP\/1\.1 400 /);
  });
});
