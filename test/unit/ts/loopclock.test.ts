// The loop clock: a clip played over and over comes out as one endless stream (PCR, PTS,
// DTS continued by the clip's duration, continuity counters continued per PID).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { LoopClock, TS_WRAP, detectPacketSize, readTimestamp, tsDiff, writeTimestamp } from '../../../src/ts/loopclock.js';
import { CcContinuer } from '../../../src/ts/continuity.js';
import { audioFrameTicks } from '../../../src/ts/audioframes.js';
import { readPcr } from '../../../src/ts/pcr.js';
import { checkStream, pesTimes } from '../../helpers/continuity.js';
import { PKT } from '../../helpers/packets.js';

const FIXTURE = join(import.meta.dirname, '..', '..', 'fixtures', 'mpegts', 'h264_aac.mpegts');

/** A PES start packet on `pid` with PTS (and DTS), optionally a PCR; payload filler. */
function pesPacket(pid: number, cc: number, pts: number, dts?: number, pcr?: number, disc = false): Buffer {
  const p = Buffer.alloc(PKT, 0xaa);
  p[0] = 0x47; p[1] = 0x40 | (pid >> 8); p[2] = pid & 0xff;
  let o = 4;
  if (pcr !== undefined || disc) {
    p[3] = 0x30 | cc;
    const afLen = pcr !== undefined ? 7 : 1;
    p[4] = afLen;
    p[5] = (disc ? 0x80 : 0) | (pcr !== undefined ? 0x10 : 0);
    if (pcr !== undefined) {
      const base = Math.floor(pcr / 300) % TS_WRAP, ext = pcr % 300;
      p[6] = Math.floor(base / 33554432); p[7] = Math.floor(base / 131072) & 0xff; p[8] = Math.floor(base / 512) & 0xff;
      p[9] = Math.floor(base / 2) & 0xff; p[10] = ((base % 2) << 7) | 0x7e | (ext >> 8); p[11] = ext & 0xff;
    }
    o = 5 + afLen;
  } else p[3] = 0x10 | cc;
  p[o] = 0; p[o + 1] = 0; p[o + 2] = 1; p[o + 3] = 0xe0; p[o + 4] = 0; p[o + 5] = 0;
  p[o + 6] = 0x80; p[o + 7] = dts !== undefined ? 0xc0 : 0x80; p[o + 8] = dts !== undefined ? 10 : 5;
  p[o + 9] = dts !== undefined ? 0x30 : 0x20;
  writeTimestamp(p, o + 9, pts % TS_WRAP);
  if (dts !== undefined) { p[o + 14] = 0x10; writeTimestamp(p, o + 14, dts % TS_WRAP); }
  return p;
}

function plain(pid: number, cc: number, payload = true): Buffer {
  const p = Buffer.alloc(PKT, 0xbb);
  p[0] = 0x47; p[1] = pid >> 8; p[2] = pid & 0xff;
  if (payload) p[3] = 0x10 | cc;
  else { p[3] = 0x20 | cc; p[4] = 183; p[5] = 0; }
  return p;
}

/**
 * A 1 s synthetic clip: video PID 0x100 (25 fps, PTS/DTS with a B-frame-like offset, PCR on
 * each frame), audio PID 0x101 (PTS only, a PES per frame), a duplicate packet and an
 * adaptation-only packet; counters start where an encoder would leave them (not at 0).
 */
function syntheticClip(t0: number): Buffer {
  const parts: Buffer[] = [];
  let vcc = 5, acc = 9;
  for (let f = 0; f < 25; f++) {
    const dts = t0 + f * 3600;
    parts.push(pesPacket(0x100, vcc, dts + 7200, dts, (dts - 6000) * 300, f === 0));
    vcc = (vcc + 1) & 15;
    parts.push(plain(0x100, vcc)); vcc = (vcc + 1) & 15;
    if (f === 10) parts.push(plain(0x100, (vcc + 15) & 15)); // duplicate of the previous packet's counter
    if (f === 12) parts.push(plain(0x100, (vcc + 15) & 15, false)); // adaptation only: counter repeats
    parts.push(pesPacket(0x101, acc, t0 + f * 3600 + 1000));
    acc = (acc + 1) & 15;
  }
  return Buffer.concat(parts);
}

function loop(clip: Buffer, passes: number, chunk = clip.length, stride = PKT, syncOffset = 0): { out: Buffer; clock: LoopClock } {
  const clock = new LoopClock(stride, syncOffset);
  const out: Buffer[] = [];
  for (let i = 0; i < passes; i++) {
    const b = Buffer.from(clip);
    for (let o = 0; o < b.length; o += chunk) clock.process(b, o, Math.min(b.length, o + chunk));
    out.push(b);
    clock.restart();
  }
  return { out: Buffer.concat(out), clock };
}

