// The status page's Server-Sent Events over real sockets: one snapshot built per tick
// whatever the number of subscribers, the same bytes to all, and a subscriber that does
// not read holds at most one message.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SnapshotBroadcaster } from '../../src/status/sse.js';
import { until } from '../helpers/proxy.js';

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
      let buf = '';
      r.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (ev.startsWith('data: ')) got.push(ev.slice(6));
        }
      });
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
