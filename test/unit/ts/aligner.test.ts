import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TsAligner } from '../../../src/ts/aligner.js';
import { makeStream, garbage, seqs, PKT } from '../../helpers/packets.js';

function collect() {
  const parts: Buffer[] = [];
  const a = new TsAligner((buf, off, n) => {
    assert.equal(buf[off], 0x47);
    parts.push(Buffer.from(buf.subarray(off, off + n * PKT)));
  });
  // flushEnd: the last packet waits for the next read to confirm it.
  return { a, out: () => { a.flushEnd(); return Buffer.concat(parts); } };
}

test('aligned input passes through unchanged', () => {
  const input = makeStream(50);
  const { a, out } = collect();
  a.push(input);
  assert.deepEqual(out(), input);
  assert.equal(a.discardedBytes, 0);
});

test('split at every offset: output is identical and complete', () => {
  const input = makeStream(12);
  for (let cut = 1; cut < input.length; cut++) {
    const { a, out } = collect();
    a.push(input.subarray(0, cut));
    a.push(input.subarray(cut));
    assert.deepEqual(out(), input, `cut at ${cut}`);
  }
});

test('split at every pair of offsets with leading garbage', () => {
  const input = Buffer.concat([garbage(100), makeStream(6)]);
  for (let i = 1; i < input.length; i += 7) {
    for (let j = i; j < input.length; j += 13) {
      const { a, out } = collect();
      a.push(input.subarray(0, i));
      a.push(input.subarray(i, j));
      a.push(input.subarray(j));
      assert.deepEqual(seqs(out()), [0, 1, 2, 3, 4, 5], `cuts ${i},${j}`);
      assert.equal(a.discardedBytes, 100);
    }
  }
});

test('1-byte chunks', () => {
  const input = Buffer.concat([garbage(33), makeStream(10)]);
  const { a, out } = collect();
  for (let i = 0; i < input.length; i++) a.push(input.subarray(i, i + 1));
  assert.deepEqual(seqs(out()), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(a.discardedBytes, 33);
});

test('a stray sync byte in garbage does not lock', () => {
  const g = garbage(400);
  g[10] = 0x47; // lone sync byte, no others 188 apart
  const input = Buffer.concat([g, makeStream(5)]);
  const { a, out } = collect();
  a.push(input);
  assert.deepEqual(seqs(out()), [0, 1, 2, 3, 4]);
  assert.equal(a.discardedBytes, 400);
});

test('garbage between packets: resync, never a misaligned or partial packet', () => {
  const s1 = makeStream(5, 0x100, 0);
  const s2 = makeStream(5, 0x100, 5);
  // Cut the last packet of s1 short, then garbage, then s2.
  const input = Buffer.concat([s1.subarray(0, 4 * PKT + 50), garbage(77), s2]);
  const { a, out } = collect();
  a.push(input);
  assert.deepEqual(seqs(out()), [0, 1, 2, 3, 5, 6, 7, 8, 9]);
  assert.equal(a.syncLosses, 1);
  assert.equal(a.discardedBytes, 50 + 77);
});

test('the sync-break hook hears each break before its bytes are dropped: a cut packet (grid kept) and a lost grid', () => {
  const breaks: { lost: boolean; passed: number }[] = [];
  let passed = 0;
  const a = new TsAligner((_b, _o, n) => { passed += n; }, undefined, (lost) => { breaks.push({ lost, passed }); });
  const s = makeStream(12, 0x100, 0);
  // Packet 4 cut short (the next one follows at once), then garbage after packet 8.
  a.push(Buffer.concat([s.subarray(0, 4 * PKT + 60), s.subarray(5 * PKT, 9 * PKT), garbage(77), makeStream(6, 0x100, 12)]));
  a.flushEnd();
  assert.deepEqual(breaks.map((b) => b.lost), [false, true]);
  assert.equal(breaks[0]!.passed, 4, 'the cut is reported before the packets after it');
  assert.equal(a.syncLosses, breaks.length);
});

test('property: any chunking of garbage+packets yields the same packets', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 500 }),
    fc.integer({ min: 5, max: 40 }), // a connection's first lock needs 5 packets
    fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 30 }),
    (glen, npk, sizes) => {
      const input = Buffer.concat([garbage(glen, glen + 7), makeStream(npk)]);
      const { a, out } = collect();
      let pos = 0;
      let i = 0;
      while (pos < input.length) {
        const n = sizes[i++ % sizes.length]!;
        a.push(input.subarray(pos, pos + n));
        pos += n;
      }
      const got = out();
      assert.equal(got.length % PKT, 0);
      assert.deepEqual(seqs(got), Array.from({ length: npk }, (_, k) => k));
      assert.equal(a.discardedBytes, glen);
    },
  ), { numRuns: 300 });
});

test('flushEnd passes on the whole packets still waiting; reset forgets the rest', () => {
  const input = makeStream(7);
  const { a, out } = collect();
  a.push(input.subarray(0, 6 * PKT + 100));
  a.flushEnd(); // what the stream does when the upstream ends
  a.reset();
  a.push(makeStream(5, 0x100, 10));
  assert.deepEqual(seqs(out()), [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14]);
  const b = collect();
  b.a.push(input.subarray(0, 6 * PKT + 100));
  b.a.reset();
  b.a.push(makeStream(5, 0x100, 10));
  assert.deepEqual(seqs(b.out()), [0, 1, 2, 3, 10, 11, 12, 13, 14]);
});

test('the first lock of a connection needs five packets; random bytes never lock', () => {
  const { a, out } = collect();
  a.push(makeStream(4));
  a.flushEnd();
  assert.equal(out().length, 0);
  // 1 MB of random bytes (about 4000 sync bytes at random places).
  const r = collect();
  let x = 99;
  const rnd = Buffer.alloc(1 << 20);
  for (let i = 0; i < rnd.length; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; rnd[i] = x >>> 16; }
  r.a.push(rnd);
  r.a.flushEnd();
  assert.equal(r.out().length, 0);
  assert.equal(r.a.locks, 0);
  assert.equal(r.a.discardedBytes, rnd.length);
});
