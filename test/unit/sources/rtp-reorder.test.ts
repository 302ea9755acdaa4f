import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RTP_MALFORMED, RTP_NOT_V2, RTP_OK, RtpReorder, newRtpHeader, parseRtp } from '../../../src/sources/rtp-reorder.js';
import { rtpPacket } from '../../helpers/datagram.js';

test('parseRtp: plain header', () => {
  const payload = Buffer.from('hello');
  const p = rtpPacket({ seq: 0xbeef, ssrc: 0x01020304, timestamp: 0xfffffff0, pt: 33, marker: true, payload });
  const h = newRtpHeader();
  assert.equal(parseRtp(p, h), RTP_OK);
  assert.equal(h.seq, 0xbeef);
  assert.equal(h.ssrc, 0x01020304);
  assert.equal(h.timestamp, 0xfffffff0);
  assert.equal(h.payloadType, 33);
  assert.equal(h.marker, true);
  assert.deepEqual(p.subarray(h.offset, h.end), payload);
});

test('parseRtp: CSRC list, header extension and padding are removed', () => {
  const payload = Buffer.alloc(188 * 7, 0x47);
  const h = newRtpHeader();
  for (const csrc of [0, 1, 15]) {
    for (const ext of [undefined, 0, 3]) {
      for (const pad of [0, 1, 4, 255]) {
        const p = rtpPacket({ seq: 7, csrc, ext, pad, payload });
        assert.equal(parseRtp(p, h), RTP_OK, `csrc ${csrc} ext ${ext} pad ${pad}`);
        assert.equal(h.offset, 12 + 4 * csrc + (ext === undefined ? 0 : 4 + 4 * ext));
        assert.deepEqual(p.subarray(h.offset, h.end), payload);
      }
    }
  }
});

test('parseRtp: not version 2, and malformed datagrams', () => {
  const h = newRtpHeader();
  for (const version of [0, 1, 3]) assert.equal(parseRtp(rtpPacket({ seq: 1, version, payload: Buffer.alloc(188) }), h), RTP_NOT_V2);
  // A raw TS datagram (sync byte 0x47 = version 1) is not RTP.
  assert.equal(parseRtp(Buffer.alloc(1316, 0x47), h), RTP_NOT_V2);
  assert.equal(parseRtp(Buffer.alloc(11, 0x80), h), RTP_MALFORMED);
  // CSRC list longer than the datagram.
  const csrc = rtpPacket({ seq: 1, csrc: 15, payload: Buffer.alloc(0) }).subarray(0, 20);
  assert.equal(parseRtp(csrc, h), RTP_MALFORMED);
  // Extension header announcing more words than there are.
  const ext = rtpPacket({ seq: 1, ext: 2, payload: Buffer.alloc(0) });
  assert.equal(parseRtp(ext.subarray(0, ext.length - 4), h), RTP_MALFORMED);
  // Padding flag with a zero count, or a count larger than the payload.
  const pad0 = rtpPacket({ seq: 1, pad: 1, payload: Buffer.alloc(4) });
  pad0[pad0.length - 1] = 0;
  assert.equal(parseRtp(pad0, h), RTP_MALFORMED);
  const padBig = rtpPacket({ seq: 1, pad: 1, payload: Buffer.alloc(4) });
  padBig[padBig.length - 1] = 50;
  assert.equal(parseRtp(padBig, h), RTP_MALFORMED);
});

/** Feed sequence numbers; items are the numbers themselves. */
function run(window: number, seqs: number[], flush = false) {
  const out: number[] = [];
  const r = new RtpReorder<number>(window, (x) => out.push(x));
  for (const s of seqs) r.push(s, s);
  if (flush) r.flush();
  return { out, stats: r.stats, pending: r.pending };
}

test('reorder: in-order input passes straight through', () => {
  const { out, stats, pending } = run(4, [10, 11, 12, 13]);
  assert.deepEqual(out, [10, 11, 12, 13]);
  assert.equal(pending, 0);
  assert.deepEqual(stats, { received: 4, delivered: 4, lost: 0, reordered: 0, duplicates: 0, late: 0, resyncs: 0 });
});

