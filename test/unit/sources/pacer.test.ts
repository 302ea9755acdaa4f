// The pacer on fake time: node:test's mock timers drive its tick (setInterval) and its
// clock (Date.now passed as `now`), so every release time is exact and nothing sleeps.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, type PacerOptions } from '../../../src/sources/pacer.js';
import { PCR_HZ } from '../../../src/ts/pcr.js';
import { PKT, makeStream, packet } from '../../helpers/packets.js';

const TICK = 15;
/** PCR interval of the test streams: 40 ms. */
const GAP = PCR_HZ / 25;
const PCR_PID = 0x100;

/**
 * `intervals` + 1 PCR packets `per` packets apart, `gapOf(k)` (27 MHz ticks) after the
 * previous one; the packets between them on another PID, without a PCR.
 */
function pcrStream(intervals: number, per = 10, gapOf: (k: number) => number = () => GAP): Buffer {
  const parts: Buffer[] = [];
  let pcr = 1_000_000;
  for (let k = 0; k <= intervals; k++) {
    if (k > 0) pcr += gapOf(k);
    parts.push(packet(PCR_PID, Buffer.alloc(100, k), { pcr, cc: k }));
    if (k < intervals) parts.push(makeStream(per - 1, 0x101, k * per));
  }
  return Buffer.concat(parts);
}

interface Emit { at: number; from: number; to: number; buf: Buffer }

/** A pacer on mock time; `emits` records each slice with its time and byte range in `input`. */
function paced(t: TestContext, input: Buffer, o: Partial<PacerOptions> = {}) {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const emits: Emit[] = [];
  let lows = 0;
  const pacer = new Pacer({
    emit: (buf) => {
      const from = buf.byteOffset - input.byteOffset;
      emits.push({ at: Date.now(), from, to: from + buf.length, buf });
    },
    onLow: () => { lows++; },
    fallbackBitrate: 4_000_000,
    now: () => Date.now(),
    ...o,
  });
  /**
   * Let `ms` pass a millisecond at a time: in one bigger mock tick Node 20 moves Date to
   * its end before the interval's callbacks run, so they would see a later time than theirs.
   */
  const advance = (ms: number) => { for (let i = 0; i < ms; i++) t.mock.timers.tick(1); };
  const released = (): number => (emits.length === 0 ? 0 : emits.at(-1)!.to);
  /** When the byte at `offset` of the input went out (-1: not yet). */
  const sentAt = (offset: number): number => emits.find((e) => e.from <= offset && offset < e.to)?.at ?? -1;
  return { pacer, emits, released, sentAt, advance, lows: () => lows };
}

test('PCR pacing: each PCR packet goes out when wall time has caught up with its PCR, never before', (t) => {
  const input = pcrStream(10);
  const { pacer, sentAt, released, emits, advance } = paced(t, input);
  pacer.push(input);
  assert.equal(pacer.pacing, 'pcr');
  advance(TICK);
  // The first PCR sets the clock (due at the first tick); the rest are due 40 ms apart.
  const first = sentAt(0);
  assert.equal(first, TICK);
  for (let now = TICK; now <= 500; now += TICK) {
    for (let k = 1; k <= 10; k++) {
      const due: number = first + 40 * k;
      const at: number = sentAt(k * 10 * PKT);
      if (now < due) assert.equal(at, -1, `PCR ${k} went out at ${now}, due ${due}`);
      else assert.ok(at >= due && at < due + TICK, `PCR ${k} due ${due}, sent ${at}`);
    }
    advance(TICK);
  }
  assert.equal(released(), input.length, 'everything out in the end');
  // Nothing copied: each slice is a view of the chunk pushed in, in order, without gaps.
  for (const [i, e] of emits.entries()) {
    assert.equal(e.buf.buffer, input.buffer);
    assert.equal(e.from, i === 0 ? 0 : emits[i - 1]!.to);
  }
});

test('between two PCRs packets flow at the previous interval\'s byte rate, not in one burst per PCR', (t) => {
  const input = pcrStream(6, 40); // 40 packets a PCR interval of 40 ms: one packet a ms
  const { pacer, emits, advance } = paced(t, input);
  pacer.push(input);
  advance(TICK * 20);
  const later = emits.filter((e) => e.at > 2 * 40 + TICK); // after the first interval's rate is known
  assert.ok(later.length >= 8, `${later.length} slices`);
  for (const e of later) assert.ok((e.to - e.from) / PKT <= 2 * TICK, `a slice of ${(e.to - e.from) / PKT} packets at ${e.at}`);
});

test('a PCR gap above one second (a splice, a wrap glitch) counts as the typical gap', (t) => {
  const input = pcrStream(6, 10, (k) => (k === 3 ? 30 * PCR_HZ : GAP));
  const { pacer, sentAt, advance } = paced(t, input);
  pacer.push(input);
  advance(TICK);
  const first = sentAt(0);
  advance(400);
  for (let k = 1; k <= 6; k++) {
    const at = sentAt(k * 10 * PKT);
    assert.ok(at >= first + 40 * k && at < first + 40 * k + TICK, `PCR ${k} at ${at}`);
  }
});

