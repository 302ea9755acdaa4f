// http(s):// upstreams against real local servers on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { httpKind } from '../../../../src/sources/kinds/http.js';
import { findSourceKind } from '../../../../src/sources/registry.js';
import type { RestreamerError } from '../../../../src/errors.js';
import type { Upstream } from '../../../../src/sources/source.js';
import { testContext } from '../../../helpers/datagram.js';
import { until } from '../../../helpers/wait.js';

const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251));

function open(url: string): { up: Upstream; bytes: () => Buffer } {
  const { ctx } = testContext(url);
  assert.equal(httpKind.validate!(ctx.url), undefined);
  const chunks: Buffer[] = [];
  const up = httpKind.open(ctx, (c) => { chunks.push(c); });
  return { up, bytes: () => Buffer.concat(chunks) };
}

const failsWith = (p: Promise<unknown>, code: string, re?: RegExp) =>
  assert.rejects(p, (e: RestreamerError) => e.code === code && (!re || re.test(e.message)));

function listen(server: net.Server): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res((server.address() as net.AddressInfo).port));
  });
}

const close = (s: http.Server): Promise<void> => new Promise((res) => { s.close(() => res()); s.closeAllConnections(); });

interface Seen { url: string; ua: string | undefined; accept: string | undefined }

async function httpServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ server: http.Server; base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => { seen.push({ url: req.url!, ua: req.headers['user-agent'], accept: req.headers.accept }); handler(req, res); });
  const port = await listen(server);
  return { server, base: `http://127.0.0.1:${port}`, seen };
}

test('http and https are one registered kind', () => {
  assert.equal(findSourceKind('http'), httpKind);
  assert.equal(findSourceKind('HTTPS:'), httpKind);
});

test('http: 200 streams the body, sends a User-Agent with the version, ends cleanly', async () => {
  const { server, base, seen } = await httpServer((_req, res) => { res.writeHead(200, { 'content-type': 'video/mpeg' }); res.end(payload); });
  try {
    const o = open(`${base}/s.ts`);
    await o.up.connected;
    assert.deepEqual(await o.up.ended, {});
    assert.ok(o.bytes().equals(payload));
    const { version } = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(seen[0]!.ua, `restreamer/${version}`);
    assert.equal(seen[0]!.accept, '*/*');
  } finally {
    await close(server);
  }
});

test('http: follows a redirect chain (301 relative, 302, 307 absolute, 308)', async () => {
  let base = '';
  const { server, seen } = await httpServer((req, res) => {
    switch (req.url) {
      case '/a': res.writeHead(301, { location: 'b' }).end(); break;
      case '/b': res.writeHead(302, { location: '/c?x=1' }).end(); break;
      case '/c?x=1': res.writeHead(307, { location: `${base}/d` }).end(); break;
      case '/d': res.writeHead(308, { location: '/final' }).end(); break;
      case '/final': res.writeHead(200).end(payload); break;
      default: res.writeHead(500).end();
    }
  });
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    const o = open(`${base}/a`);
    await o.up.connected;
    await o.up.ended;
    assert.deepEqual(seen.map((s) => s.url), ['/a', '/b', '/c?x=1', '/d', '/final']);
    assert.ok(o.bytes().equals(payload));
  } finally {
    await close(server);
  }
});

test('http: more than 5 redirects fail with UPSTREAM_TOO_MANY_REDIRECTS; a redirect without Location is a bad status', async () => {
  const { server, base, seen } = await httpServer((req, res) => {
    if (req.url === '/nowhere') res.writeHead(302).end();
    else res.writeHead(302, { location: `/r${seen.length}` }).end();
  });
  try {
    const o = open(`${base}/r0`);
    await failsWith(o.up.connected, 'UPSTREAM_TOO_MANY_REDIRECTS');
    assert.equal(seen.length, 6);
    const n = open(`${base}/nowhere`);
    await failsWith(n.up.connected, 'UPSTREAM_HTTP_STATUS', /302 without a Location header/);
  } finally {
    await close(server);
  }
});

test('http: 404 fails with UPSTREAM_HTTP_STATUS naming the status', async () => {
  const { server, base } = await httpServer((_req, res) => { res.writeHead(404).end('not here'); });
  try {
    const o = open(`${base}/missing.ts`);
    await failsWith(o.up.connected, 'UPSTREAM_HTTP_STATUS', /^upstream answered 404 Not Found$/);
    assert.equal((await o.up.ended).error?.code, 'UPSTREAM_HTTP_STATUS');
    assert.equal(o.bytes().length, 0, 'the error page is not the stream');
  } finally {
    await close(server);
  }
});

test('http: refused port fails with UPSTREAM_REFUSED', async () => {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((res) => s.close(() => res()));
  const o = open(`http://127.0.0.1:${port}/x.ts`);
  await failsWith(o.up.connected, 'UPSTREAM_REFUSED');
});

test('http: close() really closes the socket (no keep-alive pool)', async () => {
  let serverSock: net.Socket | undefined;
  let sockClosed: Promise<void> | undefined;
  const { server, base } = await httpServer((req, res) => {
    serverSock = req.socket;
    sockClosed = new Promise((r) => req.socket.on('close', () => r()));
    res.writeHead(200);
    res.write(payload); // and never end
  });
  try {
    const o = open(`${base}/live.ts`);
    await o.up.connected;
    await until(() => o.bytes().length >= payload.length, 5000, 'the first write');
    o.up.close();
    o.up.close();
    await sockClosed;
    assert.ok(serverSock?.destroyed);
    assert.deepEqual(await o.up.ended, {});
  } finally {
    await close(server);
  }
});

test('http: a body cut short is an error, not a clean end', async () => {
  let cut: (() => void) | undefined;
  const { server, base } = await httpServer((req, res) => {
    res.writeHead(200, { 'content-length': String(payload.length * 2) });
    res.write(payload);
    cut = () => req.socket.destroy();
  });
  try {
    const o = open(`${base}/cut.ts`);
    await o.up.connected;
    // The connection dies once the first half has arrived.
    await until(() => o.bytes().length >= payload.length, 5000, 'the first half');
    cut!();
    // A reset (ECONNRESET) or a plain close before content-length was reached.
    const end = await o.up.ended;
    assert.ok(end.error, 'an error');
    assert.ok(['UPSTREAM_IO', 'UPSTREAM_REFUSED'].includes(end.error.code), end.error.code);
  } finally {
    await close(server);
  }
});

test('https: default CA checking refuses a self-signed certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rs-https-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1']);
  } catch {
    t.skip('openssl not available');
    return;
  }
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => { res.writeHead(200).end(payload); });
  const port = await listen(server);
  try {
    const o = open(`https://127.0.0.1:${port}/s.ts`);
    await failsWith(o.up.connected, 'UPSTREAM_IO', /self[- ]signed|certificate/i);
  } finally {
    await close(server);
  }
});
