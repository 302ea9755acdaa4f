import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SectionAssembler, codecOf, crc32mpeg2, isValidSection, parsePat, parsePmt, sectionCrc, sectionVersion, type SectionSink } from '../../../src/ts/psi.js';
import { PKT, crc32, patSection, pmtSection, psiPackets, section } from '../../helpers/packets.js';

interface Got { bytes: Buffer; index: number; packets: Buffer | undefined }

/** Feeds packets one by one (absolute index = position) and records every section. */
function collect(pid: number, packets: Buffer): Got[] {
  const got: Got[] = [];
  const sink: SectionSink = {
    onSection(asm, data, len, index) {
      got.push({ bytes: Buffer.from(data.subarray(0, len)), index, packets: asm.copyPackets() });
    },
  };
  const asm = new SectionAssembler(pid);
  for (let o = 0; o < packets.length; o += PKT) asm.push(packets, o, o / PKT, sink);
  return got;
}

/**
 * Packetise sections back to back (no stuffing between them), the way muxers pack
 * many sections: a packet in which a section starts gets PUSI and a pointer_field.
 * Returns the packets and, per section, the indexes of its first and last packet.
 */
function packContinuous(pid: number, sections: Buffer[], cc0 = 0): { ts: Buffer; spans: [number, number][] } {
  const all = Buffer.concat(sections);
  const starts: number[] = [];
  let acc = 0;
  for (const s of sections) { starts.push(acc); acc += s.length; }
  const packets: Buffer[] = [];
  const where: number[] = []; // byte -> packet index
  let pos = 0;
  while (pos < all.length) {
    const p = Buffer.alloc(PKT, 0xff);
    p[0] = 0x47; p[1] = pid >> 8; p[2] = pid & 0xff; p[3] = 0x10 | ((cc0 + packets.length) & 0x0f);
    const s = starts.find((x) => x >= pos && x < pos + 183);
    let n: number;
    if (s !== undefined) {
      p[1] = p[1] | 0x40;
      p[4] = s - pos;
      n = Math.min(183, all.length - pos);
      all.copy(p, 5, pos, pos + n);
    } else {
      // A section may not start in a packet without PUSI: stop short and stuff instead.
      const next = starts.find((x) => x > pos) ?? all.length;
      n = Math.min(184, next - pos);
      all.copy(p, 4, pos, pos + n);
    }
    for (let i = 0; i < n; i++) where.push(packets.length);
    packets.push(p);
    pos += n;
  }
  const spans = sections.map((sec, i): [number, number] => [where[starts[i]!]!, where[starts[i]! + sec.length - 1]!]);
  return { ts: Buffer.concat(packets), spans };
}

test('CRC-32/MPEG-2: check value, and agreement with a bitwise implementation', () => {
  assert.equal(crc32mpeg2(Buffer.from('123456789'), 0, 9), 0x0376e6e7);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (d) => {
    assert.equal(crc32mpeg2(d, 0, d.length), crc32(d));
  }));
  const s = patSection(0, [[1, 0x1000]]);
  assert.equal(crc32mpeg2(s, 0, s.length), 0); // over a section including its CRC
  assert.ok(isValidSection(s, s.length));
  s[9] = s[9]! ^ 1;
  assert.ok(!isValidSection(s, s.length));
});

test('PAT and PMT parsing', () => {
  const pat = patSection(7, [[0, 0x10], [1, 0x1000], [0x1234, 0x1abc]]);
  assert.equal(sectionVersion(pat), 7);
  assert.equal(sectionCrc(pat, pat.length), pat.readUInt32BE(pat.length - 4));
  assert.deepEqual(parsePat(pat, pat.length), [{ program: 1, pmtPid: 0x1000 }, { program: 0x1234, pmtPid: 0x1abc }]);
  const pmt = pmtSection(0x1234, 2, 0x100, [
    { type: 0x1b, pid: 0x100 },
    { type: 0x0f, pid: 0x101, desc: [0x0a, 4, 0x65, 0x6e, 0x67, 0] }, // language descriptor
    { type: 0x06, pid: 0x102, desc: [0x6a, 1, 0] }, // DVB AC-3 descriptor
    { type: 0x06, pid: 0x103, desc: [0x05, 4, 0x4f, 0x70, 0x75, 0x73] }, // registration 'Opus'
    { type: 0x06, pid: 0x104 },
    { type: 0x24, pid: 0x105 },
    { type: 0x02, pid: 0x106 },
    { type: 0x03, pid: 0x107 },
    { type: 0x99, pid: 0x108 },
  ]);
  assert.deepEqual(parsePmt(pmt, pmt.length, 0x1abc), {
    program: 0x1234, pmtPid: 0x1abc, pcrPid: 0x100, streams: [
      { pid: 0x100, streamType: 0x1b, codec: 'h264' },
      { pid: 0x101, streamType: 0x0f, codec: 'aac' },
      { pid: 0x102, streamType: 0x06, codec: 'ac3' },
      { pid: 0x103, streamType: 0x06, codec: 'opus' },
      { pid: 0x104, streamType: 0x06, codec: 'private' },
      { pid: 0x105, streamType: 0x24, codec: 'hevc' },
      { pid: 0x106, streamType: 0x02, codec: 'mpeg2video' },
      { pid: 0x107, streamType: 0x03, codec: 'mp2' },
      { pid: 0x108, streamType: 0x99, codec: 'unknown' },
    ],
  });
  assert.equal(codecOf(0x06, Buffer.from([0x05, 4, 0x41, 0x43, 0x2d, 0x33]), 0, 6), 'ac3');
  assert.equal(codecOf(0x06, Buffer.from([0x05, 9]), 0, 2), 'private'); // truncated descriptor
});

