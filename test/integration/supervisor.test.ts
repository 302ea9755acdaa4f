// The supervisor against real local servers: order, failover, reconnect timing rules,
// timeouts, offline mode, and a clean close.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createLogger } from '../../src/log/logger.js';
import { RestreamerError } from '../../src/errors.js';
import { Supervisor, type SupervisorOptions } from '../../src/sources/supervisor.js';
import { UpstreamBase } from '../../src/sources/base.js';
import type { SourceKind } from '../../src/sources/source.js';
import { TsAligner } from '../../src/ts/aligner.js';

interface Line { evt?: string; code?: string; url?: string; [k: string]: unknown }

interface Harness {
  sup: Supervisor;
  logs: Line[];
  events: { t: number; what: 'up' | 'down'; url: string; code?: string }[];
  bytes: number;
  waitFor(pred: () => boolean, ms?: number): Promise<void>;
}

function supervise(o: Partial<SupervisorOptions> & { remotes: string[] }): Harness {
  const logs: Line[] = [];
  const { logger } = createLogger({ level: 'debug', stream: { write: (s: string) => { logs.push(JSON.parse(s) as Line); } } });
  const h: Harness = {
    logs,
    events: [],
    bytes: 0,
    sup: undefined as unknown as Supervisor,
    async waitFor(pred, ms = 5000) {
      const end = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > end) assert.fail(`timed out; events ${JSON.stringify(h.events)} logs ${JSON.stringify(logs.map((l) => [l.evt, l.code]))}`);
        await sleep(10);
      }
    },
  };
  h.sup = new Supervisor({
    stream: '/test.ts',
    reconnectS: 10,
    timeoutS: 0,
    readTimeoutS: 0,
    inputBufferPackets: 100,
    options: { mru: 1500, rtpReorder: 8 },
    log: logger,
    onData: (c) => { h.bytes += c.length; },
    onConnected: (url) => { h.events.push({ t: Date.now(), what: 'up', url }); },
    onDisconnected: (url, reason) => { h.events.push({ t: Date.now(), what: 'down', url, code: reason?.code }); },
    shuffle: (u) => u,
    ...o,
  });
  supervisors.add(h.sup);
  return h;
}

// Whatever a failed assertion leaves open is closed here, so the file always exits.
const supervisors = new Set<Supervisor>();
const servers = new Set<net.Server>();
after(async () => {
  for (const s of supervisors) s.close();
  await stop(...[...servers].filter((s) => s.listening));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(server: net.Server): Promise<string> {
  servers.add(server);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const serverSockets = new WeakMap<net.Server, Set<net.Socket>>();

function stop(...servers: net.Server[]): Promise<unknown> {
  return Promise.all(servers.map((s) => new Promise<void>((res) => {
    if (s instanceof http.Server) s.closeAllConnections();
    for (const sock of serverSockets.get(s) ?? []) sock.destroy();
    s.close(() => res());
  })));
}

/** A TCP upstream; `behave` decides what each accepted connection does. Records accept times. */
async function tcpServer(behave: (s: net.Socket, n: number) => void): Promise<{ server: net.Server; url: string; accepts: number[]; closes: number[] }> {
  const accepts: number[] = [];
  const closes: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    accepts.push(Date.now());
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => { closes.push(Date.now()); sockets.delete(s); });
    s.resume(); // read, so the client's close is seen
    behave(s, accepts.length);
  });
  serverSockets.set(server, sockets);
  return { server, url: `tcp://${await listen(server)}`, accepts, closes };
}

async function deadUrl(): Promise<string> {
  const s = net.createServer();
  const addr = await listen(s);
  await stop(s);
  return `tcp://${addr}`;
}

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('remotes are tried round-robin in the (injected) shuffled order', async (t) => {
  const servers = await Promise.all([0, 1, 2].map(() => tcpServer((s) => s.end('x'.repeat(188)))));
  // Even when an assertion fails, nothing may keep the test process alive.
  t.after(() => stop(...servers.map((s) => s.server)));
  const hits: string[] = [];
  for (const sv of servers) sv.server.on('connection', () => hits.push(sv.url));
  const urls = servers.map((s) => s.url);
  const h = supervise({ remotes: urls, reconnectS: 0.15, shuffle: (u) => u.slice().reverse() });
  h.sup.start();
  // The server sees the 6th connection before its bytes reach the supervisor: wait for both.
  await h.waitFor(() => hits.length >= 6 && h.sup.bytesIn >= 6 * 188);
  h.sup.close();
  const rev = urls.slice().reverse();
  assert.deepEqual(hits.slice(0, 6), [...rev, ...rev]);
  assert.deepEqual(h.events.filter((e) => e.what === 'up').slice(0, 3).map((e) => e.url), rev);
  assert.ok(h.sup.reconnects >= 5);
  assert.ok(h.sup.bytesIn >= 6 * 188);
});

