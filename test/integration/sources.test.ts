// Each upstream kind against a real local server, file, FIFO or socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RestreamerError } from '../../src/errors.js';
import { silentLogger } from '../../src/log/logger.js';
import { findSourceKind } from '../../src/sources/registry.js';
import type { Upstream, UpstreamEnd } from '../../src/sources/source.js';
import { LoopClock } from '../../src/ts/loopclock.js';
import { PCR_HZ, pcrForward, readPcr } from '../../src/ts/pcr.js';

const DEMO = new URL('../../examples/demo/demo.ts', import.meta.url);
const demo = readFileSync(DEMO);
const tmp = mkdtempSync(join(tmpdir(), 'restreamer-src-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

interface Opened { up: Upstream; chunks: Buffer[]; bytes(): Buffer; ended: Promise<UpstreamEnd> }

function open(url: string): Opened {
  const u = new URL(url);
  const kind = findSourceKind(u.protocol);
  assert.ok(kind, `kind for ${u.protocol}`);
  assert.equal(kind.validate?.(u), undefined);
  const chunks: Buffer[] = [];
  const up = kind.open({ url: u, stream: '/t', log: silentLogger(), inputBufferPackets: 1000, connectTimeoutMs: 0, options: { mru: 1500, rtpReorder: 8 } }, (c) => { chunks.push(c); });
  return { up, chunks, bytes: () => Buffer.concat(chunks), ended: up.ended };
}

async function rejection(p: Promise<unknown>): Promise<RestreamerError> {
  try { await p; } catch (e) { assert.ok(e instanceof RestreamerError, String(e)); return e; }
  assert.fail('expected a rejection');
}

function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    server.once('error', rej);
    server.listen(0, host, () => res((server.address() as net.AddressInfo).port));
  });
}

const close = (s: net.Server): Promise<void> => new Promise((res) => { s.close(() => res()); if (s instanceof http.Server) s.closeAllConnections(); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251));

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

// ---- tcp / unix -----------------------------------------------------------------------

function serveOnce(server: net.Server, data: Buffer): void {
  server.on('connection', (sock) => sock.end(data));
}

test('tcp: IPv4 connect, data, clean end', async () => {
  const server = net.createServer();
  serveOnce(server, payload);
  const port = await listen(server);
  const o = open(`tcp://127.0.0.1:${port}`);
  await o.up.connected;
  assert.deepEqual(await o.ended, {});
  assert.ok(o.bytes().equals(payload));
  await close(server);
});

test('tcp: IPv6 [::1]', async (t) => {
  const server = net.createServer();
  serveOnce(server, payload);
  let port: number;
  try { port = await listen(server, '::1'); } catch { t.skip('::1 not available'); return; }
  const o = open(`tcp://[::1]:${port}`);
  await o.up.connected;
  assert.deepEqual(await o.ended, {});
  assert.ok(o.bytes().equals(payload));
  await close(server);
});

test('tcp: refused port rejects with UPSTREAM_REFUSED', async () => {
  const o = open(`tcp://127.0.0.1:${await deadPort()}`);
  assert.equal((await rejection(o.up.connected)).code, 'UPSTREAM_REFUSED');
  assert.equal((await o.ended).error?.code, 'UPSTREAM_REFUSED');
});

test('tcp: close() closes the socket (server sees the end)', async () => {
  const server = net.createServer();
  const gone = new Promise<void>((res) => server.on('connection', (s) => {
    s.write(payload);
    s.on('error', () => {});
    s.on('close', () => res());
  }));
  const port = await listen(server);
  const o = open(`tcp://127.0.0.1:${port}`);
  await o.up.connected;
  o.up.close();
  o.up.close(); // idempotent
  await gone;
  assert.deepEqual(await o.ended, {});
  await close(server);
});

test('tcp: validation wants host and port', () => {
  const k = findSourceKind('tcp')!;
  assert.match(k.validate!(new URL('tcp://127.0.0.1'))!, /port/);
  assert.equal(k.validate!(new URL('tcp://[::1]:5000')), undefined);
});