function strictlyIncreasing(xs: number[]): boolean {
  for (let i = 1; i < xs.length; i++) if (xs[i]! <= xs[i - 1]!) return false;
  return true;
}

test('timestamps: read/write round trip for every 33-bit value, prefix and marker bits kept', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: TS_WRAP - 1 }), fc.constantFrom(0x20, 0x30, 0x10), (v, prefix) => {
    const b = Buffer.alloc(5);
    b[0] = prefix;
    writeTimestamp(b, 0, v);
    assert.equal(readTimestamp(b, 0), v);
    assert.equal(b[0] & 0xf0, prefix);
    assert.equal(b[0] & 1, 1); assert.equal(b[2]! & 1, 1); assert.equal(b[4]! & 1, 1);
  }));
  assert.equal(tsDiff(TS_WRAP - 10, 5), 15);
  assert.equal(tsDiff(5, TS_WRAP - 10), -15);
});

test('continuity: counters continue across a join; duplicates, adaptation-only packets and a real loss inside a session are kept', () => {
  const c = new CcContinuer();
  const seq = (ccs: number[], payload: boolean[] = ccs.map(() => true)) => ccs.map((v, i) => { const p = plain(0x42, v, payload[i]); c.apply(p, 0); return p[3]! & 0x0f; });
  assert.deepEqual(seq([3, 4, 4, 5, 7]), [3, 4, 4, 5, 7]); // first session untouched (the loss 5 -> 7 stays)
  c.join();
  assert.deepEqual(seq([0, 1, 1, 2], [true, true, false, true]), [8, 9, 9, 10]);
  c.join();
  assert.deepEqual(seq([6, 7], [false, true]), [10, 11]); // adaptation-only first: repeats the last counter
  assert.equal(c.lastCc(0x42), 11);
  const nul = plain(0x1fff, 3);
  c.apply(nul, 0);
  assert.equal(nul[3]! & 0x0f, 3, 'null packets are left alone');
});

test('loop clock: a synthetic clip looped 4 times is one stream: counters continue, PCR and PTS/DTS strictly increase, evenly spaced', () => {
  const clip = syntheticClip(900_000);
  const { out, clock } = loop(clip, 4);
  assert.equal(clock.durationTicks, 25 * 3600, 'D: 25 frames of 3600 ticks');
  const chk = checkStream(out);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
  assert.equal(chk.discontinuities, 1, 'only the clip\'s own initial discontinuity, on the first pass');
  const v = pesTimes(out, 0x100);
  assert.equal(v.dts.length, 100);
  assert.ok(strictlyIncreasing(v.dts) && strictlyIncreasing(v.pts));
  for (let i = 1; i < v.dts.length; i++) assert.equal(v.dts[i]! - v.dts[i - 1]!, 3600, `video DTS step at frame ${i}`);
  const a = pesTimes(out, 0x101);
  assert.ok(strictlyIncreasing(a.pts));
  for (let i = 1; i < a.pts.length; i++) assert.equal(a.pts[i]! - a.pts[i - 1]!, 3600, `audio PTS step at PES ${i}`);
  // PCR: every step 3600 * 300 (one frame), also across the loop points.
  const pcrs: number[] = [];
  for (let o = 0; o < out.length; o += PKT) { const p = readPcr(out, o); if (p >= 0) pcrs.push(p); }
  for (let i = 1; i < pcrs.length; i++) assert.equal(pcrs[i]! - pcrs[i - 1]!, 3600 * 300, `PCR step ${i}`);
});

test('loop clock: timestamps near the 33-bit wrap wrap cleanly', () => {
  const clip = syntheticClip(TS_WRAP - 40_000); // wraps inside the first pass
  const { out } = loop(clip, 3);
  assert.equal(checkStream(out).pcrErrors, 0);
  const v = pesTimes(out, 0x100);
  for (let i = 1; i < v.dts.length; i++) assert.equal(v.dts[i]! - v.dts[i - 1]!, 3600);
});

test('loop clock: the same output whatever the read size (packet-aligned chunks)', () => {
  const clip = syntheticClip(1000);
  const whole = loop(clip, 3).out;
  for (const chunk of [PKT, 3 * PKT, 7 * PKT, 50 * PKT]) assert.ok(loop(clip, 3, chunk).out.equals(whole), `chunk ${chunk}`);
});

test('loop clock: a clip whose PCR jumps inside cannot be shifted: each loop point is marked as a discontinuity instead', () => {
  const a = syntheticClip(500_000);
  const b = syntheticClip(10_000); // time goes back in the middle of the clip
  const clip = Buffer.concat([a, b]);
  const { out, clock } = loop(clip, 3);
  assert.equal(clock.durationTicks, -1);
  const chk = checkStream(out);
  assert.equal(chk.ccErrors, 3 * checkStream(clip).ccErrors, 'counters continue at the loop points (the clip\'s own jump stays)');
  // Every pass after the first starts with the flag on both PIDs' first packets.
  let marked = 0;
  for (let o = 0; o < out.length; o += PKT) if ((out[o + 3]! & 0x20) && out[o + 4]! > 0 && (out[o + 5]! & 0x80)) marked++;
  assert.ok(marked >= 2 + 2, `${marked} packets flagged`);
});

