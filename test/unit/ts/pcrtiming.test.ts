import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlarmBoard, Ind } from '../../../src/ts/alarms.js';
import { PCR_WRAP } from '../../../src/ts/pcr.js';
import { PcrTiming } from '../../../src/ts/pcrtiming.js';

const MS = 27_000;
const LIMITS = { pcrIntervalMs: 100, pcrJumpMs: 100, ptsIntervalMs: 700 };

/** A PcrTiming with the default limits, started at time 0, counting into its own board. */
function timing(): { p: PcrTiming; b: AlarmBoard } {
  const b = new AlarmBoard(1000, 5000, undefined);
  const p = new PcrTiming(b, LIMITS);
  p.start(0);
  return { p, b };
}
const counts = (b: AlarmBoard): number[] => [b.count(Ind.PcrRepetition), b.count(Ind.PcrDiscontinuity), b.count(Ind.Pts)];

test('regular PCRs, late arrival and bursts: nothing', () => {
  const { p, b } = timing();
  // Arrival: the PCRs come in bursts of 10 every 400 ms, and one stall of 3 s.
  for (let k = 0; k < 200; k++) p.pcr(k * 40 * MS, k * 20, false, Math.floor(k / 10) * 400 + (k > 100 ? 3000 : 0));
  assert.deepEqual(counts(b), [0, 0, 0]);
});

test('a gap is told from a jump by the packets between the PCRs, even when both arrive at once', () => {
  const { p, b } = timing();
  for (let k = 0; k < 20; k++) p.pcr(k * 40 * MS, k * 20, false, 0);
  p.pcr(22 * 40 * MS, 22 * 20, false, 0); // two PCRs lost: 120 ms over 60 packets
  assert.deepEqual(counts(b), [1, 0, 0]);
  p.pcr(23 * 40 * MS + 150 * MS, 23 * 20, false, 0); // 190 ms over 20 packets: a jump
  assert.deepEqual(counts(b), [1, 1, 0]);
  p.pcr(23 * 40 * MS + 150 * MS - 1, 24 * 20, false, 0); // backwards
  assert.deepEqual(counts(b), [1, 2, 0]);
});

test('across the 33-bit wrap the PCR moves on normally', () => {
  const { p, b } = timing();
  const start = PCR_WRAP - 10 * 40 * MS;
  for (let k = 0; k < 20; k++) p.pcr((start + k * 40 * MS) % PCR_WRAP, k * 20, false, k * 40);
  assert.deepEqual(counts(b), [0, 0, 0]);
});

test('PCRs absent in arrival time count once a second, and the PCR that ends it is not counted again', () => {
  const { p, b } = timing();
  p.pcr(0, 0, false, 0);
  p.check(1000);
  assert.equal(b.count(Ind.PcrRepetition), 0);
  p.check(1001);
  p.check(1500);
  p.check(2002);
  assert.equal(b.count(Ind.PcrRepetition), 2);
  p.pcr(2100 * MS, 100, false, 2100);
  assert.equal(b.count(Ind.PcrRepetition), 2);
  p.stop();
  p.check(10_000);
  assert.equal(b.count(Ind.PcrRepetition), 2, 'stopped: no PCR PID, nothing checked');
});

test('PTS: interval in stream time, none judged across a gap in the clock or after clearPts', () => {
  const { p, b } = timing();
  for (let k = 0; k <= 10; k++) p.pcr(k * 40 * MS, k * 20, false, k * 40);
  p.pts(0, 200, 400);
  for (let k = 11; k <= 27; k++) p.pcr(k * 40 * MS, k * 20, false, k * 40); // 1080 ms
  assert.equal(b.count(Ind.Pts), 0, '680 ms since the PTS');
  p.pcr(28 * 40 * MS, 28 * 20, false, 28 * 40);
  assert.equal(b.count(Ind.Pts), 1, '720 ms since the PTS, found at a PCR');
  p.pts(1, 560, 1120);
  p.pcr(28 * 40 * MS + 800 * MS, 29 * 20 + 800, false, 1920); // the clock itself skipped 800 ms
  p.pts(1, 29 * 20 + 800, 1920);
  assert.equal(b.count(Ind.Pts), 1);
  p.clearPts(1);
  p.pcr(28 * 40 * MS + 1600 * MS, 29 * 20 + 1600, false, 2720);
  assert.equal(b.count(Ind.Pts), 1);
});
