// The UDP socket upstream behind udp:// (and rtp://) on 127.0.0.1: opened as the registry
// opens it, datagrams sent by the test, what reaches onData looked at. Multicast and SSM
// joins need interfaces of their own: test/integration/multicast-netns.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { udpKind } from '../../../src/sources/kinds/udp.js';
import { DatagramUpstream, sizeRecvBuffer } from '../../../src/sources/datagram.js';
import { findSourceKind } from '../../../src/sources/registry.js';
import type { RestreamerError } from '../../../src/errors.js';
import { makeStream, seqs, PKT } from '../../helpers/packets.js';
import { freeUdpPort, testContext } from '../../helpers/datagram.js';
import { until } from '../../helpers/wait.js';

const DGRAM_PACKETS = 7;

function send(s: dgram.Socket, port: number, buf: Buffer): Promise<void> {
  return new Promise((res, rej) => s.send(buf, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
}

/** Datagram `i` of a test stream: 7 packets numbered 7i..7i+6. */
function tsDatagram(i: number): Buffer {
  return makeStream(DGRAM_PACKETS, 0x100, i * DGRAM_PACKETS);
}

/** udp:// opened on a free port, as the registry opens it. */
async function openUdp(options: Parameters<typeof testContext>[1] = {}, onData: (b: Buffer) => void = () => {}) {
  const port = await freeUdpPort();
  const { ctx, lines } = testContext(`udp://127.0.0.1:${port}`, options);
  const up = udpKind.open(ctx, onData);
  assert.ok(up instanceof DatagramUpstream);
  return { up, port, lines };
}

/** Whether `port` on 127.0.0.1 can be bound exclusively (no socket of ours holds it). */
async function portFree(port: number): Promise<boolean> {
  const probe = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  try {
    await new Promise<void>((res, rej) => { probe.once('error', rej); probe.bind(port, '127.0.0.1', res); });
    return true;
  } catch {
    return false;
  } finally {
    try { probe.close(); } catch { /* never bound */ }
  }
}

test('udp and rtp are registered kinds', () => {
  assert.equal(findSourceKind('udp'), udpKind);
  assert.deepEqual(findSourceKind('RTP:')?.schemes, ['rtp']);
});

test('udp unicast: datagrams are delivered whole and in order; oversized ones are counted, logged, dropped', async () => {
  const got: Buffer[] = [];
  const { up, port, lines } = await openUdp({ mru: 1500 }, (b) => got.push(b));
  await up.ready;
  assert.ok(up.stats.recvBufferBytes >= 1000 * PKT, `receive buffer ${up.stats.recvBufferBytes}`);
  const s = dgram.createSocket('udp4');
  try {
    for (let i = 0; i < 10; i++) {
      await send(s, port, tsDatagram(i));
      if (i === 4) await send(s, port, Buffer.alloc(2000, 0x47)); // larger than mru
    }
    await until(() => up.stats.datagrams === 11, 3000, '11 datagrams');
    assert.equal(got.length, 10);
    assert.ok(got.every((b) => b.length === DGRAM_PACKETS * PKT));
    assert.deepEqual(seqs(Buffer.concat(got)), Array.from({ length: 70 }, (_, i) => i));
    assert.equal(up.stats.oversize, 1);
    assert.equal(up.stats.bytes, 10 * DGRAM_PACKETS * PKT);
    const first = lines.find((l) => l.evt === 'upstream_faults' && l.first === 'oversize');
    assert.ok(first, 'first oversized datagram logged at once');
    assert.equal(first.size, 2000);
    assert.equal(first.mru, 1500);
  } finally {
    s.close();
    up.close();
  }
  assert.deepEqual(await up.ended, {});
  up.close(); // idempotent
  const summary = lines.find((l) => l.evt === 'upstream_faults' && l.since);
  assert.deepEqual((summary as { since: unknown }).since, { oversize: 1 }, 'summary at close');
});

test('udp: repeated faults are summarised every 10 s with what changed, not line by line', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const { up, port, lines } = await openUdp({ mru: 500 });
  await up.ready;
  const s = dgram.createSocket('udp4');
  const summaries = () => lines.filter((l) => l.evt === 'upstream_faults' && l.since);
  try {
    for (let i = 0; i < 3; i++) await send(s, port, tsDatagram(i)); // 1316 bytes: all oversized
    await until(() => up.stats.oversize === 3, 3000, '3 oversized datagrams');
    assert.equal(lines.filter((l) => l.evt === 'upstream_faults').length, 1, 'only the first logged at once');
    t.mock.timers.tick(10_000);
    assert.deepEqual(summaries().map((l) => l.since), [{ oversize: 3 }]);
    t.mock.timers.tick(10_000);
    assert.equal(summaries().length, 1, 'nothing new: no line');
    await send(s, port, tsDatagram(3));
    await until(() => up.stats.oversize === 4, 3000, 'a fourth');
    t.mock.timers.tick(10_000);
    assert.deepEqual(summaries().map((l) => l.since), [{ oversize: 3 }, { oversize: 1 }]);
    assert.deepEqual(summaries()[1]!.totals, { oversize: 4 });
  } finally {
    s.close();
    up.close();
  }
});

test('udp: "connected" at the first datagram, not when the socket is bound (issue 13)', async () => {
  const { up, port } = await openUdp();
  assert.equal(up.connectsOnData, true);
  let connected = false;
  void up.connected.then(() => { connected = true; });
  await up.ready;
  // Whatever the bind did has run, promise reactions included.
  await new Promise((r) => setImmediate(r));
  assert.equal(connected, false, 'bound, no datagram yet: not connected');
  const s = dgram.createSocket('udp4');
  try {
    await send(s, port, tsDatagram(0));
    await up.connected;
  } finally {
    s.close();
    up.close();
  }
});

test('udp: close() closes the socket, also before it was bound: the port can be bound exclusively again', async () => {
  const { up, port } = await openUdp();
  await up.ready;
  assert.equal(await portFree(port), false, 'held while open');
  up.close();
  assert.deepEqual(await up.ended, {});
  assert.equal(await portFree(port), true);
  // Closed in the same tick as opened: the bind never completes into a live socket.
  const early = await openUdp();
  early.up.close();
  assert.deepEqual(await early.up.ended, {});
  await assert.rejects(early.up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_ENDED');
  assert.equal(await portFree(early.port), true);
});

test('udp: a port another socket holds exclusively fails the upstream with the system error', async () => {
  const port = await freeUdpPort();
  const holder = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((res) => holder.bind(port, '127.0.0.1', res));
  try {
    const { ctx } = testContext(`udp://127.0.0.1:${port}`);
    const up = udpKind.open(ctx, () => {});
    await assert.rejects(up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_IO' && /udp:\/\/127\.0\.0\.1:\d+: .*EADDRINUSE/.test(e.message));
    assert.equal((await up.ended).error?.code, 'UPSTREAM_IO');
  } finally {
    holder.close();
  }
});

test('udp: an address that cannot be opened fails at open, before any socket exists', async () => {
  // validate() refuses these at config load; open() must not trust that it ran.
  const { ctx } = testContext('udp://239.1.1.1');
  const up = udpKind.open(ctx, () => {});
  await assert.rejects(up.connected, (e: RestreamerError) => e.code === 'UPSTREAM_UNSUPPORTED' && e.message.includes('needs a port'));
  // A link-local IPv6 group needs the interface to join it on.
  const ll = testContext('udp://[ff02::1234]:5000');
  const up2 = udpKind.open(ll.ctx, () => {});
  await assert.rejects(up2.connected, (e: RestreamerError) => e.code === 'UPSTREAM_INTERFACE' && e.message.includes('ff02::1234 has interface- or link-local scope: set "clientinterface"'));
});

test('multicast with an unknown clientinterface fails with a clear error (nothing joined)', async () => {
  const port = await freeUdpPort();
  const { ctx, lines } = testContext(`udp://239.255.0.1:${port}`, { clientInterface: 'nosuchif0' });
  const up = udpKind.open(ctx, () => {});
  await assert.rejects(up.connected, (e: RestreamerError) => {
    assert.equal(e.code, 'UPSTREAM_INTERFACE');
    assert.match(e.message, /nosuchif0.*no such network interface.*lo/);
    return true;
  });
  const end = await up.ended;
  assert.equal(end.error?.code, 'UPSTREAM_INTERFACE');
  assert.ok(!lines.some((l) => l.evt === 'multicast_join'));
});

test('sizeRecvBuffer asks for inputbuffer x 188 bytes and warns when the kernel grants less', () => {
  const { ctx, lines } = testContext('udp://127.0.0.1:1');
  let asked = 0;
  // Linux grants twice what was asked (its bookkeeping): no warning.
  assert.equal(sizeRecvBuffer(ctx.log, 100, (n) => { asked = n; }, () => 2 * asked), 2 * 100 * PKT);
  assert.equal(asked, 100 * PKT);
  assert.equal(lines.length, 0);
  // Capped by net.core.rmem_max.
  assert.equal(sizeRecvBuffer(ctx.log, 10_000, () => {}, () => 212_992), 212_992);
  const capped = lines.find((l) => l.requested === 10_000 * PKT);
  assert.equal(capped?.granted, 212_992);
  assert.match(String(capped.msg), /net\.core\.rmem_max/);
  // The set failing is a warning too, and an unbound socket reads as 0.
  lines.length = 0;
  assert.equal(sizeRecvBuffer(ctx.log, 10, () => { throw new Error('EPERM'); }, () => { throw new Error('not bound'); }), 0);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.err, 'EPERM');
  assert.equal(lines[1]!.granted, 0);
});