test('loop clock: the ffmpeg-made fixture (H.264 + AAC) looped 3 times: 0 continuity errors, PCR monotonic, every PID monotonic, video evenly spaced', () => {
  const clip = readFileSync(FIXTURE);
  const { out, clock } = loop(clip, 3, 348 * PKT);
  // 4 s of video at 25 fps; AAC frames (1920 ticks) are counted: the clip's audio lasts 4.032 s.
  assert.equal(clock.durationTicks, 4.032 * 90000);
  const chk = checkStream(out);
  assert.equal(chk.ccErrors, 0, chk.notes.join('; '));
  assert.equal(chk.pcrErrors, 0, chk.notes.join('; '));
  assert.equal(chk.syncErrors, 0);
  for (const pid of [0x100, 0x101]) {
    const t = pesTimes(out, pid);
    assert.ok(t.dts.length > 10, `pid ${pid} has PES`);
    assert.ok(strictlyIncreasing(t.dts), `pid ${pid}: DTS strictly increasing`);
  }
  const v = pesTimes(out, 0x100).dts;
  const steps = new Set<number>();
  for (let i = 1; i < v.length; i++) steps.add(v[i]! - v[i - 1]!);
  // Each frame 3600 ticks; at the two loop points the video waits for the longer audio (32 ms).
  assert.deepEqual([...steps].sort((x, y) => x - y), [3600, 3600 + 0.032 * 90000]);
});

/** Each 188-byte packet with `pre` bytes before and `post` after, filled with 0x47 (the worst case for a sync search). */
function widen(ts: Buffer, pre: number, post: number): Buffer {
  const n = ts.length / PKT, w = PKT + pre + post;
  const out = Buffer.alloc(n * w, 0x47);
  for (let i = 0; i < n; i++) ts.copy(out, i * w + pre, i * PKT, (i + 1) * PKT);
  return out;
}
function narrow(buf: Buffer, pre: number, post: number): Buffer {
  const w = PKT + pre + post, parts: Buffer[] = [];
  for (let o = 0; o + w <= buf.length; o += w) parts.push(buf.subarray(o + pre, o + pre + PKT));
  return Buffer.concat(parts);
}

test('loop clock: 192-byte (M2TS) and 204-byte (RS parity) files are rewritten like 188-byte ones, the extra bytes untouched', () => {
  const clip = readFileSync(FIXTURE);
  const expected = loop(clip, 3).out;
  for (const [pre, post] of [[4, 0], [0, 16]] as const) {
    const wide = widen(clip, pre, post);
    const d = detectPacketSize(wide, 0, wide.length);
    assert.deepEqual(d, { size: PKT + pre + post, sync: pre, start: 0 });
    const { out } = loop(wide, 3, 348 * (PKT + pre + post), PKT + pre + post, pre);
    assert.ok(narrow(out, pre, post).equals(expected), `${PKT + pre + post}-byte packets: same 188-byte packets as the plain file`);
    for (let o = 0; o < out.length; o += PKT + pre + post) {
      for (let k = 0; k < pre; k++) assert.equal(out[o + k], 0x47);
      for (let k = 0; k < post; k++) assert.equal(out[o + pre + PKT + k], 0x47);
    }
  }
  assert.deepEqual(detectPacketSize(Buffer.concat([Buffer.alloc(5), clip]), 0, 5 + clip.length), { size: 188, sync: 5, start: 5 });
});

test('audio frame durations from headers: AAC (ADTS), MPEG audio, AC-3; anything else unknown', () => {
  const h = (...b: number[]) => Buffer.from([...b, 0, 0, 0, 0]);
  assert.equal(audioFrameTicks(h(0xff, 0xf1, 0x4c, 0x80), 0), 1920); // AAC 48 kHz: 1024 samples
  assert.equal(audioFrameTicks(h(0xff, 0xf1, 0x50, 0x80), 0), (1024 * 90000) / 44100);
  assert.equal(audioFrameTicks(h(0xff, 0xfd, 0x84), 0), 2160); // MPEG-1 layer II, 48 kHz: 1152 samples
  assert.equal(audioFrameTicks(h(0xff, 0xf3, 0x84), 0), 2160); // MPEG-2 layer III, 24 kHz: 576 samples (24 ms)
  assert.equal(audioFrameTicks(h(0x0b, 0x77, 0, 0, 0x10), 0), 2880); // AC-3 48 kHz: 1536 samples
  assert.equal(audioFrameTicks(h(0, 0, 1, 0xe0), 0), 0);
});