test('unix: stream socket in a temp dir', async () => {
  const path = join(tmp, 'up.sock');
  const server = net.createServer();
  serveOnce(server, payload);
  await new Promise<void>((res) => server.listen(path, () => res()));
  const o = open(`unix://${path}`);
  await o.up.connected;
  assert.deepEqual(await o.ended, {});
  assert.ok(o.bytes().equals(payload));
  await close(server);
  const missing = open(`unix://${join(tmp, 'nope.sock')}`);
  assert.equal((await rejection(missing.up.connected)).code, 'UPSTREAM_IO');
});

// ---- http -----------------------------------------------------------------------------

interface Seen { url: string; ua: string | undefined }

async function httpServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ server: http.Server; base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => { seen.push({ url: req.url!, ua: req.headers['user-agent'] }); handler(req, res); });
  const port = await listen(server);
  return { server, base: `http://127.0.0.1:${port}`, seen };
}

test('http: 200 streams the body, sends a User-Agent, ends cleanly', async () => {
  const { server, base, seen } = await httpServer((_req, res) => { res.writeHead(200, { 'content-type': 'video/mpeg' }); res.end(payload); });
  const o = open(`${base}/s.ts`);
  await o.up.connected;
  assert.deepEqual(await o.ended, {});
  assert.ok(o.bytes().equals(payload));
  assert.match(seen[0]!.ua!, /^restreamer\/\d+\.\d+\.\d+/);
  await close(server);
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
  const o = open(`${base}/a`);
  await o.up.connected;
  await o.ended;
  assert.deepEqual(seen.map((s) => s.url), ['/a', '/b', '/c?x=1', '/d', '/final']);
  assert.ok(o.bytes().equals(payload));
  await close(server);
});

test('http: more than 5 redirects fail with UPSTREAM_TOO_MANY_REDIRECTS', async () => {
  const { server, base, seen } = await httpServer((req, res) => { res.writeHead(302, { location: `/r${seen.length}` }).end(); });
  const o = open(`${base}/r0`);
  assert.equal((await rejection(o.up.connected)).code, 'UPSTREAM_TOO_MANY_REDIRECTS');
  assert.equal(seen.length, 6);
  await close(server);
});

test('http: 404 fails with UPSTREAM_HTTP_STATUS naming the status', async () => {
  const { server, base } = await httpServer((_req, res) => { res.writeHead(404).end('not here'); });
  const o = open(`${base}/missing.ts`);
  const e = await rejection(o.up.connected);
  assert.equal(e.code, 'UPSTREAM_HTTP_STATUS');
  assert.match(e.message, /404/);
  assert.equal((await o.ended).error?.code, 'UPSTREAM_HTTP_STATUS');
  await close(server);
});

test('http: refused port fails with UPSTREAM_REFUSED', async () => {
  const o = open(`http://127.0.0.1:${await deadPort()}/x.ts`);
  assert.equal((await rejection(o.up.connected)).code, 'UPSTREAM_REFUSED');
});

test('http: close() really closes the socket (no keep-alive pool)', async () => {
  let serverSock: net.Socket | undefined;
  const sockClosed: Promise<void>[] = [];
  const { server, base } = await httpServer((req, res) => {
    serverSock = req.socket;
    sockClosed.push(new Promise((r) => req.socket.on('close', () => r())));
    res.writeHead(200);
    res.write(payload); // and never end
  });
  const o = open(`${base}/live.ts`);
  await o.up.connected;
  while (o.bytes().length < payload.length) await sleep(10);
  o.up.close();
  await sockClosed[0];
  assert.ok(serverSock?.destroyed);
  assert.deepEqual(await o.ended, {});
  await close(server);
});

test('http: a body cut short is an error, not a clean end', async () => {
  const { server, base } = await httpServer((req, res) => {
    res.writeHead(200, { 'content-length': String(payload.length * 2) });
    res.write(payload, () => setTimeout(() => req.socket.destroy(), 20));
  });
  const o = open(`${base}/cut.ts`);
  await o.up.connected;
  const end = await o.ended;
  assert.ok(end.error, 'an error');
  assert.ok(['UPSTREAM_IO', 'UPSTREAM_REFUSED'].includes(end.error.code), end.error.code);
  await close(server);
});