test('assembler: one-packet section, emitted at its packet with a copy of that packet', () => {
  const sec = patSection(0, [[1, 0x1000]]);
  const ts = Buffer.concat([psiPackets(0, sec, 0), psiPackets(0, sec, 1)]);
  const got = collect(0, ts);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0]!.bytes, sec);
  assert.deepEqual(got.map((g) => g.index), [0, 1]);
  assert.deepEqual(got[1]!.packets, ts.subarray(PKT, 2 * PKT));
});

test('assembler: section spanning packets, emitted once at its last packet with all its packets', () => {
  const streams = Array.from({ length: 70 }, (_, i) => ({ type: 0x06, pid: 0x200 + i }));
  const sec = pmtSection(1, 0, 0x100, streams);
  const ts = psiPackets(0x1000, sec, 14); // CC wraps inside
  assert.equal(ts.length / PKT, 2);
  const got = collect(0x1000, ts);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.bytes, sec);
  assert.equal(got[0]!.index, 1);
  assert.deepEqual(got[0]!.packets, ts);
});

test('assembler: a lost packet drops the partial section, a duplicate is ignored', () => {
  const sec = pmtSection(1, 0, 0x100, Array.from({ length: 70 }, (_, i) => ({ type: 0x06, pid: 0x200 + i })));
  const a = psiPackets(0x1000, sec, 0);
  const b = psiPackets(0x1000, sec, 2);
  // Lose the second packet of the first copy: only the second copy comes out.
  const lost = Buffer.concat([a.subarray(0, PKT), b]);
  assert.deepEqual(collect(0x1000, lost).map((g) => g.index), [2]);
  // Duplicate a middle packet of a longer section: one section, unchanged.
  const long = pmtSection(1, 0, 0x100, Array.from({ length: 120 }, (_, i) => ({ type: 0x06, pid: 0x200 + i })));
  const c = psiPackets(0x1000, long, 0);
  assert.equal(c.length / PKT, 4);
  const dup = Buffer.concat([c.subarray(0, 2 * PKT), c.subarray(PKT)]);
  const got = collect(0x1000, dup);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0]!.bytes, long);
  assert.deepEqual(got[0]!.packets, Buffer.concat([c.subarray(0, 2 * PKT), c.subarray(2 * PKT)]));
});

test('assembler: several sections in one packet, and one ending where the next begins', () => {
  const s1 = pmtSection(1, 0, 0x100, [{ type: 0x1b, pid: 0x100 }]);
  const s2 = pmtSection(2, 0, 0x200, [{ type: 0x1b, pid: 0x200 }]);
  const big = pmtSection(3, 0, 0x300, Array.from({ length: 50 }, (_, i) => ({ type: 0x06, pid: 0x300 + i })));
  const { ts, spans } = packContinuous(0x1000, [s1, s2, big, s1, big]);
  const got = collect(0x1000, ts);
  assert.deepEqual(got.map((g) => g.bytes), [s1, s2, big, s1, big]);
  assert.deepEqual(got.map((g) => g.index), spans.map((s) => s[1]));
});

test('assembler: oversize section_length is dropped without harm', () => {
  const bad = Buffer.alloc(PKT, 0xff);
  bad.set([0x47, 0x40, 0x00, 0x10, 0x00, 0x00, 0xbf, 0xff]); // section_length 4095
  const good = psiPackets(0, patSection(0, [[1, 0x1000]]), 1);
  const got = collect(0, Buffer.concat([bad, good]));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.index, 1);
});

test('property: any sequence of sections, packed back to back, comes out whole and in order', () => {
  const arb = fc.record({
    bodies: fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 6 }),
    cc0: fc.integer({ min: 0, max: 15 }),
    seed: fc.integer({ min: 0, max: 255 }),
  });
  fc.assert(fc.property(arb, ({ bodies, cc0, seed }) => {
    const secs = bodies.map((n, i) => section(0x02, i + 1, i & 31, Array.from({ length: n }, (_, k) => (k * 7 + seed) & 0xff)));
    const { ts, spans } = packContinuous(0x1000, secs, cc0);
    const got = collect(0x1000, ts);
    assert.deepEqual(got.map((g) => g.bytes), secs);
    assert.deepEqual(got.map((g) => g.index), spans.map((s) => s[1]));
    // The copy holds the section's packets: from its first to its last.
    got.forEach((g, i) => assert.deepEqual(g.packets, ts.subarray(spans[i]![0] * PKT, (spans[i]![1] + 1) * PKT)));
  }), { numRuns: 200 });
});
