import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  adaptationLength, afc, cc, discontinuity, hasAdaptation, hasPayload, hasPcr, payloadOffset, pid,
  pusi, randomAccess, scrambling, setDiscontinuity, tei,
} from '../../../src/ts/packet.js';
import { readPcr } from '../../../src/ts/pcr.js';
import { SectionAssembler, type SectionSink } from '../../../src/ts/psi.js';
import { PKT, packet, patSection, pmtSection, psiPackets } from '../../helpers/packets.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../fixtures/mpegts/${name}`, import.meta.url));

test('header fields of a hand-built packet, at a non-zero offset', () => {
  const p = packet(0x1234, Buffer.from([1, 2, 3]), { pusi: true, rai: true, pcr: 27_000_000 * 5 + 17, cc: 7 });
  const buf = Buffer.concat([Buffer.alloc(5), p]);
  const o = 5;
  assert.equal(pid(buf, o), 0x1234);
  assert.equal(pusi(buf, o), true);
  assert.equal(tei(buf, o), false);
  assert.equal(scrambling(buf, o), 0);
  assert.equal(cc(buf, o), 7);
  assert.equal(afc(buf, o), 3);
  assert.equal(hasAdaptation(buf, o), true);
  assert.equal(hasPayload(buf, o), true);
  assert.equal(adaptationLength(buf, o), 184 - 3 - 1);
  assert.equal(randomAccess(buf, o), true);
  assert.equal(discontinuity(buf, o), false);
  assert.equal(hasPcr(buf, o), true);
  assert.equal(readPcr(buf, o), 27_000_000 * 5 + 17);
  assert.equal(payloadOffset(buf, o), o + PKT - 3);
  assert.deepEqual([...buf.subarray(payloadOffset(buf, o), o + PKT)], [1, 2, 3]);
});

test('payload offset for every adaptation_field_control', () => {
  const p = Buffer.alloc(PKT, 0);
  p[0] = 0x47;
  p[3] = 0x10; // payload only
  assert.equal(payloadOffset(p, 0), 4);
  assert.equal(adaptationLength(p, 0), 0);
  assert.equal(randomAccess(p, 0), false);
  p[3] = 0x30; p[4] = 0; // empty adaptation field: no flags byte
  assert.equal(payloadOffset(p, 0), 5);
  assert.equal(discontinuity(p, 0), false);
  p[4] = 182;
  assert.equal(payloadOffset(p, 0), 187);
  p[4] = 183; // impossible with a payload
  assert.equal(payloadOffset(p, 0), -1);
  p[3] = 0x20; // adaptation only
  assert.equal(payloadOffset(p, 0), -1);
  assert.equal(hasPayload(p, 0), false);
  p[3] = 0x00; // reserved
  assert.equal(payloadOffset(p, 0), -1);
  p[1] = 0x80 | 0x1f; p[2] = 0xff;
  assert.equal(tei(p, 0), true);
  assert.equal(pid(p, 0), 0x1fff);
});

function onlyBitChanged(before: Buffer, after: Buffer): void {
  assert.equal(after[5]! & 0x80, 0x80);
  const a = Buffer.from(after);
  a[5] = before[5]!;
  assert.deepEqual(a, before);
}

test('setDiscontinuity sets the bit in an existing adaptation field, nothing else changes', () => {
  for (const p of [
    packet(0x100, Buffer.alloc(100, 0xab), { cc: 3 }), // stuffing-only field
    packet(0x100, Buffer.alloc(50, 1), { pusi: true, rai: true, pcr: 123456, cc: 9 }),
    packet(0x100, Buffer.alloc(0)), // adaptation-only packet (afc 2 after fixing the bits)
  ]) {
    if (p.length && (p[3]! & 0x30) === 0x30 && p[4] === 183) p[3] = 0x20 | (p[3]! & 0x0f);
    const before = Buffer.from(p);
    assert.equal(setDiscontinuity(p, 0), true);
    onlyBitChanged(before, p);
    assert.equal(discontinuity(p, 0), true);
  }
});

test('setDiscontinuity refuses a packet it cannot grow, leaving it untouched', () => {
  const noAf = packet(0x100, Buffer.alloc(184, 0x11));
  const emptyAf = packet(0x100, Buffer.alloc(183, 0x22));
  assert.equal(emptyAf[4], 0); // a zero-length field
  for (const p of [noAf, emptyAf]) {
    const before = Buffer.from(p);
    assert.equal(setDiscontinuity(p, 0), false);
    assert.deepEqual(p, before);
  }
  // PSI whose section fills the packet: no stuffing to give up.
  const full = psiPackets(0x1000, pmtSection(1, 0, 0x100, Array.from({ length: 40 }, (_, i) => ({ type: 0x06, pid: 0x200 + i }))));
  const first = full.subarray(0, PKT);
  const before = Buffer.from(first);
  assert.equal(setDiscontinuity(first, 0, true), false);
  assert.deepEqual(first, before);
});

test('setDiscontinuity grows a PSI packet over its stuffing and the sections still parse', () => {
  const sec = patSection(3, [[1, 0x1000], [2, 0x1010]]);
  const emptyAf = psiPackets(0, sec, 5);
  emptyAf.copyWithin(5, 4, PKT - 1);
  emptyAf[3] = emptyAf[3]! | 0x20;
  emptyAf[4] = 0;
  for (const p of [psiPackets(0, sec, 5), emptyAf, packet(0, Buffer.concat([Buffer.from([0]), sec, Buffer.alloc(150 - sec.length, 0xff)]), { pusi: true, cc: 5 })]) {
    assert.equal(setDiscontinuity(p, 0, true), true);
    assert.equal(discontinuity(p, 0), true);
    assert.equal(pid(p, 0), 0);
    assert.equal(cc(p, 0), 5);
    assert.equal(pusi(p, 0), true);
    const got: Buffer[] = [];
    const sink: SectionSink = { onSection: (_a, data, len) => void got.push(Buffer.from(data.subarray(0, len))) };
    new SectionAssembler(0).push(p, 0, 0, sink);
    assert.deepEqual(got, [sec]);
  }
});

test('setDiscontinuity on every packet of a real stream: bit set or packet untouched', () => {
  const ts = fixture('h264_aac.mpegts');
  let set = 0;
  for (let o = 0; o < ts.length; o += PKT) {
    const p = Buffer.from(ts.subarray(o, o + PKT));
    const before = Buffer.from(p);
    const hadFlags = (p[3]! & 0x20) !== 0 && p[4]! > 0;
    const ok = setDiscontinuity(p, 0);
    assert.equal(ok, hadFlags);
    if (ok) { onlyBitChanged(before, p); set++; } else assert.deepEqual(p, before);
  }
  assert.ok(set > 0);
});

test('property: readers agree with a bit-level decode of random headers', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: PKT, maxLength: PKT }), (bytes) => {
    const b = Buffer.from(bytes);
    const bits = [...b.subarray(0, 4)].map((x) => x.toString(2).padStart(8, '0')).join('');
    assert.equal(tei(b, 0), bits[8] === '1');
    assert.equal(pusi(b, 0), bits[9] === '1');
    assert.equal(pid(b, 0), parseInt(bits.slice(11, 24), 2));
    assert.equal(scrambling(b, 0), parseInt(bits.slice(24, 26), 2));
    assert.equal(afc(b, 0), parseInt(bits.slice(26, 28), 2));
    assert.equal(cc(b, 0), parseInt(bits.slice(28, 32), 2));
    const po = payloadOffset(b, 0);
    if (po >= 0) assert.ok(po >= 4 && po <= PKT);
  }));
});
