import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { udpKind } from '../../src/sources/kinds/udp.js';
import { DatagramUpstream } from '../../src/sources/datagram.js';
import { rtpKind, RtpUpstream } from '../../src/sources/kinds/rtp.js';
import { findSourceKind } from '../../src/sources/registry.js';
import { multicastInterface } from '../../src/sources/multicast.js';
import { RestreamerError } from '../../src/errors.js';
import { makeStream, seqs, PKT } from '../helpers/packets.js';
import { freeUdpPort, rtpPacket, testContext } from '../helpers/datagram.js';
import { until } from '../helpers/wait.js';

// Source-level tests on 127.0.0.1: open the kind with a SourceContext, send datagrams
// ourselves, look at what reaches onData. Multicast and SSM: multicast-netns.test.ts.

const DGRAM_PACKETS = 7;

function sender(): dgram.Socket {
  return dgram.createSocket('udp4');
}

function send(s: dgram.Socket, port: number, buf: Buffer): Promise<void> {
  return new Promise((res, rej) => s.send(buf, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
}

/** Datagram `i` of a test stream: 7 packets numbered 7i..7i+6. */
function tsDatagram(i: number): Buffer {
  return makeStream(DGRAM_PACKETS, 0x100, i * DGRAM_PACKETS);
}

test('udp unicast: datagrams are delivered whole and in order; oversized ones are counted, logged, dropped', async () => {
  const port = await freeUdpPort();
  const { ctx, lines } = testContext(`udp://127.0.0.1:${port}`, { mru: 1500 });
  const got: Buffer[] = [];
  const up = udpKind.open(ctx, (b) => got.push(b));
  assert.ok(up instanceof DatagramUpstream);
  await up.ready;
  assert.ok(up.stats.recvBufferBytes >= 1000 * PKT, `receive buffer ${up.stats.recvBufferBytes}`);
  const s = sender();
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

test('udp: the socket is closed on close(): the port can be bound exclusively again', async () => {
  const port = await freeUdpPort();
  const { ctx } = testContext(`udp://127.0.0.1:${port}`);
  const up = udpKind.open(ctx, () => {});
  assert.ok(up instanceof DatagramUpstream);
  await up.ready;
  up.close();
  await up.ended;
  // Without reuseAddr this bind fails while any socket still holds the port.
  const probe = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((res, rej) => { probe.once('error', rej); probe.bind(port, '127.0.0.1', res); });
  probe.close();
});

test('rtp unicast: header stripped, reordering restored, losses, duplicates and non-RTP counted', async () => {
  const port = await freeUdpPort();
  const { ctx, lines } = testContext(`rtp://127.0.0.1:${port}`, { mru: 1500, rtpReorder: 4 });
  const got: Buffer[] = [];
  const up = rtpKind.open(ctx, (b) => got.push(b));
  assert.ok(up instanceof RtpUpstream);
  await up.ready;
  // Sequence numbers cross the 16-bit wrap. Datagram i carries TS packets 7i..7i+6.
  const base = 65530;
  const order = [0, 1, 3, 2, 4, 5, 5, 7, 6, 8, 10, 11, 12, 13, 14, 15];
  // 9 is never sent (lost); 5 twice (duplicate); 3<->2 and 7<->6 swapped (reordered).
  const s = sender();
  try {
    for (const [k, i] of order.entries()) {
      // CSRCs, an extension and padding on some datagrams: all must be removed.
      await send(s, port, rtpPacket({ seq: (base + i) & 0xffff, payload: tsDatagram(i), csrc: i % 3, ext: i % 4 === 0 ? 2 : undefined, pad: i % 5 === 0 ? 4 : 0 }));
      if (k === 8) await send(s, port, tsDatagram(99)); // plain TS, not RTP: version field is 1
    }
    await until(() => up.stats.datagrams === order.length + 1, 3000, 'all datagrams');
  } finally {
    s.close();
  }
  const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15].flatMap((i) => Array.from({ length: 7 }, (_, j) => i * 7 + j));
  assert.deepEqual(seqs(Buffer.concat(got)), expected);
  const r = up.rtp;
  assert.equal(r.lost, 1);
  assert.equal(r.reordered, 2);
  assert.equal(r.duplicates, 1);
  assert.equal(r.notV2, 1);
  assert.equal(r.late, 0);
  assert.ok(lines.some((l) => l.evt === 'upstream_faults' && l.first === 'notV2'));
  up.close();
  await up.ended;
  const summary = lines.find((l) => l.evt === 'upstream_faults' && l.since) as { since: Record<string, number> } | undefined;
  assert.ok(summary);
  assert.equal(summary.since.lost, 1);
  assert.equal(summary.since.notV2, 1);
});

test('rtp: a new SSRC restarts the sequence without counting losses', async () => {
  const port = await freeUdpPort();
  const { ctx } = testContext(`rtp://127.0.0.1:${port}`);
  const got: Buffer[] = [];
  const up = rtpKind.open(ctx, (b) => got.push(b));
  assert.ok(up instanceof RtpUpstream);
  await up.ready;
  const s = sender();
  try {
    for (let i = 0; i < 3; i++) await send(s, port, rtpPacket({ seq: 1000 + i, ssrc: 1, payload: tsDatagram(i) }));
    for (let i = 3; i < 6; i++) await send(s, port, rtpPacket({ seq: 40000 + i, ssrc: 2, payload: tsDatagram(i) }));
    await until(() => got.length === 6, 3000, '6 payloads');
  } finally {
    s.close();
    up.close();
  }
  assert.deepEqual(seqs(Buffer.concat(got)), Array.from({ length: 42 }, (_, i) => i));
  assert.equal(up.rtp.ssrcChanges, 1);
  assert.equal(up.rtp.lost, 0);
});

test('udp: "connected" at the first datagram, not when the socket is bound (issue 13)', async () => {
  const port = await freeUdpPort();
  const { ctx } = testContext(`udp://127.0.0.1:${port}`);
  const up = udpKind.open(ctx, () => {});
  assert.ok(up instanceof DatagramUpstream);
  assert.equal(up.connectsOnData, true);
  let connected = false;
  void up.connected.then(() => { connected = true; });
  await up.ready;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(connected, false, 'bound, no datagram yet: not connected');
  const s = sender();
  try {
    await send(s, port, tsDatagram(0));
    await up.connected;
  } finally {
    s.close();
    up.close();
  }
});

test('udp/rtp URL validation and the registry', () => {
  for (const scheme of ['udp', 'rtp', 'fork', 'unixgram', 'unixpacket']) assert.ok(findSourceKind(scheme), scheme);
  const v = (u: string) => udpKind.validate!(new URL(u));
  assert.equal(v('udp://0.0.0.0:5000'), undefined);
  assert.equal(v('udp://239.1.1.1:5000'), undefined);
  assert.equal(v('udp://127.0.0.1@232.1.1.1:5000'), undefined);
  assert.equal(v('udp://[ff15::1]:5000'), undefined);
  assert.equal(v('udp://2001%3Adb8%3A%3A1@[ff3e::1]:5000'), undefined);
  assert.match(v('udp://239.1.1.1')!, /needs a port/);
  assert.match(v('udp://127.0.0.1@10.1.1.1:5000')!, /needs a multicast group/);
  assert.match(v('udp://239.1.1.2@239.1.1.1:5000')!, /is a multicast address/);
  assert.match(v('udp://u:p@239.1.1.1:5000')!, /password/);
  assert.match(rtpKind.validate!(new URL('rtp://1.2.3.4@[ff3e::1]:5000'))!, /IPv6/);
});

test('multicast with an unknown clientinterface fails with a clear error (nothing joined)', async () => {
  const port = await freeUdpPort();
  const { ctx } = testContext(`udp://239.255.0.1:${port}`, { clientInterface: 'nosuchif0' });
  const up = udpKind.open(ctx, () => {});
  await assert.rejects(up.connected, (e: RestreamerError) => {
    assert.equal(e.code, 'UPSTREAM_INTERFACE');
    assert.match(e.message, /nosuchif0.*no such network interface.*lo/);
    return true;
  });
  const end = await up.ended;
  assert.equal(end.error?.code, 'UPSTREAM_INTERFACE');
});

test('clientinterface: an interface name resolves to its IPv4 address (IPv6: its scope)', () => {
  assert.equal(multicastInterface('lo', 4), '127.0.0.1');
  assert.equal(multicastInterface('lo', 6), '::%lo');
  assert.equal(multicastInterface('127.0.0.1', 4), '127.0.0.1');
  assert.equal(multicastInterface(undefined, 4), undefined);
  assert.throws(() => multicastInterface('nosuchif0', 4), /no such network interface/);
});