test('first remote answers 404: the second one serves at once, the failure is logged with its reason', async () => {
  const bad = http.createServer((_q, r) => { r.writeHead(404).end(); });
  const good = http.createServer((_q, r) => { r.writeHead(200); r.write(Buffer.alloc(188 * 10, 0x47)); });
  const badUrl = `http://${await listen(bad)}/a.ts`;
  const goodUrl = `http://${await listen(good)}/b.ts`;
  const h = supervise({ remotes: [badUrl, goodUrl], reconnectS: 30 });
  const t0 = Date.now();
  h.sup.start();
  await h.waitFor(() => h.sup.connected && h.bytes > 0);
  assert.ok(Date.now() - t0 < 5000, 'no reconnect wait between remotes of one round');
  assert.equal(h.sup.currentUrl, goodUrl);
  assert.deepEqual(h.events.map((e) => [e.what, e.url]), [['up', goodUrl]]);
  const err = h.logs.filter((l) => l.evt === 'upstream_error');
  assert.equal(err.length, 1);
  assert.equal(err[0]!.code, 'UPSTREAM_HTTP_STATUS');
  assert.match(String(err[0]!.err), /404/);
  h.sup.close();
  assert.equal(h.sup.connected, false);
  await stop(bad, good);
});

test('a short connection waits out the reconnect delay before the next attempt', async () => {
  const sv = await tcpServer((s) => s.end(Buffer.alloc(188, 0x47)));
  const h = supervise({ remotes: [sv.url], reconnectS: 0.8 });
  h.sup.start();
  await h.waitFor(() => sv.accepts.length >= 2);
  h.sup.close();
  const gap = sv.accepts[1]! - sv.accepts[0]!;
  assert.ok(gap >= 700, `second attempt after ${gap} ms, reconnect is 800 ms`);
  const down = h.events.find((e) => e.what === 'down')!;
  assert.equal(down.code, undefined, 'a clean end has no error');
  assert.ok(sv.accepts[1]! - down.t >= 600, 'the wait follows the loss');
  await stop(sv.server);
});

test('a connection that lasted longer than the reconnect delay is retried at once', async () => {
  const sv = await tcpServer((s, n) => {
    s.write(Buffer.alloc(188, 0x47));
    if (n === 1) setTimeout(() => s.end(), 1200);
  });
  const h = supervise({ remotes: [sv.url], reconnectS: 1 });
  h.sup.start();
  await h.waitFor(() => sv.accepts.length >= 2);
  const down = h.events.find((e) => e.what === 'down')!;
  const gap = sv.accepts[1]! - down.t;
  assert.ok(gap < 600, `reconnected ${gap} ms after the loss (a wait would be ~1000 ms)`);
  h.sup.close();
  await stop(sv.server);
});

test('reconnect 0: after a loss the stream stays offline', async () => {
  const sv = await tcpServer((s) => s.end(Buffer.alloc(188, 0x47)));
  const h = supervise({ remotes: [sv.url], reconnectS: 0 });
  h.sup.start();
  await h.waitFor(() => h.events.some((e) => e.what === 'down'));
  await sleep(300);
  assert.equal(sv.accepts.length, 1);
  assert.equal(h.sup.connected, false);
  assert.equal(h.sup.currentUrl, undefined);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_offline'));
  assert.equal(timeouts(), 0, 'nothing scheduled');
  h.sup.close();
  await stop(sv.server);
});

test('reconnect 0: a failed first round leaves the stream offline (each remote tried once)', async () => {
  const a = await deadUrl();
  const b = await deadUrl();
  const h = supervise({ remotes: [a, b], reconnectS: 0 });
  h.sup.start();
  await h.waitFor(() => h.logs.some((l) => l.evt === 'upstream_offline'));
  const errs = h.logs.filter((l) => l.evt === 'upstream_error');
  assert.deepEqual(errs.map((l) => [l.url, l.code]), [[a, 'UPSTREAM_REFUSED'], [b, 'UPSTREAM_REFUSED']]);
  assert.equal(timeouts(), 0);
  h.sup.close();
});