test('https: default CA checking refuses a self-signed certificate', async (t) => {
  const key = join(tmp, 'key.pem');
  const cert = join(tmp, 'cert.pem');
  try {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1']);
  } catch {
    t.skip('openssl not available');
    return;
  }
  const server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => { res.writeHead(200).end(payload); });
  const port = await listen(server);
  const o = open(`https://127.0.0.1:${port}/s.ts`);
  const e = await rejection(o.up.connected);
  assert.equal(e.code, 'UPSTREAM_IO');
  assert.match(e.message, /self[- ]signed|certificate/i);
  await close(server);
});

// ---- file -----------------------------------------------------------------------------

test('file: regular file, both URL forms, clean end at EOF', async () => {
  const path = join(tmp, 'plain.ts');
  writeFileSync(path, demo);
  for (const url of [`file://${path}`, `file://localhost${path}`]) {
    const o = open(url);
    await o.up.connected;
    assert.deepEqual(await o.ended, {});
    assert.ok(o.bytes().equals(demo), url);
  }
});

test('file: validation and open errors', async () => {
  const k = findSourceKind('file')!;
  assert.match(k.validate!(new URL('file://relative/path.ts'))!, /absolute/);
  assert.match(k.validate!(new URL('file:///x.ts?lop'))!, /unknown file upstream option "lop"/);
  assert.match(k.validate!(new URL('file:///x.ts?realtime&bitrate=fast'))!, /bitrate/);
  assert.equal(k.validate!(new URL('file:///x.ts?loop&realtime&bitrate=2M')), undefined);
  const missing = open(`file://${join(tmp, 'missing.ts')}`);
  const e = await rejection(missing.up.connected);
  assert.equal(e.code, 'UPSTREAM_IO');
  assert.match(e.message, /ENOENT/);
  const dir = open(`file://${tmp}`);
  assert.match((await rejection(dir.up.connected)).message, /directory/);
});

test('file: ?loop restarts at EOF', async () => {
  const path = join(tmp, 'loop.ts');
  const small = demo.subarray(0, 188 * 400);
  writeFileSync(path, small);
  const o = open(`file://${path}?loop`);
  await o.up.connected;
  while (o.bytes().length < small.length * 3) await sleep(5);
  o.up.close();
  assert.deepEqual(await o.ended, {});
  const got = o.bytes();
  // Each pass is the file again, with timestamps and continuity counters continued by the
  // loop clock (unit-tested in test/unit/ts/loopclock.test.ts): the same bytes the clock makes of it.
  const clock = new LoopClock();
  for (let i = 0; i < 3; i++) {
    const pass = Buffer.from(small);
    clock.process(pass, 0, pass.length);
    clock.restart();
    assert.ok(got.subarray(i * small.length, (i + 1) * small.length).equals(pass), `pass ${i}`);
  }
  assert.ok(got.subarray(0, small.length).equals(small), 'the first pass unchanged');
});

const mkfifo = async (path: string) => { await promisify(execFile)('mkfifo', [path]); };

/** Whether some process holds the FIFO open for reading (a non-blocking writer open fails with ENXIO otherwise). */
function fifoHasReader(path: string): boolean {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw e;
  }
}

test('file: FIFO opens without a writer and without blocking; close() releases it', async () => {
  const fifo = join(tmp, 'idle.fifo');
  await mkfifo(fifo);
  const o = open(`file://${fifo}`);
  let connected = false;
  void o.up.connected.then(() => { connected = true; }, () => {});
  await sleep(200);
  assert.equal(connected, false, 'a pipe without a writer is not connected');
  o.up.close();
  assert.deepEqual(await o.ended, {});
  assert.equal((await rejection(o.up.connected)).code, 'UPSTREAM_ENDED');
  await sleep(50);
  assert.equal(fifoHasReader(fifo), false, 'descriptor released');
});

test('file: FIFO reader is open while waiting; a writer that leaves without data ends it', async () => {
  const fifo = join(tmp, 'empty.fifo');
  await mkfifo(fifo);
  const o = open(`file://${fifo}`);
  await sleep(100);
  // The open completed without a writer (a blocking open would still be waiting).
  assert.equal(fifoHasReader(fifo), true);
  assert.equal((await rejection(o.up.connected)).code, 'UPSTREAM_ENDED');
  assert.deepEqual(await o.ended, {});
});

