// Datagram upstreams that deliver nothing (issue 13), end to end through the real CLI:
// a bound socket is not a connected upstream; a stream that has never delivered a packet
// is offline for clients (404 at once), check and statistics; and reconnects of a silent
// upstream do not restart the grace period of clients left waiting.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { StreamClient } from '../helpers/proxy.js';
import { until } from '../helpers/wait.js';
import { fixtureTs, tsByteRate } from '../helpers/upstream.js';
import { freeUdpPort } from '../helpers/datagram.js';
import { Scope } from '../helpers/scope.js';
import { PKT } from '../helpers/packets.js';

const scope = new Scope();
after(() => scope.close());

/** Sends the fixture to 127.0.0.1:port, 7 packets a datagram, in real time, until stopped. */
function udpSender(port: number): { stop(): void; sent: () => number } {
  const file = fixtureTs();
  const data = readFileSync(file);
  const perTick = Math.max(7, Math.round(tsByteRate(file) / 100 / PKT / 7) * 7);
  const s = dgram.createSocket('udp4');
  const npk = Math.floor(data.length / PKT);
  let pk = 0;
  let sent = 0;
  const t = setInterval(() => {
    for (let i = 0; i < perTick; i += 7) {
      const d = Buffer.alloc(7 * PKT);
      for (let k = 0; k < 7; k++) { data.copy(d, k * PKT, pk * PKT, pk * PKT + PKT); pk = (pk + 1) % npk; }
      s.send(d, port, '127.0.0.1');
      sent++;
    }
  }, 10);
  let stopped = false;
  const stop = () => { if (stopped) return; stopped = true; clearInterval(t); s.close(); };
  scope.defer(stop);
  return { stop, sent: () => sent };
}

async function status(url: string): Promise<number> {
  const c = new StreamClient(url);
  await c.responded;
  c.close();
  return c.status;
}

async function statsOf(url: string): Promise<Record<string, unknown>> {
  const c = new StreamClient(url);
  await c.done;
  return (JSON.parse(c.body().toString()) as { streams: Record<string, Record<string, unknown>> }).streams['/udp.ts']!;
}

const apis = [
  { type: 'api', api: 'check', serve: '/check', remote: '/udp.ts' },
  { type: 'api', api: 'statistics', serve: '/statistics' },
];

test('a bound UDP socket that has received nothing is offline: 404 at once, check 404, not connected; the first datagrams bring it up', async () => {
  const port = await freeUdpPort();
  const p = await scope.proxy({ reconnect: 1, resources: [{ type: 'stream', serve: '/udp.ts', remote: `udp://127.0.0.1:${port}` }, ...apis] }, false);
  // The socket is bound once the upstream logged its receive buffer or the debug retry line; wait a moment for it.
  await until(() => p.logs.some((l) => l.evt === 'start' || l.evt === 'listen'), 5000);
  assert.equal(await status(p.url('/udp.ts')), 404, 'no datagram yet: 404, not an endless empty 200');
  assert.equal(await status(p.url('/check')), 404);
  assert.equal((await statsOf(p.url('/statistics'))).connected, false);
  assert.ok(!p.logs.some((l) => l.evt === 'upstream_connect'), 'not logged as connected');
  const tx = udpSender(port);
  await p.waitLog((l) => l.evt === 'upstream_connect', 10000);
  const c = new StreamClient(p.url('/udp.ts'));
  await until(() => c.bytes > 50 * PKT, 10000, 'data');
  c.close();
  assert.equal(c.status, 200);
  assert.equal(await status(p.url('/check')), 200);
  const st = await statsOf(p.url('/statistics'));
  assert.equal(st.connected, true);
  assert.equal(st.packet_size, 188);
  tx.stop();
});

test('grace is not restarted by reconnects of a silent UDP upstream: waiting clients are ended after grace', async () => {
  const port = await freeUdpPort();
  const p = await scope.proxy({
    reconnect: 0.3, readtimeout: 0.5, grace: 2,
    resources: [{ type: 'stream', serve: '/udp.ts', remote: `udp://127.0.0.1:${port}` }, ...apis],
  }, false);
  const tx = udpSender(port);
  await p.waitLog((l) => l.evt === 'upstream_connect', 10000);
  const c = new StreamClient(p.url('/udp.ts'), { keep: false });
  await until(() => c.bytes > 50 * PKT, 10000, 'data');
  tx.stop();
  // readtimeout closes the socket, the supervisor binds again and again (nothing arrives):
  // the client must still be ended once grace has run out, not kept forever.
  await p.waitLog((l) => l.evt === 'upstream_disconnect', 5000);
  await until(() => c.ended || c.res?.complete === true || c.res?.destroyed === true, 15000, 'the waiting client is ended after grace');
  await p.waitLog((l) => String(l.msg).includes('grace period over'), 5000); // log lines are written in batches
  assert.equal(await status(p.url('/udp.ts')), 404, 'and new clients get 404');
});