test('read timeout closes a silent upstream and reconnects', async () => {
  const sv = await tcpServer((s) => { s.write(Buffer.alloc(188, 0x47)); /* then silence */ });
  const h = supervise({ remotes: [sv.url], reconnectS: 0.1, readTimeoutS: 0.3 });
  h.sup.start();
  await h.waitFor(() => sv.accepts.length >= 2);
  const down = h.events.find((e) => e.what === 'down')!;
  assert.equal(down.code, 'UPSTREAM_READ_TIMEOUT');
  await h.waitFor(() => sv.closes.length >= 1); // the silent socket was really closed
  h.sup.close();
  await stop(sv.server);
});

test('read timeout does not fire while data flows', async () => {
  const sv = await tcpServer((s) => {
    const t = setInterval(() => s.write(Buffer.alloc(188, 0x47)), 50);
    s.on('close', () => clearInterval(t));
  });
  const h = supervise({ remotes: [sv.url], readTimeoutS: 0.25 });
  h.sup.start();
  await h.waitFor(() => h.sup.connected);
  await sleep(800);
  assert.equal(sv.accepts.length, 1);
  assert.equal(h.events.filter((e) => e.what === 'down').length, 0);
  h.sup.close();
  await stop(sv.server);
});

test('connect timeout: a server that accepts but never answers headers is abandoned for the next remote', async () => {
  const silent = await tcpServer(() => { /* accept, never answer */ });
  const good = http.createServer((_q, r) => { r.writeHead(200); r.write(Buffer.alloc(188, 0x47)); });
  const silentUrl = `http://${silent.url.slice('tcp://'.length)}/x.ts`;
  const goodUrl = `http://${await listen(good)}/y.ts`;
  const h = supervise({ remotes: [silentUrl, goodUrl], timeoutS: 0.3 });
  h.sup.start();
  await h.waitFor(() => h.sup.connected);
  assert.equal(h.sup.currentUrl, goodUrl);
  const err = h.logs.find((l) => l.evt === 'upstream_error')!;
  assert.deepEqual([err.url, err.code], [silentUrl, 'UPSTREAM_CONNECT_TIMEOUT']);
  await h.waitFor(() => silent.closes.length === 1); // the hanging request was closed
  h.sup.close();
  await stop(silent.server, good);
});

test('close() during the reconnect wait stops everything: no timers, no more attempts', async () => {
  const before = timeouts();
  const h = supervise({ remotes: [await deadUrl()], reconnectS: 30 });
  h.sup.start();
  await h.waitFor(() => h.logs.some((l) => l.evt === 'upstream_error'));
  await sleep(20);
  assert.equal(timeouts(), before + 1, 'the reconnect wait is pending');
  h.sup.close();
  h.sup.close(); // idempotent
  assert.equal(timeouts(), before);
  assert.equal(h.sup.reconnects, 0);
});

test('close() while connected closes the upstream and calls no handler', async () => {
  const sv = await tcpServer((s) => { s.write(Buffer.alloc(188, 0x47)); });
  const h = supervise({ remotes: [sv.url], readTimeoutS: 5, timeoutS: 5 });
  h.sup.start();
  await h.waitFor(() => h.sup.connected);
  h.sup.close();
  await h.waitFor(() => sv.closes.length === 1);
  assert.equal(h.events.filter((e) => e.what === 'down').length, 0);
  assert.equal(timeouts(), 0);
  await stop(sv.server);
});

test('misbehaving sources and handlers cannot crash the process', async () => {
  class Flaky extends UpstreamBase {
    constructor(onData: (b: Buffer) => void) {
      super();
      setTimeout(() => { this.markConnected(); onData(Buffer.alloc(188)); this.finish(new RestreamerError('UPSTREAM_IO', 'gone')); }, 5);
    }
    protected teardown(): void { throw new Error('teardown bug'); }
  }
  const kinds: Record<string, SourceKind> = {
    'throw:': { schemes: ['throw'], open: () => { throw new TypeError('open bug'); } },
    'flaky:': { schemes: ['flaky'], open: (_c, onData) => new Flaky(onData) },
  };
  const h = supervise({
    remotes: ['throw://a', 'nope://b', 'not a url', 'flaky://c'],
    reconnectS: 0,
    findKind: (s) => kinds[s],
    onData: () => { throw new Error('sink bug'); },
    onConnected: () => { throw new Error('handler bug'); },
  });
  h.sup.start();
  await h.waitFor(() => h.logs.some((l) => l.evt === 'upstream_offline'));
  const codes = h.logs.filter((l) => l.evt === 'upstream_error').map((l) => l.code);
  assert.deepEqual(codes, ['UPSTREAM_IO', 'UPSTREAM_UNSUPPORTED', 'UPSTREAM_UNSUPPORTED']);
  assert.ok(h.logs.some((l) => l.evt === 'upstream_disconnect' && l.code === 'UPSTREAM_IO'));
  h.sup.close();
});

