// rtp:// on 127.0.0.1: RTP datagrams built by the test (helpers/datagram.ts), sent to the
// upstream, the payloads that reach onData looked at. The reorder window itself:
// test/unit/sources/rtp-reorder.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { rtpKind, RtpUpstream } from '../../../../src/sources/kinds/rtp.js';
import { makeStream, seqs } from '../../../helpers/packets.js';
import { freeUdpPort, rtpPacket, testContext } from '../../../helpers/datagram.js';
import { until } from '../../../helpers/wait.js';
import type { SourceOptions } from '../../../../src/sources/source.js';

function send(s: dgram.Socket, port: number, buf: Buffer): Promise<void> {
  return new Promise((res, rej) => s.send(buf, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
}

/** Datagram `i` of a test stream: 7 packets numbered 7i..7i+6. */
function tsDatagram(i: number): Buffer {
  return makeStream(7, 0x100, i * 7);
}

/** rtp:// opened on a free port as the registry opens it, bound, with a sender. */
async function openRtp(options: Partial<SourceOptions> = {}) {
  const port = await freeUdpPort();
  const { ctx, lines } = testContext(`rtp://127.0.0.1:${port}`, options);
  const got: Buffer[] = [];
  const up = rtpKind.open(ctx, (b) => got.push(b));
  assert.ok(up instanceof RtpUpstream);
  await up.ready;
  const s = dgram.createSocket('udp4');
  return { up, lines, got, send: (b: Buffer) => send(s, port, b), close: () => { s.close(); up.close(); } };
}

test('rtp unicast: header stripped, reordering restored, losses, duplicates and non-RTP counted', async () => {
  const r = await openRtp({ mru: 1500, rtpReorder: 4 });
  // Sequence numbers cross the 16-bit wrap. Datagram i carries TS packets 7i..7i+6.
  const base = 65530;
  const order = [0, 1, 3, 2, 4, 5, 5, 7, 6, 8, 10, 11, 12, 13, 14, 15];
  // 9 is never sent (lost); 5 twice (duplicate); 3<->2 and 7<->6 swapped (reordered).
  try {
    for (const [k, i] of order.entries()) {
      // CSRCs, an extension and padding on some datagrams: all must be removed.
      await r.send(rtpPacket({ seq: (base + i) & 0xffff, payload: tsDatagram(i), csrc: i % 3, ext: i % 4 === 0 ? 2 : undefined, pad: i % 5 === 0 ? 4 : 0 }));
      if (k === 8) await r.send(tsDatagram(99)); // plain TS, not RTP: version field is 1
    }
    await until(() => r.up.stats.datagrams === order.length + 1, 3000, 'all datagrams');
  } finally {
    r.close();
  }
  const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15].flatMap((i) => Array.from({ length: 7 }, (_, j) => i * 7 + j));
  assert.deepEqual(seqs(Buffer.concat(r.got)), expected);
  const st = r.up.rtp;
  assert.equal(st.lost, 1);
  assert.equal(st.reordered, 2);
  assert.equal(st.duplicates, 1);
  assert.equal(st.notV2, 1);
  assert.equal(st.late, 0);
  assert.ok(r.lines.some((l) => l.evt === 'upstream_faults' && l.first === 'notV2' && l.byte0 === 0x47));
  await r.up.ended;
  const summary = r.lines.find((l) => l.evt === 'upstream_faults' && l.since) as { since: Record<string, number> } | undefined;
  assert.ok(summary);
  assert.equal(summary.since.lost, 1);
  assert.equal(summary.since.notV2, 1);
});

test('rtp: a new SSRC restarts the sequence without counting losses, and is logged', async () => {
  const r = await openRtp();
  try {
    for (let i = 0; i < 3; i++) await r.send(rtpPacket({ seq: 1000 + i, ssrc: 1, payload: tsDatagram(i) }));
    for (let i = 3; i < 6; i++) await r.send(rtpPacket({ seq: 40000 + i, ssrc: 2, payload: tsDatagram(i) }));
    await until(() => r.got.length === 6, 3000, '6 payloads');
  } finally {
    r.close();
  }
  assert.deepEqual(seqs(Buffer.concat(r.got)), Array.from({ length: 42 }, (_, i) => i));
  assert.equal(r.up.rtp.ssrcChanges, 1);
  assert.equal(r.up.rtp.lost, 0);
  const changed = r.lines.find((l) => l.evt === 'upstream_info' && l.ssrc === 2);
  assert.equal(changed?.previous, 1);
});

test('rtp: malformed datagrams (shorter than their header) are counted and dropped; empty payloads pass nothing', async () => {
  const r = await openRtp();
  try {
    await r.send(rtpPacket({ seq: 1, payload: tsDatagram(0) }));
    await r.send(Buffer.from([0x80, 33, 0, 9])); // 4 bytes: no room for the 12-byte header
    await r.send(rtpPacket({ seq: 9, payload: Buffer.alloc(0), csrc: 15 }).subarray(0, 20)); // CSRCs announced, not there
    await r.send(rtpPacket({ seq: 2, payload: Buffer.alloc(0) })); // a valid header, nothing after it
    await r.send(rtpPacket({ seq: 3, payload: tsDatagram(1) }));
    await until(() => r.got.length === 2 && r.up.stats.datagrams === 5, 3000, '5 datagrams, 2 payloads');
  } finally {
    r.close();
  }
  assert.equal(r.up.rtp.malformed, 2);
  assert.deepEqual(seqs(Buffer.concat(r.got)), Array.from({ length: 14 }, (_, i) => i));
  assert.equal(r.got.length, 2, 'the empty payload was not passed on');
  const first = r.lines.find((l) => l.evt === 'upstream_faults' && l.first === 'malformed');
  assert.equal(first?.size, 4);
});

test('rtp:// validation is the udp addressing', () => {
  assert.deepEqual(rtpKind.schemes, ['rtp']);
  assert.equal(rtpKind.validate!(new URL('rtp://239.0.0.1:5004')), undefined);
  assert.match(rtpKind.validate!(new URL('rtp://1.2.3.4@[ff3e::1]:5000'))!, /IPv6/);
  assert.match(rtpKind.validate!(new URL('rtp://239.0.0.1'))!, /rtp:\/\/host:port/);
});
