// Notifications through the real CLI, received by a real local HTTP server: limit_hit /
// limit_miss once per crossing of fullconnections, heartbeats at their interval, the
// configured Authorization headers, and a receiver that hangs never slows streaming.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { startProxy, StreamClient } from '../helpers/proxy.js';
import { sleep, until } from '../helpers/wait.js';
import { fixtureTs, PacedServer, tsByteRate } from '../helpers/upstream.js';

const cleanups: (() => unknown)[] = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const userlist = { alice: { password: 'alice-secret' } };

interface Seen { path: string; authorization: string | undefined; at: number }

/** Records every request; requests to /hang are never answered. */
async function receiver() {
  const seen: Seen[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization, at: Date.now() });
    if (req.url === '/hang') { hanging.add(res); res.on('close', () => hanging.delete(res)); return; }
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); });
  return { seen, hanging, base, paths: () => seen.map((s) => s.path) };
}

async function upstream(): Promise<{ up: PacedServer; rate: number }> {
  const rate = tsByteRate(fixtureTs());
  const up = new PacedServer(readFileSync(fixtureTs()), rate);
  await up.start();
  cleanups.push(() => up.stop());
  return { up, rate };
}

test('limit_hit and limit_miss once per crossing, with their Authorization headers; heartbeat at its interval', async () => {
  const rx = await receiver();
  const { up } = await upstream();
  const p = await startProxy({
    fullconnections: 2, heartbeatinterval: 0.3, userlist,
    resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }],
    notifications: [
      { event: 'limit_hit', url: `${rx.base}/hit`, authentication: { type: 'basic', user: 'alice' } },
      { event: 'limit_miss', url: `${rx.base}/miss`, authentication: { type: 'bearer', user: 'alice' } },
      { event: 'heartbeat', url: `${rx.base}/beat` },
    ],
  }, { waitStreams: true });
  cleanups.push(() => p.stop());
  const limits = () => rx.paths().filter((x) => x !== '/beat');
  const open = async (): Promise<StreamClient> => {
    const c = new StreamClient(p.url('/live.ts'), { keep: false });
    cleanups.push(() => c.close());
    await c.responded;
    assert.equal(c.status, 200);
    return c;
  };
  const close = async (c: StreamClient): Promise<void> => {
    const n = p.logs.filter((l) => l.evt === 'client_disconnect').length;
    c.close();
    await until(() => p.logs.filter((l) => l.evt === 'client_disconnect').length > n, 5000, 'disconnect');
  };
  /** Time passing is the point: a notification that must not come would arrive within it. */
  const settle = () => sleep(250);

  const c1 = await open();
  await settle();
  assert.deepEqual(limits(), [], 'one client: below the limit');
  const c2 = await open();
  await until(() => limits().length === 1, 3000, 'limit_hit');
  const c3 = await open();
  await close(c1);
  await settle();
  assert.deepEqual(limits(), ['/hit'], 'above and back at the limit: no repeat, no miss');
  await close(c2);
  await until(() => limits().length === 2, 3000, 'limit_miss');
  const c4 = await open();
  await until(() => limits().length === 3, 3000, 'second limit_hit');
  await close(c3);
  await until(() => limits().length === 4, 3000, 'second limit_miss');
  await close(c4);
  await settle();
  assert.deepEqual(limits(), ['/hit', '/miss', '/hit', '/miss'], 'exactly once per crossing');

  const hits = rx.seen.filter((s) => s.path === '/hit');
  for (const h of hits) assert.equal(h.authorization, `Basic ${Buffer.from('alice:alice-secret').toString('base64')}`);
  for (const m of rx.seen.filter((s) => s.path === '/miss')) assert.equal(m.authorization, 'Bearer alice-secret');

  // Heartbeats: every 0.3 s, without credentials (none configured).
  const from = Date.now();
  const before = rx.paths().filter((x) => x === '/beat').length;
  await sleep(1500); // time passing is the point: heartbeats are counted over this interval
  const beats = rx.paths().filter((x) => x === '/beat').length - before;
  assert.ok(beats >= 3 && beats <= 7, `${beats} heartbeats in ${Date.now() - from} ms at a 0.3 s interval`);
  for (const b of rx.seen.filter((s) => s.path === '/beat')) assert.equal(b.authorization, undefined);
});

test('a receiver that never answers does not slow streaming, and does not hold up shutdown', async () => {
  const rx = await receiver();
  const { up, rate } = await upstream();
  const p = await startProxy({
    fullconnections: 1, heartbeatinterval: 0.1,
    resources: [{ type: 'stream', serve: '/live.ts', remote: up.url() }],
    notifications: [
      { event: 'limit_hit', url: `${rx.base}/hang` },
      { event: 'heartbeat', url: `${rx.base}/hang` },
    ],
  }, { waitStreams: true });
  cleanups.push(() => p.stop());
  const c = new StreamClient(p.url('/live.ts'), { keep: false });
  cleanups.push(() => c.close());
  await c.responded;
  assert.equal(c.status, 200);
  // A reader straight from the upstream is the yardstick: the paced upstream runs on
  // timers in this process, so on a busy machine it sends less than its nominal rate.
  const direct = new StreamClient(up.url(), { keep: false });
  cleanups.push(() => direct.close());
  await direct.responded;
  await until(() => rx.hanging.size >= 3, 3000, 'requests hanging at the receiver');
  const b0 = c.bytes;
  const d0 = direct.bytes;
  await sleep(2000); // time passing is the point: what the client and the upstream move in it is compared
  const got = c.bytes - b0;
  const due = direct.bytes - d0;
  assert.ok(rx.hanging.size >= 3, 'the receiver is still holding requests');
  assert.ok(due > rate, 'the upstream kept sending');
  assert.ok(got >= due * 0.8, `the client received ${got} bytes while the upstream sent ${due}`);
  assert.ok(rx.seen.length <= 12, `requests to the hanging receiver are bounded (${rx.seen.length})`);

  const stopAt = Date.now();
  await p.stop();
  assert.equal(p.exitCode, 0);
  assert.ok(Date.now() - stopAt < 2500, 'shutdown is not held up by requests in flight');
});
