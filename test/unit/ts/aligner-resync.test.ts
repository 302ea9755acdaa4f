// Lossless resync (issue 13): garbage between intact packets loses no intact packet and
// passes no corrupt one, however the input is split into reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TsAligner } from '../../../src/ts/aligner.js';
import { SYNC, burstPattern, randomPackets, rng, syncGarbage } from '../../helpers/garbage.js';
import { PKT } from '../../helpers/packets.js';

function run(chunks: Buffer[]): { out: Buffer; a: TsAligner } {
  const parts: Buffer[] = [];
  const a = new TsAligner((buf, off, n) => { parts.push(Buffer.from(buf.subarray(off, off + n * PKT))); });
  for (const c of chunks) a.push(c);
  a.flushEnd();
  return { out: Buffer.concat(parts), a };
}

/** Index of the first differing packet, for readable failures. */
function firstDiff(got: Buffer, want: Buffer): string {
  for (let i = 0; i < Math.max(got.length, want.length); i += PKT) {
    if (!got.subarray(i, i + PKT).equals(want.subarray(i, i + PKT))) return `packet ${i / PKT} of ${want.length / PKT} (got ${got.length / PKT})`;
  }
  return 'equal';
}

// PAT, PMT, SDT, then video and audio: a packet at the end of a run whose PID has not
// been carried before is dropped (docs/architecture.md), so the garbage comes later.
const PIDS = [0, 0x1000, 0x11, 0x100, 0x101, 0x100, 0x100];

test('the measured pattern (37 bytes after every 50 packets, a third 0x47): exactly the intact packets, split at every offset', () => {
  for (const seed of [1, 2, 3]) {
    const r = rng(seed);
    const { input, intact } = burstPattern(randomPackets(160, PIDS, r), 50, 37, 1 / 3, r);
    const whole = run([input]);
    assert.ok(whole.out.equals(intact), `seed ${seed}, one read: ${firstDiff(whole.out, intact)}`);
    assert.equal(whole.a.discardedBytes, 3 * 37);
    for (let cut = 1; cut < input.length; cut++) {
      const { out } = run([input.subarray(0, cut), input.subarray(cut)]);
      if (!out.equals(intact)) assert.fail(`seed ${seed}, cut at ${cut}: ${firstDiff(out, intact)}`);
    }
  }
});

test('a burst after every 3 packets, garbage 1..400 bytes with 0x47s, split at every offset', () => {
  const r = rng(7);
  const packets = randomPackets(60, PIDS, r);
  const parts: Buffer[] = [];
  for (let i = 0; i < packets.length; i++) {
    parts.push(packets[i]!);
    if (i >= 7 && i % 3 === 2 && i + 1 < packets.length) parts.push(syncGarbage(1 + Math.floor(r() * 400), 1 / 3, r));
  }
  const input = Buffer.concat(parts);
  const intact = Buffer.concat(packets);
  for (let cut = 1; cut < input.length; cut += 1) {
    const { out } = run([input.subarray(0, cut), input.subarray(cut)]);
    if (!out.equals(intact)) assert.fail(`cut at ${cut}: ${firstDiff(out, intact)}`);
  }
});

test('garbage starting with 0x47 right after a packet is not passed on (short and long garbage)', () => {
  for (const glen of [1, 2, 37, 187, 188, 189, 300, 376, 377, 600]) {
    const r = rng(glen);
    const packets = randomPackets(12, PIDS, r);
    const g = syncGarbage(glen, 1 / 3, r);
    g[0] = SYNC;
    const input = Buffer.concat([...packets.slice(0, 8), g, ...packets.slice(8)]);
    // Garbage that starts a lock point of its own (exactly 188 bytes, or 0x47 at 188 and
    // 376) is a packet as far as any sync-based aligner can tell: left out here.
    removeImitations(input, new Set(Array.from({ length: 12 }, (_, i) => (i < 8 ? i * PKT : i * PKT + glen))), -1);
    const { out } = run([input]);
    assert.ok(out.equals(Buffer.concat(packets)), `garbage ${glen}: ${firstDiff(out, Buffer.concat(packets))}`);
  }
});

test('the next packet\'s sync pattern projected onto the last payload (0x47 at offset = garbage length) does not drop that packet', () => {
  for (const glen of [5, 37, 100, 187]) {
    const r = rng(100 + glen);
    const packets = randomPackets(12, PIDS, r);
    packets[7]![glen] = SYNC; // position glen of packet 7 is exactly 188 before packet 8's sync byte
    const input = Buffer.concat([...packets.slice(0, 8), syncGarbage(glen, 1 / 3, r), ...packets.slice(8)]);
    for (let cut = 1; cut < input.length; cut++) {
      const { out } = run([input.subarray(0, cut), input.subarray(cut)]);
      if (!out.equals(Buffer.concat(packets))) assert.fail(`garbage ${glen}, cut ${cut}: ${firstDiff(out, Buffer.concat(packets))}`);
    }
  }
});