// --- Delivering (issue 10): an upstream counts once it delivers aligned packets ---

/** Supervisor options wired to a real aligner, as src/stream/stream.ts does. */
function withAligner(): Pick<SupervisorOptions, 'onData' | 'packets' | 'discarded'> & { aligner: TsAligner } {
  const aligner = new TsAligner(() => {});
  return { aligner, onData: (c) => aligner.push(c), packets: () => aligner.packets, discarded: () => aligner.discardedBytes };
}

/** Random bytes (as from /dev/urandom): they never lock. */
let seed = 12345;
function garbageBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    b[i] = seed >>> 16;
  }
  return b;
}

function tsPackets(n: number, from = 0): Buffer {
  const out = Buffer.alloc(n * 188);
  for (let i = 0; i < n; i++) { out[i * 188] = 0x47; out[i * 188 + 1] = 0x01; out[i * 188 + 3] = 0x10 | ((from + i) & 15); }
  return out;
}

/** A TCP upstream that sends `make()` every 20 ms until closed. */
function streaming(make: () => Buffer): (s: net.Socket) => void {
  return (s) => {
    const t = setInterval(() => s.write(make()), 20);
    s.on('close', () => clearInterval(t));
  };
}

test('garbage only: no aligned packet within readtimeout fails the remote (UPSTREAM_NO_SYNC, bytes counted) and the next one serves at once', async () => {
  const bad = await tcpServer(streaming(() => garbageBytes(1316)));
  let n = 0;
  const good = await tcpServer(streaming(() => tsPackets(7, (n += 7))));
  const a = withAligner();
  const delivering: string[] = [];
  const h = supervise({ remotes: [bad.url, good.url], reconnectS: 5, readTimeoutS: 0.4, ...a, onDelivering: (u) => delivering.push(u) });
  h.sup.start();
  await h.waitFor(() => delivering.length === 1);
  assert.deepEqual(delivering, [good.url]);
  assert.equal(h.sup.currentUrl, good.url);
  assert.equal(h.sup.connected, true);
  const err = h.logs.find((l) => l.evt === 'upstream_error')!;
  assert.deepEqual([err.url, err.code], [bad.url, 'UPSTREAM_NO_SYNC']);
  // All of it discarded, but the last few hundred bytes the aligner was still looking at.
  const bytes = err.bytes as number;
  const discarded = err.discarded as number;
  assert.ok(bytes > 0 && discarded <= bytes && discarded > bytes - 1024, `bytes ${bytes}, discarded ${discarded}`);
  // The garbage connection never counted as up: no 'down' event, no upstream_connect for it.
  assert.equal(h.events.filter((e) => e.what === 'down').length, 0);
  assert.deepEqual(h.logs.filter((l) => l.evt === 'upstream_connect').map((l) => l.url), [good.url]);
  await h.waitFor(() => bad.closes.length === 1); // the garbage socket was closed
  h.sup.close();
  await stop(bad.server, good.server);
});

test('readtimeout 0: garbage fails after the lock time; a silent upstream is still waited for', async () => {
  const bad = await tcpServer(streaming(() => garbageBytes(500)));
  const a = withAligner();
  const h = supervise({ remotes: [bad.url], reconnectS: 30, readTimeoutS: 0, lockTimeoutMs: 300, ...a });
  h.sup.start();
  await h.waitFor(() => h.logs.some((l) => l.evt === 'upstream_error'));
  const err = h.logs.find((l) => l.evt === 'upstream_error')!;
  assert.equal(err.code, 'UPSTREAM_NO_SYNC');
  assert.equal(h.sup.connected, false);
  h.sup.close();
  await stop(bad.server);
});

test('an upstream that loses sync for good after delivering is closed after readtimeout (UPSTREAM_NO_SYNC)', async () => {
  let sent = 0;
  const sv = await tcpServer(streaming(() => (sent++ < 5 ? tsPackets(7, sent * 7) : garbageBytes(1316))));
  const a = withAligner();
  const h = supervise({ remotes: [sv.url], reconnectS: 30, readTimeoutS: 0.4, ...a });
  h.sup.start();
  await h.waitFor(() => h.events.some((e) => e.what === 'down'));
  assert.equal(h.events.find((e) => e.what === 'down')!.code, 'UPSTREAM_NO_SYNC');
  h.sup.close();
  await stop(sv.server);
});