test('without a PCR in the probe, the fallback bitrate paces the stream', (t) => {
  // 100 packets a second: packet n is due at n * 10 ms from the moment pacing starts.
  const input = makeStream(200);
  const { pacer, released, advance } = paced(t, input, { fallbackBitrate: 100 * PKT * 8, probeBytes: 20 * PKT });
  pacer.push(input.subarray(0, 10 * PKT));
  assert.equal(pacer.pacing, 'probe');
  assert.equal(pacer.wantsMore(), true, 'probing wants input whatever the read-ahead');
  advance(TICK * 3);
  assert.equal(released(), 0, 'nothing goes out while probing');
  pacer.push(input.subarray(10 * PKT));
  assert.equal(pacer.pacing, 'bitrate');
  const start = Date.now();
  for (const ms of [100, 250, 500, 1000]) {
    advance(start + ms - Date.now());
    // The last tick at or before `ms` releases every packet due by then.
    const lastTick = Math.floor(Date.now() / TICK) * TICK - start;
    assert.equal(released(), (Math.floor(lastTick / 10) + 1) * PKT, `at ${ms} ms`);
  }
});

test('end(): what is queued still goes out on time, then onDone once and the timer stops', (t) => {
  const input = makeStream(30);
  let done = 0;
  const { pacer, released, advance } = paced(t, input, { fallbackBitrate: 100 * PKT * 8 });
  pacer.push(input);
  assert.equal(pacer.pacing, 'probe');
  pacer.end(() => { done++; });
  assert.equal(pacer.pacing, 'bitrate', 'the end of input ends the probe');
  assert.equal(pacer.wantsMore(), false);
  advance(150);
  assert.ok(released() < input.length, 'not all at once');
  assert.equal(done, 0);
  advance(300);
  assert.equal(released(), input.length);
  assert.equal(done, 1);
  advance(1000);
  assert.equal(done, 1);
  pacer.push(makeStream(1));
  assert.equal(pacer.queuedBytes, 0, 'closed after the end');
});

test('read-ahead: wantsMore() until highWater is queued; onLow asks for more as the queue drains', (t) => {
  const input = makeStream(100);
  const { pacer, lows, advance } = paced(t, input, { fallbackBitrate: 100 * PKT * 8, probeBytes: PKT, highWater: 50 * PKT });
  pacer.push(input.subarray(0, 30 * PKT));
  assert.equal(pacer.wantsMore(), true);
  pacer.push(input.subarray(30 * PKT, 60 * PKT));
  assert.equal(pacer.queuedBytes, 60 * PKT);
  assert.equal(pacer.wantsMore(), false);
  advance(TICK);
  assert.equal(lows(), 0, 'still above highWater');
  // The first chunk (30 packets, due over 300 ms) leaves the queue when its last packet is out.
  advance(300);
  assert.equal(pacer.queuedBytes, 30 * PKT);
  assert.equal(pacer.wantsMore(), true);
  assert.ok(lows() > 0);
});

test('a stalled event loop (over a second behind) restarts the clock instead of bursting', (t) => {
  const input = makeStream(1000);
  let jump = 0;
  const { pacer, released, advance } = paced(t, input, { fallbackBitrate: 100 * PKT * 8, probeBytes: PKT, now: () => Date.now() + jump });
  pacer.push(input);
  advance(90);
  assert.equal(released(), 10 * PKT);
  jump = 3000; // three seconds pass without a tick
  advance(TICK);
  assert.ok(released() <= 12 * PKT, `${released() / PKT} packets after the stall`);
  const after = released();
  advance(300);
  assert.ok(Math.abs(released() - after - 30 * PKT) <= 2 * PKT, 'then on at the bitrate');
});

test('PCR pacing with 192-byte packets (M2TS): the stride is the packet size set', (t) => {
  const ts = pcrStream(5);
  const input = Buffer.alloc((ts.length / PKT) * 192);
  for (let i = 0; i < ts.length / PKT; i++) ts.copy(input, i * 192 + 4, i * PKT, (i + 1) * PKT);
  const { pacer, sentAt, released, advance } = paced(t, input);
  pacer.packetSize = 192;
  pacer.push(input);
  assert.equal(pacer.pacing, 'pcr');
  advance(TICK);
  const first = sentAt(4);
  advance(300);
  for (let k = 1; k <= 5; k++) {
    const at = sentAt(k * 10 * 192 + 4);
    assert.ok(at >= first + 40 * k && at < first + 40 * k + TICK, `PCR ${k} at ${at}`);
  }
  assert.equal(released(), input.length);
});

test('close() drops what is queued and stops: no emit, no onDone, no input taken', (t) => {
  const input = makeStream(100);
  let done = 0;
  const { pacer, released, lows, advance } = paced(t, input, { fallbackBitrate: 100 * PKT * 8, probeBytes: PKT });
  pacer.push(input);
  pacer.end(() => { done++; });
  advance(50);
  const sent = released();
  pacer.close();
  pacer.close();
  const lowsThen = lows();
  advance(2000);
  assert.equal(released(), sent);
  assert.equal(done, 0);
  assert.equal(lows(), lowsThen);
  assert.equal(pacer.queuedBytes, 0);
  assert.equal(pacer.wantsMore(), false);
});

test('close() from inside emit stops the release at once', (t) => {
  const input = makeStream(20);
  const parts = [input.subarray(0, 5 * PKT), input.subarray(5 * PKT, 10 * PKT), input.subarray(10 * PKT)];
  let emits = 0;
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const pacer: Pacer = new Pacer({ emit: () => { emits++; pacer.close(); }, onLow: () => {}, fallbackBitrate: 1e9, probeBytes: PKT, now: () => Date.now() });
  for (const p of parts) pacer.push(p);
  t.mock.timers.tick(100);
  assert.equal(emits, 1);
});