test('file: FIFO with a writer process delivers its bytes, ends when the writer closes', async () => {
  const fifo = join(tmp, 'live.fifo');
  await mkfifo(fifo);
  const src = join(tmp, 'fifo-src.ts');
  writeFileSync(src, demo);
  const o = open(`file://${fifo}`);
  await sleep(50); // reader first: the writer's open then succeeds at once
  const writer = spawn('sh', ['-c', 'cat "$0" > "$1"', src, fifo], { stdio: 'ignore' });
  await o.up.connected;
  assert.deepEqual(await o.ended, {});
  assert.ok(o.bytes().equals(demo));
  await new Promise((r) => writer.once('exit', r));
});

/** Delivered stream time: sum of PCR gaps, a backward jump (loop) counting as one typical gap. */
function pcrTimeline(buf: Buffer): { seconds: number; wraps: number } {
  let prev = -1, ticks = 0, wraps = 0, typical = PCR_HZ / 25;
  for (let o = 0; o + 188 <= buf.length; o += 188) {
    const pcr = readPcr(buf, o);
    if (pcr < 0) continue;
    if (prev >= 0) {
      let gap = pcrForward(prev, pcr);
      if (gap > PCR_HZ) { gap = typical; wraps++; } else typical = gap;
      ticks += gap;
    }
    prev = pcr;
  }
  return { seconds: ticks / PCR_HZ, wraps };
}

async function collectFor(url: string, ms: number): Promise<Opened> {
  const o = open(url);
  await o.up.connected;
  await sleep(ms);
  o.up.close();
  await o.ended;
  return o;
}

test('file: ?realtime delivers the demo at about its real rate, in multi-packet chunks', async () => {
  const o = await collectFor(`file://${new URL(DEMO).pathname}?realtime`, 2000);
  const got = o.bytes();
  assert.ok(got.equals(demo.subarray(0, got.length)), 'bytes in order');
  const { seconds } = pcrTimeline(got);
  assert.ok(seconds > 1.5 && seconds < 2.6, `delivered ${seconds.toFixed(2)} s of stream in 2 s`);
  assert.ok(got.length < demo.length, 'not the whole 8 s file');
  const avg = got.length / o.chunks.length;
  assert.ok(avg >= 188 * 2, `average chunk ${avg} bytes`);
});

test('file: ?loop&realtime wraps around and keeps the pace', async () => {
  // The first ~0.5 s of the demo (cut at a PCR packet), looped.
  let first = -1, cut = 0;
  for (let o = 0; o + 188 <= demo.length; o += 188) {
    const pcr = readPcr(demo, o);
    if (pcr < 0) continue;
    if (first < 0) first = pcr;
    else if (pcr - first >= PCR_HZ / 2) { cut = o; break; }
  }
  const path = join(tmp, 'short.ts');
  writeFileSync(path, demo.subarray(0, cut));
  const o = await collectFor(`file://${path}?loop&realtime`, 2000);
  const { seconds, wraps } = pcrTimeline(o.bytes());
  assert.ok(o.bytes().length > 2 * cut, 'at least two loop restarts');
  assert.equal(wraps, 0, 'the PCR never jumps back: the loop clock continues it');
  assert.ok(seconds > 1.5 && seconds < 2.6, `delivered ${seconds.toFixed(2)} s of stream in 2 s`);
});

test('file: ?realtime without PCR falls back to the given bitrate', async () => {
  // Packets with payload only (no adaptation field, so no PCR): 100 kB, looped.
  const pkt = Buffer.alloc(188, 0xaa);
  pkt[0] = 0x47; pkt[1] = 0x01; pkt[2] = 0x00; pkt[3] = 0x10;
  const path = join(tmp, 'nopcr.ts');
  writeFileSync(path, Buffer.concat(Array.from({ length: 532 }, () => pkt)));
  const o = await collectFor(`file://${path}?loop&realtime&bitrate=800k`, 1500);
  const expected = (800_000 / 8) * 1.5;
  const got = o.bytes().length;
  assert.ok(got > expected * 0.6 && got < expected * 1.4, `got ${got} bytes, about ${expected} expected`);
});
