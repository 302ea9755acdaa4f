// The status page's Server-Sent Events over real sockets: one snapshot built per tick
// whatever the number of subscribers, the same bytes to all, and a subscriber that does
// not read holds at most one message.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readSse } from '../helpers/sse.js';
import type { AddressInfo } from 'node:net';
import { SnapshotBroadcaster } from '../../src/status/sse.js';
import { loadAssets, StatusPage } from '../../src/status/page.js';
import { TrustedProxies } from '../../src/status/urls.js';
import type { StatusSnapshot, StatusSource } from '../../src/status/types.js';
import { silentLogger } from '../../src/log/logger.js';
import { until } from '../helpers/wait.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function serve(b: SnapshotBroadcaster, onRes?: (res: http.ServerResponse) => void): Promise<number> {
  const server = http.createServer((_req, res) => { onRes?.(res); b.subscribe(res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return (server.address() as AddressInfo).port;
}

/** An SSE client keeping every `data:` payload. */
function subscribe(port: number): { got: string[]; req: http.ClientRequest; res: Promise<http.IncomingMessage> } {
  const got: string[] = [];
  let req!: http.ClientRequest;
  const res = new Promise<http.IncomingMessage>((resolve, reject) => {
    req = http.get({ port, host: '127.0.0.1', path: '/', agent: false }, (r) => {
      resolve(r);
      readSse(r, (payload) => got.push(payload));
      r.on('error', () => {});
    });
    req.on('error', reject);
  });
  return { got, req, res };
}

describe('SnapshotBroadcaster', () => {
  it('builds each message once per tick for all subscribers and sends them the same one', async () => {
    let seq = 0;
    const b = new SnapshotBroadcaster({ build: () => Promise.resolve(JSON.stringify({ seq: ++seq })), intervalMs: 100 });
    cleanups.push(() => b.close());
    const port = await serve(b);
    const n = 200;
    const subs = Array.from({ length: n }, () => subscribe(port));
    await Promise.all(subs.map((s) => s.res));
    await until(() => subs.every((s) => s.got.length >= 5), 15000, 'five messages each');
    const built = b.builds;
    // Without sharing it would be at least n x 5 builds.
    assert.ok(built < 5 * 10 + 20, `builds ${built} for ${n} subscribers`);
    assert.equal(b.subscribers, n);
    // Everyone who got message k got exactly the bytes that were built as message k.
    for (const s of subs) {
      const seqs = s.got.map((g) => (JSON.parse(g) as { seq: number }).seq);
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, 'in order, no repeats');
      assert.ok(seqs.every((x) => x <= built));
    }
    for (const s of subs) s.req.destroy();
    await until(() => b.subscribers === 0, 5000, 'subscribers gone');
    // Nobody listens: no more builds.
    const idle = b.builds;
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(b.builds, idle);
  });

  it('answers pokes early but never more often than every 250 ms', async () => {
    let seq = 0;
    const b = new SnapshotBroadcaster({ build: () => Promise.resolve(String(++seq)), intervalMs: 60_000 });
    cleanups.push(() => b.close());
    const port = await serve(b);
    const s = subscribe(port);
    await s.res;
    await until(() => s.got.length === 1, 5000, 'the first message');
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) b.poke();
    await until(() => s.got.length === 2, 5000, 'the poked message');
    assert.ok(Date.now() - t0 < 5000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.got.length, 2, 'fifty pokes, one message');
    s.req.destroy();
  });

  it('queues at most one message for a subscriber that does not read', async () => {
    const big = JSON.stringify('x'.repeat(256 * 1024));
    const b = new SnapshotBroadcaster({ build: () => Promise.resolve(big), intervalMs: 50 });
    cleanups.push(() => b.close());
    let serverRes: http.ServerResponse | undefined;
    const port = await serve(b, (res) => { serverRes = res; });
    const s = subscribe(port);
    const res = await s.res;
    res.pause(); // never reads again
    await until(() => b.builds >= 30, 15000, 'thirty ticks');
    // Socket buffers take some; what Node holds for it is at most the one frame it could not send.
    assert.ok(serverRes!.writableLength <= big.length + 64, `queued ${serverRes!.writableLength} bytes`);
    s.req.destroy();
  });
});

describe('StatusPage actions: clients vs the internal channel', () => {
  const calls: string[] = [];
  const source: StatusSource = {
    clientDetails: true,
    snapshot: () => Promise.resolve({ time: 0, connections: 0, maxConnections: 0, fullConnections: 0, stats: true, historyIntervalS: 2, clientDetails: true, streams: [] } satisfies StatusSnapshot),
    endClient: (id) => { calls.push(`end ${id}`); return Promise.resolve(true); },
    setOffline: (path, off) => { calls.push(`${off ? 'offline' : 'online'} ${path}`); return Promise.resolve(true); },
  };
  const log = silentLogger();
  const assets = loadAssets(log);
  async function server(forwarded: boolean): Promise<number> {
    const page = new StatusPage({ source, servePath: '/status', actions: true, trusted: new TrustedProxies([]), assets, log, forwarded });
    cleanups.push(() => page.close());
    const srv = http.createServer(page.handle);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => { srv.closeAllConnections(); srv.close(() => r()); }));
    return (srv.address() as AddressInfo).port;
  }
  const ask = (port: number, method: string, path: string, headers: Record<string, string> = {}) => new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });

  it('from clients: a GET never acts (it is the page), a cross-site POST is refused, a same-origin POST acts', async () => {
    const port = await server(false);
    calls.length = 0;
    const get = await ask(port, 'GET', '/status?action=offline&stream=/x.ts');
    assert.equal(get.status, 200);
    assert.match(get.type, /text\/html/);
    assert.equal((await ask(port, 'POST', '/status?action=offline&stream=/x.ts', { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
    assert.deepEqual(calls, []);
    assert.equal((await ask(port, 'POST', '/status?action=offline&stream=/x.ts', { 'Sec-Fetch-Site': 'same-origin' })).status, 200);
    assert.deepEqual(calls, ['offline /x.ts']);
  });

  it('from the internal channel (forwarded): a GET with action= acts; the worker did the origin check', async () => {
    const port = await server(true);
    calls.length = 0;
    const r = await ask(port, 'GET', '/r/4?action=end&client=c7');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(calls, ['end c7']);
    assert.match((await ask(port, 'GET', '/r/4')).type, /text\/html/);
  });
});