test('a packet really cut short is dropped, at every split offset; the packets around it are kept', () => {
  for (const keep of [1, 4, 50, 150, 187]) {
    const r = rng(keep);
    const packets = randomPackets(12, PIDS, r);
    const input = Buffer.concat([...packets.slice(0, 8), packets[8]!.subarray(0, keep), ...packets.slice(9)]);
    const want = Buffer.concat([...packets.slice(0, 8), ...packets.slice(9)]);
    for (let cut = 1; cut < input.length; cut++) {
      const { out, a } = run([input.subarray(0, cut), input.subarray(cut)]);
      if (!out.equals(want)) assert.fail(`cut short to ${keep}, split ${cut}: ${firstDiff(out, want)}`);
      assert.equal(a.discardedBytes, keep);
    }
  }
});

/**
 * Garbage the sync pattern alone cannot tell from packets is outside what any aligner
 * can decide (docs/architecture.md, "Alignment"): a position that is not a packet start
 * but starts a lock point, or holds 0x47 followed by one of the stream's PIDs. Such bytes
 * are changed (0x47 -> 0x46); every other byte stays random, 0x47s included.
 */
function removeImitations(buf: Buffer, starts: Set<number>, pidHigh: number): void {
  for (let p = 0; p < buf.length; p++) {
    if (buf[p] !== SYNC || starts.has(p)) continue;
    const lockPoint = p + 2 * PKT < buf.length && buf[p + PKT] === SYNC && buf[p + 2 * PKT] === SYNC;
    const pidLike = p + 1 < buf.length && (buf[p + 1]! & 0x1f) === pidHigh;
    if (lockPoint || pidLike) buf[p] = 0x46;
  }
}

test('property: intact packets with random garbage (0x47-rich) between runs, random chunking -> exactly the intact packets, in order', () => {
  const pids = [0x100, 0x101, 0x102]; // high PID bits 0x01
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    fc.array(fc.record({ run: fc.integer({ min: 3, max: 12 }), garbage: fc.integer({ min: 1, max: 700 }) }), { minLength: 1, maxLength: 8 }),
    fc.double({ min: 0, max: 0.5, noNaN: true }),
    fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 1, maxLength: 20 }),
    (seed, segments, share, sizes) => {
      const r = rng(seed);
      const parts: Buffer[] = [];
      const starts = new Set<number>();
      let len = 0;
      const packets = randomPackets(segments.reduce((s, x) => s + x.run, 0) + 8, pids, r);
      let k = 0;
      const addRun = (n: number) => { for (let i = 0; i < n; i++) { starts.add(len); parts.push(packets[k++]!); len += PKT; } };
      // The last two packets of a run are checked by their PID, so the first run carries
      // every PID before its last two packets.
      segments.forEach((s, i) => {
        addRun(i === 0 ? Math.max(5, s.run) : s.run);
        const g = syncGarbage(s.garbage, share, r);
        parts.push(g);
        len += g.length;
      });
      addRun(3);
      const input = Buffer.concat(parts);
      removeImitations(input, starts, 0x01);
      const intact = Buffer.concat([...starts].sort((x, y) => x - y).map((s) => input.subarray(s, s + PKT)));
      const chunks: Buffer[] = [];
      for (let pos = 0, i = 0; pos < input.length; i++) {
        const n = sizes[i % sizes.length]!;
        chunks.push(input.subarray(pos, pos + n));
        pos += n;
      }
      const { out, a } = run(chunks);
      if (!out.equals(intact)) throw new Error(firstDiff(out, intact));
      assert.equal(a.discardedBytes, input.length - intact.length);
    },
  ), { numRuns: 400 });
});

test('runs shorter than three packets between garbage: never a corrupt packet (they may be lost)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }), (seed, runs) => {
    const r = rng(seed);
    const parts: Buffer[] = [];
    const intactSet = new Set<string>();
    const all = randomPackets(runs.reduce((s, x) => s + x, 0) + 9, [0x100, 0x101, 0x102], r);
    let k = 0;
    const add = (n: number) => { for (let i = 0; i < n; i++) { const p = all[k++]!; intactSet.add(p.toString('hex')); parts.push(p); } };
    add(6); // a connection's first lock: five packets (before it, dense garbage can imitate any size)
    for (const n of runs) { parts.push(syncGarbage(1 + Math.floor(r() * 300), 0.3, r)); add(n); }
    parts.push(syncGarbage(50, 0.3, r));
    add(3);
    const input = Buffer.concat(parts);
    const starts = new Set<number>();
    for (let i = 0, off = 0; i < parts.length; off += parts[i]!.length, i++) if (intactSet.has(parts[i]!.toString('hex'))) starts.add(off);
    removeImitations(input, starts, 0x01);
    const intactOrder = [...starts].sort((x, y) => x - y).map((s) => input.subarray(s, s + PKT).toString('hex'));
    const { out } = run([input]);
    let j = 0;
    for (let o = 0; o < out.length; o += PKT) {
      const h = out.subarray(o, o + PKT).toString('hex');
      while (j < intactOrder.length && intactOrder[j] !== h) j++;
      if (j === intactOrder.length) throw new Error(`packet ${o / PKT} is not an intact packet (or out of order)`);
      j++;
    }
  }), { numRuns: 300 });
});
