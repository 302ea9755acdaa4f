import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { PCR_HZ, PCR_WRAP, packetPid, pcrForward, readPcr } from '../../../src/ts/pcr.js';

/** A TS packet with an adaptation field carrying a PCR (base at 90 kHz, 9-bit extension). */
function pcrPacket(base: number, ext: number, pid = 0x100): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = (pid >> 8) & 0x1f;
  p[2] = pid & 0xff;
  p[3] = 0x30; // adaptation field + payload
  p[4] = 7;
  p[5] = 0x10; // PCR_flag
  // 33-bit base over 6 bytes, 6 reserved bits, 9-bit extension.
  p[6] = Math.floor(base / 2 ** 25) & 0xff;
  p[7] = Math.floor(base / 2 ** 17) & 0xff;
  p[8] = Math.floor(base / 2 ** 9) & 0xff;
  p[9] = Math.floor(base / 2) & 0xff;
  p[10] = ((base % 2) << 7) | 0x7e | ((ext >> 8) & 1);
  p[11] = ext & 0xff;
  return p;
}

test('readPcr decodes base * 300 + extension in 27 MHz ticks', () => {
  assert.equal(readPcr(pcrPacket(0, 0), 0), 0);
  assert.equal(readPcr(pcrPacket(90000, 0), 0), PCR_HZ); // one second
  assert.equal(readPcr(pcrPacket(1, 299), 0), 599);
  const maxBase = 2 ** 33 - 1;
  assert.equal(readPcr(pcrPacket(maxBase, 299), 0), maxBase * 300 + 299);
  assert.equal(readPcr(pcrPacket(maxBase, 299), 0), PCR_WRAP - 1);
});

test('readPcr round-trips any 33-bit base and 9-bit extension (< 300)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 33 - 1 }), fc.integer({ min: 0, max: 299 }), (base, ext) => {
    assert.equal(readPcr(pcrPacket(base, ext), 0), base * 300 + ext);
  }));
});

test('readPcr reads at an offset and respects the buffer end', () => {
  const pkt = pcrPacket(123456, 7);
  const buf = Buffer.concat([Buffer.alloc(5), pkt, Buffer.alloc(10)]);
  assert.equal(readPcr(buf, 5), 123456 * 300 + 7);
  assert.equal(readPcr(buf.subarray(0, 5 + 187), 5), -1, 'truncated packet');
  assert.equal(readPcr(buf, -1), -1);
  assert.equal(packetPid(buf, 5), 0x100);
});

test('readPcr returns -1 when there is no PCR', () => {
  const noSync = pcrPacket(1, 1); noSync[0] = 0x48;
  assert.equal(readPcr(noSync, 0), -1);
  const payloadOnly = pcrPacket(1, 1); payloadOnly[3] = 0x10;
  assert.equal(readPcr(payloadOnly, 0), -1);
  const flagClear = pcrPacket(1, 1); flagClear[5] = 0x00;
  assert.equal(readPcr(flagClear, 0), -1);
  const shortAf = pcrPacket(1, 1); shortAf[4] = 1;
  assert.equal(readPcr(shortAf, 0), -1);
  const badAf = pcrPacket(1, 1); badAf[4] = 184;
  assert.equal(readPcr(badAf, 0), -1);
});

test('pcrForward measures forward distance across the wrap', () => {
  assert.equal(pcrForward(100, 400), 300);
  assert.equal(pcrForward(PCR_WRAP - 100, 200), 300);
  // A jump back (loop restart) looks like almost a full wrap: callers treat it as a discontinuity.
  assert.ok(pcrForward(10 * PCR_HZ, PCR_HZ) > PCR_WRAP / 2);
});

test('the demo stream carries PCRs on one PID, at most 100 ms apart, about 8 s in all', () => {
  const buf = readFileSync(new URL('../../../examples/demo/demo.ts', import.meta.url));
  assert.equal(buf.length % 188, 0);
  let first = -1, prev = -1, last = -1, maxGap = 0;
  const pids = new Set<number>();
  for (let o = 0; o + 188 <= buf.length; o += 188) {
    const pcr = readPcr(buf, o);
    if (pcr < 0) continue;
    pids.add(packetPid(buf, o));
    if (first < 0) first = pcr;
    if (prev >= 0) maxGap = Math.max(maxGap, pcrForward(prev, pcr));
    prev = last = pcr;
  }
  assert.equal(pids.size, 1);
  assert.ok(maxGap <= PCR_HZ / 10, `max PCR gap ${maxGap / PCR_HZ} s`);
  const span = (last - first) / PCR_HZ;
  assert.ok(span > 7.5 && span < 8.5, `PCR span ${span} s`);
});