test('reorder: datagrams swapped within the window come out in order', () => {
  const { out, stats } = run(4, [0, 2, 1, 3, 6, 5, 4, 7]);
  assert.deepEqual(out, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(stats.reordered, 2);
  assert.equal(stats.lost, 0);
});

test('reorder: a hole is given up once a datagram `window` ahead arrives, and counted lost', () => {
  const r = run(4, [0, 1, 3, 4, 5]);
  assert.deepEqual(r.out, [0, 1], 'held while the window waits for 2');
  assert.equal(r.pending, 3);
  const { out, stats, pending } = run(4, [0, 1, 3, 4, 5, 6]);
  assert.deepEqual(out, [0, 1, 3, 4, 5, 6]);
  assert.equal(stats.lost, 1);
  assert.equal(pending, 0);
  // A burst loss larger than the window: the numbers just before 20 still get their chance.
  const burst = run(4, [0, 1, 20, 21, 22]);
  assert.deepEqual(burst.out, [0, 1]);
  const burst2 = run(4, [0, 1, 20, 21, 22, 23]);
  assert.deepEqual(burst2.out, [0, 1, 20, 21, 22, 23]);
  assert.equal(burst2.stats.lost, 18);
});

test('reorder: a datagram arriving after its hole was given up is late and dropped', () => {
  const { out, stats } = run(4, [0, 1, 3, 4, 5, 6, 2, 7]);
  assert.deepEqual(out, [0, 1, 3, 4, 5, 6, 7]);
  assert.equal(stats.lost, 1);
  assert.equal(stats.late, 1);
  assert.equal(stats.duplicates, 0);
});

test('reorder: duplicates (delivered or held) are dropped and counted', () => {
  const a = run(4, [0, 1, 1, 2, 0]);
  assert.deepEqual(a.out, [0, 1, 2]);
  assert.equal(a.stats.duplicates, 2);
  const b = run(4, [0, 2, 2, 1, 3]);
  assert.deepEqual(b.out, [0, 1, 2, 3]);
  assert.equal(b.stats.duplicates, 1);
  assert.equal(b.stats.late, 0);
});

test('reorder: sequence numbers wrap at 65535', () => {
  const a = run(4, [65533, 65534, 0, 65535, 1, 2]);
  assert.deepEqual(a.out, [65533, 65534, 65535, 0, 1, 2]);
  assert.equal(a.stats.reordered, 1);
  const b = run(4, [65534, 0, 1, 2, 3]);
  assert.deepEqual(b.out, [65534, 0, 1, 2, 3]);
  assert.equal(b.stats.lost, 1, '65535 lost across the wrap');
  // Many cycles: marks from the previous cycle must not turn fresh numbers into duplicates.
  const seqs: number[] = [];
  for (let i = 0; i < 3 * 65536; i++) seqs.push(i & 0xffff);
  const c = run(8, seqs);
  assert.equal(c.out.length, seqs.length);
  assert.equal(c.stats.duplicates + c.stats.late + c.stats.lost, 0);
});

test('reorder: a large jump is a sender restart (resync), not a loss', () => {
  const a = run(4, [100, 101, 30000, 30001]);
  assert.deepEqual(a.out, [100, 101, 30000, 30001]);
  assert.equal(a.stats.resyncs, 1);
  assert.equal(a.stats.lost, 0);
  // Restart far behind: the first one is dropped, two in sequence resynchronise.
  const b = run(4, [5000, 5001, 10, 11, 12]);
  assert.deepEqual(b.out, [5000, 5001, 11, 12]);
  assert.equal(b.stats.resyncs, 1);
});

test('reorder: flush releases what is held and counts the holes', () => {
  const { out, stats, pending } = run(8, [0, 2, 4], true);
  assert.deepEqual(out, [0, 2, 4]);
  assert.equal(stats.lost, 2);
  assert.equal(pending, 0);
});

test('reorder: window 1 never holds anything', () => {
  const { out, stats } = run(1, [0, 2, 1, 3]);
  assert.deepEqual(out, [0, 2, 3]);
  assert.equal(stats.lost, 1);
  assert.equal(stats.late, 1);
});

test('reorder property: adjacent swaps and drops, any start: order restored, losses exact', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 65535 }),
    fc.array(fc.constantFrom('keep', 'drop', 'swap'), { minLength: 1, maxLength: 300 }),
    fc.integer({ min: 2, max: 16 }),
    (start, ops, window) => {
      const sent: number[] = [];
      const kept: number[] = [];
      let dropped = 0;
      // The first datagram fixes the expected sequence, so it is always sent first.
      sent.push(start);
      kept.push(start);
      let s = (start + 1) & 0xffff;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        if (op === 'drop') { dropped++; s = (s + 1) & 0xffff; continue; }
        if (op === 'swap' && i + 1 < ops.length && ops[i + 1] !== 'drop') {
          const a = s, b = (s + 1) & 0xffff;
          sent.push(b, a);
          kept.push(a, b);
          s = (s + 2) & 0xffff;
          i++;
          continue;
        }
        sent.push(s);
        kept.push(s);
        s = (s + 1) & 0xffff;
      }
      // A trailing sentinel makes every drop a hole between two received datagrams.
      sent.push(s);
      kept.push(s);
      const { out, stats } = run(window, sent, true);
      assert.deepEqual(out, kept);
      assert.equal(stats.lost, dropped);
      assert.equal(stats.late + stats.duplicates + stats.resyncs, 0);
    },
  ), { numRuns: 300 });
});
